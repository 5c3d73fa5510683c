"""The web process never loads the analysis models: only Celery workers need torch and friends.

Importing the ASGI application and resolving every URL pattern (which imports every view and
its services) must leave torch, torchaudio, librosa, PyAV and the model registry unimported.
Checked in a fresh interpreter, since this test process has long imported all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY_MODULES = (
    "torch",
    "torchaudio",
    "librosa",
    "av",
    "analysis.weights.registry",
    "analysis.pipeline",
    "faster_whisper",
    "whisper",
)
ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from clinic.asgi import application  # noqa: F401
from django.urls import get_resolver

def walk(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern.url_patterns)
        else:
            pattern.callback  # imports the view

walk(get_resolver().url_patterns)
from clinic.routing import websocket_urlpatterns  # noqa: F401
print(json.dumps(sorted(m for m in %r if m in sys.modules)))
"""


def test_the_web_process_imports_no_model_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY_MODULES,)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"the web process imported {loaded}"
