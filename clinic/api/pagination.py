"""Cursor pagination for the API's lists: stable while rows are added, and no COUNT(*) of
everything the caller may see on each page."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    """Sessions: the newest first, the order their index keeps."""

    ordering = ("-date", "-created_at")
    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"


class ByPseudonym(CursorPagination):
    ordering = ("pseudonym",)
    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"
