"""Where models run: `MOODLINE_DEVICE` = auto (CUDA when available), cpu, or cuda[:N]."""

from __future__ import annotations

import os
from functools import cache

import torch


@cache
def torch_device() -> torch.device:
    wanted = os.environ.get("MOODLINE_DEVICE", "auto").strip().lower()
    if wanted in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)
