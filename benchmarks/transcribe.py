"""Transcription benchmark: the default engine against openai-whisper's plain `transcribe`.

Side by side in one run, on the same audio, each repeated:
- `plain`: openai-whisper's own `transcribe` on the whole array (tiny.en, converted checkpoint,
  greedy with temperature fallback, word timestamps) — the baseline;
- every engine of analysis.text.transcribe (the default first), as the pipeline runs it:
  Silero VAD speech regions only, each region decoded on its own.
Cases: a session-like recording (espeak-ng turns in two voices with pauses, seeded, with its
reference text) and ../shared/samples/jfk.flac (real speech). WER uses Whisper's English
normaliser. Model loading and JIT warm-up happen before timing.

    python -m benchmarks.transcribe                  # 5-minute session, 3 repeats
    python -m benchmarks.transcribe --minutes 2 --repeats 1
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from analysis.commands import word_error_rate
from analysis.media import read_audio
from analysis.models.speech_weights import load_whisper
from analysis.text.transcribe import (
    DEFAULT_ENGINE,
    ENGINES,
    LANGUAGE,
    get_engine,
    transcribe_speech,
)
from analysis.voice.vad import detect_speech
from benchmarks._recording import SENTENCES, SPEEDS_WPM, VOICES, spoken
from benchmarks.common import Row, print_rows, summarise, write_result

RATE_HZ = 16000
JFK = Path(__file__).resolve().parents[1].parent / "shared" / "samples" / "jfk.flac"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def session_audio(minutes: float, seed: int = 11) -> tuple[np.ndarray, str]:
    """Turns of speech and pauses (0.4-3 s), never the same sentence twice in a row."""
    rng = random.Random(seed)
    parts: list[np.ndarray] = []
    said: list[str] = []
    total = 0
    previous = -1
    while total < minutes * 60 * RATE_HZ:
        index = rng.randrange(len(SENTENCES))
        if index == previous:
            index = (index + 1) % len(SENTENCES)
        previous = index
        speech = spoken(SENTENCES[index], rng.choice(VOICES), rng.choice(SPEEDS_WPM))
        pause = np.zeros(round(rng.uniform(0.4, 3.0) * RATE_HZ), dtype=np.float32)
        parts += [speech, pause]
        said.append(SENTENCES[index])
        total += len(speech) + len(pause)
    return np.concatenate(parts), " ".join(said)


def plain_whisper(audio: np.ndarray) -> str:
    result = load_whisper().transcribe(
        audio, language=LANGUAGE, word_timestamps=True, fp16=False, verbose=None
    )
    return str(result["text"])


def engine_on_speech(name: str, audio: np.ndarray) -> str:
    engine = get_engine(name)
    segments = detect_speech([(0.0, audio)])
    found = transcribe_speech([(0.0, audio)], segments, engine)
    return " ".join(u.text for _end, utterances in found for u in utterances)


def measure(audio: np.ndarray, reference: str, repeats: int) -> dict[str, dict[str, Any]]:
    cases: dict[str, Callable[[np.ndarray], str]] = {
        "openai-whisper plain transcribe": plain_whisper
    }
    for name in [DEFAULT_ENGINE, *sorted(set(ENGINES) - {DEFAULT_ENGINE})]:
        cases[f"{name} on VAD speech"] = partial(engine_on_speech, name)
    warm = audio[: 5 * RATE_HZ]
    results: dict[str, dict[str, Any]] = {}
    for label, run in cases.items():
        run(warm)  # model load, tokenizer, numba JIT of the timestamp alignment
        seconds, text = [], ""
        for _ in range(repeats):
            started = time.perf_counter()
            text = run(audio)
            seconds.append(time.perf_counter() - started)
        results[label] = {
            "seconds": summarise(seconds),
            "wer": word_error_rate(reference, text),
            "text_start": text[:200],
        }
    return results


def rows_for(case: str, audio_s: float, results: dict[str, dict[str, Any]]) -> list[Row]:
    baseline_label = "openai-whisper plain transcribe"
    baseline = results[baseline_label]
    rows: list[Row] = []
    for label, result in results.items():
        is_baseline = label == baseline_label
        seconds = result["seconds"]
        rows.append(
            Row(
                case=f"{case}: {label}",
                metric="real-time factor",
                value=round(seconds.median / audio_s, 4),
                spread=seconds.spread(),
                baseline="" if is_baseline else baseline_label,
                baseline_value=None
                if is_baseline
                else round(baseline["seconds"].median / audio_s, 4),
                note="lower is faster; ratio < 1 means faster than the baseline",
            )
        )
        rows.append(
            Row(
                case=f"{case}: {label}",
                metric="WER",
                value=round(result["wer"], 4),
                baseline="" if is_baseline else baseline_label,
                baseline_value=None if is_baseline else round(baseline["wer"], 4),
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
    details: dict[str, Any] = {"default_engine": DEFAULT_ENGINE, "repeats": repeats}
    session, reference = session_audio(minutes)
    jfk = read_audio(JFK)
    for case, audio, text in (
        (f"session {minutes:g} min", session, reference),
        ("jfk.flac 11 s", jfk, JFK_REFERENCE),
    ):
        results = measure(audio, text, repeats)
        audio_s = len(audio) / RATE_HZ
        rows += rows_for(case, audio_s, results)
        details[case] = {
            "audio_s": round(audio_s, 2),
            "speech_s": round(sum(s.duration_s for s in detect_speech([(0.0, audio)])), 2),
            **{k: {**v, "seconds": v["seconds"].to_dict()} for k, v in results.items()},
        }
        plain_s = results["openai-whisper plain transcribe"]["seconds"].median
        default_s = results[f"{DEFAULT_ENGINE} on VAD speech"]["seconds"].median
        details[case]["default_speedup"] = round(plain_s / default_s, 2)
    path = write_result("transcribe", rows, details)
    print_rows("Transcription: default engine vs openai-whisper plain transcribe", rows)
    for case in (k for k in details if isinstance(details[k], dict)):
        print(f"{case}: default engine {details[case]['default_speedup']}x faster than plain")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
