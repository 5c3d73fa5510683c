"""A range of a timeline, read without decoding the whole document.

Zooming into five minutes of an hour-long session used to decode the whole document (~1 MB of
JSON, ~17 ms) to keep a twelfth of it. A `RangedTimeline` is that document split once per
process: what every range shows (schema, speakers, talk summary, models) as one small JSON
text, and each time-placed item (windows, transcript lines, moments, gaps) as its own JSON text
beside its start and end. A range then picks the items that overlap it with two array
comparisons and joins their texts: the answer is spliced, never decoded and encoded again.

It holds bytes and arrays, which the garbage collector does not walk (see
clinic/selectors/timeline_documents.py for why that matters), and nothing a request can change.
`RangedTimeline.view(span)` answers exactly what `timeline_view(document=..., span=span)` does
for a range; a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from clinic.models import TimelineResult
from clinic.selectors.timeline_documents import timeline_derived
from clinic.selectors.timelines import (
    VIEW_FIXED_AFTER,
    VIEW_FIXED_BEFORE,
    TimelineRange,
    timeline_view_fixed,
)
from clinic.storage import json_decode

RANGED_LISTS = ("windows", "transcript", "moments", "gaps")
_ARRAY_BYTES_PER_ITEM = 2 * 8  # a start and an end, float64
_OBJECT_BYTES = 64  # what Python adds to each kept bytes object, roughly


@dataclass(frozen=True)
class ItemsByTime:
    """One list of the document: each item's JSON, with where it starts and ends."""

    starts: npt.NDArray[np.float64]
    ends: npt.NDArray[np.float64]
    encoded: tuple[bytes, ...]

    @classmethod
    def of(cls, items: Sequence[dict[str, Any]]) -> ItemsByTime:
        return cls(
            starts=np.array([item["start_s"] for item in items], dtype=np.float64),
            ends=np.array([item["end_s"] for item in items], dtype=np.float64),
            encoded=tuple(orjson.dumps(item) for item in items),
        )

    def overlapping(self, span: TimelineRange) -> orjson.Fragment:
        """The items overlapping `span`, in the document's order, as a JSON array."""
        keep = np.ones(len(self.encoded), dtype=bool)
        if span.start_s is not None:
            keep &= self.ends >= span.start_s
        if span.end_s is not None:
            keep &= self.starts <= span.end_s
        picked = b",".join(self.encoded[i] for i in np.flatnonzero(keep))
        return orjson.Fragment(b"[" + picked + b"]")

    @property
    def nbytes(self) -> int:
        return sum(
            len(text) + _OBJECT_BYTES for text in self.encoded
        ) + _ARRAY_BYTES_PER_ITEM * len(self.encoded)


@dataclass(frozen=True)
class RangedTimeline:
    head: bytes  # JSON: what every range shows, whatever its span (timeline_view_fixed)
    lists: dict[str, ItemsByTime]

    @classmethod
    def of_plaintext(cls, plaintext: bytes) -> RangedTimeline:
        document: dict[str, Any] = json_decode(plaintext)
        return cls(
            head=orjson.dumps(timeline_view_fixed(document)),
            lists={name: ItemsByTime.of(document.get(name, [])) for name in RANGED_LISTS},
        )

    def view(self, span: TimelineRange) -> dict[str, Any]:
        """The range `span` (not the whole session: that is downsampled) as the chart reads it."""
        if span.is_whole:
            raise ValueError("the whole session is read through its overview, not a range")
        fixed = orjson.loads(self.head)
        return {
            **{name: fixed[name] for name in VIEW_FIXED_BEFORE},
            "range": {"start_s": span.start_s, "end_s": span.end_s},
            "downsampled": False,
            **{name: self.lists[name].overlapping(span) for name in RANGED_LISTS},
            **{name: fixed[name] for name in VIEW_FIXED_AFTER},
        }

    @property
    def nbytes(self) -> int:
        return len(self.head) + sum(items.nbytes for items in self.lists.values())


def timeline_range(*, timeline: TimelineResult, span: TimelineRange) -> dict[str, Any] | None:
    """`span` of `timeline` in full detail; None if the row was deleted since it was read.

    `timeline` should come from `timelines_without_documents()`, after the access check.
    """
    ranged = timeline_derived(timeline=timeline, kind="ranged", build=RangedTimeline.of_plaintext)
    return None if ranged is None else ranged.view(span)
