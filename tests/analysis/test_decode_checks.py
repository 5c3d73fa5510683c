"""What in a decode was heard nowhere, and which decodes are decoded again stretch by stretch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.text.decode_checks import doubtful, without_unheard
from analysis.text.decoding_regions import DecodingRegion, parts, stretches
from analysis.text.transcribe import Utterance
from tests.analysis.utterance_factory import decoded


def _said(sentence: str, start_s: float, per_word_s: float) -> list[tuple[str, float, float]]:
    return [
        (word, start_s + i * per_word_s, start_s + (i + 1) * per_word_s)
        for i, word in enumerate(sentence.split())
    ]


def test_a_decoder_loop_and_a_tail_said_in_no_time_are_dropped_and_what_was_said_stays():
    # As Whisper decoded an acted conversation: the sentence said, then the same sentence
    # again and again with no time of its own at the end of the audio.
    said = _said("Dogs are sitting by the door.", 1.0, 0.28)
    loop = [(word, 2.7, 2.7) for _ in range(3) for word, _start, _end in said]
    tail = _said("We'll see you next time.", 4.0, 0.02)  # 19 letters in 0.1 s
    untimed = Utterance(5.0, 6.0, "Mm.")

    kept, dropped = without_unheard([decoded(*said, *loop), decoded(*tail), untimed])

    assert dropped == 4
    assert [u.text for u in kept] == ["Dogs are sitting by the door.", "Mm."]
    assert kept[0].words == decoded(*said).words


def test_fast_speech_and_a_lone_word_given_no_duration_are_kept():
    fast = decoded(*_said("I really do not know what to say.", 0.0, 0.16))  # 19.5 letters/s
    last_word = decoded(("Kids", 1.0, 1.4), ("talking.", 1.4, 1.9), ("Door.", 3.3, 3.3))

    kept, dropped = without_unheard([fast, last_word])

    assert (kept, dropped) == ([fast, last_word], 0)


def test_a_decode_is_doubtful_when_its_alignment_ran_out_or_whisper_fell_back_to_sampling():
    one = decoded(("Kids", 1.0, 1.4), ("door.", 3.3, 3.3))
    two = decoded(("Kids", 1.0, 1.4), ("the", 3.3, 3.3), ("door.", 3.3, 3.3))

    sampled = replace(one, temperature=0.2)  # Whisper rejected its greedy decode

    assert not doubtful([one], dropped=0)  # placed beside its neighbour
    assert doubtful([two], dropped=0)
    assert doubtful([one], dropped=1)
    assert doubtful([sampled], dropped=0)
    assert not doubtful([replace(one, temperature=0.0)], dropped=0)


def test_a_region_is_cut_into_its_stretches_of_speech_each_with_its_own_segments():
    region = DecodingRegion(
        0.8,
        9.2,
        spans=((0.8, 3.2), (3.4, 5.2), (6.8, 9.2)),
        speech=((1.0, 3.0), (3.6, 5.0), (7.0, 9.0)),
    )

    first, second = stretches(region)

    # silences of up to 0.5 s stay inside a stretch, as they stay in the decoded audio
    assert (first.bounds, first.spans, first.speech) == (
        (0.8, 5.2), ((0.8, 5.2),), ((1.0, 3.0), (3.6, 5.0))
    )  # fmt: skip
    assert (second.bounds, second.speech) == ((6.8, 9.2), ((7.0, 9.0),))
    assert stretches(first) == [first]


def test_a_doubtful_region_is_decoded_in_its_stretches_and_a_stretch_in_its_vad_segments():
    region = DecodingRegion(
        0.8, 9.2, spans=((0.8, 5.2), (6.8, 9.2)), speech=((1.0, 3.0), (3.2, 5.0), (7.0, 9.0))
    )

    first, second = parts(region)
    one, two = parts(first)

    assert first == stretches(region)[0]
    # padded, but never into the other segment's speech
    assert one.bounds == pytest.approx((0.8, 3.1))
    assert one.speech == ((1.0, 3.0),)
    assert two.bounds == pytest.approx((3.1, 5.2))
    assert two.speech == ((3.2, 5.0),)
    assert parts(one) == parts(second) == []  # one segment: nothing smaller to decode


@pytest.mark.parametrize("letters_per_s", [36.0, 80.0])
def test_a_sentence_faster_than_speech_is_heard_nowhere(letters_per_s):
    # "Kids are talking by the door." holds 23 letters
    span_s = 23 / letters_per_s
    per_word = span_s / 6

    kept, dropped = without_unheard([decoded(*_said("Kids are talking by the door.", 0, per_word))])

    assert (kept, dropped) == ([], 1)
