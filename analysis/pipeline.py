"""The analysis pipeline: stages with declared inputs, saved outputs and resumable runs.

    STAGES = ("ingest", "face", "voice", "transcript", "fusion")

Each stage's output is JSON, written to `workdir/<stage>.json` atomically with a fingerprint of
the input file, the options that stage depends on and the fingerprints of the stages it reads.
A rerun (a restarted job) reuses every stage whose saved fingerprint still matches and redoes
only what is missing or outdated — so changing a role, say, reruns fusion alone. A Celery task
can persist outputs elsewhere with `stage_fingerprints`, `run_stage` and `load_stage_output`.

A modality switched off (no consent) or without its stream becomes an explicit gap, not an
error; only a recording with nothing usable at all is rejected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import Cancelled, ErrorCode, MediaError
from analysis.fusion import FusionOptions, build_timeline
from analysis.text.transcribe import default_engine_name, default_model_name, get_transcript_model
from analysis.timeline import (
    GAP_NO_AUDIO,
    GAP_NO_CONSENT,
    GAP_NO_FACE,
    GAP_NO_SPEECH,
    GAP_NO_VIDEO,
    Gap,
)
from analysis.voice.speakers import CLIENT
from analysis.voice.vad import SpeechSegment, VadOptions

log = logging.getLogger(__name__)

STAGES = ("ingest", "face", "voice", "transcript", "fusion")
STAGE_VERSION = 1  # bump when a stage's output changes meaning, to invalidate saved outputs
FINGERPRINT_SAMPLE_BYTES = 1 << 20  # head and tail of the file hashed (with its size)
MAX_VOICE_PIECE_S = 8.0  # long speech segments are cut into pieces of at most this length
AUDIO_CHUNK_S = 30.0
# Rough share of the running time of each stage, for the overall progress figure.
STAGE_WEIGHTS = {"ingest": 0.08, "face": 0.5, "voice": 0.1, "transcript": 0.28, "fusion": 0.04}

Progress = Callable[[str, float], None]
CancelCheck = Callable[[], bool]
StageOutput = dict[str, Any] | None


@dataclass(frozen=True)
class PipelineOptions:
    window_s: float = 2.0  # length of a window of the timeline's time grid, seconds
    sample_fps: float = 5.0  # video frames analysed per second
    face: bool = True  # consent to analyse the face (video)
    voice: bool = True  # consent to analyse the voice (prosody)
    transcript: bool = True  # consent to transcribe and analyse the words
    # engine name (analysis.text.transcribe.ENGINES); MOODLINE_TRANSCRIPT_ENGINE sets the default
    transcript_engine: str = field(default_factory=default_engine_name)
    # Whisper model (analysis.text.transcribe.TRANSCRIPT_MODELS); MOODLINE_TRANSCRIPT_MODEL sets it
    transcript_model: str = field(default_factory=default_model_name)
    face_checkpoint: Path | None = None  # temporal face head; None = the shipped one
    score_roles: tuple[str, ...] = (CLIENT,)  # only these people are scored
    # roles a clinician set: ("speaker:S1" or "face:0", "client" | "clinician")
    role_overrides: tuple[tuple[str, str], ...] = ()
    vad: VadOptions = field(default_factory=VadOptions)  # speech detection thresholds

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["face_checkpoint"] = str(self.face_checkpoint) if self.face_checkpoint else None
        data["score_roles"] = list(self.score_roles)
        data["role_overrides"] = [list(pair) for pair in self.role_overrides]
        return data


# --- fingerprints and saved outputs ----------------------------------------------------------

UPSTREAM: dict[str, tuple[str, ...]] = {
    "ingest": (),
    "face": (),
    "voice": ("ingest", "face"),
    "transcript": ("ingest",),
    "fusion": ("ingest", "face", "voice", "transcript"),
}


def _stage_options(name: str, options: PipelineOptions) -> dict[str, Any]:
    o = options.to_dict()
    keys = {
        "ingest": ("voice", "transcript", "vad"),
        "face": ("face", "sample_fps", "window_s", "face_checkpoint"),
        "voice": ("voice", "transcript"),
        "transcript": ("transcript", "transcript_engine", "transcript_model"),
        "fusion": ("window_s", "score_roles", "role_overrides", "face", "voice", "transcript"),
    }[name]
    chosen = {k: o[k] for k in keys}
    if name == "transcript":
        # The weights' digests too: a transcript is reused only with the very weights that made
        # it. Resolving the model here also refuses an unknown one before any stage runs.
        chosen["transcript_weights"] = [
            s.sha256 for s in get_transcript_model(options.transcript_model).specs()
        ]
    return chosen


def input_fingerprint(path: Path) -> str:
    """Size plus the first and last MiB: cheap on a 2-hour file, changes when the file does."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_SAMPLE_BYTES))
        handle.seek(max(0, size - FINGERPRINT_SAMPLE_BYTES))
        digest.update(handle.read(FINGERPRINT_SAMPLE_BYTES))
    return digest.hexdigest()


