"""`python -m analysis evaluate text`: the transcript-emotion head scored on labelled sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.cli import main

SENTENCES = (
    ("I am so happy today, everything went wonderfully and I laughed all evening.", "happy"),
    ("I feel hopeless and empty, I cried all night.", "sad"),
    ("I am furious with him, he lied to me again.", "angry"),
    ("I am terrified that something awful will happen to my family.", "fear"),
)


@pytest.mark.slow
def test_clear_sentences_are_recognised_with_their_confusion_and_calibration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given four unambiguous sentences written by a clinician, one emotion each
    labelled = tmp_path / "sentences.tsv"
    labelled.write_text("".join(f"{text}\t{label}\n" for text, label in SENTENCES))

    # When the head scores them
    assert main(["evaluate", "text", "--tsv", str(labelled)]) == 0
    result = json.loads(capsys.readouterr().out)

    # Then each is recognised, and the confusion and calibration describe all four
    assert result["n"] == 4
    assert result["per_class_recall"] == {"angry": 1.0, "fear": 1.0, "happy": 1.0, "sad": 1.0}
    assert sum(map(sum, result["confusion"]["matrix"])) == 4
    calibration = result["calibration"]
    assert calibration["n"] == 4
    # right every time, but not always sure: the gap between 1.0 and its confidence is the ECE
    assert calibration["ece"] == pytest.approx(1.0 - calibration["mean_confidence"], abs=1e-3)


def test_an_unknown_label_is_refused_with_its_line(tmp_path: Path) -> None:
    labelled = tmp_path / "sentences.tsv"
    labelled.write_text("I feel great\tjoyful\n")
    with pytest.raises(SystemExit, match=r"sentences\.tsv:1"):
        main(["evaluate", "text", "--tsv", str(labelled)])
