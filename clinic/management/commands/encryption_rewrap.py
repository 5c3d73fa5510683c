"""`manage.py encryption_rewrap`: the middle step of a master key rotation (docs/security.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from clinic.services.encryption import encryption_rewrap


class Command(BaseCommand):
    help = "Re-wrap every encrypted file and document under the first MOODLINE_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = encryption_rewrap()
        self.stdout.write(
            f"Re-wrapped {counts['files']} files and re-encrypted {counts['documents']} documents."
        )
