"""Speech cut into pieces, and what describes the voice in each: the voice stage's unit.

A VAD segment longer than `MAX_PIECE_S` is cut into equal pieces, so one speaker's long turn
gives several measurements and a piece rarely holds two people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.labels import EMOTIONS
from analysis.voice.prosody import ProsodyFeatures, prosody_features, timbre_features
from analysis.voice.speaker_embedding import speaker_embedding
from analysis.voice.speakers import VoicePiece
from analysis.voice.speech_emotion import SpeechEmotionHead, emotion_features
from analysis.voice.vad import SpeechSegment

MAX_PIECE_S = 8.0  # long speech segments are cut into pieces of at most this length
MIN_PIECE_SAMPLES = 400  # under 25 ms at 16 kHz: nothing to measure


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


def describe_piece(
    audio: np.ndarray,
    start_s: float,
    end_s: float,
    *,
    measure_prosody: bool,
    emotion_head: SpeechEmotionHead | None = None,
) -> DescribedPiece | None:
    """One piece's voice from its (n,) or (channels, n) samples; None when too short."""
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
        voiceprint=tuple(float(v) for v in speaker_embedding(mono)),
    )
    emotions = None
    if emotion_head is not None and features is not None:
        probs = emotion_head.probabilities(emotion_features(mono, features))
        emotions = {label: round(float(p), 4) for label, p in zip(EMOTIONS, probs, strict=True)}
    return DescribedPiece(piece, features, emotions)
