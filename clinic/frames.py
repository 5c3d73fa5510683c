"""One frame of a recording as a small JPEG: the thumbnails of the face frames behind a score.

Decoded from the stored media on request and never kept: a thumbnail is as sensitive as the
video it comes from, so it is served only through the media's access check and audit. Given
the face's box from the timeline, the thumbnail is the face with a margin around it, turned
as a player shows the video, like the boxes the analysis reports.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

THUMBNAIL_MAX_SIDE_PX = 192
JPEG_QUALITY = 80
FACE_MARGIN = 0.25  # of the box's size, on each side: the face with its brow and chin


@dataclass(frozen=True)
class FaceBox:
    """A face's box in a frame: x1, y1, x2, y2 in displayed pixels (after rotation)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def parse(cls, text: str) -> FaceBox:
        """From "x1,y1,x2,y2"; ValueError saying what is wrong otherwise."""
        parts = text.split(",")
        try:
            x1, y1, x2, y2 = (float(part) for part in parts)
        except ValueError:
            raise ValueError(
                "box must be four numbers x1,y1,x2,y2 in pixels, such as ?box=40,30,120,130"
            ) from None
        if not all(math.isfinite(v) and v >= 0 for v in (x1, y1, x2, y2)):
            raise ValueError("box must hold pixel positions from 0, such as ?box=40,30,120,130")
        if x2 <= x1 or y2 <= y1:
            raise ValueError("box must run from its top-left (x1,y1) to its bottom-right (x2,y2)")
        return cls(x1, y1, x2, y2)

    def with_margin(self, width: int, height: int) -> tuple[int, int, int, int]:
        """The box widened by FACE_MARGIN on each side, inside a width x height image."""
        dx, dy = (self.x2 - self.x1) * FACE_MARGIN, (self.y2 - self.y1) * FACE_MARGIN
        left, top = max(0, math.floor(self.x1 - dx)), max(0, math.floor(self.y1 - dy))
        right = min(width, math.ceil(self.x2 + dx))
        bottom = min(height, math.ceil(self.y2 + dy))
        return left, top, right, bottom


class NoFrame(ValueError):
    """The recording has no video frame at that time (audio only, or past its end)."""


def frame_thumbnail(media: Any, t_s: float, box: FaceBox | None = None) -> bytes:
    """The JPEG of the first frame at or after `t_s` seconds of `media` (a seekable binary
    file), or of the face in `box` in it, its longer side at most THUMBNAIL_MAX_SIDE_PX."""
    import av  # the decoder, only when a thumbnail is asked for: the web process stays light

    try:
        return _thumbnail(av.open(media, mode="r"), t_s, box)
    except av.FFmpegError as error:
        raise NoFrame(f"This recording's video could not be decoded at {t_s:.2f} s.") from error


def _thumbnail(container: Any, t_s: float, box: FaceBox | None) -> bytes:
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
                if frame.rotation:
                    # counter-clockwise, as the analysis turns frames (analysis.media)
                    image = image.rotate(round(frame.rotation / 90) % 4 * 90, expand=True)
                if box is not None:
                    left, top, right, bottom = box.with_margin(image.width, image.height)
                    if right <= left or bottom <= top:
                        raise NoFrame("That face box lies outside the frame.")
                    image = image.crop((left, top, right, bottom))
                image.thumbnail((THUMBNAIL_MAX_SIDE_PX, THUMBNAIL_MAX_SIDE_PX))
                out = io.BytesIO()
                image.save(out, format="JPEG", quality=JPEG_QUALITY)
                return out.getvalue()
    raise NoFrame(f"This recording has no frame at {t_s:.2f} s.")
