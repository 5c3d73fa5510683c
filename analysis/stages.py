"""The pipeline's stages: what each reads, what it returns, what its output depends on.

    ingest, face ──> voice ──────┐
                                 ├──> text ──> fusion (reads every stage before it)
    ingest ──────> transcript ───┘

Each `Stage` names the stages it reads, its share of the running time (for progress), the
options its output depends on (for its fingerprint) and its output type (analysis.stage_outputs).
`analysis.pipeline.run_pipeline` runs them in `STAGES` order; adding a stage means one
function here, one output class and one entry in `STAGES`.

A modality switched off (no consent) or without its stream becomes an explicit gap, not an
error; only a recording with nothing usable at all is rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.errors import Cancelled, ErrorCode, MediaError
from analysis.modality import Modality
from analysis.pipeline_options import PipelineOptions
from analysis.stage_outputs import (
    FaceOutput,
    IngestOutput,
    Json,
    MediaSummary,
    Provenance,
    SpokenPiece,
    StageOutput,
    TextOutput,
    TimelineOutput,
    TranscriptOutput,
    VoiceOutput,
    VoiceSpeaker,
)
from analysis.timeline import (
    GAP_NO_AUDIO,
    GAP_NO_CONSENT,
    GAP_NO_FACE,
    GAP_NO_SPEECH,
    GAP_NO_VIDEO,
    Gap,
)

if TYPE_CHECKING:
    from analysis.voice.prosody import ProsodyFeatures
    from analysis.voice.speakers import Speaker

AUDIO_CHUNK_S = 30.0


@dataclass(frozen=True)
class StageInputs:
    """The outputs of the stages run so far (None: not run yet, or its modality was off)."""

    ingest: IngestOutput | None = None
    face: FaceOutput | None = None
    voice: VoiceOutput | None = None
    transcript: TranscriptOutput | None = None
    text: TextOutput | None = None
    fusion: TimelineOutput | None = None

    def with_output(self, stage: str, output: StageOutput | None) -> StageInputs:
        """These inputs and `stage`'s output (whose type the stage declares in `STAGES`)."""
        changes: dict[str, Any] = {stage: output}
        return replace(self, **changes)

    @property
    def ingested(self) -> IngestOutput:
        if self.ingest is None:
            raise RuntimeError("the ingest stage has not run")
        return self.ingest


@dataclass(frozen=True)
class StageContext:
    path: Path  # the recording, a local file
    options: PipelineOptions
    inputs: StageInputs  # the outputs of the stages this one reads
    progress: Callable[[float], None]  # fraction of this stage done, 0..1
    should_stop: Callable[[], bool]  # True once the caller wants the run to stop

    def check_stop(self) -> None:
        """Raise Cancelled when the caller asked to stop (call between units of work)."""
        if self.should_stop():
            raise Cancelled()


StageFunction = Callable[[StageContext], StageOutput | None]


@dataclass(frozen=True)
class Stage:
    name: str
    reads: tuple[str, ...]  # the stages whose outputs this one needs
    weight: float  # rough share of the running time, for the overall progress figure
    output: type[StageOutput]
    run: StageFunction
    # the options (and model digests) the output depends on, for the fingerprint
    depends_on: Callable[[PipelineOptions], Json]
    # loads the stage's models ahead of its inputs, while a thread would otherwise idle
    prepare: Callable[[PipelineOptions], None] | None = None


# --- ingest ----------------------------------------------------------------------------------


def _ingest(ctx: StageContext) -> IngestOutput:
    from analysis.media import iter_audio, probe
    from analysis.voice.vad import SpeechProbabilities, segments_from_probabilities
    from analysis.weights.speech import SILERO_VAD

    info = probe(ctx.path)
    media = MediaSummary(
        file_name=ctx.path.name,
        duration_s=info.duration_s,
        has_video=info.has_video,
        has_audio=info.has_audio,
        audio_channels=info.audio_channels,
        width=info.width,
        height=info.height,
        fps=info.fps,
    )
    if not info.has_audio or not ctx.options.needs_audio:
        return IngestOutput(media=media, speech=None)
    tracker = SpeechProbabilities(ctx.options.vad)
    for chunk in iter_audio(ctx.path, chunk_s=AUDIO_CHUNK_S):
        ctx.check_stop()
        tracker.feed(chunk.start_s, chunk.samples)
        ctx.progress(min(1.0, (chunk.start_s + AUDIO_CHUNK_S) / info.duration_s))
    speech = segments_from_probabilities(
        tracker.result(),
        ctx.options.vad,
        origin_s=tracker.origin_s or 0.0,
        duration_s=info.duration_s,
    )
    return IngestOutput(media=media, speech=tuple(speech), models=(SILERO_VAD.to_provenance(),))


