"""Media ingest that streams: probe a recording, decode sampled video frames and 16 kHz audio.

Everything here reads the file incrementally through PyAV (which bundles FFmpeg), so memory
stays bounded by one decoded frame / one audio chunk however long the recording is. Every
failure is a `MediaError` with a specific code, so a clinician sees "the upload was cut off"
rather than a decoder stack trace.

Times (`t_s`, `start_s`) are seconds from the start of the container, so video frames and
audio chunks of the same file share one clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.container
import av.error
import numpy as np

from analysis.errors import ErrorCode, MediaError
from analysis.media_signatures import SIGNATURE_BYTES, looks_like_media
from analysis.threads import stage_threads

SPEECH_SAMPLE_RATE_HZ = 16000
MICROSECONDS_PER_SECOND = 1_000_000

# A stream that stops this much earlier than its declared duration was cut off (a truncated
# upload); container muxers round durations, so a small shortfall is normal.
TRUNCATION_TOLERANCE_S = 0.5
TRUNCATION_TOLERANCE_FRACTION = 0.02


@dataclass(frozen=True)
class StreamInfo:
    index: int  # FFmpeg's stream index within the container
    kind: Literal["video", "audio"]
    codec: str | None  # decoder name; None when FFmpeg has no decoder for it
    duration_s: float | None  # as declared by the container, when it declares one
    width: int | None = None  # coded size in pixels (before rotation), video only
    height: int | None = None
    fps: float | None = None  # average frame rate, video only
    channels: int | None = None  # audio only
    sample_rate: int | None = None  # Hz, audio only


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    has_video: bool
    has_audio: bool
    width: int | None  # displayed width in pixels, i.e. after rotation
    height: int | None  # displayed height in pixels, i.e. after rotation
    fps: float | None  # average frame rate of the video stream
    rotation_deg: int  # counter-clockwise rotation a player applies (0, 90, 180, 270)
    video_codec: str | None
    audio_codec: str | None
    audio_channels: int | None
    audio_sample_rate: int | None  # Hz, as stored (decoding resamples to 16 kHz)
    size_bytes: int
    container: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    streams: tuple[StreamInfo, ...] = ()


@dataclass(frozen=True)
class VideoFrame:
    index: int  # 0-based index among the *sampled* frames
    t_s: float  # presentation time, seconds from the start of the container
    rgb: np.ndarray  # (H, W, 3) uint8, rotation applied


@dataclass(frozen=True)
class AudioChunk:
    start_s: float  # time of the first sample, seconds from the start of the container
    samples: np.ndarray  # float32; (n,) when mono, (channels, n) with keep_channels


def require_video(info: MediaInfo) -> None:
    if not info.has_video:
        raise MediaError(ErrorCode.NO_VIDEO_STREAM, "The recording has no video stream.")


def require_audio(info: MediaInfo) -> None:
    if not info.has_audio:
        raise MediaError(ErrorCode.NO_AUDIO_STREAM, "The recording has no audio stream.")


def probe(path: Path) -> MediaInfo:
    """Describe a recording without decoding it (only a few packets when durations are missing)."""
    path = Path(path)
    with _open(path) as container:
        video = _primary_stream(container, "video")
        audio = _primary_stream(container, "audio")
        if video is None and audio is None:
            raise MediaError(ErrorCode.NOT_MEDIA, f"{path.name} has no audio or video stream.")
        for stream in (video, audio):
            if stream is not None:
                _require_decoder(stream, path)
        streams = tuple(
            _stream_info(stream)
            for stream in container.streams
            if stream.type in ("video", "audio") and not _is_cover_art(stream)
        )
        duration_s = _duration_s(container)
        if duration_s is None:
            duration_s = _demuxed_duration_s(container, path)
        if duration_s <= 0:
            raise MediaError(ErrorCode.ZERO_DURATION, f"{path.name} has zero duration.")

        rotation_deg = _rotation_deg(container, video) if video is not None else 0
        video_info = _stream_info(video) if video is not None else None
        audio_info = _stream_info(audio) if audio is not None else None
        width = video_info.width if video_info else None
        height = video_info.height if video_info else None
        if rotation_deg in (90, 270):
            width, height = height, width
        return MediaInfo(
            duration_s=duration_s,
            has_video=video is not None,
            has_audio=audio is not None,
            width=width,
            height=height,
            fps=video_info.fps if video_info else None,
            rotation_deg=rotation_deg,
            video_codec=video_info.codec if video_info else None,
            audio_codec=audio_info.codec if audio_info else None,
            audio_channels=audio_info.channels if audio_info else None,
            audio_sample_rate=audio_info.sample_rate if audio_info else None,
            size_bytes=path.stat().st_size,
            container=container.format.name,
            streams=streams,
        )


def iter_video_frames(
    path: Path, *, sample_fps: float, max_side_px: int | None = None
) -> Iterator[VideoFrame]:
    """Yield RGB frames resampled to `sample_fps` by timestamp, one at a time.

    A frame is kept when its timestamp reaches the next slot of the sampling grid, so a
    variable-frame-rate phone recording is sampled evenly in time. Frames are scaled (by
    FFmpeg, before conversion to RGB) so their longer side is at most `max_side_px`.
    """
    if sample_fps <= 0:
        raise ValueError("sample_fps must be positive")
    path = Path(path)
    with _open(path) as container:
        stream = _decodable_stream(container, "video", path)
        origin_s = _origin_s(container)
        period_s = 1.0 / sample_fps
        next_slot_s = 0.0
        sampled = 0
        last_t_s: float | None = None
        for frame in _decode(container, stream, path):
            if frame.time is None:
                continue
            t_s = frame.time - origin_s
            last_t_s = t_s
            # Half a source frame of slack keeps 25 fps → 5 fps on exact every-5th frames.
            if t_s + 1e-6 < next_slot_s - 0.5 * _frame_period_s(stream):
                continue
            next_slot_s = (math.floor(t_s / period_s + 1e-6) + 1) * period_s
            width, height = _scaled_size(frame.width, frame.height, max_side_px)
            # Area averaging: the right filter for shrinking, and on one thread faster than
            # FFmpeg's default bilinear (which also sizes its own thread pool from the machine).
            rgb = frame.to_ndarray(
                format="rgb24",
                width=width,
                height=height,
                interpolation="AREA",
                threads=stage_threads(),
            )
            rotation = frame.rotation
            if rotation:
                rgb = np.ascontiguousarray(np.rot90(rgb, k=round(rotation / 90) % 4))
            yield VideoFrame(index=sampled, t_s=t_s, rgb=rgb)
            sampled += 1
        _check_complete(stream, origin_s, last_t_s, path)


def iter_audio(
    path: Path,
    *,
    chunk_s: float = 30.0,
    keep_channels: bool = False,
    sample_rate: int = SPEECH_SAMPLE_RATE_HZ,
) -> Iterator[AudioChunk]:
    """Yield float32 audio resampled to `sample_rate` in chunks of `chunk_s` seconds (last shorter).

    Mono is the average of the channels; `keep_channels` keeps them apart,
    e.g. for a recording with the client and the clinician on separate microphones.
    """
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    path = Path(path)
    with _open(path) as container:
        stream = _decodable_stream(container, "audio", path)
        origin_s = _origin_s(container)
        # Resample every channel and average them ourselves: FFmpeg's stereo→mono downmix
        # adds the channels at -3 dB each, which can clip a loud recording.
        resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        chunk_samples = max(1, round(chunk_s * sample_rate))
        pending: list[np.ndarray] = []  # each (channels, n)
        pending_n = 0
        emitted_n = 0
        start_s: float | None = None
        last_end_s: float | None = None

        def take(n: int) -> np.ndarray:
            nonlocal pending, pending_n
            joined = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
            head, tail = joined[:, :n], joined[:, n:]
            pending = [tail] if tail.shape[1] else []
            pending_n = tail.shape[1]
            return head

        def chunk(samples: np.ndarray) -> AudioChunk:
            nonlocal emitted_n
            begin_s = (start_s or 0.0) + emitted_n / sample_rate
            emitted_n += samples.shape[1]
            data = samples if keep_channels else samples.mean(axis=0)
            return AudioChunk(start_s=begin_s, samples=np.ascontiguousarray(data, np.float32))

        def resampled(frame: av.AudioFrame | None) -> Iterator[np.ndarray]:
            for out in resampler.resample(frame):
                yield out.to_ndarray()

        for frame in _decode(container, stream, path):
            if start_s is None and frame.time is not None:
                start_s = max(0.0, frame.time - origin_s)
            if frame.time is not None:
                last_end_s = frame.time - origin_s + frame.samples / frame.sample_rate
            for samples in resampled(frame):
                pending.append(samples)
                pending_n += samples.shape[1]
                while pending_n >= chunk_samples:
                    yield chunk(take(chunk_samples))
        for samples in resampled(None):
            pending.append(samples)
            pending_n += samples.shape[1]
        while pending_n:
            yield chunk(take(min(chunk_samples, pending_n)))
        _check_complete(stream, origin_s, last_end_s, path)


def read_audio(
    path: Path, *, keep_channels: bool = False, sample_rate: int = SPEECH_SAMPLE_RATE_HZ
) -> np.ndarray:
    """The whole audio track at once: fine for short clips; the pipeline streams with iter_audio."""
    chunks = [
        chunk.samples
        for chunk in iter_audio(
            path, chunk_s=600.0, keep_channels=keep_channels, sample_rate=sample_rate
        )
    ]
    if not chunks:
        return np.zeros((0,), np.float32)
    return np.concatenate(chunks, axis=-1)


# --- internals -------------------------------------------------------------------------------


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise MediaError(ErrorCode.NOT_MEDIA, f"{path} does not exist or is not a file.")
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        if _looks_like_media(path):
            raise MediaError(
                ErrorCode.CORRUPT_MEDIA,
                f"{path.name} looks like a media file but cannot be read "
                f"(truncated or damaged): {error}",
            ) from error
        raise MediaError(
            ErrorCode.NOT_MEDIA, f"{path.name} is not an audio or video file."
        ) from error


def _looks_like_media(path: Path) -> bool:
    with path.open("rb") as handle:
        return looks_like_media(handle.read(SIGNATURE_BYTES))


def _is_cover_art(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _primary_stream(container: av.container.InputContainer, kind: str) -> Any:
    for stream in container.streams:
        if stream.type == kind and not _is_cover_art(stream):
            return stream
    return None


def _decodable_stream(container: av.container.InputContainer, kind: str, path: Path) -> Any:
    stream = _primary_stream(container, kind)
    if stream is None:
        code = ErrorCode.NO_VIDEO_STREAM if kind == "video" else ErrorCode.NO_AUDIO_STREAM
        raise MediaError(code, f"{path.name} has no {kind} stream.")
    _require_decoder(stream, path)
    stream.thread_type = "AUTO"  # frame and slice threads: ~35% faster H.264 on 2 cores
    stream.thread_count = stage_threads()  # 0: FFmpeg takes every core
    return stream


def _require_decoder(stream: av.stream.Stream, path: Path) -> None:
    if stream.codec_context is None:
        raise MediaError(
            ErrorCode.UNSUPPORTED_CODEC, f"{path.name}: no decoder for its {stream.type} stream."
        )


def _stream_info(stream: Any) -> StreamInfo:
    context = stream.codec_context
    codec = context.name if context is not None else None
    duration_s = (
        float(stream.duration * stream.time_base)
        if stream.duration is not None and stream.time_base is not None
        else None
    )
    if stream.type == "video":
        rate: Fraction | None = stream.average_rate or stream.guessed_rate
        return StreamInfo(
            index=stream.index,
            kind="video",
            codec=codec,
            duration_s=duration_s,
            width=context.width if context is not None else None,
            height=context.height if context is not None else None,
            fps=float(rate) if rate else None,
        )
    return StreamInfo(
        index=stream.index,
        kind="audio",
        codec=codec,
        duration_s=duration_s,
        channels=context.channels if context is not None else None,
        sample_rate=context.sample_rate if context is not None else None,
    )


def _duration_s(container: av.container.InputContainer) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / MICROSECONDS_PER_SECOND
    declared = [
        info.duration_s
        for info in (_stream_info(s) for s in container.streams if s.type in ("video", "audio"))
        if info.duration_s
    ]
    return max(declared) if declared else None


def _demuxed_duration_s(container: av.container.InputContainer, path: Path) -> float:
    """End time of the last packet, for containers that declare no duration (e.g. live WebM)."""
    end_s = 0.0
    origin_s = _origin_s(container)
    try:
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            length = packet.duration or 0
            end_s = max(end_s, float((packet.pts + length) * packet.time_base) - origin_s)
    except av.error.FFmpegError as error:
        raise MediaError(ErrorCode.CORRUPT_MEDIA, f"{path.name} is damaged: {error}") from error
    container.seek(0)
    return end_s


def _origin_s(container: av.container.InputContainer) -> float:
    start = container.start_time
    return start / MICROSECONDS_PER_SECOND if start not in (None, 0) else 0.0


def _frame_period_s(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return 1.0 / float(rate) if rate else 0.0


def _rotation_deg(container: av.container.InputContainer, stream: Any) -> int:
    """The display rotation, read from the first decoded frame (FFmpeg exposes it there)."""
    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation / 90) % 4 * 90)
    except av.error.FFmpegError:
        return 0  # decoding problems are reported by iter_video_frames, where they matter
    finally:
        container.seek(0)
    return 0


def _scaled_size(width: int, height: int, max_side_px: int | None) -> tuple[int, int]:
    if max_side_px is None or max(width, height) <= max_side_px:
        return width, height
    scale = max_side_px / max(width, height)
    return max(2, round(width * scale)), max(2, round(height * scale))


def _decode(container: av.container.InputContainer, stream: Any, path: Path) -> Iterator[Any]:
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as error:
        raise MediaError(
            ErrorCode.CORRUPT_MEDIA, f"{path.name} could not be decoded to the end: {error}"
        ) from error


def _check_complete(stream: Any, origin_s: float, last_t_s: float | None, path: Path) -> None:
    """Raise CORRUPT_MEDIA when decoding ended well before the stream's declared end."""
    declared = _stream_info(stream).duration_s
    if declared is None or declared <= 0:
        return
    start_s = float(stream.start_time * stream.time_base) - origin_s if stream.start_time else 0.0
    end_s = start_s + declared
    reached_s = last_t_s if last_t_s is not None else start_s
    tolerance_s = TRUNCATION_TOLERANCE_S + TRUNCATION_TOLERANCE_FRACTION * declared
    # A video frame's time is its start, so the last one covers one more frame period.
    if stream.type == "video":
        reached_s += _frame_period_s(stream)
    if reached_s + tolerance_s < end_s:
        raise MediaError(
            ErrorCode.CORRUPT_MEDIA,
            f"{path.name} ends at {reached_s:.1f} s but declares {end_s:.1f} s: "
            "the file is truncated.",
        )
