"""Networks through ONNX Runtime, which runs them faster than torch on a CPU.

MTCNN's three networks and the expression CNN are small convolutional networks run thousands of
times an hour; on the CPU, ONNX Runtime answers them faster than torch's eager kernels (the
figures are in docs/evaluation.md, "Throughput on shared cores"). So does the voice stage's
CAM++ speaker encoder (analysis/voice/campplus.py), run on every speech piece. Each network is
exported from its torch module once, into the model cache, under a name carrying the weights'
sha256 and torch's version, so other weights or another exporter export afresh; an export is
written whole or not at all. Both engines give the same answers within float rounding: the
agreement check (`python -m analysis evaluate face-engine`, FER+ `valid`) and the tests hold
them to it.

`MOODLINE_FACE_ENGINE=torch` runs the face networks in torch instead; on a GPU, torch always
runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn

from analysis.device import torch_device
from analysis.errors import ErrorCode, ModelError
from analysis.threads import stage_threads
from analysis.weights.registry import cache_dir

ENGINE_VARIABLE = "MOODLINE_FACE_ENGINE"
ONNX_RUNTIME = "onnxruntime"
TORCH = "torch"
ENGINES = (ONNX_RUNTIME, TORCH)
OPSET = 18

Network = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


def face_engine(asked: str | None = None) -> str:
    """Which engine runs the face networks: `asked`, else the setting, on a CPU; torch on a
    GPU."""
    chosen = asked or os.environ.get(ENGINE_VARIABLE, "").strip() or ONNX_RUNTIME
    if chosen not in ENGINES:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"unknown face engine {chosen!r} ({ENGINE_VARIABLE}); choose from {list(ENGINES)}",
        )
    return chosen if torch_device().type == "cpu" else TORCH


@dataclass(frozen=True)
class Export:
    """How a network is exported: a name for its file, its weights' digest, an example input,
    its outputs' names and which input axes vary (the batch; for MTCNN's P-Net the image size)."""

    name: str
    sha256: str
    example: torch.Tensor
    outputs: tuple[str, ...]
    dynamic_axes: tuple[int, ...] = (0,)

    @property
    def path(self) -> Path:
        version = torch.__version__.split("+")[0]
        return cache_dir() / "onnx" / f"{self.name}-{self.sha256[:16]}-torch{version}.onnx"


def exported(module: nn.Module, export: Export) -> Path:
    """The network's ONNX file, exported now unless the cache has it already."""
    target = export.path
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    axes = {axis: f"axis{axis}" for axis in export.dynamic_axes}
    with tempfile.TemporaryDirectory(dir=target.parent) as folder:
        partial = Path(folder) / target.name
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                module.cpu().eval(),
                (export.example,),
                str(partial),
                input_names=["x"],
                output_names=list(export.outputs),
                dynamic_axes={"x": axes},
                opset_version=OPSET,
                dynamo=False,
            )
        partial.replace(target)  # whole or not at all
    return target


class _OrtSession:
    """An exported network on a fixed number of threads, called as its torch module is: a
    tensor in, a tuple of tensors out."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Its threads sleep between calls rather than spin: torch, the decoder and the other
        # stage share the cores between the networks' calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        array = x.detach().cpu().contiguous().numpy()
        return tuple(torch.from_numpy(out) for out in self._session.run(None, {"x": array}))


@cache
def _session(path: Path, threads: int) -> _OrtSession:
    return _OrtSession(path, threads)


def release_sessions() -> None:
    """Let every session go, with the buffers ONNX Runtime keeps from its calls (234 MiB of
    live heap after a 10-minute video). The face stage calls this when its video is read, so
    the stages after it do not run beside that memory; the next call of a network makes its
    session again, in a fraction of a second."""
    _session.cache_clear()


@dataclass(frozen=True)
class OrtNetwork:
    """An exported network as ONNX Runtime runs it, each call on the running stage's share of
    the threads as it is then (a session's thread count is fixed when it is made, so there is
    one session per count, made when first needed)."""

    path: Path

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _session(self.path, stage_threads() or os.cpu_count() or 1)(x)


def ort_network(module: nn.Module, export: Export) -> OrtNetwork:
    """The network as ONNX Runtime runs it, on the running stage's share of the threads."""
    network = OrtNetwork(exported(module, export))
    _session(network.path, stage_threads() or os.cpu_count() or 1)  # made now, not mid-batch
    return network
