"""Real media files for tests, generated on the spot with PyAV (H.264/AAC in MP4 and friends).

Good clips (faces moving over a background, no face, no audio, audio only) and broken ones,
each broken the way real uploads break: cut off mid-transfer, a text file renamed .mp4, a
header with no samples, a codec no decoder knows. Other test modules reuse these.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

AUDIO_RATE_HZ = 48000


@dataclass(frozen=True)
class MovingFace:
    """A face image pasted into every frame, sliding from `start_xy` to `end_xy` (top-left, px)."""

    image: np.ndarray  # (h, w, 3) uint8
    start_xy: tuple[int, int]
    end_xy: tuple[int, int]


def background(width: int, height: int) -> np.ndarray:
    """A soft, face-free office-like backdrop: gradients and a few flat panels."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [
            90 + 60 * xs / width,
            100 + 40 * ys / height,
            120 + 30 * (xs + ys) / (width + height),
        ],
        axis=-1,
    )
    rgb[height // 10 : height // 3, width // 20 : width // 6] = (180, 170, 150)  # a picture frame
    rgb[int(height * 0.7) :, :] *= 0.6  # a desk
    return rgb.clip(0, 255).astype(np.uint8)


def tone(
    duration_s: float, frequency_hz: float = 220.0, rate_hz: int = AUDIO_RATE_HZ
) -> np.ndarray:
    t = np.arange(round(duration_s * rate_hz)) / rate_hz
    return (0.2 * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def write_clip(
    path: Path,
    *,
    duration_s: float = 2.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    faces: Sequence[MovingFace] = (),
    audio: np.ndarray | None = None,
    audio_rate_hz: int = AUDIO_RATE_HZ,
    video: bool = True,
    rotation_deg: int | None = None,
    faststart: bool = True,
    crf: int = 23,
) -> Path:
    """Encode an MP4 (or, by suffix, MKV/M4A) with optional moving faces and a mono audio track."""
    width, height = size
    options = {"movflags": "+faststart"} if faststart and path.suffix == ".mp4" else {}
    with av.open(str(path), mode="w", options=options) as container:
        video_stream = None
        if video:
            video_stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf)})
            video_stream.width, video_stream.height = width, height
            video_stream.pix_fmt = "yuv420p"
            if rotation_deg is not None:
                video_stream.set_display_rotation(rotation_deg)
        audio_stream = None
        if audio is not None:
            audio_stream = container.add_stream("aac", rate=audio_rate_hz)
            audio_stream.layout = "mono"
        if video_stream is not None:
            backdrop = background(width, height)
            n_frames = round(duration_s * fps)
            for i in range(n_frames):
                progress = i / max(1, n_frames - 1)
                frame = backdrop.copy()
                for face in faces:
                    _paste(frame, face, progress)
                packets = video_stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24"))
                container.mux(packets)
            container.mux(video_stream.encode(None))
        if audio_stream is not None and audio is not None:
            samples = np.ascontiguousarray(audio, np.float32).reshape(1, -1)
            audio_frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            audio_frame.sample_rate = audio_rate_hz
            container.mux(audio_stream.encode(audio_frame))
            container.mux(audio_stream.encode(None))
    return path


def _paste(frame: np.ndarray, face: MovingFace, progress: float) -> None:
    x = round(face.start_xy[0] + (face.end_xy[0] - face.start_xy[0]) * progress)
    y = round(face.start_xy[1] + (face.end_xy[1] - face.start_xy[1]) * progress)
    h, w = face.image.shape[:2]
    frame_h, frame_w = frame.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(frame_w, x + w), min(frame_h, y + h)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = face.image[y0 - y : y1 - y, x0 - x : x1 - x]


def write_no_face_clip(path: Path, *, duration_s: float = 2.0, with_audio: bool = True) -> Path:
    audio = tone(duration_s) if with_audio else None
    return write_clip(path, duration_s=duration_s, audio=audio)


def write_no_audio_clip(path: Path, *, duration_s: float = 2.0) -> Path:
    return write_clip(path, duration_s=duration_s, audio=None)


def write_audio_only(path: Path, *, duration_s: float = 2.0) -> Path:
    """An M4A (AAC) voice-memo-like file with no video stream."""
    return write_clip(
        path.with_suffix(".m4a"), duration_s=duration_s, audio=tone(duration_s), video=False
    )


def write_wav(path: Path, samples: np.ndarray, rate_hz: int = 16000) -> Path:
    """A 16-bit PCM WAV; `samples` (n,) mono or (n, channels), float in [-1, 1]."""
    data = np.asarray(samples, np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate_hz)
        handle.writeframes((data.clip(-1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_zero_duration(path: Path) -> Path:
    """A valid WAV header announcing no samples at all (an aborted recording)."""
    return write_wav(path.with_suffix(".wav"), np.zeros((0,), np.float32))


def write_truncated(path: Path, *, keep_fraction: float = 0.5) -> Path:
    """A clip cut off mid-upload: the index is intact (faststart) but the media data stops."""
    whole = write_clip(path.with_name(path.stem + "_whole.mp4"), duration_s=4.0, audio=tone(4.0))
    data = whole.read_bytes()
    path.write_bytes(data[: round(len(data) * keep_fraction)])
    whole.unlink()
    return path


def write_damaged_header(path: Path) -> Path:
    """An MP4 whose index (written last) was lost: it starts like media but cannot be opened."""
    whole = write_clip(path.with_name(path.stem + "_whole.mp4"), faststart=False, audio=tone(2.0))
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    whole.unlink()
    return path


def write_text_as_mp4(path: Path) -> Path:
    path.write_text("Session notes, not a recording.\n" * 20)
    return path


def write_unsupported_codec(path: Path) -> Path:
    """An AVI whose video codec tag no decoder knows (as from an exotic capture card)."""
    avi = path.with_suffix(".avi")
    with av.open(str(avi), mode="w") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for _ in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = avi.read_bytes()
    assert data.count(b"MJPG") >= 1
    avi.write_bytes(data.replace(b"MJPG", b"QZQZ"))
    return avi
