"""Answers kept as JSON text are extended by splicing, and must read as if encoded whole."""

from __future__ import annotations

import uuid

import orjson
import pytest

from clinic.api.renderers import FastJSONRenderer, json_object_with


@pytest.mark.parametrize(
    ("kept", "extra"),
    [
        ({"windows": [{"start_s": 0.0, "valence": None}], "notice": "é"}, {"session": "s"}),
        ({}, {"session": "s"}),
        ({"a": 1}, {}),
        ({}, {}),
        ({"a": {"b": [1, 2]}}, {"id": uuid.UUID(int=7), "n": 2}),
    ],
)
def test_a_kept_object_with_more_keys_reads_as_the_whole_object_encoded(
    kept: dict[str, object], extra: dict[str, object]
) -> None:
    spliced = FastJSONRenderer().render(json_object_with(orjson.dumps(kept), extra))
    assert orjson.loads(spliced) == orjson.loads(FastJSONRenderer().render({**kept, **extra}))


@pytest.mark.parametrize("kept", [b"[1, 2]", b'"text"', b""])
def test_only_an_object_can_be_extended(kept: bytes) -> None:
    with pytest.raises(ValueError, match="object"):
        json_object_with(kept, {"session": "s"})
