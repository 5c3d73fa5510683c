"""A read and its audit row are one database transaction.

Every read of patient data writes an audit row. Left to autocommit, each read statement and
the audit INSERT would be transactions of their own; here a GET or HEAD runs inside one
transaction that commits once, at the end, with its audit row in it. Errors the views answer
(a refused lookup's 404 with its `denied` row, a 400) are responses by the time they reach this
middleware, so what the view wrote is kept; only a request that crashed takes its writes back.
Writes (POST, PATCH, DELETE) manage their own transactions in the services.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase

READ_METHODS = frozenset({"GET", "HEAD"})
# Reads of no patient data, which write no audit row: the readiness check (often answered from
# memory) must not borrow a database connection just to open a transaction around nothing.
UNAUDITED_PATHS = frozenset({"/healthz"})


class ReadTransactionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method not in READ_METHODS or request.path in UNAUDITED_PATHS:
            return self.get_response(request)
        with transaction.atomic():
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)
            return response
