"""A stand-in accelerator: real CPU arithmetic on tensors that say they live elsewhere.

No GPU is needed to catch the usual CUDA mistakes. Inside `stand_in_accelerator()`, a tensor
moved to `STAND_IN` (by `.to(device)`, `module.to(device)` or a factory given `device=`) keeps
its data on the CPU and computes as usual, but keeps its device the way a CUDA tensor does:

- an operation that mixes it with a CPU tensor fails with "Expected all tensors to be on the
  same device", as on a GPU (a 0-dim CPU tensor may join, as a CUDA kernel takes it as a scalar);
- `.numpy()` on it fails until `.cpu()` brings it back;
- indexing follows CUDA's rules: a stand-in tensor may take CPU indices, a CPU tensor may not
  take stand-in ones; packed sequences keep their lengths on the CPU, as PyTorch requires.

PyTorch's meta device alone is not enough: it has no data, so the first data-dependent step
(`torch.nonzero` in face detection, the lengths of a packed sequence) stops a model long before
its results are copied out, and most of each path would go unchecked. The device name used is
"meta" because nothing selects a device-specific kernel for it; its data are never meta.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves, tree_map_only

STAND_IN = torch.device("meta")
aten = torch.ops.aten

# Arguments PyTorch itself requires on the CPU whatever the device (by position).
_CPU_ARGUMENTS = {
    aten._pack_padded_sequence.default: {1},  # lengths
    aten._pad_packed_sequence.default: {1},  # batch_sizes
    aten.lstm.data: {1},  # batch_sizes of a packed sequence
}
# Outputs that stay on the CPU whatever the device (by position).
_CPU_OUTPUTS = {
    aten._pack_padded_sequence.default: {1},  # batch_sizes
    aten._pad_packed_sequence.default: {1},  # lengths
}
_INDEXING = {
    aten.index.Tensor,
    aten.index_put.default,
    aten.index_put_.default,
    aten._index_put_impl_.default,
}


class OnStandIn(torch.Tensor):
    """A CPU tensor (`elem`) presented as living on `STAND_IN`."""

    elem: torch.Tensor

    @staticmethod
    def __new__(cls, elem: torch.Tensor) -> OnStandIn:
        assert not elem.is_meta, "stand-in tensors hold real data"
        strided = elem.layout == torch.strided
        # An inference tensor only where the data is one (a view of a normal tensor is normal).
        with torch.inference_mode(elem.is_inference()):
            wrapper = torch.Tensor._make_wrapper_subclass(
                cls,
                elem.shape,
                strides=elem.stride() if strided else None,
                storage_offset=elem.storage_offset() if strided else None,
                dtype=elem.dtype,
                layout=elem.layout,
                device=STAND_IN,
                requires_grad=elem.requires_grad,
            )
        wrapper.elem = elem
        return wrapper

    @classmethod
    def __torch_function__(
        cls, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:  # no re-wrapping of results as this class: the dispatch mode decides the device
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))

    def numpy(self, *, force: bool = False) -> Any:
        raise TypeError(
            "can't convert meta (stand-in accelerator) device type tensor to numpy. "
            "Use Tensor.cpu() to copy the tensor to host memory first."
        )

    def tolist(self) -> Any:  # allowed from a GPU too: it copies to the host
        return self.elem.tolist()

    @classmethod
    def __torch_dispatch__(  # type: ignore[override]  # torch's stub omits `func`
        cls, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        raise RuntimeError(f"{func}: stand-in tensors compute only inside stand_in_accelerator()")


class DeviceMismatch(RuntimeError):
    """What CUDA would raise: tensors on two devices in one operation."""


def _device_name(tensor: torch.Tensor) -> str:
    return "meta (stand-in accelerator)" if isinstance(tensor, OnStandIn) else str(tensor.device)


def _mismatch(func: Any, a: torch.Tensor, b: torch.Tensor) -> DeviceMismatch:
    return DeviceMismatch(
        f"Expected all tensors to be on the same device, but found at least two devices, "
        f"{_device_name(a)} and {_device_name(b)}! (in {func})"
    )


def _check_same_device(func: Any, tensors: list[torch.Tensor]) -> None:
    """CUDA's rule: one device for all, except that 0-dim CPU tensors act as scalars."""
    anchor: torch.Tensor | None = None
    for tensor in tensors:
        if not isinstance(tensor, OnStandIn) and tensor.dim() == 0:
            continue
        if anchor is None:
            anchor = tensor
        elif isinstance(anchor, OnStandIn) != isinstance(tensor, OnStandIn):
            raise _mismatch(func, anchor, tensor)


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_leaves(value) if isinstance(leaf, torch.Tensor)]


