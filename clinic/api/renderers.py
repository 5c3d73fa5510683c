"""The API's JSON, encoded by orjson: several times faster than the standard library on the
large answers (a 60-minute timeline overview is ~160 KiB), with the same compact UTF-8 output.
Anything orjson does not encode itself (lazy translation strings, Decimals) goes through DRF's
own encoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder().default


class FastJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
