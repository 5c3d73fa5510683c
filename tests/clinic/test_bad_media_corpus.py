"""Every kind of file a clinician might upload by mistake, or an attacker on purpose.

Each is either refused at upload with its own code (and nothing is stored), or stored as a
recording of an audio or video type (never as something a browser would render) and then
either read by the pipeline's probe or refused by it with its own code.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from analysis.errors import MediaError
from analysis.media import probe
from clinic.models import Recording, TherapySession, User
from tests.analysis import media_factory as make
from tests.analysis.face_factory import astronaut_head

pytestmark = pytest.mark.django_db

Maker = Callable[[Path], Path]


def _bytes(name: str, data: bytes) -> Maker:
    def write(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return write


def _image(name: str, kind: str) -> Maker:
    def write(folder: Path) -> Path:
        buffer = io.BytesIO()
        Image.fromarray(astronaut_head(60)).save(buffer, format=kind)
        return _bytes(name, buffer.getvalue())(folder)

    return write


def _zip(folder: Path) -> Path:
    path = folder / "session.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "session notes")
    return path


def _clip(name: str, **options: object) -> Maker:
    def write(folder: Path) -> Path:
        return make.write_clip(folder / name, duration_s=1.0, **options)  # type: ignore[arg-type]

    return write


def _with_face(name: str, **options: object) -> Maker:
    face = make.MovingFace(astronaut_head(), (60, 40), (80, 50))
    return _clip(name, faces=[face], audio=make.tone(1.0), **options)


def _huge_declared_size(folder: Path) -> Path:
    """An MP4 whose header claims a picture far larger than any camera's."""
    path = _with_face("huge.mp4")(folder)
    data = bytearray(path.read_bytes())
    box = data.find(b"tkhd")
    width_at = box + 4 + 4 + 76  # version/flags, then the fixed-size fields before width
    data[width_at : width_at + 8] = (60000 << 16).to_bytes(4, "big") * 2
    path.write_bytes(bytes(data))
    return path


@dataclass(frozen=True)
class Case:
    name: str
    make: Maker
    upload: str  # the refusal code, or the family of the media type stored ("video/")
    probe: str | None = None  # for a stored file: the code the pipeline's probe refuses with
    upload_name: str = ""  # the name the browser sends, when not the file's own


def _text(folder: Path) -> Path:
    return make.write_text_as_mp4(folder / "notes.mp4")


PAGE = b"<!--ftyp--><script src='/api/v1/patients/'></script>"
SCRIPT = b"/*ftyp*/ fetch('/api/v1/patients/')"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
BROKEN_BOX = b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 4000

CORPUS: list[Case] = [
    Case("text", _text, "not_media"),
    # Starts like an MP4 box, so it reads as a damaged recording: refused all the same.
    Case("html with ftyp", _bytes("page.mp4", PAGE), "corrupt_media"),
    Case("js with ftyp", _bytes("a.mp4", SCRIPT), "not_media"),
    Case("gif", _image("photo.gif", "GIF"), "not_media"),
    Case("png", _image("photo.png", "PNG"), "not_media"),
    Case("jpeg", _image("photo.mp4", "JPEG"), "not_media"),
    Case("zip", _zip, "not_media"),
    Case("pdf", _bytes("consent.pdf", PDF), "not_media"),
    Case("index lost", lambda d: make.write_damaged_header(d / "cut.mp4"), "corrupt_media"),
    Case("damaged header", _bytes("head.mp4", BROKEN_BOX), "corrupt_media"),
    # The index is whole, so it opens; its missing data fails the analysis when decoded.
    Case("cut mid-data", lambda d: make.write_truncated(d / "half.mp4"), "video/"),
    Case(
        "zero duration", lambda d: make.write_zero_duration(d / "e.wav"), "audio/", "zero_duration"
    ),
    Case("audio only", lambda d: make.write_audio_only(d / "memo.m4a"), "audio/"),
    Case("wav", lambda d: make.write_wav(d / "call.wav", np.zeros(16000, np.float32)), "audio/"),
    Case("no audio", lambda d: make.write_no_audio_clip(d / "mute.mp4", duration_s=1.0), "video/"),
    Case("no face", lambda d: make.write_no_face_clip(d / "room.mp4", duration_s=1.0), "video/"),
    Case(
        "unsupported codec",
        lambda d: make.write_unsupported_codec(d / "card.avi"),
        "video/",
        "unsupported_codec",
    ),
    Case("rotated", _with_face("phone.mp4", rotation_deg=90), "video/"),
    Case("huge declared size", _huge_declared_size, "video/"),
    Case("matroska", _with_face("export.mkv"), "video/"),
    Case("traversal name", _with_face("t.mp4"), "video/", upload_name="../../etc/passwd.mp4"),
    Case("unicode name", _with_face("u.mp4"), "video/", upload_name="séance ☺ 2026.mp4"),
]


@pytest.fixture
def rivera_api(dr_rivera: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(dr_rivera)
    return api


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_each_bad_file_gets_its_own_answer_and_nothing_is_served_as_a_page(
    rivera_api: APIClient, therapy_session: TherapySession, tmp_path: Path, case: Case
) -> None:
    path = case.make(tmp_path)
    declared = "text/html" if "html" in case.name else "video/mp4"
    sent = SimpleUploadedFile(case.upload_name or path.name, path.read_bytes(), declared)

    response = rivera_api.post(
        reverse("api-recording-upload", args=[therapy_session.id]),
        {"file": sent, "analyse": "false"},
        format="multipart",
    )

    if not case.upload.endswith("/"):
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == case.upload
        assert not Recording.objects.exists()
        return
    assert response.status_code == 201, response.content
    recording = Recording.objects.get()
    assert recording.content_type.startswith(case.upload)
    stored_name = str(recording.file.name)
    assert ".." not in stored_name
    assert stored_name.isascii()
    if case.probe is None:
        assert probe(path).duration_s > 0
    else:
        with pytest.raises(MediaError) as refused:
            probe(path)
        assert refused.value.code == case.probe


def test_the_corpus_covers_at_least_twenty_kinds_of_file() -> None:
    assert len(CORPUS) >= 20
