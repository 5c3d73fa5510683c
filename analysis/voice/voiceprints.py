"""Which speaker encoder gives the voice stage its voiceprints (`MOODLINE_SPEAKER_ENCODER`).

`campplus`, the default: CAM++ (analysis/voice/campplus.py), which tells two people of the same
sex apart. `ge2e`: the GE2E encoder it replaced (analysis/voice/speaker_embedding.py), about a
third of its cost and far weaker on such pairs (docs/evaluation.md, "A speaker encoder that
tells same-sex voices apart"). Each encoder's voiceprints are clustered with the settings chosen
for them: the two place voices at different distances.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import ErrorCode, ModelError
from analysis.voice.campplus import campplus_embeddings, campplus_network
from analysis.voice.speaker_embedding import speaker_embeddings, speaker_encoder
from analysis.voice.speakers import GE2E_OPTIONS, SpeakerOptions
from analysis.weights.registry import ModelSpec
from analysis.weights.speech import CAMPPLUS_ENCODER, GE2E_SPEAKER_ENCODER

SETTING = "MOODLINE_SPEAKER_ENCODER"
CAMPPLUS = "campplus"
GE2E = "ge2e"


@dataclass(frozen=True)
class VoiceprintEncoder:
    name: str
    spec: ModelSpec
    embed: Callable[[Sequence[np.ndarray]], np.ndarray]  # pieces -> (n, d) unit rows
    load: Callable[[], object]  # loads the network ahead of its first piece
    options: SpeakerOptions  # how its voiceprints are clustered


ENCODERS = {
    CAMPPLUS: VoiceprintEncoder(
        CAMPPLUS, CAMPPLUS_ENCODER, campplus_embeddings, campplus_network, SpeakerOptions()
    ),
    GE2E: VoiceprintEncoder(
        GE2E, GE2E_SPEAKER_ENCODER, speaker_embeddings, speaker_encoder, GE2E_OPTIONS
    ),
}


def voiceprint_encoder() -> VoiceprintEncoder:
    """The encoder asked for by MOODLINE_SPEAKER_ENCODER (unset: CAM++)."""
    value = os.environ.get(SETTING, "").strip() or CAMPPLUS
    if value not in ENCODERS:
        raise ModelError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"unknown speaker encoder {value!r} ({SETTING}); choose from {sorted(ENCODERS)}",
        )
    return ENCODERS[value]
