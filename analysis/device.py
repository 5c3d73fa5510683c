"""Where models run: `MOODLINE_DEVICE` = auto (CUDA when available), cpu, or cuda[:N].

Read once per process. What runs where on each device is in docs/evaluation.md §5. A setting
that cannot be honoured is refused here with its reason, as a coded error the job records:
neither a silent fallback to the CPU (a GPU worker running many times slower unnoticed) nor an
assertion from deep inside torch at the first model load.
"""

from __future__ import annotations

import os
import re
from functools import cache

import torch

from analysis.errors import ErrorCode, ModelError

DEVICE_ENV = "MOODLINE_DEVICE"
CHOICES = "auto, cpu, cuda or cuda:N"
_CUDA = re.compile(r"cuda(?::(\d+))?")


def parse_device(setting: str) -> torch.device:
    """The torch device a `MOODLINE_DEVICE` value names, checked against this machine."""
    wanted = setting.strip().lower()
    if wanted in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if wanted == "cpu":
        return torch.device("cpu")
    match = _CUDA.fullmatch(wanted)
    if match is None:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE, f"{DEVICE_ENV}={setting!r} is not a device; use {CHOICES}"
        )
    if not torch.cuda.is_available():
        reason = (
            f"this torch build ({torch.__version__}) has no CUDA support"
            if torch.version.cuda is None
            else "no CUDA device is visible (check the driver and CUDA_VISIBLE_DEVICES)"
        )
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"{DEVICE_ENV}={setting} asks for a GPU, but {reason}; set it to cpu or auto",
        )
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"{DEVICE_ENV}={setting} asks for GPU {index}, "
            f"but {torch.cuda.device_count()} CUDA device(s) are visible",
        )
    return torch.device(wanted)


@cache
def torch_device() -> torch.device:
    return parse_device(os.environ.get(DEVICE_ENV, "auto"))
