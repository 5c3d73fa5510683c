"""Speech cut into pieces, and what describes the voice in each: the voice stage's unit.

A VAD segment longer than `MAX_PIECE_S` is cut into equal pieces, so one speaker's long turn
gives several measurements and a piece rarely holds two people.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from analysis.labels import EMOTIONS
from analysis.voice.prosody import ProsodyFeatures, prosody_features, timbre_features
from analysis.voice.speakers import VoicePiece
from analysis.voice.speech_emotion import SpeechEmotionHead, emotion_features, shipped_head
from analysis.voice.vad import SpeechSegment
from analysis.voice.voiceprints import VoiceprintEncoder, voiceprint_encoder

MAX_PIECE_S = 8.0  # long speech segments are cut into pieces of at most this length
MIN_PIECE_SAMPLES = 400  # under 25 ms at 16 kHz: nothing to measure
VOICEPRINT_BATCH = 32  # pieces whose voiceprints are computed together
WARM_UP_SAMPLES = 16000  # a second of silence: enough for every DSP step to run once


def piece_spans(speech: Sequence[SpeechSegment]) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    for segment in speech:
        n = max(1, int(-(-segment.duration_s // MAX_PIECE_S)))
        step = segment.duration_s / n
        spans.extend(
            (segment.start_s + i * step, segment.start_s + (i + 1) * step) for i in range(n)
        )
    return spans


@dataclass(frozen=True)
class DescribedPiece:
    piece: VoicePiece
    prosody: ProsodyFeatures | None  # None without consent to analyse the voice
    emotions: dict[str, float] | None  # the speech-emotion head's, when it is on


def describe_pieces(
    cuts: Iterable[tuple[tuple[float, float], np.ndarray]],
    *,
    measure_prosody: bool,
    emotion_head: SpeechEmotionHead | None = None,
    encoder: VoiceprintEncoder | None = None,
) -> Iterator[DescribedPiece]:
    """Each ((start_s, end_s), samples) piece's voice, in order, skipping pieces too short to
    measure. Samples are (n,) or (channels, n). The voiceprints (`encoder`'s, else the
    setting's) are computed `VOICEPRINT_BATCH` pieces at a time, so at most that many pieces'
    samples are held at once."""
    encoder = encoder or voiceprint_encoder()
    waiting: list[tuple[DescribedPiece, np.ndarray]] = []
    for (start_s, end_s), audio in cuts:
        described = _described_but_voiceprint(audio, start_s, end_s, measure_prosody, emotion_head)
        if described is None:
            continue
        waiting.append(described)
        if len(waiting) == VOICEPRINT_BATCH:
            yield from _with_voiceprints(waiting, encoder)
            waiting = []
    yield from _with_voiceprints(waiting, encoder)


def describe_piece(
    audio: np.ndarray,
    start_s: float,
    end_s: float,
    *,
    measure_prosody: bool,
    emotion_head: SpeechEmotionHead | None = None,
) -> DescribedPiece | None:
    """One piece's voice from its (n,) or (channels, n) samples; None when too short."""
    pieces = describe_pieces(
        [((start_s, end_s), audio)], measure_prosody=measure_prosody, emotion_head=emotion_head
    )
    return next(pieces, None)


def _described_but_voiceprint(
    audio: np.ndarray,
    start_s: float,
    end_s: float,
    measure_prosody: bool,
    emotion_head: SpeechEmotionHead | None,
) -> tuple[DescribedPiece, np.ndarray] | None:
    """The piece described but for its voiceprint, and the mono samples to compute it from."""
    channels = audio if audio.ndim == 2 else audio[None]  # (channels, n)
    mono = channels.mean(axis=0)
    if mono.size < MIN_PIECE_SAMPLES:
        return None
    level_db = 20 * np.log10(np.sqrt(np.mean(channels**2, axis=1)) + 1e-10)
    features = prosody_features(mono) if measure_prosody else None
    piece = VoicePiece(
        start_s=start_s,
        end_s=end_s,
        channel_db=tuple(round(float(v), 2) for v in level_db),
        timbre=tuple(timbre_features(mono)),
        f0_median_hz=features.f0_median_hz if features else None,
    )
    emotions = None
    if emotion_head is not None and features is not None:
        probs = emotion_head.probabilities(emotion_features(mono))
        emotions = {label: round(float(p), 4) for label, p in zip(EMOTIONS, probs, strict=True)}
    return DescribedPiece(piece, features, emotions), mono


def _with_voiceprints(
    waiting: Sequence[tuple[DescribedPiece, np.ndarray]], encoder: VoiceprintEncoder
) -> Iterator[DescribedPiece]:
    voiceprints = encoder.embed([mono for _, mono in waiting])
    for (described, _), voiceprint in zip(waiting, voiceprints, strict=True):
        piece = replace(described.piece, voiceprint=tuple(float(v) for v in voiceprint))
        yield replace(described, piece=piece)


def load_voice_models(*, emotion_head: bool) -> None:
    """Load what describing a piece loads on first use: the speaker encoder, the speech-emotion
    head when asked, and librosa's DSP (about 2 s on its first call)."""
    voiceprint_encoder().load()
    if emotion_head:
        from analysis.weights.speech import load_whisper

        shipped_head()
        load_whisper()  # the head reads Whisper's encoder
    describe_piece(np.zeros(WARM_UP_SAMPLES, dtype=np.float32), 0.0, 1.0, measure_prosody=True)
