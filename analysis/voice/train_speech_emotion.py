"""Train the optional speech-emotion head on RAVDESS: `python -m analysis train-speech-emotion`.

Every sentence of actors 01-08 is trimmed of silence and described by `emotion_features`
(Whisper's encoder);
RAVDESS's eight emotions map onto Moodline's seven (calm joins neutral, fearful is fear,
surprised is surprise). Leave one actor out: for each actor, a logistic regression (classes
weighted to balance them) is fitted on the other seven and read on theirs, so every figure is
on a voice the head never heard. The regularisation is chosen on those same folds (so the
figures are dev figures), and a temperature on the held-out probabilities. `--write` fits the
head on all eight actors and saves it, with the figures, to `speech_emotion_head.json`.
The sentences are the same two for every emotion: the head cannot learn words, only voice.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.labels import EMOTIONS
from analysis.voice.speech_emotion import HEAD_PATH, SpeechEmotionHead, emotion_features

RAVDESS_TO_MOODLINE = {
    "neutral": "neutral",
    "calm": "neutral",
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "fearful": "fear",
    "disgust": "disgust",
    "surprised": "surprise",
}
REGULARISATION = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
TEMPERATURES = np.linspace(0.5, 3.0, 51)
TRIM_TOP_DB = 30.0


def labelled_features(root: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (n, d), Moodline label indices (n,) and actors (n,) of every RAVDESS sentence."""
    import librosa
    import soundfile as sf

    from analysis.voice.ravdess import acted_sentences

    rows, labels, actors = [], [], []
    for sentence in acted_sentences(root) if root else acted_sentences():
        samples, _ = sf.read(sentence.path, dtype="float32")
        speech, _ = librosa.effects.trim(samples, top_db=TRIM_TOP_DB)
        rows.append(emotion_features(speech))
        labels.append(EMOTIONS.index(RAVDESS_TO_MOODLINE[sentence.emotion]))
        actors.append(sentence.actor)
    return np.array(rows), np.array(labels), np.array(actors)


def fit_head(features: np.ndarray, labels: np.ndarray, c: float) -> SpeechEmotionHead:
    from sklearn.linear_model import LogisticRegression

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit((features - mean) / scale, labels)
    coef = np.zeros((len(EMOTIONS), features.shape[1]))
    intercept = np.full(len(EMOTIONS), -1e9)  # a label never seen in training is never said
    coef[model.classes_] = model.coef_
    intercept[model.classes_] = model.intercept_
    return SpeechEmotionHead(mean, scale, coef, intercept, temperature=1.0)


def held_out_probabilities(
    features: np.ndarray, labels: np.ndarray, actors: np.ndarray, c: float
) -> np.ndarray:
    probs = np.zeros((len(labels), len(EMOTIONS)))
    for actor in np.unique(actors):
        held = actors == actor
        probs[held] = fit_head(features[~held], labels[~held], c).probabilities(features[held])
    return probs


def best_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    logits = np.log(np.clip(probs, 1e-12, 1.0))

    def nll(t: float) -> float:
        scaled = logits / t
        scaled -= scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    return float(min(TEMPERATURES, key=nll))


def _tempered(probs: np.ndarray, t: float) -> np.ndarray:
    scaled = np.log(np.clip(probs, 1e-12, 1.0)) / t
    scaled -= scaled.max(axis=1, keepdims=True)
    out = np.exp(scaled)
    return np.asarray(out / out.sum(axis=1, keepdims=True))


def evaluate(features: np.ndarray, labels: np.ndarray, actors: np.ndarray) -> dict[str, Any]:
    from analysis.calibration import calibration_report
    from analysis.face.evaluate import recall_metrics

    by_c = {c: held_out_probabilities(features, labels, actors, c) for c in REGULARISATION}
    uar = {c: recall_metrics(list(labels), list(p.argmax(axis=1)))["uar"] for c, p in by_c.items()}
    chosen = max(REGULARISATION, key=lambda c: uar[c])
    temperature = best_temperature(by_c[chosen], labels)
    probs = _tempered(by_c[chosen], temperature)
    metrics = recall_metrics(list(labels), [int(i) for i in probs.argmax(axis=1)])
    metrics["calibration"] = calibration_report(probs, list(labels))
    metrics["uncalibrated_ece"] = calibration_report(by_c[chosen], list(labels))["ece"]
    return {
        "protocol": "leave one actor out, RAVDESS actors 01-08 (480 sentences)",
        "chance_uar": round(1 / len(EMOTIONS), 3),
        "uar_by_regularisation": {str(c): round(v, 4) for c, v in uar.items()},
        "regularisation": chosen,
        "temperature": round(temperature, 3),
        **metrics,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="save the head fitted on all actors")
    args = parser.parse_args(argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    features, labels, actors = labelled_features()
    report = evaluate(features, labels, actors)
    result: dict[str, Any] = {"evaluation": report}
    if args.write:
        head = fit_head(features, labels, report["regularisation"])
        head = SpeechEmotionHead(
            head.mean, head.scale, head.coef, head.intercept, report["temperature"]
        )
        document = {
            "trained_on": "RAVDESS speech, actors 01-08 (CC BY-NC-SA 4.0): non-commercial use only",
            "head": head.to_dict(),
            "evaluation": report,
        }
        HEAD_PATH.write_text(json.dumps(document, indent=1) + "\n")
        result["written"] = str(HEAD_PATH)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