def stage_fingerprints(path: Path, options: PipelineOptions) -> dict[str, str]:
    """The fingerprint each stage's output must carry to be reused, for every stage."""
    source = input_fingerprint(path)
    fingerprints: dict[str, str] = {}
    for name in STAGES:
        payload = {
            "stage": name,
            "version": STAGE_VERSION,
            "input": source,
            "options": _stage_options(name, options),
            "upstream": {u: fingerprints[u] for u in UPSTREAM[name]},
        }
        fingerprints[name] = hashlib.sha256(
            json.dumps(payload, sort_keys=True).encode()
        ).hexdigest()
    return fingerprints


def save_stage_output(workdir: Path, name: str, fingerprint: str, output: StageOutput) -> Path:
    """Write atomically (temporary file, then rename) so a crash never leaves half a file."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / f"{name}.json"
    partial = workdir / f".{name}.json.partial"
    partial.write_text(json.dumps({"stage": name, "fingerprint": fingerprint, "output": output}))
    partial.replace(target)
    return target


_MISSING: dict[str, Any] = {}


def load_stage_output(workdir: Path, name: str, fingerprint: str) -> StageOutput | dict[str, Any]:
    """The saved output when its fingerprint matches, else `MISSING` (check with `is MISSING`)."""
    target = workdir / f"{name}.json"
    if not target.is_file():
        return MISSING
    try:
        saved = json.loads(target.read_text())
    except json.JSONDecodeError:
        return MISSING
    if saved.get("fingerprint") != fingerprint:
        return MISSING
    output: StageOutput = saved["output"]
    return output


MISSING = _MISSING


# --- the stages ------------------------------------------------------------------------------


def _check(should_cancel: CancelCheck | None) -> None:
    if should_cancel is not None and should_cancel():
        raise Cancelled()


def _ingest(
    path: Path,
    options: PipelineOptions,
    inputs: Mapping[str, StageOutput],
    progress: Callable[[float], None],
    should_cancel: CancelCheck | None,
) -> StageOutput:
    from analysis.media import iter_audio, probe
    from analysis.models.speech_weights import SILERO_VAD
    from analysis.voice.vad import SpeechProbabilities, segments_from_probabilities

    info = probe(path)
    media = {
        "file_name": path.name,
        "duration_s": info.duration_s,
        "has_video": info.has_video,
        "has_audio": info.has_audio,
        "audio_channels": info.audio_channels,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
    }
    if not info.has_audio or not (options.voice or options.transcript):
        return {"media": media, "speech": None, "models": []}
    tracker = SpeechProbabilities()
    for chunk in iter_audio(path, chunk_s=AUDIO_CHUNK_S):
        _check(should_cancel)
        tracker.feed(chunk.start_s, chunk.samples)
        progress(min(1.0, (chunk.start_s + AUDIO_CHUNK_S) / info.duration_s))
    speech = segments_from_probabilities(
        tracker.result(), options.vad, origin_s=tracker.origin_s or 0.0, duration_s=info.duration_s
    )
    return {
        "media": media,
        "speech": [s.to_dict() for s in speech],
        "models": [SILERO_VAD.to_provenance()],
    }


def _face(
    path: Path,
    options: PipelineOptions,
    inputs: Mapping[str, StageOutput],
    progress: Callable[[float], None],
    should_cancel: CancelCheck | None,
) -> StageOutput:
    from analysis.face.stage import FaceOptions, run_face_stage
    from analysis.media import probe

    if not options.face or not probe(path).has_video:
        return None
    face_options = FaceOptions(
        sample_fps=options.sample_fps, window_s=options.window_s, checkpoint=options.face_checkpoint
    )
    return run_face_stage(path, face_options, progress, should_cancel).to_dict()


def _voice_pieces(speech: list[dict[str, float]]) -> list[tuple[float, float]]:
    pieces: list[tuple[float, float]] = []
    for segment in map(SpeechSegment.from_dict, speech):
        n = max(1, int(-(-segment.duration_s // MAX_VOICE_PIECE_S)))
        step = segment.duration_s / n
        pieces.extend(
            (segment.start_s + i * step, segment.start_s + (i + 1) * step) for i in range(n)
        )
    return pieces


def _voice(
    path: Path,
    options: PipelineOptions,
    inputs: Mapping[str, StageOutput],
    progress: Callable[[float], None],
    should_cancel: CancelCheck | None,
) -> StageOutput:
    import numpy as np

    from analysis.media import iter_audio
    from analysis.voice.prosody import prosody_features, timbre_features
    from analysis.voice.regions import iter_region_audio
    from analysis.voice.speakers import VoicePiece, assign_speakers

    ingest = inputs["ingest"] or {}
    if ingest.get("speech") is None:
        return None
    spans = _voice_pieces(ingest["speech"])
    duration_s = ingest["media"]["duration_s"]
    chunks = (
        (c.start_s, c.samples) for c in iter_audio(path, chunk_s=AUDIO_CHUNK_S, keep_channels=True)
    )
    pieces: list[VoicePiece] = []
    prosody: list[dict[str, Any] | None] = []
    for (start_s, end_s), audio in iter_region_audio(chunks, spans, spans):
        _check(should_cancel)
        channels = audio if audio.ndim == 2 else audio[None]  # (channels, n)
        mono = channels.mean(axis=0)
        if mono.size < 400:  # under 25 ms: nothing to measure
            continue
        level_db = 20 * np.log10(np.sqrt(np.mean(channels**2, axis=1)) + 1e-10)
        features = prosody_features(mono) if options.voice else None
        pieces.append(
            VoicePiece(
                start_s=start_s,
                end_s=end_s,
                channel_db=tuple(round(float(v), 2) for v in level_db),
                timbre=tuple(timbre_features(mono)),
                f0_median_hz=features.f0_median_hz if features else None,
            )
        )
        prosody.append(features.to_dict() if features else None)
        progress(min(1.0, end_s / duration_s))
    face_tracks = (inputs.get("face") or {}).get("tracks", [])
    assignment = assign_speakers(pieces, face_tracks)
    return {
        "method": assignment.method,
        "details": assignment.details,
        "speakers": [s.to_dict() for s in assignment.speakers],
        "prosody": options.voice,
        # Voice-colour features (MFCCs) are a voiceprint: used above, never stored.
        "pieces": [
            {
                "start_s": round(p.start_s, 3),
                "end_s": round(p.end_s, 3),
                "speaker": speaker,
                "channel_db": list(p.channel_db),
                "prosody": features,
            }
            for p, speaker, features in zip(pieces, assignment.piece_speakers, prosody, strict=True)
        ],
        "models": [],
    }


def _transcript(
    path: Path,
    options: PipelineOptions,
    inputs: Mapping[str, StageOutput],
    progress: Callable[[float], None],
    should_cancel: CancelCheck | None,
) -> StageOutput:
    from analysis.media import iter_audio
    from analysis.text.transcribe import get_engine, transcribe_speech

    ingest = inputs["ingest"] or {}
    if not options.transcript or ingest.get("speech") is None:
        return None
    engine = get_engine(options.transcript_engine, options.transcript_model)
    duration_s = ingest["media"]["duration_s"]
    speech = [SpeechSegment.from_dict(s) for s in ingest["speech"]]
    chunks = ((c.start_s, c.samples) for c in iter_audio(path, chunk_s=AUDIO_CHUNK_S))
    utterances: list[dict[str, Any]] = []
    for end_s, found in transcribe_speech(chunks, speech, engine, duration_s=duration_s):
        _check(should_cancel)
        utterances.extend(u.to_dict() for u in found)
        progress(min(1.0, end_s / duration_s))
    return {
        "engine": engine.name,
        "model": engine.model.name,
        "utterances": utterances,
        "models": [m.to_provenance() for m in engine.models],
    }


def _session_gaps(options: PipelineOptions, inputs: Mapping[str, StageOutput]) -> list[Gap]:
    ingest = inputs["ingest"] or {}
    media = ingest["media"]
    end = float(media["duration_s"])
    face = inputs.get("face")
    gaps: list[Gap] = []
    if not options.face:
        gaps.append(Gap("face", GAP_NO_CONSENT, 0.0, end))
    elif not media["has_video"]:
        gaps.append(Gap("face", GAP_NO_VIDEO, 0.0, end))
    elif face is not None and face["no_face"]:
        gaps.append(Gap("face", GAP_NO_FACE, 0.0, end))
    speech = ingest.get("speech")
    transcript = inputs.get("transcript")
    for modality, consented in (("voice", options.voice), ("text", options.transcript)):
        if not consented:
            gaps.append(Gap(modality, GAP_NO_CONSENT, 0.0, end))
        elif not media["has_audio"]:
            gaps.append(Gap(modality, GAP_NO_AUDIO, 0.0, end))
        elif not speech or (modality == "text" and transcript and not transcript["utterances"]):
            gaps.append(Gap(modality, GAP_NO_SPEECH, 0.0, end))
    return gaps


def _require_something_usable(options: PipelineOptions, inputs: Mapping[str, StageOutput]) -> None:
    media = (inputs["ingest"] or {})["media"]
    face = inputs.get("face")
    face_usable = face is not None and not face["no_face"]
    audio_usable = media["has_audio"] and (options.voice or options.transcript)
    if not face_usable and not audio_usable:
        code = ErrorCode.NO_AUDIO_STREAM if media["has_video"] else ErrorCode.NO_VIDEO_STREAM
        raise MediaError(
            code,
            "nothing to analyse: no face was found and there is no audio track "
            "(or no consent for the modalities present)",
        )


def _fusion(
    path: Path,
    options: PipelineOptions,
    inputs: Mapping[str, StageOutput],
    progress: Callable[[float], None],
    should_cancel: CancelCheck | None,
) -> StageOutput:
    _require_something_usable(options, inputs)
    media = (inputs["ingest"] or {})["media"]
    models: list[dict[str, str]] = []
    for name in ("ingest", "face", "voice", "transcript"):
        models.extend((inputs.get(name) or {}).get("models", []))
    if inputs.get("transcript"):
        from analysis.models.speech_weights import MINILM, VADER
        from analysis.text.emotion import TEXT_EMOTION_HEAD

        models.extend(s.to_provenance() for s in (VADER, MINILM, TEXT_EMOTION_HEAD))
    document = build_timeline(
        duration_s=float(media["duration_s"]),
        source={k: media[k] for k in ("file_name", "has_video", "has_audio", "audio_channels")},
        options=FusionOptions(
            window_s=options.window_s,
            score_roles=options.score_roles,
            role_overrides=options.role_overrides,
        ),
        face=inputs.get("face"),
        voice=inputs.get("voice"),
        transcript=inputs.get("transcript"),
        session_gaps=_session_gaps(options, inputs),
        models=models,
        extra_options={
            "sample_fps": options.sample_fps,
            "transcript_engine": (inputs.get("transcript") or {}).get("engine"),
            "transcript_model": (inputs.get("transcript") or {}).get("model"),
            "speaker_method": (inputs.get("voice") or {}).get("method"),
            "consent": {"face": options.face, "voice": options.voice, "text": options.transcript},
        },
    )
    progress(1.0)
    return document


StageFunction = Callable[
    [Path, PipelineOptions, Mapping[str, StageOutput], Callable[[float], None], CancelCheck | None],
    StageOutput,
]
STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "ingest": _ingest,
    "face": _face,
    "voice": _voice,
    "transcript": _transcript,
    "fusion": _fusion,
}


def run_stage(
    name: str,
    path: Path,
    *,
    options: PipelineOptions,
    inputs: Mapping[str, StageOutput],
    progress: Callable[[float], None] | None = None,
    should_cancel: CancelCheck | None = None,
) -> StageOutput:
    """Run one stage given the outputs of the stages it reads (`UPSTREAM[name]`)."""
    missing = [u for u in UPSTREAM[name] if u not in inputs]
    if missing:
        raise ValueError(f"stage {name!r} needs the outputs of {missing}")
    return STAGE_FUNCTIONS[name](
        path, options, inputs, progress or (lambda _f: None), should_cancel
    )


def run_pipeline(
    path: Path,
    *,
    options: PipelineOptions,
    workdir: Path,
    progress: Progress | None = None,
    should_cancel: CancelCheck | None = None,
) -> dict[str, Any]:
    """Run (or resume) every stage and return the timeline document."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(ErrorCode.NOT_MEDIA, f"no such file: {path}")
    fingerprints = stage_fingerprints(path, options)
    report = progress or (lambda _stage, _fraction: None)
    total = sum(STAGE_WEIGHTS.values())
    done = 0.0
    outputs: dict[str, StageOutput] = {}
    timings: dict[str, float] = {}
    for name in STAGES:
        _check(should_cancel)
        saved = load_stage_output(workdir, name, fingerprints[name])
        if saved is not MISSING:
            outputs[name] = saved
            timings[name] = 0.0
        else:
            started = time.perf_counter()
            base = done

            def stage_progress(fraction: float, _name: str = name, _base: float = base) -> None:
                report(_name, min(1.0, (_base + STAGE_WEIGHTS[_name] * fraction) / total))

            stage_progress(0.0)
            outputs[name] = run_stage(
                name,
                path,
                options=options,
                inputs={u: outputs[u] for u in UPSTREAM[name]},
                progress=stage_progress,
                should_cancel=should_cancel,
            )
            save_stage_output(workdir, name, fingerprints[name], outputs[name])
            timings[name] = round(time.perf_counter() - started, 2)
        done += STAGE_WEIGHTS[name]
        report(name, min(1.0, done / total))
    log.info("pipeline %s: stage seconds %s (0 = reused)", path.name, timings)
    document = outputs["fusion"]
    assert document is not None
    return document