def _ingest_depends_on(options: PipelineOptions) -> Json:
    o = options.to_json()
    return {"needs_audio": options.needs_audio, "vad": o["vad"]}


# --- face ------------------------------------------------------------------------------------


def _face(ctx: StageContext) -> FaceOutput | None:
    from analysis.face.stage import FaceOptions, run_face_stage
    from analysis.media import probe

    if not ctx.options.allows(Modality.FACE) or not probe(ctx.path).has_video:
        return None
    face_options = FaceOptions(
        sample_fps=ctx.options.sample_fps,
        window_s=ctx.options.window_s,
        checkpoint=ctx.options.face_checkpoint,
    )
    return run_face_stage(ctx.path, face_options, ctx.progress, ctx.should_stop)


def _face_depends_on(options: PipelineOptions) -> Json:
    from analysis.face.loading import face_model_digests
    from analysis.onnx_engine import face_engine

    return {
        "face": options.allows(Modality.FACE),
        "sample_fps": options.sample_fps,
        "window_s": options.window_s,
        # The weights' digests: a changed face model redoes the face stage and what reads it.
        "models": face_model_digests(options.face_checkpoint),
        "engine": face_engine(),  # the two agree within rounding; an output says which ran
    }


# --- voice -----------------------------------------------------------------------------------


def _voice(ctx: StageContext) -> VoiceOutput | None:
    from analysis.media import iter_audio
    from analysis.voice.pieces import describe_pieces, piece_spans
    from analysis.voice.regions import iter_region_audio
    from analysis.voice.speakers import VoicePiece, assign_speakers
    from analysis.voice.speech_emotion import shipped_head, speech_emotion_setting
    from analysis.voice.voiceprints import voiceprint_encoder
    from analysis.weights.speech import SPEECH_EMOTION_HEAD

    ingest = ctx.inputs.ingested
    if ingest.speech is None:
        return None
    measure_prosody = ctx.options.allows(Modality.VOICE)
    head = shipped_head() if measure_prosody and speech_emotion_setting() else None
    spans = piece_spans(ingest.speech)
    duration_s = ingest.media.duration_s
    chunks = (
        (c.start_s, c.samples)
        for c in iter_audio(ctx.path, chunk_s=AUDIO_CHUNK_S, keep_channels=True)
    )
    pieces: list[VoicePiece] = []
    prosody: list[ProsodyFeatures | None] = []
    emotions: list[dict[str, float] | None] = []
    encoder = voiceprint_encoder()
    described_pieces = describe_pieces(
        iter_region_audio(chunks, spans, spans),
        measure_prosody=measure_prosody,
        emotion_head=head,
        encoder=encoder,
    )
    for described in described_pieces:
        ctx.check_stop()
        pieces.append(described.piece)
        prosody.append(described.prosody.rounded() if described.prosody else None)
        emotions.append(described.emotions)
        ctx.progress(min(1.0, described.piece.end_s / duration_s))
    face_tracks = ctx.inputs.face.tracks if ctx.inputs.face is not None else ()
    assignment = assign_speakers(pieces, face_tracks, options=encoder.options)
    return VoiceOutput(
        method=assignment.method,
        details=assignment.details,
        speakers=tuple(_speaker(s) for s in assignment.speakers),
        prosody=measure_prosody,
        # Voice-colour features (MFCCs) are a voiceprint: used above, never stored.
        pieces=tuple(
            SpokenPiece(
                start_s=round(p.start_s, 3),
                end_s=round(p.end_s, 3),
                speaker=speaker,
                channel_db=p.channel_db,
                prosody=features,
                emotions=feeling,
            )
            for p, speaker, features, feeling in zip(
                pieces, assignment.piece_speakers, prosody, emotions, strict=True
            )
        ),
        models=(SPEECH_EMOTION_HEAD.to_provenance(),) if head is not None else (),
    )


