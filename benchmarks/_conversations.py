"""Conversations whose turns are known to the sample: speech joined with pauses, for timing.

Each turn is one sentence by one voice — an espeak-ng voice, or a RAVDESS actor's recorded
sentence when `shared/data` is present — trimmed of its own leading and trailing silence, so
the turn's start and end are where its speech starts and ends. Pauses between turns are drawn
from PAUSES_S (some under a second, most over); the same seed gives the same conversation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks._recording import AUDIO_RATE_HZ, SENTENCES, spoken

ESPEAK_VOICES = ("en-us+m3", "en-us+f4", "en-gb+m1")
PAUSES_S = (0.4, 0.7, 1.2, 2.0, 3.5, 5.0)
TRIM_TOP_DB = 35.0
LEAD_IN_S = 1.0
ROOM_TONE_DBFS = -55.0  # a quiet room's hiss, RMS


@dataclass(frozen=True)
class Turn:
    speaker: str
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Conversation:
    name: str
    audio: np.ndarray  # 16 kHz mono float32
    turns: tuple[Turn, ...]


def _trimmed(samples: np.ndarray) -> np.ndarray:
    import librosa

    speech, _ = librosa.effects.trim(samples, top_db=TRIM_TOP_DB)
    return np.asarray(speech, dtype=np.float32)


def join_turns(name: str, said: Sequence[tuple[str, str, np.ndarray]], seed: int) -> Conversation:
    """(speaker, text, samples) in order, with drawn pauses between them."""
    rng = random.Random(seed)
    parts = [np.zeros(round(LEAD_IN_S * AUDIO_RATE_HZ), np.float32)]
    turns = []
    at = len(parts[0])
    for i, (speaker, text, samples) in enumerate(said):
        if i:
            pause = np.zeros(round(rng.choice(PAUSES_S) * AUDIO_RATE_HZ), np.float32)
            parts.append(pause)
            at += len(pause)
        speech = _trimmed(samples)
        turns.append(Turn(speaker, at / AUDIO_RATE_HZ, (at + len(speech)) / AUDIO_RATE_HZ, text))
        parts.append(speech)
        at += len(speech)
    parts.append(np.zeros(round(LEAD_IN_S * AUDIO_RATE_HZ), np.float32))
    return Conversation(name, np.concatenate(parts), tuple(turns))


def espeak_conversation(seed: int, *, speakers: int = 2, turns: int = 8) -> Conversation:
    rng = random.Random(seed)
    voices = ESPEAK_VOICES[:speakers]
    said = []
    for i in range(turns):
        voice = voices[i % speakers] if speakers > 1 else voices[0]
        text = rng.choice(SENTENCES)
        said.append((voice, text, spoken(text, voice, rng.choice((135, 150, 165)))))
    return join_turns(f"espeak {speakers} voice(s), seed {seed}", said, seed)


def ravdess_conversation(seed: int, *, actors: Sequence[int], turns: int = 8) -> Conversation:
    """Turns of RAVDESS sentences (any emotion) by `actors` in rotation."""
    import soundfile as sf

    from analysis.voice.ravdess import acted_sentences

    rng = random.Random(seed)
    by_actor = {a: [s for s in acted_sentences() if s.actor == a] for a in actors}
    said = []
    for i in range(turns):
        actor = actors[i % len(actors)]
        sentence = rng.choice(by_actor[actor])
        samples, _ = sf.read(sentence.path, dtype="float32")
        said.append((f"actor {actor:02d}", sentence.words, samples))
    names = "+".join(f"{a:02d}" for a in actors)
    return join_turns(f"RAVDESS actors {names}, seed {seed}", said, seed)


def room_hiss(samples: int, seed: int, dbfs: float = ROOM_TONE_DBFS) -> np.ndarray:
    """Broadband noise at `dbfs` RMS, softer above 2 kHz, as a quiet room's."""
    noise = np.random.default_rng(seed).standard_normal(samples)
    noise = np.convolve(noise, np.ones(8) / 8, mode="same")
    return (noise * 10 ** (dbfs / 20) / np.sqrt(np.mean(noise**2))).astype(np.float32)


def with_room_tone(audio: np.ndarray, seed: int) -> np.ndarray:
    """`audio` heard in a quiet room: its hiss added throughout, pauses included."""
    return (audio + room_hiss(len(audio), seed)).astype(np.float32)
