"""Responses that carry patient data are never kept by a browser or a proxy cache.

Every page and API answer of Moodline is about patients or their care, so each response
Django builds says `Cache-Control: no-store, private` unless its view chose otherwise (the
health check, say). Static files are answered by WhiteNoise before this runs and keep their
long-lived caching: they hold no data.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response
