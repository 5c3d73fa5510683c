"""The shared emotion labels and their place on the valence/arousal plane."""

from __future__ import annotations

import pytest

from analysis.labels import EMOTION_VALENCE_AROUSAL, EMOTIONS, canonical_label, valence_arousal


def test_a_certainly_happy_face_is_pleasant_and_mildly_aroused() -> None:
    assert valence_arousal({"happy": 1.0}) == pytest.approx(EMOTION_VALENCE_AROUSAL["happy"])


def test_mixed_probabilities_land_between_their_emotions() -> None:
    probs = [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0]  # half happy, half sad
    valence, arousal = valence_arousal(probs)
    assert valence == pytest.approx((0.8 - 0.7) / 2)
    assert arousal == pytest.approx((0.4 - 0.4) / 2)


def test_every_emotion_has_a_place_within_the_unit_square() -> None:
    assert set(EMOTION_VALENCE_AROUSAL) == set(EMOTIONS)
    assert all(-1 <= v <= 1 and -1 <= a <= 1 for v, a in EMOTION_VALENCE_AROUSAL.values())
    assert valence_arousal({"neutral": 1.0}) == (0.0, 0.0)


def test_a_vector_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 7"):
        valence_arousal([0.5, 0.5])


@pytest.mark.parametrize(
    ("folder", "label"),
    [
        ("Anger", "angry"),
        ("HAPPINESS", "happy"),
        ("sadness", "sad"),
        ("Surprised", "surprise"),
        ("fearful", "fear"),
        ("disgusted", "disgust"),
        ("neutral", "neutral"),
        ("03_sad", "sad"),
    ],
)
def test_dataset_folder_names_map_onto_the_seven_labels(folder: str, label: str) -> None:
    assert canonical_label(folder) == label


def test_an_unknown_folder_name_has_no_label() -> None:
    assert canonical_label("holiday_photos") is None
