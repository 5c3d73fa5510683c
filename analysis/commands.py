"""`analyze`, `evaluate transcript` and `evaluate video`: the whole pipeline from a shell."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from analysis.modality import Modality
from analysis.pipeline import STAGE_NAMES, PipelineOptions

EXIT_INTERRUPTED = 130


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    from analysis.text.transcribe import ENGINES, TRANSCRIPT_MODELS

    defaults = PipelineOptions()
    models = list(TRANSCRIPT_MODELS)
    model_help = "Whisper model of the transcript (default: MOODLINE_TRANSCRIPT_MODEL or tiny.en)"
    analyze = commands.add_parser("analyze", help="analyse a recording into a timeline (JSON)")
    analyze.add_argument("video", type=Path, help="recording: video with audio, video, or audio")
    analyze.add_argument("-o", "--output", type=Path, required=True, help="timeline JSON to write")
    analyze.add_argument(
        "--workdir", type=Path, default=None, help="keep stage outputs here and resume from them"
    )
    analyze.add_argument("--window-s", type=float, default=defaults.window_s)
    analyze.add_argument("--sample-fps", type=float, default=defaults.sample_fps)
    analyze.add_argument("--engine", choices=sorted(ENGINES), default=defaults.transcript_engine)
    analyze.add_argument(
        "--model", choices=models, default=defaults.transcript_model, help=model_help
    )
    analyze.add_argument("--no-face", action="store_true", help="no consent to face analysis")
    analyze.add_argument("--no-voice", action="store_true", help="no consent to voice analysis")
    analyze.add_argument("--no-transcript", action="store_true", help="no consent to transcribe")
    analyze.add_argument("--face-checkpoint", type=Path, default=None)
    analyze.add_argument(
        "--score-roles", default="client", help="comma-separated roles to score (default client)"
    )
    analyze.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ID=ROLE",
        help="set a role, e.g. speaker:S2=client or face:0=clinician (repeatable)",
    )
    analyze.add_argument("--quiet", action="store_true", help="no progress bar")
    analyze.set_defaults(handler=_analyze)

    transcript = evaluate_commands.add_parser(
        "transcript", help="word error rate of the transcript of AUDIO against a reference"
    )
    transcript.add_argument("audio", type=Path)
    transcript.add_argument("--reference", required=True, help="the words actually spoken")
    transcript.add_argument("--engine", choices=sorted(ENGINES), default=defaults.transcript_engine)
    transcript.add_argument(
        "--model", choices=models, default=defaults.transcript_model, help=model_help
    )
    transcript.set_defaults(handler=_evaluate_transcript)

    video = evaluate_commands.add_parser(
        "video", help="accuracy and UAR of the fused per-window emotion against labelled segments"
    )
    video.add_argument("video", type=Path)
    video.add_argument("--labels", type=Path, required=True, help='{"segments": [...]} JSON')
    video.add_argument("--workdir", type=Path, default=None)
    video.add_argument("--window-s", type=float, default=defaults.window_s)
    video.add_argument("--engine", choices=sorted(ENGINES), default=defaults.transcript_engine)
    video.add_argument(
        "--model", choices=models, default=defaults.transcript_model, help=model_help
    )
    video.set_defaults(handler=_evaluate_video)


class ProgressLine:
    """A one-line progress bar on a terminal stream: `\\r[stage] 42%`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = ""

    def __call__(self, stage: str, fraction: float) -> None:
        text = f"\r[{stage:<10}] {round(100 * fraction):3d}%"
        if text != self.last:
            self.stream.write(text)
            self.stream.flush()
            self.last = text

    def close(self) -> None:
        if self.last:
            self.stream.write("\n")
            self.stream.flush()


