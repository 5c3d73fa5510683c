"""`manage.py retention_purge [--dry-run]`: what retention deletes now, or only the report."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from clinic.services.retention import retention_purge


class Command(BaseCommand):
    help = "Purge recordings and patients past retention (legal holds respected)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only report what the purge would delete."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plan = retention_purge(dry_run=options["dry_run"])
        self.stdout.write(json.dumps(plan.as_report(), indent=2))
