"""Voice prosody per speech piece, and a vocal-arousal estimate relative to the speaker.

DSP with librosa (ISC licence): YIN for F0, RMS for intensity, and a normalised autocorrelation
at the pitch period for voicing and the harmonics-to-noise ratio. praat-parselmouth would add
cycle-level jitter and shimmer, but it is GPL-3 and would bind the whole product to the GPL, so
jitter and shimmer are not reported. Vocal arousal is read from these features in
`analysis/voice/arousal.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import librosa
import numpy as np

SAMPLE_RATE_HZ = 16000
F0_MIN_HZ = 65.0
F0_MAX_HZ = 400.0
ANALYSIS_FRAME_SAMPLES = 1024  # 64 ms: two periods of the lowest F0
HOP_SAMPLES = 160  # 10 ms
VOICED_CORRELATION = 0.45  # normalised autocorrelation at the period above which a frame is voiced
SILENCE_BELOW_PEAK_DB = 35.0  # frames this far below the piece's loudest frame count as silence
MFCC_COUNT = 13
ROUND_DIGITS = 4


@dataclass(frozen=True)
class ProsodyFeatures:
    duration_s: float
    voiced_fraction: float  # share of analysis frames that are voiced
    f0_median_hz: float | None  # None when no frame is voiced
    f0_sd_semitones: float | None  # pitch variability within the piece
    intensity_db: float  # mean RMS level of non-silent frames, dBFS
    hnr_db: float | None  # harmonics-to-noise ratio over voiced frames (autocorrelation estimate)

    def to_dict(self) -> dict[str, float | None]:
        return {
            k: (round(v, ROUND_DIGITS) if isinstance(v, float) else v)
            for k, v in asdict(self).items()
        }

    def rounded(self) -> ProsodyFeatures:
        """The same features rounded as stored, so stored and fresh values read alike."""

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, ROUND_DIGITS)

        return ProsodyFeatures(
            duration_s=round(self.duration_s, ROUND_DIGITS),
            voiced_fraction=round(self.voiced_fraction, ROUND_DIGITS),
            f0_median_hz=r(self.f0_median_hz),
            f0_sd_semitones=r(self.f0_sd_semitones),
            intensity_db=round(self.intensity_db, ROUND_DIGITS),
            hnr_db=r(self.hnr_db),
        )


def _frames(samples: np.ndarray) -> np.ndarray:
    padded = samples
    if len(samples) < ANALYSIS_FRAME_SAMPLES:
        padded = np.pad(samples, (0, ANALYSIS_FRAME_SAMPLES - len(samples)))
    framed: np.ndarray = librosa.util.frame(
        padded, frame_length=ANALYSIS_FRAME_SAMPLES, hop_length=HOP_SAMPLES
    )
    return framed.T  # (n_frames, ANALYSIS_FRAME_SAMPLES)


def prosody_features(samples: np.ndarray) -> ProsodyFeatures:
    """Prosody of one mono 16 kHz piece of speech."""
    x = samples.astype(np.float32, copy=False)
    frames = _frames(x)  # (n, 1024)
    f0 = librosa.yin(
        np.pad(x, (0, max(0, ANALYSIS_FRAME_SAMPLES - len(x)))),
        fmin=F0_MIN_HZ,
        fmax=F0_MAX_HZ,
        sr=SAMPLE_RATE_HZ,
        frame_length=ANALYSIS_FRAME_SAMPLES,
        hop_length=HOP_SAMPLES,
        center=False,
    )[: len(frames)]
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-10
    level_db = 20 * np.log10(rms)
    audible = level_db > level_db.max() - SILENCE_BELOW_PEAK_DB

    # Autocorrelation via FFT (n, 2N) -> (n, N), unbiased by the overlap length.
    spectrum = np.fft.rfft(frames, n=2 * ANALYSIS_FRAME_SAMPLES, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :ANALYSIS_FRAME_SAMPLES]
    lags = np.clip(np.rint(SAMPLE_RATE_HZ / f0).astype(int), 1, ANALYSIS_FRAME_SAMPLES - 1)
    overlap = (ANALYSIS_FRAME_SAMPLES - lags) / ANALYSIS_FRAME_SAMPLES
    at_period = autocorr[np.arange(len(frames)), lags] / overlap
    correlation = np.clip(at_period / (autocorr[:, 0] + 1e-12), 0.0, 0.999)
    voiced = audible & (correlation > VOICED_CORRELATION)

    f0_voiced = f0[voiced]
    f0_median = float(np.median(f0_voiced)) if len(f0_voiced) else None
    f0_sd = None
    if len(f0_voiced) >= 2:
        f0_sd = float(np.std(12 * np.log2(f0_voiced / np.median(f0_voiced))))
    hnr = None
    if voiced.any():
        r = correlation[voiced]
        hnr = float(np.mean(10 * np.log10(r / (1 - r))))
    return ProsodyFeatures(
        duration_s=len(x) / SAMPLE_RATE_HZ,
        voiced_fraction=float(voiced.mean()),
        f0_median_hz=f0_median,
        f0_sd_semitones=f0_sd,
        intensity_db=float(level_db[audible].mean()),
        hnr_db=hnr,
    )


def timbre_features(samples: np.ndarray) -> list[float]:
    """MFCC means and deviations (2 x 12, without c0 which is just loudness): a voice's colour."""
    mfcc = librosa.feature.mfcc(
        y=samples.astype(np.float32, copy=False), sr=SAMPLE_RATE_HZ, n_mfcc=MFCC_COUNT
    )[1:]  # (12, n_frames)
    return [round(float(v), ROUND_DIGITS) for v in [*mfcc.mean(axis=1), *mfcc.std(axis=1)]]