def _roles(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    parsed = []
    for pair in pairs:
        key, sep, role = pair.partition("=")
        if not sep or not key.startswith(("speaker:", "face:")):
            raise SystemExit(f"error: --role wants speaker:ID=ROLE or face:ID=ROLE, got {pair!r}")
        parsed.append((key, role))
    return tuple(parsed)


def _options(args: argparse.Namespace) -> PipelineOptions:
    switched_off = {
        Modality.FACE: getattr(args, "no_face", False),
        Modality.VOICE: getattr(args, "no_voice", False),
        Modality.TEXT: getattr(args, "no_transcript", False),
    }
    return PipelineOptions(
        window_s=args.window_s,
        sample_fps=getattr(args, "sample_fps", PipelineOptions().sample_fps),
        modalities=frozenset(m for m, off in switched_off.items() if not off),
        transcript_engine=args.engine,
        transcript_model=args.model,
        face_checkpoint=getattr(args, "face_checkpoint", None),
        score_roles=tuple(r.strip() for r in getattr(args, "score_roles", "client").split(",")),
        role_overrides=_roles(getattr(args, "role", [])),
    )


def _run(
    video: Path, options: PipelineOptions, workdir: Path | None, quiet: bool
) -> dict[str, Any]:
    from analysis.pipeline import analyse_file

    bar = ProgressLine(sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="moodline-") as scratch:
            return analyse_file(
                video,
                options=options,
                workdir=workdir or Path(scratch),
                progress=None if quiet else bar,
            )
    finally:
        bar.close()


def _analyze(args: argparse.Namespace) -> int:
    from analysis.timeline import validate_timeline

    try:
        document = _run(args.video, _options(args), args.workdir, args.quiet)
    except KeyboardInterrupt:
        print("interrupted; rerun with the same --workdir to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    validate_timeline(document)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_name(f".{args.output.name}.partial")
    partial.write_text(json.dumps(document, indent=1))
    partial.replace(args.output)
    summary = {
        "output": str(args.output),
        "duration_s": document["duration_s"],
        "windows": len(document["windows"]),
        "utterances": len(document["transcript"]),
        "moments": len(document["moments"]),
        "gaps": [f"{g['modality']}: {g['reason']}" for g in document["gaps"]],
    }
    print(json.dumps(summary))
    return 0


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after Whisper's English normaliser (case, punctuation, numbers, spellings)."""
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    return float(jiwer.wer(normalise(reference), normalise(hypothesis)))


def _evaluate_transcript(args: argparse.Namespace) -> int:
    import time

    from analysis.media import read_audio
    from analysis.text.transcribe import get_engine, transcribe_array

    audio = read_audio(args.audio)
    engine = get_engine(args.engine, args.model)
    started = time.perf_counter()
    utterances = transcribe_array(audio, engine)
    seconds = time.perf_counter() - started
    hypothesis = " ".join(u.text for u in utterances)
    result = {
        "wer": round(word_error_rate(args.reference, hypothesis), 4),
        "engine": engine.name,
        "model": engine.model.name,
        "hypothesis": hypothesis,
        "audio_s": round(len(audio) / 16000, 3),
        "seconds": round(seconds, 3),
    }
    print(json.dumps(result))
    return 0


def score_windows(
    windows: Sequence[Mapping[str, Any]], segments: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Accuracy and unweighted average recall of each window's dominant emotion.

    A window is labelled by the segment holding its midpoint; a labelled window without a fused
    emotion (every modality missing) counts as wrong, not as neutral.
    """
    pairs: list[tuple[str, str | None]] = []
    for window in windows:
        middle = (window["start_s"] + window["end_s"]) / 2
        label = next((s["label"] for s in segments if s["start_s"] <= middle < s["end_s"]), None)
        if label is not None:
            pairs.append((label, window["dominant"]))
    if not pairs:
        raise SystemExit("error: no window falls inside a labelled segment")
    totals = Counter(label for label, _ in pairs)
    hits = Counter(label for label, predicted in pairs if predicted == label)
    recall = {label: hits[label] / n for label, n in sorted(totals.items())}
    return {
        "accuracy": round(sum(hits.values()) / len(pairs), 4),
        "uar": round(sum(recall.values()) / len(recall), 4),
        "labelled_windows": len(pairs),
        "windows_without_emotion": sum(1 for _, predicted in pairs if predicted is None),
        "recall": {k: round(v, 4) for k, v in recall.items()},
        "confusion": {
            f"{label}->{predicted}": n
            for (label, predicted), n in sorted(Counter(pairs).items(), key=str)
        },
    }


def _evaluate_video(args: argparse.Namespace) -> int:
    labels = json.loads(args.labels.read_text())
    options = replace(_options(args), window_s=args.window_s)
    document = _run(args.video, options, args.workdir, quiet=True)
    result = score_windows(document["windows"], labels["segments"])
    result["stages"] = list(STAGE_NAMES)
    print(json.dumps(result))
    return 0
