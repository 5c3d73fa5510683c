"""Key rotation: move everything encrypted at rest onto the active master key."""

from __future__ import annotations

from django.db import transaction

from clinic.crypto import rewrap_file_header
from clinic.models import Consent, Recording, StageResult, TimelineResult
from clinic.models.sessions import recordings_storage
from clinic.storage import EncryptedFileSystemStorage


def encryption_rewrap() -> dict[str, int]:
    """Re-wrap every file's data key and re-encrypt every document under the active key.

    Files keep their chunks (only the 76-byte header is rewritten), so this is quick even for
    hours of video. Afterwards the old master key can be removed from MOODLINE_ENCRYPTION_KEYS.
    """
    storage = recordings_storage()
    names = [name for name in Recording.objects.values_list("file", flat=True) if name]
    names += [name for name in Consent.objects.values_list("signed_form", flat=True) if name]
    if not isinstance(storage, EncryptedFileSystemStorage):
        names = []  # an object store encrypts with its own keys (docs/security.md)
    rewrapped_files = 0
    for name in names:
        if not storage.exists(name):
            continue
        with open(storage.path(name), "r+b") as handle:
            rewrapped_files += rewrap_file_header(handle)
    documents = 0
    with transaction.atomic():
        for timeline in TimelineResult.objects.only("id", "document", "overview").iterator():
            # Saving encrypts afresh, under the active key.
            TimelineResult.objects.filter(id=timeline.id).update(
                document=timeline.document, overview=timeline.overview
            )
            documents += 1
        for result in StageResult.objects.filter(output__isnull=False).only("id", "output"):
            StageResult.objects.filter(id=result.id).update(output=result.output)
            documents += 1
    return {"files": rewrapped_files, "documents": documents}
