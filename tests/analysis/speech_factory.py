"""Real speech for tests, spoken by espeak-ng (Debian), and recordings built around it.

Two voices stand in for a client and a clinician: a lower male voice and a higher female one.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

RATE_HZ = 16000
CLIENT_VOICE = "en-us+m3"
CLINICIAN_VOICE = "en-us+f4"


def speak(
    text: str,
    *,
    voice: str = CLIENT_VOICE,
    words_per_minute: int = 150,
    pitch: int = 50,
    amplitude: int = 100,
) -> np.ndarray:
    """`text` spoken by espeak-ng, as 16 kHz mono float32 (pitch 0-99, amplitude 0-200)."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-p", str(pitch),
             "-a", str(amplitude), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )  # fmt: skip
        samples, rate = sf.read(wav, dtype="float32")
    return resample_poly(samples, RATE_HZ, rate).astype(np.float32)


def silence(duration_s: float) -> np.ndarray:
    return np.zeros(round(duration_s * RATE_HZ), dtype=np.float32)


def join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Mono (n,) or multi-channel (channels, n) float32 at 16 kHz to a WAV file."""
    sf.write(path, samples.T if samples.ndim == 2 else samples, RATE_HZ, subtype="PCM_16")
    return path


def two_speaker_stereo(turns: list[tuple[str, str]]) -> np.ndarray:
    """(2, n): each turn spoken on its speaker's channel (0 = client, 1 = clinician)."""
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    for who, text in turns:
        speech = speak(text, voice=CLIENT_VOICE if who == "client" else CLINICIAN_VOICE)
        quiet = np.zeros_like(speech)
        left += [speech if who == "client" else quiet, silence(0.6)]
        right += [quiet if who == "client" else speech, silence(0.6)]
    return np.stack([np.concatenate(left), np.concatenate(right)])
