"""Refusing a non-media upload before anything is stored.

A file that does not even start like a container we know (an office document, a photo, a text
file) is `not_media` and never stored. A file that starts like media but is damaged is stored as
uploaded: its analysis then fails with a specific code (corrupt_media, no_audio_stream, ...).
"""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from analysis.media import MEDIA_MAGIC_PREFIXES, MP4_BOX_TYPES

MAGIC_BYTES = 12  # enough for the longest signature: an MP4 box type at offset 4


def upload_looks_like_media(file: UploadedFile) -> bool:
    file.seek(0)
    head = file.read(MAGIC_BYTES)
    file.seek(0)
    if len(head) >= 8 and head[4:8] in MP4_BOX_TYPES:
        return True
    return any(head.startswith(prefix) for prefix in MEDIA_MAGIC_PREFIXES)
