"""Convert a CTranslate2 Whisper `model.bin` into an openai-whisper checkpoint.

The Whisper weights that ship offline come in CTranslate2's format (for faster-whisper);
openai-whisper, the reference engine, wants its own `{"dims", "model_state_dict"}` torch file.
CT2 stores every tensor under its own names, fuses the self-attention q|k|v projections into
one linear (the key projection has no bias, so its bias slice is zero) and the cross-attention
k|v into another; layer norms are gamma/beta. The conversion is a renaming plus those splits;
the values are copied bit for bit (fp16 stays fp16; openai-whisper upcasts on load).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

# CTranslate2 DataType enum values and the numpy dtypes they hold.
CT2_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
}
SUPPORTED_CT2_VERSION = 6


def _read_u32(handle: BinaryIO) -> int:
    value: int = struct.unpack("<I", handle.read(4))[0]
    return value


def _read_string(handle: BinaryIO) -> str:
    (length,) = struct.unpack("<H", handle.read(2))
    return handle.read(length).decode("utf-8").rstrip("\0")


def read_ct2_variables(path: Path) -> dict[str, np.ndarray]:
    """All variables of a CT2 model file, by name (aliases resolved)."""
    variables: dict[str, np.ndarray] = {}
    with path.open("rb") as handle:
        version = _read_u32(handle)
        if version > SUPPORTED_CT2_VERSION:
            raise ValueError(f"{path}: CTranslate2 model version {version} is newer than supported")
        spec_name = _read_string(handle)
        if spec_name != "WhisperSpec":
            raise ValueError(f"{path}: expected a WhisperSpec model, found {spec_name!r}")
        _read_u32(handle)  # spec revision
        for _ in range(_read_u32(handle)):
            name = _read_string(handle)
            rank = handle.read(1)[0]
            shape = struct.unpack(f"<{rank}I", handle.read(4 * rank))
            dtype = CT2_DTYPES[handle.read(1)[0]]
            n_bytes = _read_u32(handle)
            variables[name] = np.frombuffer(handle.read(n_bytes), dtype=dtype).reshape(shape)
        for _ in range(_read_u32(handle)):
            alias, target = _read_string(handle), _read_string(handle)
            variables[alias] = variables[target]
    return variables


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    return len({match[1] for name in variables if (match := pattern.match(name))})


def _linear(ct2: str, whisper: str, v: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{whisper}.weight", v[f"{ct2}/weight"]
    if f"{ct2}/bias" in v:
        yield f"{whisper}.bias", v[f"{ct2}/bias"]


def _norm(ct2: str, whisper: str, v: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    yield f"{whisper}.weight", v[f"{ct2}/gamma"]
    yield f"{whisper}.bias", v[f"{ct2}/beta"]


def _fused_qkv(
    ct2: str, whisper: str, v: dict[str, np.ndarray]
) -> Iterator[tuple[str, np.ndarray]]:
    weight, bias = v[f"{ct2}/weight"], v[f"{ct2}/bias"]
    q_w, k_w, v_w = np.split(weight, 3, axis=0)
    q_b, _key_bias_is_zero, v_b = np.split(bias, 3)
    yield f"{whisper}.query.weight", q_w
    yield f"{whisper}.query.bias", q_b
    yield f"{whisper}.key.weight", k_w
    yield f"{whisper}.value.weight", v_w
    yield f"{whisper}.value.bias", v_b


def _fused_kv(ct2: str, whisper: str, v: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    k_w, v_w = np.split(v[f"{ct2}/weight"], 2, axis=0)
    _key_bias_is_zero, v_b = np.split(v[f"{ct2}/bias"], 2)
    yield f"{whisper}.key.weight", k_w
    yield f"{whisper}.value.weight", v_w
    yield f"{whisper}.value.bias", v_b


def _block(ct2: str, ours: str, v: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    """Self-attention and feed-forward parts, common to encoder and decoder blocks."""
    yield from _fused_qkv(f"{ct2}/self_attention/linear_0", f"{ours}.attn", v)
    yield from _linear(f"{ct2}/self_attention/linear_1", f"{ours}.attn.out", v)
    yield from _norm(f"{ct2}/self_attention/layer_norm", f"{ours}.attn_ln", v)
    yield from _linear(f"{ct2}/ffn/linear_0", f"{ours}.mlp.0", v)
    yield from _linear(f"{ct2}/ffn/linear_1", f"{ours}.mlp.2", v)
    yield from _norm(f"{ct2}/ffn/layer_norm", f"{ours}.mlp_ln", v)


def _state_dict_items(v: dict[str, np.ndarray]) -> Iterator[tuple[str, np.ndarray]]:
    yield from _linear("encoder/conv1", "encoder.conv1", v)
    yield from _linear("encoder/conv2", "encoder.conv2", v)
    yield "encoder.positional_embedding", v["encoder/position_encodings/encodings"]
    for i in range(_count_layers(v, "encoder")):
        yield from _block(f"encoder/layer_{i}", f"encoder.blocks.{i}", v)
    yield from _norm("encoder/layer_norm", "encoder.ln_post", v)

    yield "decoder.token_embedding.weight", v["decoder/embeddings/weight"]
    yield "decoder.positional_embedding", v["decoder/position_encodings/encodings"]
    for i in range(_count_layers(v, "decoder")):
        ct2, ours = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        yield from _block(ct2, ours, v)
        yield from _linear(f"{ct2}/attention/linear_0", f"{ours}.cross_attn.query", v)
        yield from _fused_kv(f"{ct2}/attention/linear_1", f"{ours}.cross_attn", v)
        yield from _linear(f"{ct2}/attention/linear_2", f"{ours}.cross_attn.out", v)
        yield from _norm(f"{ct2}/attention/layer_norm", f"{ours}.cross_attn_ln", v)
    yield from _norm("decoder/layer_norm", "decoder.ln", v)


def whisper_dims(v: dict[str, np.ndarray]) -> dict[str, int]:
    """openai-whisper's ModelDimensions, read off the tensor shapes."""
    n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
    n_audio_state, n_mels, _kernel = v["encoder/conv1/weight"].shape
    return {
        "n_mels": int(n_mels),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_audio_state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": _count_layers(v, "encoder"),
        "n_vocab": int(n_vocab),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(n_text_state),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": _count_layers(v, "decoder"),
    }


def convert_ct2_to_whisper(model_bin: Path, target: Path) -> Path:
    """Write an openai-whisper checkpoint converted from `model_bin` atomically to `target`."""
    variables = read_ct2_variables(model_bin)
    state_dict = {
        name: torch.from_numpy(array.copy()) for name, array in _state_dict_items(variables)
    }
    checkpoint = {"dims": whisper_dims(variables), "model_state_dict": state_dict}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    torch.save(checkpoint, partial)
    partial.replace(target)
    return target
