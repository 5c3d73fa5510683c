#!/usr/bin/env python
"""Django's command-line utility for Moodline."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    if sys.argv[1:2] == ["demo"]:
        # The demo brings its own Postgres and Redis when none are configured; they must be
        # running, and their URLs in the environment, before Django reads its settings.
        from clinic.embedded import embedded_environment

        os.environ.setdefault("MOODLINE_ENV", "demo")
        for name, value in embedded_environment().items():
            print(f"Embedded server started: {name}={value}", flush=True)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
