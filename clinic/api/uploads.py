"""Accepting an upload as a recording only when a media demuxer opens it.

The first bytes of a file prove nothing (`<!--ftyp-->` starts an HTML page as well as it
starts an MP4 box), so an upload is stored only when FFmpeg's demuxer (PyAV) opens it and
finds an audio or video stream in it. The media type stored with the recording — the only one
it is ever served as — is worked out from the container FFmpeg recognised, never taken from
the uploader. Anything else is refused with its code, and nothing is stored:

- `not_media`: not a container FFmpeg knows (a document, a page), or a still image (FFmpeg
  reads a photo or a GIF as a one-frame "video");
- `corrupt_media`: starts like media but cannot be opened (truncated, damaged);
- `no_audio_or_video`: a container holding neither sound nor picture.

PyAV is imported here, at the first upload, not when the web process starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from analysis.errors import ErrorCode
from analysis.media_signatures import SIGNATURE_BYTES, looks_like_media

PROBE_BYTES = 8 * 1024 * 1024  # how far FFmpeg may read to find the streams
# FFmpeg demuxer names (PyAV `container.format.name`, comma-separated aliases) -> media type
# when there is a picture, and when there is only sound.
CONTAINER_TYPES: tuple[tuple[str, str, str], ...] = (
    ("mp4", "video/mp4", "audio/mp4"),
    ("mov", "video/quicktime", "audio/mp4"),
    ("webm", "video/webm", "audio/webm"),
    ("matroska", "video/x-matroska", "audio/x-matroska"),
    ("ogg", "video/ogg", "audio/ogg"),
    ("mpegts", "video/mp2t", "audio/mp2t"),
    ("avi", "video/x-msvideo", "audio/x-msvideo"),
    ("asf", "video/x-ms-asf", "audio/x-ms-wma"),
    ("flv", "video/x-flv", "audio/x-flv"),
    ("wav", "audio/wav", "audio/wav"),
    ("mp3", "audio/mpeg", "audio/mpeg"),
    ("flac", "audio/flac", "audio/flac"),
    ("aac", "audio/aac", "audio/aac"),
)
GENERIC_TYPES = ("video/octet-stream", "audio/octet-stream")
# FFmpeg's image demuxers: `*_pipe` (png_pipe, jpeg_pipe, webp_pipe...), image2, gif, apng.
IMAGE_DEMUXERS = ("gif", "apng", "image2")


class RefusedUpload(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UploadedMedia:
    media_type: str  # video/* or audio/*: what the recording is served as
    container: str  # FFmpeg's demuxer name
    has_video: bool
    has_audio: bool


def upload_media(file: UploadedFile) -> UploadedMedia:
    """What the demuxer finds in the upload; RefusedUpload when it is not a recording."""
    import av

    head = _head(file)
    try:
        with av.open(_source(file), mode="r", options={"probesize": str(PROBE_BYTES)}) as media:
            kinds = {
                stream.type
                for stream in media.streams
                if stream.type in ("video", "audio")
                and not stream.disposition & av.stream.Disposition.attached_pic
            }
            container = str(media.format.name)
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        if looks_like_media(head):
            raise RefusedUpload(
                ErrorCode.CORRUPT_MEDIA,
                "The file looks like a recording but cannot be read (truncated or damaged). "
                "Nothing was stored; please upload a complete copy.",
            ) from error
        raise RefusedUpload(
            ErrorCode.NOT_MEDIA, "The uploaded file is not an audio or video recording."
        ) from error
    finally:
        file.seek(0)
    if _is_still_image(container):
        raise RefusedUpload(
            ErrorCode.NOT_MEDIA, "The uploaded file is a picture, not an audio or video recording."
        )
    if not kinds:
        raise RefusedUpload(
            ErrorCode.NO_AUDIO_OR_VIDEO,
            "The file holds neither sound nor picture, so there is nothing to analyse.",
        )
    return UploadedMedia(
        media_type=media_type_of(container, has_video="video" in kinds),
        container=container,
        has_video="video" in kinds,
        has_audio="audio" in kinds,
    )


def _is_still_image(container: str) -> bool:
    names = container.split(",")
    return any(name in IMAGE_DEMUXERS or name.endswith("_pipe") for name in names)


def media_type_of(container: str, *, has_video: bool) -> str:
    names = set(container.split(","))
    for name, with_video, sound_only in CONTAINER_TYPES:
        if name in names:
            return with_video if has_video else sound_only
    return GENERIC_TYPES[0] if has_video else GENERIC_TYPES[1]


def _head(file: UploadedFile) -> bytes:
    file.seek(0)
    head = file.read(SIGNATURE_BYTES)
    file.seek(0)
    return head if isinstance(head, bytes) else head.encode()


def _source(file: UploadedFile) -> Any:
    """A path FFmpeg can read itself when the upload was spooled to disk, else the file."""
    temporary_path = getattr(file, "temporary_file_path", None)
    return temporary_path() if callable(temporary_path) else file.file
