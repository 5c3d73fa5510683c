"""Train the sentence emotion / valence-arousal head on frozen MiniLM embeddings.

    python -m analysis.text.train_head [--per-class 1200] [--seed 7]

GoEmotions (train split) → 7 labels: the 7 direct labels plus documented mappings of related
ones (MAPPED); comments whose labels map to more than one Moodline label are left out. The
train split is subsampled to at most `--per-class` comments per label to keep embedding time
to minutes on 2 cores; the whole dev split is used for the reported results. EmoBank's train
split trains ridge regressions of valence and arousal, its dev split reports Pearson r.
Writes analysis/text/emotion_head.json and prints the dev results and the file's sha256.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from analysis.labels import EMOTIONS
from analysis.text.emotion import HEAD_PATH, embed
from analysis.weights.registry import sha256_file

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# GoEmotions label -> Moodline label. Direct ones first; the rest is a modelling choice.
MAPPED = {
    "anger": "angry",
    "annoyance": "angry",
    "disapproval": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "nervousness": "fear",
    "joy": "happy",
    "amusement": "happy",
    "excitement": "happy",
    "gratitude": "happy",
    "love": "happy",
    "optimism": "happy",
    "relief": "happy",
    "pride": "happy",
    "admiration": "happy",
    "sadness": "sad",
    "grief": "sad",
    "disappointment": "sad",
    "remorse": "sad",
    "surprise": "surprise",
    "realization": "surprise",
    "neutral": "neutral",
}


def load_goemotions(split: str) -> tuple[list[str], list[int]]:
    names = (DATA_DIR / "goemotions" / "labels.txt").read_text().split()
    texts, labels = [], []
    with (DATA_DIR / "goemotions" / f"{split}.tsv").open() as handle:
        for line in handle:
            text, ids, _comment = line.rstrip("\n").split("\t")
            mapped = {MAPPED.get(names[int(i)]) for i in ids.split(",")} - {None}
            if len(mapped) == 1:
                texts.append(text)
                labels.append(EMOTIONS.index(str(mapped.pop())))
    return texts, labels


def load_emobank(split: str) -> tuple[list[str], np.ndarray]:
    texts, targets = [], []
    with (DATA_DIR / "emobank" / "emobank_train_dev.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["split"] == split and row["text"].strip():
                texts.append(row["text"])
                targets.append((float(row["V"]), float(row["A"])))
    return texts, np.asarray(targets)


def subsample(labels: list[int], per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen: list[int] = []
    for label in range(len(EMOTIONS)):
        idx = np.flatnonzero(np.asarray(labels) == label)
        chosen.extend(int(i) for i in rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return np.sort(np.asarray(chosen))


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    train_texts, train_labels = load_goemotions("train")
    picked = subsample(train_labels, args.per_class, rng)
    x_train = embed([train_texts[i] for i in picked])
    y_train = np.asarray(train_labels)[picked]
    classifier = LogisticRegression(C=2.0, max_iter=2000, class_weight="balanced")
    classifier.fit(x_train, y_train)
    dev_texts, dev_labels = load_goemotions("dev")
    predicted = classifier.predict(embed(dev_texts))

    eb_train_texts, eb_train = load_emobank("train")
    eb_dev_texts, eb_dev = load_emobank("dev")
    regressor = Ridge(alpha=1.0).fit(embed(eb_train_texts), eb_train)
    eb_predicted = regressor.predict(embed(eb_dev_texts))

    results = {
        "goemotions_train_used": len(picked),
        "goemotions_dev": len(dev_labels),
        "dev_accuracy": round(float(accuracy_score(dev_labels, predicted)), 4),
        "dev_uar": round(float(balanced_accuracy_score(dev_labels, predicted)), 4),
        "dev_macro_f1": round(float(f1_score(dev_labels, predicted, average="macro")), 4),
        "emobank_train": len(eb_train_texts),
        "emobank_dev": len(eb_dev_texts),
        "dev_valence_pearson": round(float(np.corrcoef(eb_predicted[:, 0], eb_dev[:, 0])[0, 1]), 4),
        "dev_arousal_pearson": round(float(np.corrcoef(eb_predicted[:, 1], eb_dev[:, 1])[0, 1]), 4),
    }
    head = {
        "labels": list(EMOTIONS),
        "encoder": "all-MiniLM-L6-v2",
        "trained_by": f"python -m analysis.text.train_head --per-class {args.per_class} "
        f"--seed {args.seed}",
        "dev_results": results,
        "emotion_coef": np.round(classifier.coef_, 5).tolist(),
        "emotion_intercept": np.round(classifier.intercept_, 5).tolist(),
        "va_coef": np.round(regressor.coef_, 5).tolist(),
        "va_intercept": np.round(regressor.intercept_, 5).tolist(),
    }
    HEAD_PATH.write_text(json.dumps(head, separators=(",", ":")) + "\n")
    print(json.dumps({**results, "sha256": sha256_file(HEAD_PATH)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
