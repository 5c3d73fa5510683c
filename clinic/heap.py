"""Keeping the garbage collector's full passes short in a long-running web process.

A full collection walks every object the collector tracks. After start-up that is mostly what
the imports built (Django, DRF, the FHIR models, the schema generator): hundreds of thousands of
objects that live as long as the process. Under load, requests leave enough short-lived cyclic
garbage to set off a full pass every few dozen requests, and each one walked all of that again:
70-150 ms pauses on this machine, during which no request of the process moves. Once every view
is imported, the start-up heap is moved out of the collector's sight (`gc.freeze`), so a full
pass walks only what requests made since. Refcounting still frees frozen objects; only cycles
among them would never be found, and start-up garbage is collected just before.
"""

from __future__ import annotations

import gc
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


def settle_heap() -> None:
    """Import every view now (the first requests would otherwise), then freeze the heap."""
    _import_views(get_resolver().url_patterns)
    gc.collect()
    gc.freeze()


def _import_views(patterns: list[Any]) -> None:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _import_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            _ = pattern.callback
