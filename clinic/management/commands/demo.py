"""Run Moodline with a demo practice: `python manage.py demo` (what `make demo` runs)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic.demo import demo_seed, demo_serve
from clinic.demo_sessions import ESPEAK_MISSING


class Command(BaseCommand):
    help = "Migrate, seed a demo practice with analysed sessions, and run web + worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-serve", action="store_true", help="seed the data, print it and exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("The demo creates users with printed passwords: not in production.")
        call_command("migrate", interactive=False, verbosity=0)
        seed = demo_seed()
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS("Moodline demo is ready."))
        for username, password in seed.credentials.items():
            self.stdout.write(f"  user {username:<16} password {password}")
        for recording in seed.recordings:
            self.stdout.write(f"  demo recording {recording.id} ({recording.size_bytes} bytes)")
        for job in seed.jobs:
            self.stdout.write(f"  analysis queued as job {job.id}")
        if not seed.spoken:
            self.stdout.write(self.style.WARNING(f"  {ESPEAK_MISSING}"))
        if options["no_serve"]:
            return
        self.stdout.write(f"  open {url} (admin: {url}admin/, health: {url}healthz)")
        self.stdout.write("  press Ctrl-C to stop")
        self.stdout.flush()
        status = demo_serve(host=options["host"], port=options["port"])
        if status:
            raise CommandError("The web server or the worker stopped unexpectedly.")
