"""The text stage: lines split between speakers, every line scored from its own words."""

from __future__ import annotations

import pytest

from analysis.stage_outputs import SpokenPiece, TextOutput
from analysis.text.lines import lines_by_speaker, scored_lines
from tests.analysis.utterance_factory import decoded

# S1 speaks from 6.0 to 7.5 s, S2 from 8.0 to 9.5 s
PIECES = (
    SpokenPiece(6.0, 7.5, "S1", (-20.0,), None),
    SpokenPiece(8.0, 9.5, "S2", (-20.0,), None),
)


def test_a_line_the_decoder_heard_across_a_change_of_speaker_is_split_between_them():
    utterance = decoded(
        ("I", 6.1, 6.3),
        ("feel", 6.4, 6.8),
        ("fine.", 6.9, 7.4),
        ("How", 8.0, 8.3),
        ("so?", 8.4, 8.9),
    )  # 0.6 s apart: too short a pause for the transcript stage to split at

    lines = lines_by_speaker([utterance], PIECES)

    assert [(line.text, speaker) for line, speaker in lines] == [
        ("I feel fine.", "S1"),
        ("How so?", "S2"),
    ]
    assert [(line.start_s, line.end_s) for line, _ in lines] == [(6.1, 7.4), (8.0, 8.9)]
    assert all(line.avg_logprob == -0.3 for line, _ in lines)


def test_a_word_heard_between_pieces_stays_with_the_word_before_it():
    utterance = decoded(("Well,", 7.2, 7.45), ("um,", 7.6, 7.8), ("yes.", 8.1, 8.4))

    lines = lines_by_speaker([utterance], PIECES)

    assert [(line.text, speaker) for line, speaker in lines] == [
        ("Well, um,", "S1"),
        ("yes.", "S2"),
    ]


@pytest.mark.slow
def test_every_line_is_scored_whoever_spoke_it_and_the_scores_survive_storage():
    utterances = [
        decoded(("I", 6.1, 6.3), ("am", 6.4, 6.6), ("so", 6.7, 6.9), ("happy", 7.0, 7.4)),
        decoded(("That", 8.1, 8.4), ("is", 8.5, 8.6), ("terrible", 8.7, 9.3)),
    ]

    output = scored_lines(utterances, PIECES)

    client, clinician = output.lines
    assert (client.speaker, clinician.speaker) == ("S1", "S2")
    assert client.valence > 0.2 > -0.2 > clinician.valence
    assert max(client.emotions, key=client.emotions.__getitem__) == "happy"
    assert {m["name"] for m in output.models} >= {"vader-lexicon", "text-emotion-head"}
    assert TextOutput.from_json(output.to_json()) == output