def _speaker(speaker: Speaker) -> VoiceSpeaker:
    return VoiceSpeaker(
        id=speaker.id,
        role=speaker.role,
        role_source=speaker.role_source,
        talk_time_s=round(speaker.talk_time_s, 3),
        channel=speaker.channel,
        face_track_id=speaker.face_track_id,
        link_correlation=speaker.link_correlation,
    )


def _voice_prepare(options: PipelineOptions) -> None:
    from analysis.voice.pieces import load_voice_models
    from analysis.voice.speech_emotion import speech_emotion_setting

    load_voice_models(
        emotion_head=options.allows(Modality.VOICE) and speech_emotion_setting() is not None
    )


def _voice_depends_on(options: PipelineOptions) -> Json:
    from analysis.voice.speech_emotion import speech_emotion_setting
    from analysis.voice.voiceprints import voiceprint_encoder
    from analysis.weights.speech import SPEECH_EMOTION_HEAD, WHISPER_TINY_EN

    head = speech_emotion_setting()
    encoder = voiceprint_encoder()
    return {
        "voice": options.allows(Modality.VOICE),
        "needs_audio": options.needs_audio,
        "speaker_encoder": encoder.spec.sha256,
        # how voices are told apart: a stored assignment made another way is made again
        "speakers": asdict(encoder.options),
        "speech_emotion": SPEECH_EMOTION_HEAD.sha256 if head else None,
        # the head reads Whisper's encoder
        "speech_emotion_encoder": WHISPER_TINY_EN.sha256 if head else None,
    }


# --- transcript ------------------------------------------------------------------------------


def _transcript(ctx: StageContext) -> TranscriptOutput | None:
    from analysis.media import iter_audio
    from analysis.text.transcribe import Utterance, get_engine, transcribe_speech

    ingest = ctx.inputs.ingested
    if not ctx.options.allows(Modality.TEXT) or ingest.speech is None:
        return None
    engine = get_engine(ctx.options.transcript_engine, ctx.options.transcript_model)
    duration_s = ingest.media.duration_s
    chunks = ((c.start_s, c.samples) for c in iter_audio(ctx.path, chunk_s=AUDIO_CHUNK_S))
    utterances: list[Utterance] = []
    speech = list(ingest.speech)
    for end_s, found in transcribe_speech(chunks, speech, engine, duration_s=duration_s):
        ctx.check_stop()
        utterances.extend(found)
        ctx.progress(min(1.0, end_s / duration_s))
    return TranscriptOutput(
        engine=engine.name,
        model=engine.model.name,
        utterances=tuple(utterances),
        models=tuple(m.to_provenance() for m in engine.models),
    )


def _transcript_depends_on(options: PipelineOptions) -> Json:
    from analysis.text.transcribe import get_transcript_model

    return {
        "text": options.allows(Modality.TEXT),
        "engine": options.transcript_engine,
        "model": options.transcript_model,
        # The weights' digests too: a transcript is reused only with the very weights that
        # made it. Resolving the model here also refuses an unknown one before any stage runs.
        "weights": [s.sha256 for s in get_transcript_model(options.transcript_model).specs()],
    }


# --- fusion ----------------------------------------------------------------------------------


def session_gaps(options: PipelineOptions, inputs: StageInputs) -> list[Gap]:
    media = inputs.ingested.media
    end = float(media.duration_s)
    gaps: list[Gap] = []
    if not options.allows(Modality.FACE):
        gaps.append(Gap(Modality.FACE, GAP_NO_CONSENT, 0.0, end))
    elif not media.has_video:
        gaps.append(Gap(Modality.FACE, GAP_NO_VIDEO, 0.0, end))
    elif inputs.face is not None and inputs.face.no_face:
        gaps.append(Gap(Modality.FACE, GAP_NO_FACE, 0.0, end))
    speech = inputs.ingested.speech
    transcript = inputs.transcript
    for modality in (Modality.VOICE, Modality.TEXT):
        if not options.allows(modality):
            gaps.append(Gap(modality, GAP_NO_CONSENT, 0.0, end))
        elif not media.has_audio:
            gaps.append(Gap(modality, GAP_NO_AUDIO, 0.0, end))
        elif not speech or (
            modality == Modality.TEXT and transcript is not None and not transcript.utterances
        ):
            gaps.append(Gap(modality, GAP_NO_SPEECH, 0.0, end))
    return gaps


