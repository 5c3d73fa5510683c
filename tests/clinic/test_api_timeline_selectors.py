"""How the review chart reads a long session: downsampled without inventing values."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from benchmarks.web import timeline_document as hour_long_document
from clinic.selectors.timeline_ranges import RangedTimeline
from clinic.selectors.timelines import TimelineRange, timeline_view, windows_downsample
from tests.clinic.timeline_factory import timeline_document

ONE_HOUR_S = 3600.0


def _hour_of_windows() -> list[dict[str, Any]]:
    """An hour at 2-s windows; the face is out of view for the 11th minute."""
    windows: list[dict[str, Any]] = []
    for index in range(int(ONE_HOUR_S / 2)):
        start_s = index * 2.0
        away = 600.0 <= start_s < 660.0
        windows.append(
            {
                "start_s": start_s,
                "end_s": start_s + 2.0,
                "valence": None if away else (0.5 if index % 2 else -0.5),
                "arousal": 0.1,
                "confidence": 0.9 if index % 2 else 0.3,
                "dominant": None if away else "neutral",
                "modalities": {"voice": {}} if away else {"face": {}, "voice": {}},
            }
        )
    return windows


def test_an_hour_is_drawn_with_at_most_300_points_spanning_the_whole_session() -> None:
    points = windows_downsample(_hour_of_windows(), max_points=300)
    assert len(points) == 300
    assert points[0]["start_s"] == 0.0
    assert points[-1]["end_s"] == ONE_HOUR_S
    # Neighbours of -0.5 (confidence 0.3) and +0.5 (confidence 0.9) average towards the
    # confident one, rather than cancelling out to zero.
    assert points[0]["valence"] == pytest.approx(0.25, abs=0.001)
    assert points[0]["confidence"] == pytest.approx(0.6)


def test_a_stretch_without_a_face_stays_a_gap_and_is_not_drawn_as_zero() -> None:
    points = windows_downsample(_hour_of_windows(), max_points=300)
    away = [p for p in points if 600.0 <= p["start_s"] < 660.0]
    assert away
    assert all(p["valence"] is None for p in away)
    assert all(p["modalities"] == ["voice"] for p in away)


def test_a_range_keeps_every_window_and_only_what_overlaps_it() -> None:
    view = timeline_view(document=timeline_document(), span=TimelineRange(60.0, 70.0))
    assert [w["start_s"] for w in view["windows"]] == [58.0, 60.0, 62.0, 64.0, 66.0, 68.0, 70.0]
    assert [line["text"][:8] for line in view["transcript"]] == ["A relief"]
    assert view["downsampled"] is False


def test_silences_and_talk_ratio_come_from_the_transcript_and_speakers() -> None:
    summary = timeline_view(document=timeline_document())["summary"]
    # Pauses of 3 s or more: 39-45, 70-80 and the last 8 s after the final line.
    assert summary["silence_count"] == 3
    assert summary["longest_silence_s"] == 10.0
    assert summary["talk_time_s"] == {"client": 67.0, "clinician": 20.0}


@pytest.mark.parametrize(
    "span",
    [
        TimelineRange(1800.0, 2100.0),  # the review page's 5-minute zoom
        TimelineRange(0.0, 0.0),
        TimelineRange(69.0, 79.5),  # across the face gap
        TimelineRange(None, 30.0),
        TimelineRange(3500.0, None),
        TimelineRange(5000.0, 6000.0),  # past the end: nothing
        TimelineRange(31.0, 31.0),
    ],
)
def test_a_range_read_item_by_item_answers_what_the_whole_document_does(
    span: TimelineRange,
) -> None:
    document = hour_long_document(ONE_HOUR_S, seed=3)
    ranged = RangedTimeline.of_plaintext(orjson.dumps(document))

    spliced = orjson.loads(orjson.dumps(ranged.view(span)))

    assert spliced == orjson.loads(orjson.dumps(timeline_view(document=document, span=span)))
    assert ranged.nbytes > len(orjson.dumps(document["windows"]))


def test_a_range_read_keeps_the_documents_order_of_lines_that_overlap() -> None:
    document = timeline_document()
    document["transcript"] = list(reversed(document["transcript"]))
    ranged = RangedTimeline.of_plaintext(orjson.dumps(document))
    span = TimelineRange(0.0, 200.0)

    lines = orjson.loads(orjson.dumps(ranged.view(span)))["transcript"]

    assert len(lines) > 1
    assert lines == timeline_view(document=document, span=span)["transcript"]


def test_the_whole_session_is_not_a_range() -> None:
    ranged = RangedTimeline.of_plaintext(orjson.dumps(timeline_document()))
    with pytest.raises(ValueError, match="overview"):
        ranged.view(TimelineRange())


def test_where_plain_words_did_not_weigh_on_the_emotions_the_merged_point_says_how_little():
    """Two windows merged into one point: the words' emotions weighed 0 in one and 0.4 in the
    other, so 0.2 over the two; a channel that never reports it has none."""
    windows = [
        {
            "start_s": 2.0 * k,
            "end_s": 2.0 * (k + 1),
            "valence": 0.1,
            "arousal": 0.1,
            "confidence": 0.6,
            "dominant": "neutral",
            "modalities": {
                "face": {"valence": 0.1, "arousal": 0.1, "confidence": 0.6, "weight": 0.5},
                "text": {
                    "valence": 0.0,
                    "arousal": None,
                    "confidence": 0.5,
                    "weight": 0.5,
                    "emotions_confidence": emotional,
                },
            },
        }
        for k, emotional in enumerate((0.0, 0.4))
    ]

    (point,) = windows_downsample(windows, max_points=1)

    assert point["channels"]["text"]["emotions_confidence"] == pytest.approx(0.2)
    assert point["channels"]["text"]["confidence"] == pytest.approx(0.5)
    assert point["channels"]["face"]["emotions_confidence"] is None
