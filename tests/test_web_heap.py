"""The web process's start-up heap is out of the garbage collector's way (clinic/heap.py).

In a fresh interpreter, loading the ASGI application leaves what the imports built frozen:
a full collection then walks only what requests make, not the start-up heap again each time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import gc
from clinic.asgi import application  # noqa: F401
print(gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_loading_the_web_application_freezes_its_start_up_heap() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "clinic.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    frozen, still_tracked = (int(n) for n in shown.stdout.split()[-2:])
    assert frozen > 50_000  # Django, DRF, the FHIR models, every view
    assert still_tracked < 1_000