def _check(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if func is aten.copy_.default:  # copies may cross devices: that is what `.to()` does
        return
    cpu_positions = _CPU_ARGUMENTS.get(func, set())
    for position in cpu_positions:
        if isinstance(args[position], OnStandIn):
            raise DeviceMismatch(f"{func}: argument {position} must be a CPU tensor")
    if func in _INDEXING:
        target, indices, *rest = args
        if not isinstance(target, OnStandIn):
            for index in _tensors(indices):
                if isinstance(index, OnStandIn):
                    raise DeviceMismatch(
                        "indices should be either on cpu or on the same device as the indexed "
                        f"tensor (cpu) (in {func})"
                    )
        _check_same_device(func, [target, *_tensors(rest), *_tensors(kwargs)])
        return
    kept = [a for position, a in enumerate(args) if position not in cpu_positions]
    _check_same_device(func, _tensors(kept) + _tensors(kwargs))


def _unwrap(value: Any) -> Any:
    return tree_map_only(OnStandIn, lambda t: t.elem, value)


# Constructors from Python data copy to their device below the dispatcher, where the stand-in
# cannot see it (the data would land on the real, empty meta device): built on the CPU instead.
# A list or array used as an index is such a constructor too, on the indexed tensor's device.
_FROM_DATA = {torch.tensor, torch.as_tensor, torch.asarray}
_SUBSCRIPT = {torch.Tensor.__getitem__, torch.Tensor.__setitem__}


def _cpu_index(index: Any) -> Any:
    """A list or array index as the CPU tensor it stands for (any device accepts CPU indices)."""
    if isinstance(index, tuple):
        return tuple(_cpu_index(part) for part in index)
    if isinstance(index, np.ndarray) or (
        isinstance(index, list) and all(isinstance(v, int | bool | np.integer) for v in index)
    ):
        return torch.as_tensor(index)
    return index


class _FromData(TorchFunctionMode):
    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = dict(kwargs or {})
        device = None
        if func in _SUBSCRIPT:
            args = (args[0], _cpu_index(args[1]), *args[2:])
        elif func in _FROM_DATA:
            device = kwargs.pop("device", None)
        elif func is torch.Tensor.new_tensor:
            source, *args = args
            device = kwargs.pop("device", None) or source.device
            kwargs.setdefault("dtype", source.dtype)
            func = torch.tensor
        result = func(*args, **kwargs)
        if device is not None and torch.device(device).type == STAND_IN.type:
            return result.to(STAND_IN)
        return result if device is None else result.to(device)


def _on_cpu(value: Any) -> Any:
    return tree_map_only(
        torch.device, lambda d: torch.device("cpu") if d.type == STAND_IN.type else d, value
    )


@dataclass
class StandIn:
    device: torch.device = STAND_IN
    # Where float64 tensors were made on the accelerator ("file:line" of the calling code):
    # legal, but a GPU runs double precision many times slower, and it usually means a NumPy
    # float64 array slipped in.
    double_sites: set[str] = field(default_factory=set)


def _calling_code() -> str:
    for frame in reversed(traceback.extract_stack()):
        if f"{os.sep}torch{os.sep}" not in frame.filename and frame.filename != __file__:
            return f"{frame.filename}:{frame.lineno}"
    return "unknown"


class _Dispatch(TorchDispatchMode):
    def __init__(self, record: StandIn) -> None:
        super().__init__()
        self.record = record

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        for tensor in _tensors((args, kwargs)):
            if tensor.is_meta and not isinstance(tensor, OnStandIn):
                raise RuntimeError(f"{func}: a data-less meta tensor, made outside the stand-in")
        if func is aten._has_compatible_shallow_copy_type.default:
            # `module.to()` asks before swapping a parameter's data in place: never across
            # devices, or a CPU parameter would take a stand-in's empty storage.
            first, second = args
            same_device = isinstance(first, OnStandIn) == isinstance(second, OnStandIn)
            return same_device and func(*_unwrap(args))
        moves = func is aten._to_copy.default or func.overloadpacket is aten.to
        if not moves:
            _check(func, args, kwargs)
        inputs = [t for t in _tensors((args, kwargs)) if isinstance(t, OnStandIn)]
        requested = [d for d in tree_leaves((args, kwargs)) if isinstance(d, torch.device)]
        on_stand_in = requested[0].type == STAND_IN.type if requested else bool(inputs)
        result = func(*_unwrap(_on_cpu(args)), **_unwrap(_on_cpu(kwargs)))
        if not on_stand_in:
            return result
        aliases = {id(t.elem): t for t in inputs}  # in-place ops and no-op moves return an input
        cpu_outputs = _CPU_OUTPUTS.get(func, set())

        def wrap(position: int, value: Any) -> Any:
            if not isinstance(value, torch.Tensor) or position in cpu_outputs:
                return value
            if value.dtype == torch.float64:
                self.record.double_sites.add(_calling_code())
            alias = aliases.get(id(value))
            return alias if alias is not None else OnStandIn(value)

        if isinstance(result, tuple | list):
            return type(result)(wrap(i, v) for i, v in enumerate(result))
        return wrap(0, result)


@contextmanager
def stand_in_accelerator() -> Iterator[StandIn]:
    """Inside: `STAND_IN` behaves as a separate accelerator with real data."""
    record = StandIn()
    with _FromData(), _Dispatch(record):
        yield record