# --- text ------------------------------------------------------------------------------------


def _text(ctx: StageContext) -> TextOutput | None:
    from analysis.text.lines import scored_lines

    transcript = ctx.inputs.transcript
    if not ctx.options.allows(Modality.TEXT) or transcript is None:
        return None
    pieces = ctx.inputs.voice.pieces if ctx.inputs.voice is not None else ()
    output = scored_lines(transcript.utterances, pieces)
    ctx.progress(1.0)
    return output


def _text_prepare(options: PipelineOptions) -> None:
    from analysis.text.lines import load_text_models

    if options.allows(Modality.TEXT):
        load_text_models()


def _text_depends_on(options: PipelineOptions) -> Json:
    from analysis.text.valence import shipped_choice
    from analysis.weights.speech import MINILM, TEXT_EMOTION_HEAD, VADER

    return {
        "text": options.allows(Modality.TEXT),
        "valence": shipped_choice().to_dict(),
        "models": [s.sha256 for s in (VADER, MINILM, TEXT_EMOTION_HEAD)],
    }


def _require_something_usable(options: PipelineOptions, inputs: StageInputs) -> None:
    media = inputs.ingested.media
    face_usable = inputs.face is not None and not inputs.face.no_face
    audio_usable = media.has_audio and options.needs_audio
    if not face_usable and not audio_usable:
        code = ErrorCode.NO_AUDIO_STREAM if media.has_video else ErrorCode.NO_VIDEO_STREAM
        raise MediaError(
            code,
            "nothing to analyse: no face was found and there is no audio track "
            "(or no consent for the modalities present)",
        )


def _fusion(ctx: StageContext) -> TimelineOutput:
    from analysis.fusion import FusionOptions, build_timeline

    inputs, options = ctx.inputs, ctx.options
    _require_something_usable(options, inputs)
    media = inputs.ingested.media
    models: list[Provenance] = [*inputs.ingested.models]
    for output in (inputs.face, inputs.voice, inputs.transcript, inputs.text):
        if output is not None:
            models.extend(output.models)
    extra: dict[str, Any] = {
        "sample_fps": options.sample_fps,
        "transcript_engine": inputs.transcript.engine if inputs.transcript else None,
        "transcript_model": inputs.transcript.model if inputs.transcript else None,
        "speaker_method": inputs.voice.method if inputs.voice else None,
        "consent": {m.value: options.allows(m) for m in Modality},
    }
    document = build_timeline(
        duration_s=float(media.duration_s),
        source={
            "file_name": media.file_name,
            "has_video": media.has_video,
            "has_audio": media.has_audio,
            "audio_channels": media.audio_channels,
        },
        options=FusionOptions(
            window_s=options.window_s,
            score_roles=options.score_roles,
            role_overrides=options.role_overrides,
        ),
        face=inputs.face,
        voice=inputs.voice,
        text=inputs.text,
        session_gaps=session_gaps(options, inputs),
        models=models,
        extra_options=extra,
    )
    ctx.progress(1.0)
    return TimelineOutput(document)


def _fusion_depends_on(options: PipelineOptions) -> Json:
    o = options.to_json()
    return {k: o[k] for k in ("window_s", "score_roles", "role_overrides", "modalities")}


STAGES: tuple[Stage, ...] = (
    Stage("ingest", (), 0.08, IngestOutput, _ingest, _ingest_depends_on),
    Stage("face", (), 0.5, FaceOutput, _face, _face_depends_on),
    Stage(
        "voice",
        ("ingest", "face"),
        0.1,
        VoiceOutput,
        _voice,
        _voice_depends_on,
        prepare=_voice_prepare,
    ),
    Stage("transcript", ("ingest",), 0.26, TranscriptOutput, _transcript, _transcript_depends_on),
    Stage(
        "text",
        ("voice", "transcript"),
        0.02,
        TextOutput,
        _text,
        _text_depends_on,
        prepare=_text_prepare,
    ),
    Stage(
        "fusion",
        ("ingest", "face", "voice", "transcript", "text"),
        0.04,
        TimelineOutput,
        _fusion,
        _fusion_depends_on,
    ),
)
STAGE_NAMES: tuple[str, ...] = tuple(stage.name for stage in STAGES)
