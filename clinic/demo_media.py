"""A short, real MP4 for the demo session and the tests: H.264 video with AAC speech.

The speech is the public-domain JFK sample shipped beside the repository when it is there,
else espeak-ng reading a sentence, else a plain tone, so the clip can always be made on a machine
that has only the Python packages. The picture is the astronaut photograph from scikit-image
(a real face) when that dev-only package is installed, else a moving pattern.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_SPEECH_SAMPLE = REPO_ROOT.parent / "shared" / "samples" / "jfk.flac"
ESPEAK_SENTENCE = (
    "This week I have felt calmer. Some days are still hard, but I am sleeping better."
)
AUDIO_FRAME_SAMPLES = 1024  # AAC encodes 1024 samples per frame
TONE_HZ = 220.0


@dataclass(frozen=True)
class ClipOptions:
    duration_s: float = 4.0  # length of the clip; speech longer than this is cut
    width_px: int = 320  # frame width (even, as H.264 with 4:2:0 chroma requires)
    height_px: int = 240  # frame height (even)
    fps: int = 10  # video frames per second
    sample_rate_hz: int = 16_000  # mono audio sample rate
    speech_path: Path | None = None  # audio to use instead of the shared sample


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    duration_s: float
    audio_source: str  # "file:<name>", "espeak-ng" or "tone"
    picture_source: str  # "astronaut" or "pattern"


def demo_clip_write(path: Path, options: ClipOptions | None = None) -> ClipInfo:
    """Write the clip to `path` and say what went into it."""
    options = options or ClipOptions()
    audio, audio_source = _speech(options)
    picture, picture_source = _picture(options)
    frame_count = max(1, round(options.duration_s * options.fps))
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=options.fps)
        video.width = options.width_px
        video.height = options.height_px
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=options.sample_rate_hz)
        sound.layout = "mono"
        for index, frame in enumerate(
            _frames(picture, frame_count, (options.height_px, options.width_px))
        ):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = index
            video_frame.time_base = Fraction(1, options.fps)
            container.mux(video.encode(video_frame))
        container.mux(video.encode())
        for start in range(0, len(audio), AUDIO_FRAME_SAMPLES):
            chunk = audio[start : start + AUDIO_FRAME_SAMPLES]
            audio_frame = av.AudioFrame.from_ndarray(
                chunk[np.newaxis, :], format="fltp", layout="mono"
            )
            audio_frame.sample_rate = options.sample_rate_hz
            audio_frame.pts = start
            audio_frame.time_base = Fraction(1, options.sample_rate_hz)
            container.mux(sound.encode(audio_frame))
        container.mux(sound.encode())
    return ClipInfo(
        path=path,
        duration_s=frame_count / options.fps,
        audio_source=audio_source,
        picture_source=picture_source,
    )


def _speech(options: ClipOptions) -> tuple[npt.NDArray[np.float32], str]:
    """Mono float32 samples in [-1, 1] of exactly the clip's length, and where they came from."""
    total = round(options.duration_s * options.sample_rate_hz)
    source_path = options.speech_path or SHARED_SPEECH_SAMPLE
    if source_path.is_file():
        samples, source = (
            _decode_audio(source_path, options.sample_rate_hz),
            f"file:{source_path.name}",
        )
    elif shutil.which("espeak-ng"):
        samples, source = _espeak(options.sample_rate_hz), "espeak-ng"
    else:
        seconds = np.arange(total, dtype=np.float32) / options.sample_rate_hz
        samples, source = (0.2 * np.sin(2 * np.pi * TONE_HZ * seconds)).astype(np.float32), "tone"
    padded = np.zeros(total, dtype=np.float32)
    length = min(total, len(samples))
    padded[:length] = samples[:length]
    return padded, source


def _decode_audio(path: Path, sample_rate_hz: int) -> npt.NDArray[np.float32]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate_hz)
    chunks: list[npt.NDArray[np.float32]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for resampled in resampler.resample(frame):
                chunks.append(resampled.to_ndarray().reshape(-1).astype(np.float32))
        for resampled in resampler.resample(None):
            chunks.append(resampled.to_ndarray().reshape(-1).astype(np.float32))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _espeak(sample_rate_hz: int) -> npt.NDArray[np.float32]:
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["espeak-ng", "-s", "150", "-w", str(wav), ESPEAK_SENTENCE],  # noqa: S607
            check=True,
            capture_output=True,
        )
        return _decode_audio(wav, sample_rate_hz)


def _picture(options: ClipOptions) -> tuple[npt.NDArray[np.uint8] | None, str]:
    try:
        from skimage import data  # dev-only: the demo must not depend on it
    except ImportError:
        return None, "pattern"
    # The astronaut's head and shoulders, resized by nearest neighbour to the frame size.
    photo: npt.NDArray[np.uint8] = data.astronaut()[0:300, 100:400]
    rows = np.linspace(0, photo.shape[0] - 1, options.height_px).astype(int)
    columns = np.linspace(0, photo.shape[1] - 1, options.width_px).astype(int)
    return np.ascontiguousarray(photo[rows][:, columns]), "astronaut"


def _frames(
    picture: npt.NDArray[np.uint8] | None, frame_count: int, size: tuple[int, int]
) -> Iterator[npt.NDArray[np.uint8]]:
    if picture is not None:
        for _ in range(frame_count):
            yield picture
        return
    height, width = size
    rows, columns = np.mgrid[0:height, 0:width]
    for index in range(frame_count):
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[..., 0] = (columns + 4 * index) % 256
        frame[..., 1] = rows % 256
        frame[..., 2] = 128
        yield frame
