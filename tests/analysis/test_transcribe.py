"""Whisper transcription: the converted reference engine, the faster engine, both models, and
the regions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from analysis.commands import word_error_rate
from analysis.errors import ModelError
from analysis.media import read_audio
from analysis.text.decoding_regions import (
    MAX_REGION_S,
    DecodingRegion,
    ShortenedPauses,
    decoding_regions,
    in_real_time,
    shorten_pauses,
)
from analysis.text.transcribe import (
    MODEL_ENV,
    Utterance,
    Word,
    get_engine,
    split_at_pauses,
    transcribe_array,
)
from analysis.voice.vad import SpeechSegment
from analysis.weights.registry import sha256_file
from analysis.weights.speech import (
    WHISPER_BASE,
    WHISPER_BASE_CT2,
    WHISPER_TINY_EN,
    WHISPER_TINY_EN_CT2,
    prepare_ct2_model,
    prepare_whisper_checkpoint,
    shipped_path,
    tensor_digest,
)
from analysis.weights.whisper_convert import read_ct2_variables
from tests.analysis.utterance_factory import decoded

JFK = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "jfk.flac"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


NEEDS_JFK = pytest.mark.skipif(
    not JFK.is_file(),
    reason="../shared/samples/jfk.flac is absent: the real-speech checks need that recording",
)


@pytest.fixture(scope="module")
def jfk_audio():
    if not JFK.is_file():
        pytest.skip("../shared/samples/jfk.flac is absent: the real-speech checks need it")
    return read_audio(JFK)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["tiny.en", "base"])
@pytest.mark.parametrize("engine_name", ["openai-whisper", "faster-whisper"])
def test_each_engine_transcribes_the_jfk_sample_within_ten_percent_wer(
    jfk_audio, engine_name, model_name
):
    utterances = transcribe_array(jfk_audio, get_engine(engine_name, model_name))

    text = " ".join(u.text for u in utterances)
    assert word_error_rate(JFK_REFERENCE, text) <= 0.10
    words = [w for u in utterances for w in u.words]
    assert len(words) >= 20
    starts = [w.start_s for w in words]
    assert starts == sorted(starts)
    assert 0.0 <= words[0].start_s < 1.0
    assert 9.0 < words[-1].end_s <= 11.2
    assert all(w.end_s >= w.start_s for w in words)
    assert next(w for w in words if w.text.strip(",.").lower() == "americans").start_s < 4.0


def test_the_conversion_keeps_every_ct2_tensor_and_matches_the_recorded_digest(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MOODLINE_MODEL_DIR", str(tmp_path))

    first = prepare_whisper_checkpoint()
    again = prepare_whisper_checkpoint()

    assert first.converted
    assert not again.converted
    assert again.path == first.path == tmp_path / "whisper-tiny.en" / "model.pt"
    checkpoint = torch.load(first.path, weights_only=True)
    assert tensor_digest(checkpoint["model_state_dict"]) == WHISPER_TINY_EN.sha256
    ct2 = read_ct2_variables(shipped_path(WHISPER_TINY_EN_CT2))
    state = checkpoint["model_state_dict"]
    fused = ct2["decoder/layer_2/self_attention/linear_0/weight"]
    assert torch.equal(
        state["decoder.blocks.2.attn.key.weight"], torch.from_numpy(fused[384:768].copy())
    )
    assert checkpoint["dims"]["n_text_layer"] == 4
    assert checkpoint["dims"]["n_vocab"] == 51864


def test_a_damaged_cached_checkpoint_is_converted_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MOODLINE_MODEL_DIR", str(tmp_path))
    prepared = prepare_whisper_checkpoint()
    with prepared.path.open("r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00" * 64)

    repaired = prepare_whisper_checkpoint()

    assert repaired.converted
    assert tensor_digest(torch.load(repaired.path, weights_only=True)["model_state_dict"]) == (
        WHISPER_TINY_EN.sha256
    )


def test_whisper_base_is_assembled_from_its_two_parts_and_converted_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MOODLINE_MODEL_DIR", str(tmp_path))

    first = prepare_whisper_checkpoint(WHISPER_BASE)
    again = prepare_whisper_checkpoint(WHISPER_BASE)

    assert first.converted
    assert not again.converted
    assembled = tmp_path / "whisper-base-ct2"
    assert sorted(p.name for p in assembled.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    assert sha256_file(assembled / "model.bin") == WHISPER_BASE_CT2.sha256
    checkpoint = torch.load(first.path, weights_only=True)
    assert tensor_digest(checkpoint["model_state_dict"]) == WHISPER_BASE.sha256
    # Whisper base: 6 layers of width 512, and the multilingual vocabulary (51,865 tokens)
    assert checkpoint["dims"]["n_text_layer"] == checkpoint["dims"]["n_audio_layer"] == 6
    assert checkpoint["dims"]["n_text_state"] == 512
    assert checkpoint["dims"]["n_vocab"] == 51865


def test_a_damaged_assembled_whisper_base_is_assembled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MOODLINE_MODEL_DIR", str(tmp_path))
    prepared = prepare_ct2_model(WHISPER_BASE_CT2)
    with prepared.path.open("r+b") as handle:
        handle.seek(80_000_000)  # inside the second part
        handle.write(b"\x00" * 64)
    (prepared.path.parent / "tokenizer.json").unlink()

    repaired = prepare_ct2_model(WHISPER_BASE_CT2)

    assert repaired.converted
    assert sha256_file(repaired.path) == WHISPER_BASE_CT2.sha256
    assert (repaired.path.parent / "tokenizer.json").is_file()


def test_the_model_setting_chooses_the_weights_of_either_engine(monkeypatch):
    monkeypatch.setenv(MODEL_ENV, "base")

    assert get_engine("faster-whisper").models == (WHISPER_BASE_CT2,)
    assert get_engine("openai-whisper").models == (WHISPER_BASE,)
    assert get_engine("faster-whisper", "tiny.en").models == (WHISPER_TINY_EN_CT2,)
    monkeypatch.delenv(MODEL_ENV)
    assert get_engine("openai-whisper").models == (WHISPER_TINY_EN,)


def test_an_unknown_model_setting_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv(MODEL_ENV, "large-v3")

    with pytest.raises(ModelError, match=r"unknown transcript model 'large-v3'.*tiny\.en, base"):
        get_engine("faster-whisper")
    with pytest.raises(ModelError, match="MOODLINE_TRANSCRIPT_MODEL"):
        get_engine("openai-whisper")


def test_speech_regions_skip_long_silences_and_stay_inside_one_whisper_window():
    segments = [
        SpeechSegment(1.0, 5.0),
        SpeechSegment(5.5, 12.0),  # short gap: same region
        SpeechSegment(40.0, 60.0),  # long silence before: new region
        SpeechSegment(60.5, 75.0),  # would make the region longer than a window
    ]

    regions = [(r.start_s, r.end_s) for r in decoding_regions(segments, duration_s=80.0)]

    assert [(round(a, 1), round(b, 1)) for a, b in regions] == [
        (0.8, 12.2),
        (39.8, 60.2),
        (60.3, 75.2),
    ]
    assert all(b - a <= MAX_REGION_S + 1.0 for a, b in regions)


def test_unknown_engines_are_refused():
    with pytest.raises(ValueError, match="unknown transcript engine"):
        get_engine("a-cloud-service")


def test_an_utterance_is_split_where_its_words_pause_for_a_second_or_more():
    words = [Word(0.0, 0.4, "Yes.", 0.9), Word(0.5, 0.9, "Right.", 0.9)]
    words += [Word(2.0, 2.3, "Now", 0.9), Word(2.4, 2.9, "then.", 0.9)]
    heard = Utterance(0.0, 2.9, "Yes. Right. Now then.", tuple(words), avg_logprob=-0.2)

    parts = split_at_pauses([heard])

    assert [(p.start_s, p.end_s, p.text) for p in parts] == [
        (0.0, 0.9, "Yes. Right."),
        (2.0, 2.9, "Now then."),
    ]
    assert all(p.avg_logprob == -0.2 for p in parts)
    assert split_at_pauses([heard], pause_s=1.2) == [heard]


def test_long_silences_are_shortened_for_the_decoder_and_times_map_back_to_the_recording():
    region = DecodingRegion(
        start_s=0.8, end_s=7.2, spans=((1.0, 2.0), (2.3, 3.0), (6.0, 7.0))
    )  # speech at 1-2 s and 2.3-3 s (a short pause, kept), then 3 s of silence, then 6-7 s
    rate = 16000
    real_times = 0.8 + np.arange(round(6.4 * rate)) / rate

    shortened = shorten_pauses(real_times, region, rate)

    assert len(shortened.audio) == round(3.5 * rate)  # 2 s + 0.5 s of silence + 1 s
    for t_s in (0.0, 0.5, 1.4, 1.99, 2.5, 2.75, 3.49):
        sample = shortened.audio[round(t_s * rate)]
        assert shortened.real_time(t_s) == pytest.approx(sample, abs=1e-3)
    assert shortened.real_time(2.1) == pytest.approx(3.0)  # in the cut silence, near its start
    assert shortened.real_time(2.4) == pytest.approx(6.0)  # near its end
    # a word the decoder drew across the cut silence stays inside the speech holding its middle
    assert shortened.real_span(1.8, 2.9) == pytest.approx((6.0, 6.4))


def test_a_word_that_runs_on_into_silence_is_held_inside_the_speech_the_vad_heard():
    region = DecodingRegion(
        start_s=0.8, end_s=7.2, spans=((0.8, 3.2), (5.8, 7.2)), speech=((1.0, 3.0), (6.0, 7.0))
    )

    assert region.within_speech(2.7, 3.15) == pytest.approx((2.7, 3.0))  # ran on 0.15 s
    assert region.within_speech(5.9, 6.3) == pytest.approx((6.0, 6.3))  # began a little early
    assert region.within_speech(1.5, 1.9) == (1.5, 1.9)  # inside: untouched


def test_a_word_the_decoder_gave_no_duration_stays_with_the_words_said_before_it():
    # One turn's speech at 1.0-3.4 s, the next person's at 6.9-8.7 s; decoded with the silence
    # between them cut to 0.5 s (the first stretch is 0-2.8 s of the decoded audio, the second
    # starts at 3.3 s). The decoder stretched "the" over the cut silence and put "door." at no
    # duration where the next speech starts, as Whisper does at the end of a sentence.
    region = DecodingRegion(
        0.8, 8.9, spans=((0.8, 3.6), (6.7, 8.9)), speech=((1.0, 3.4), (6.9, 8.7))
    )
    shortened = ShortenedPauses(np.zeros(1), kept=((0.0, 0.8, 3.6), (3.3, 6.7, 8.9)))
    said = decoded(("Kids", 0.2, 0.6), ("are", 0.6, 0.9), ("by", 1.4, 1.7),
                    ("the", 1.7, 3.3), ("door.", 3.3, 3.3))  # fmt: skip

    (placed,) = in_real_time([said], shortened, region)
    (as_decoded,) = in_real_time([said], shortened, region, place_words=False)

    the, door = placed.words[-2:]
    assert 2.5 <= the.start_s < the.end_s == pytest.approx(door.start_s)
    assert door.end_s == pytest.approx(3.4) == placed.end_s  # inside the turn that said it
    assert door.end_s - door.start_s > the.end_s - the.start_s  # more letters, more time
    assert as_decoded.words[-1].start_s == pytest.approx(6.9)  # 3.5 s late, the next turn's


def test_a_word_given_no_duration_after_a_sentence_ends_goes_with_the_sentence_it_begins():
    region = DecodingRegion(0.0, 9.0, spans=((0.0, 9.0),), speech=((1.0, 3.5), (6.2, 8.5)))
    shortened = ShortenedPauses(np.zeros(1), kept=((0.0, 0.0, 9.0),))
    begins = decoded(("Dogs", 1.0, 1.0), ("are", 1.0, 1.3), ("sitting", 1.3, 1.7))
    next_one = decoded(("guilty.", 2.8, 3.4), ("Let", 6.2, 6.2), ("us", 6.2, 6.5))
    last = decoded(("guilty.", 2.8, 3.4), ("Let", 6.2, 6.2))
    untimed = decoded(("Dogs", 2.0, 2.0), ("are", 2.0, 2.0))

    first, after_end, at_the_end, nowhere = in_real_time(
        [begins, next_one, last, untimed], shortened, region
    )

    dogs, are, sitting = first.words
    # "are"'s 0.3 s shared by letters: four to "Dogs", three to "are"
    assert (dogs.start_s, dogs.end_s, are.end_s) == pytest.approx((1.0, 1.0 + 0.3 * 4 / 7, 1.3))
    assert (sitting.start_s, sitting.end_s) == pytest.approx((1.3, 1.7))  # timed: untouched
    let = after_end.words[1]
    assert (let.start_s, let.end_s) == pytest.approx((6.2, 6.2 + 0.3 * 3 / 5))  # not "guilty."'s
    assert [(w.start_s, w.end_s) for w in at_the_end.words] == [(2.8, 3.4), (6.2, 6.2)]
    assert [(w.start_s, w.end_s) for w in nowhere.words] == [(2.0, 2.0), (2.0, 2.0)]


def test_the_first_word_heard_in_a_stretch_of_speech_begins_where_the_speech_begins():
    region = DecodingRegion(0.0, 9.0, spans=((0.0, 9.0),), speech=((1.0, 3.0), (5.0, 7.0)))
    shortened = ShortenedPauses(np.zeros(1), kept=((0.0, 0.0, 9.0),))
    said = [
        decoded(("Someday", 1.35, 1.8), ("we", 1.8, 2.0), ("will.", 2.5, 2.9)),
        decoded(("Probably.", 6.1, 6.8)),  # 1.1 s after its speech began: something unheard
    ]

    placed = in_real_time(said, shortened, region)
    as_decoded = in_real_time(said, shortened, region, place_words=False)

    assert placed[0].start_s == placed[0].words[0].start_s == 1.0  # Whisper began it 0.35 s late
    assert [w.start_s for w in placed[0].words[1:]] == [1.8, 2.5]  # not the first: untouched
    assert placed[1].start_s == pytest.approx(6.1)
    assert as_decoded[0].start_s == pytest.approx(1.35)
