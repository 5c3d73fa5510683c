"""First bytes of the container formats Moodline recognises, without importing a decoder.

A file that starts like media but cannot be opened is corrupt; one that does not is simply not
media. The web process checks uploads with this (it never imports PyAV); the decoder's own
errors are classified with it too (analysis.media).
"""

from __future__ import annotations

SIGNATURE_BYTES = 12  # enough for the longest signature: an MP4 box type at offset 4

MEDIA_MAGIC_PREFIXES: tuple[bytes, ...] = (
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM (EBML)
    b"RIFF",  # WAV, AVI
    b"OggS",
    b"fLaC",
    b"ID3",  # MP3 with a tag
    b"\xff\xfb",  # MP3 frame
    b"\xff\xf3",
    b"\xff\xf2",
    b"\xff\xf1",  # ADTS AAC
    b"\xff\xf9",
    b"FLV",
    b"\x30\x26\xb2\x75",  # ASF / WMV
    b"\x00\x00\x01\xba",  # MPEG-PS
    b"\x47",  # MPEG-TS sync byte
)
MP4_BOX_TYPES: tuple[bytes, ...] = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def looks_like_media(head: bytes) -> bool:
    """Whether the first `SIGNATURE_BYTES` of a file are those of a known container."""
    if len(head) >= 8 and head[4:8] in MP4_BOX_TYPES:
        return True
    return any(head.startswith(prefix) for prefix in MEDIA_MAGIC_PREFIXES)
