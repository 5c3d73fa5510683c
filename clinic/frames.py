"""One frame of a recording as a small JPEG: the thumbnails of the face frames behind a score.

Decoded from the stored media on request and never kept: a thumbnail is as sensitive as the
video it comes from, so it is served only through the media's access check and audit.
"""

from __future__ import annotations

import io
from typing import Any

THUMBNAIL_MAX_SIDE_PX = 192
JPEG_QUALITY = 80


class NoFrame(ValueError):
    """The recording has no video frame at that time (audio only, or past its end)."""


def frame_thumbnail(media: Any, t_s: float) -> bytes:
    """The JPEG of the first frame at or after `t_s` seconds of `media` (a seekable binary
    file), its longer side at most THUMBNAIL_MAX_SIDE_PX."""
    import av  # the decoder, only when a thumbnail is asked for: the web process stays light

    try:
        return _thumbnail(av.open(media, mode="r"), t_s)
    except av.FFmpegError as error:
        raise NoFrame(f"This recording's video could not be decoded at {t_s:.2f} s.") from error


def _thumbnail(container: Any, t_s: float) -> bytes:
    with container:
        if not container.streams.video:
            raise NoFrame("This recording has no video.")
        stream = container.streams.video[0]
        if stream.time_base is None:
            raise NoFrame("This recording's video has no time base.")
        container.seek(max(0, int(t_s / stream.time_base)), stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-3 >= t_s:
                image = frame.to_image()
                image.thumbnail((THUMBNAIL_MAX_SIDE_PX, THUMBNAIL_MAX_SIDE_PX))
                out = io.BytesIO()
                image.save(out, format="JPEG", quality=JPEG_QUALITY)
                return out.getvalue()
    raise NoFrame(f"This recording has no frame at {t_s:.2f} s.")
