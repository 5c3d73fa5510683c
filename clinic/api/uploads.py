"""Refusing a non-media upload before anything is stored.

A file that does not even start like a container we know (an office document, a photo, a text
file) is `not_media` and never stored. A file that starts like media but is damaged is stored as
uploaded: its analysis then fails with a specific code (corrupt_media, no_audio_stream, ...).
"""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from analysis.media_signatures import SIGNATURE_BYTES, looks_like_media


def upload_looks_like_media(file: UploadedFile) -> bool:
    file.seek(0)
    head = file.read(SIGNATURE_BYTES)
    file.seek(0)
    return looks_like_media(head)
