"""Voice-activity benchmark: Silero VAD read in lanes against the plain frame-by-frame reading.

Side by side in one run, on the same session-like speech (espeak-ng turns in two voices with
pauses of 0.4-3 s, benchmarks/_recording.py), interleaved and repeated:
- `frame by frame` (the baseline): one 32 ms frame per model call, one state carried through;
- `lanes` (analysis/voice/vad.py, as the pipeline runs it): ~10 s lanes scored side by side as
  one batch, each warmed up on the second before it, fed in 30 s chunks.
Agreement is reported with the speed: speech segments found by each, the largest shift of a
segment boundary, and the mean difference of frame probabilities.

    python -m benchmarks.vad                 # 10 minutes of speech, 3 repeats
    python -m benchmarks.vad --quick         # 2 minutes, one repeat
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.voice.vad import (
    SAMPLE_RATE_HZ,
    SpeechProbabilities,
    VadOptions,
    frame_by_frame_probabilities,
    segments_from_probabilities,
)
from benchmarks._recording import session_speech
from benchmarks.common import Row, print_rows, summarise, write_result

CHUNK_S = 30.0  # what the pipeline's audio decoder hands over at a time
SEED = 5


def session_audio(minutes: float) -> np.ndarray:
    return session_speech(minutes, SEED)[0][: round(minutes * 60 * SAMPLE_RATE_HZ)]


def in_lanes(audio: np.ndarray) -> np.ndarray:
    tracker = SpeechProbabilities()
    step = round(CHUNK_S * SAMPLE_RATE_HZ)
    for start in range(0, len(audio), step):
        tracker.feed(start / SAMPLE_RATE_HZ, audio[start : start + step])
    return tracker.result()


def measure(audio: np.ndarray, repeats: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    in_lanes(audio[:SAMPLE_RATE_HZ])  # load the model and warm the JIT before timing
    seconds: dict[str, list[float]] = {"frame by frame": [], "lanes": []}
    probabilities: dict[str, np.ndarray] = {}
    for _ in range(repeats):  # interleaved, so a noisy minute hits both
        for name, score in (("frame by frame", frame_by_frame_probabilities), ("lanes", in_lanes)):
            started = time.perf_counter()
            probabilities[name] = score(audio)
            seconds[name].append(time.perf_counter() - started)
    plain, lanes = probabilities["frame by frame"], probabilities["lanes"]
    options = VadOptions()
    expected = segments_from_probabilities(plain, options)
    found = segments_from_probabilities(lanes, options)
    shifts = [
        max(abs(a.start_s - b.start_s), abs(a.end_s - b.end_s))
        for a, b in zip(found, expected, strict=False)
    ]
    agreement = {
        "segments_frame_by_frame": len(expected),
        "segments_lanes": len(found),
        "max_boundary_shift_s": round(max(shifts, default=0.0), 3),
        "mean_probability_gap": round(float(np.abs(plain - lanes).mean()), 4),
    }
    return seconds, agreement


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vad")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 minutes, one repeat")
    args = parser.parse_args(argv)
    minutes, repeats = (2.0, 1) if args.quick else (args.minutes, args.repeats)

    audio = session_audio(minutes)
    seconds, agreement = measure(audio, repeats)
    duration_s = len(audio) / SAMPLE_RATE_HZ
    lanes = summarise([s / duration_s for s in seconds["lanes"]])
    plain = summarise([s / duration_s for s in seconds["frame by frame"]])
    size = f"{minutes:g} min speech"
    rows = [
        Row(
            case=f"VAD, {size}",
            metric="real-time factor",
            value=round(lanes.median, 5),
            spread=lanes.spread(),
            baseline="frame by frame",
            baseline_value=round(plain.median, 5),
            note=f"frame by frame spread: {plain.spread()}",
        ),
        Row(
            case=f"VAD agreement, {size}",
            metric="speech segments",
            value=agreement["segments_lanes"],
            baseline="frame by frame",
            baseline_value=agreement["segments_frame_by_frame"],
        ),
        Row(
            case=f"VAD agreement, {size}",
            metric="largest boundary shift, s",
            value=agreement["max_boundary_shift_s"],
            note=f"mean probability gap {agreement['mean_probability_gap']}",
        ),
    ]
    print_rows("Voice activity: lanes against frame-by-frame reading (same run)", rows)
    write_result(
        "vad",
        rows,
        {"minutes": minutes, "repeats": repeats, "seconds": seconds, "agreement": agreement},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
