"""Transcription benchmark: the default engine against openai-whisper's plain `transcribe`,
and Whisper base against tiny.en.

Side by side in one run, on the same audio, each repeated:
- `plain`: openai-whisper's own `transcribe` on the whole array (tiny.en, converted checkpoint,
  greedy with temperature fallback, word timestamps) — the baseline of the tiny.en rows;
- every engine of analysis.text.transcribe (the default first) with every transcript model, as
  the pipeline runs it: Silero VAD speech regions only, each region decoded on its own. A base
  row's baseline is the same engine running tiny.en, so its ratio is the cost of the larger
  model.
Cases: a session-like recording (espeak-ng turns in two voices with pauses, seeded, with its
reference text) and ../shared/samples/jfk.flac (real speech). WER uses Whisper's English
normaliser. Model loading and JIT warm-up happen before timing. `--quick` runs base on
jfk.flac only, so that the larger model adds seconds, not minutes, to `make bench --quick`.

    python -m benchmarks.transcribe                  # 5-minute session, 3 repeats
    python -m benchmarks.transcribe --minutes 2 --repeats 1
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from analysis.commands import word_error_rate
from analysis.media import read_audio
from analysis.text.transcribe import (
    DEFAULT_ENGINE,
    DEFAULT_MODEL,
    ENGINES,
    LANGUAGE,
    TRANSCRIPT_MODELS,
    get_engine,
    transcribe_speech,
)
from analysis.voice.vad import detect_speech
from analysis.weights.speech import load_whisper
from benchmarks._recording import session_speech
from benchmarks.common import Row, print_rows, summarise, write_result

RATE_HZ = 16000
JFK = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "jfk.flac"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
PLAIN = "openai-whisper plain transcribe"
SESSION_SEED = 11


def plain_whisper(audio: np.ndarray) -> str:
    result = load_whisper().transcribe(
        audio, language=LANGUAGE, word_timestamps=True, fp16=False, verbose=None
    )
    return str(result["text"])


def engine_on_speech(name: str, model: str, audio: np.ndarray) -> str:
    engine = get_engine(name, model)
    segments = detect_speech([(0.0, audio)])
    found = transcribe_speech([(0.0, audio)], segments, engine)
    return " ".join(u.text for _end, utterances in found for u in utterances)


def engine_label(engine: str, model: str) -> str:
    return f"{engine} {model} on VAD speech"


def baseline_of(label: str) -> str:
    """A tiny.en row is compared with the plain call, a larger model's with tiny.en."""
    if label == PLAIN:
        return ""
    engine, model, *_ = label.split(" ")
    return PLAIN if model == DEFAULT_MODEL else engine_label(engine, DEFAULT_MODEL)


def measure(
    audio: np.ndarray, reference: str, repeats: int, models: Sequence[str]
) -> dict[str, dict[str, Any]]:
    cases: dict[str, Callable[[np.ndarray], str]] = {PLAIN: plain_whisper}
    for model in models:
        for name in [DEFAULT_ENGINE, *sorted(set(ENGINES) - {DEFAULT_ENGINE})]:
            cases[engine_label(name, model)] = partial(engine_on_speech, name, model)
    warm = audio[: 5 * RATE_HZ]
    for run in cases.values():
        run(warm)  # model load, tokenizer, numba JIT of the timestamp alignment
    seconds: dict[str, list[float]] = {label: [] for label in cases}
    texts: dict[str, str] = {}
    # Round-robin repeats: on a shared machine a burst of load then slows every case alike,
    # not the one that happened to be running, and the ratios stay fair.
    for _ in range(repeats):
        for label, run in cases.items():
            started = time.perf_counter()
            texts[label] = run(audio)
            seconds[label].append(time.perf_counter() - started)
    return {
        label: {
            "seconds": summarise(seconds[label]),
            "wer": word_error_rate(reference, texts[label]),
            "text_start": texts[label][:200],
        }
        for label in cases
    }


def rows_for(case: str, audio_s: float, results: dict[str, dict[str, Any]]) -> list[Row]:
    rows: list[Row] = []
    for label, result in results.items():
        baseline_label = baseline_of(label)
        baseline = results.get(baseline_label)
        seconds = result["seconds"]
        rows.append(
            Row(
                case=f"{case}: {label}",
                metric="real-time factor",
                value=round(seconds.median / audio_s, 4),
                spread=seconds.spread(),
                baseline=baseline_label,
                baseline_value=None
                if baseline is None
                else round(baseline["seconds"].median / audio_s, 4),
                note="lower is faster; ratio < 1 means faster than the baseline",
            )
        )
        rows.append(
            Row(
                case=f"{case}: {label}",
                metric="WER",
                value=round(result["wer"], 4),
                baseline=baseline_label,
                baseline_value=None if baseline is None else round(baseline["wer"], 4),
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transcribe")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the session audio")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 minutes, one repeat")
    args = parser.parse_args(argv)
    minutes, repeats = (2.0, 1) if args.quick else (args.minutes, args.repeats)

    rows: list[Row] = []
    details: dict[str, Any] = {
        "default_engine": DEFAULT_ENGINE,
        "default_model": DEFAULT_MODEL,
        "repeats": repeats,
    }
    session, reference = session_speech(minutes, SESSION_SEED)
    every_model = list(TRANSCRIPT_MODELS)
    cases = [
        (
            f"session {minutes:g} min",
            session,
            reference,
            [DEFAULT_MODEL] if args.quick else every_model,
        )
    ]
    if JFK.is_file():  # real speech, when the optional sample is beside the project
        cases.append(("jfk.flac 11 s", read_audio(JFK), JFK_REFERENCE, every_model))
    else:
        details["jfk"] = f"{JFK} is absent: the real-speech case was not measured"
        print(details["jfk"])
    for case, audio, text, models in cases:
        results = measure(audio, text, repeats, models)
        audio_s = len(audio) / RATE_HZ
        rows += rows_for(case, audio_s, results)
        details[case] = {
            "audio_s": round(audio_s, 2),
            "speech_s": round(sum(s.duration_s for s in detect_speech([(0.0, audio)])), 2),
            **{k: {**v, "seconds": v["seconds"].to_dict()} for k, v in results.items()},
        }
        plain_s = results[PLAIN]["seconds"].median
        default_s = results[engine_label(DEFAULT_ENGINE, DEFAULT_MODEL)]["seconds"].median
        details[case]["default_speedup"] = round(plain_s / default_s, 2)
    path = write_result("transcribe", rows, details)
    print_rows("Transcription: engines and models vs openai-whisper plain transcribe", rows)
    for case in (k for k in details if isinstance(details[k], dict)):
        print(f"{case}: default engine {details[case]['default_speedup']}x faster than plain")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
