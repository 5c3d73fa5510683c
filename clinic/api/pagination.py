"""Cursor pagination for the API's lists: stable while rows are added, and no COUNT(*) of
everything the caller may see on each page."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

INVALID_CURSOR_MESSAGE = "This cursor is not one the API gave: follow the `next` link as is."


class _Cursors(CursorPagination):
    def decode_cursor(self, request: Request) -> Cursor | None:
        # A bad cursor is a bad request (400), not a missing page (DRF says 404).
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR_MESSAGE]}) from None


class NewestFirst(_Cursors):
    """Sessions: the newest first, the order their index keeps."""

    ordering = ("-date", "-created_at")
    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"


class ByPseudonym(_Cursors):
    ordering = ("pseudonym",)
    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"
