"""Speech segments, speakers and prosody on real (synthesised) speech."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from analysis.errors import ModelError
from analysis.modality import Modality
from analysis.onnx_engine import TORCH
from analysis.pipeline import PipelineOptions, stage_fingerprints
from analysis.voice import vad
from analysis.voice.arousal import POPULATION, SPEAKER, vocal_arousal
from analysis.voice.campplus import campplus_embeddings
from analysis.voice.pieces import describe_piece
from analysis.voice.prosody import ProsodyFeatures, prosody_features
from analysis.voice.regions import iter_region_audio
from analysis.voice.speaker_embedding import speaker_embedding, speaker_embeddings
from analysis.voice.speakers import (
    CLIENT,
    CLINICIAN,
    GE2E_OPTIONS,
    SpeakerOptions,
    VoicePiece,
    assign_speakers,
)
from analysis.voice.vad import SpeechSegment, detect_speech
from analysis.voice.voiceprints import SETTING as VOICEPRINT_SETTING
from analysis.voice.voiceprints import voiceprint_encoder
from benchmarks._conversations import room_hiss as benchmark_room_hiss
from tests.analysis.speech_factory import (
    CLIENT_VOICE,
    CLINICIAN_VOICE,
    RATE_HZ,
    join,
    silence,
    speak,
    two_speaker_stereo,
    write_wav,
)

FIRST = "I have been feeling much better this week."
SECOND = "Thank you for asking about my sister."
TURNS = [
    ("client", "I have not been sleeping well since the move."),
    ("clinician", "How long has that been going on?"),
    ("client", "About three weeks now, maybe longer."),
    ("clinician", "What goes through your mind at night?"),
    ("client", "Mostly work, and whether I made the right choice."),
]


def chunked(audio: np.ndarray, chunk_s: float) -> list[tuple[float, np.ndarray]]:
    step = round(chunk_s * RATE_HZ)
    return [(i / RATE_HZ, audio[..., i : i + step]) for i in range(0, audio.shape[-1], step)]


def pieces_of(audio: np.ndarray, segments: list[SpeechSegment]) -> list[VoicePiece]:
    """What the voice stage measures on each speech segment of a (channels, n) recording."""
    channels = audio if audio.ndim == 2 else audio[None]
    bounds = [(s.start_s, s.end_s) for s in segments]
    pieces = []
    for (start_s, end_s), cut in iter_region_audio(chunked(channels, 30.0), bounds, bounds):
        described = describe_piece(cut, start_s, end_s, measure_prosody=True)
        assert described is not None
        pieces.append(described.piece)
    return pieces


@pytest.fixture(scope="module")
def pause_recording() -> tuple[np.ndarray, float, float]:
    """Two sentences with a two-second pause: returns audio, end of the first, start of the next."""
    first, second = speak(FIRST), speak(SECOND)
    audio = join(silence(0.5), first, silence(2.0), second, silence(0.5))
    first_end = 0.5 + len(first) / RATE_HZ
    return audio, first_end, first_end + 2.0


@pytest.mark.slow
def test_a_pause_between_two_sentences_splits_speech_into_two_segments(pause_recording):
    audio, first_end_s, second_start_s = pause_recording

    segments = detect_speech(chunked(audio, 30.0))

    assert len(segments) == 2
    assert segments[0].start_s == pytest.approx(0.5, abs=0.3)
    assert segments[0].end_s == pytest.approx(first_end_s, abs=0.4)
    assert segments[1].start_s == pytest.approx(second_start_s, abs=0.3)
    assert segments[1].end_s <= len(audio) / RATE_HZ


@pytest.mark.slow
def test_streaming_in_small_chunks_finds_the_same_segments(pause_recording):
    audio = pause_recording[0]

    whole = detect_speech(chunked(audio, 30.0))
    streamed = detect_speech(chunked(audio, 0.7))  # chunks that are not multiples of a frame

    assert streamed == whole


@pytest.fixture(scope="module")
def conversation() -> np.ndarray:
    """Five turns in two voices with pauses of 0.6 to 1.4 s: about 20 s of speech and silence."""
    parts = [silence(0.4)]
    for number, (role, text) in enumerate(TURNS):
        voice = CLINICIAN_VOICE if role == "clinician" else CLIENT_VOICE
        parts += [speak(text, voice=voice), silence(0.6 + 0.2 * number)]
    return join(*parts)


@pytest.mark.slow
def test_reading_in_lanes_finds_what_frame_by_frame_reading_finds(conversation, monkeypatch):
    # Given lanes of 2.5 s in batches of four, so the conversation crosses several lanes and
    # several full batches, fed in chunks that do not line up with frames or lanes
    monkeypatch.setattr(vad, "LANES", 4)
    monkeypatch.setattr(vad, "LANE_FRAMES", 80)
    tracker = vad.SpeechProbabilities()
    for start_s, chunk in chunked(conversation, 0.7):
        tracker.feed(start_s, chunk)
    lanes = tracker.result()

    plain = vad.frame_by_frame_probabilities(conversation)
    options = vad.VadOptions()
    expected = vad.segments_from_probabilities(plain, options)
    found = vad.segments_from_probabilities(lanes, options)

    # Then every frame is scored once, a lane's first frames read as if its state had run
    # through the audio before it (without the warm-up they are off by 0.08 on average here),
    # and the segments match to within one 32 ms frame
    assert len(lanes) == len(plain)
    gap = np.abs(lanes - plain)
    lane_heads = np.concatenate([gap[start : start + 8] for start in range(80, len(gap), 80)])
    assert gap.mean() < 0.02
    assert lane_heads.mean() < 0.03
    assert len(found) == len(expected) >= len(TURNS)
    for mine, reference in zip(found, expected, strict=True):
        assert mine.start_s == pytest.approx(reference.start_s, abs=vad.FRAME_S + 1e-6)
        assert mine.end_s == pytest.approx(reference.end_s, abs=vad.FRAME_S + 1e-6)


@pytest.mark.slow
def test_a_recording_shorter_than_a_batch_reads_as_frame_by_frame_reading_does(conversation):
    # Given a 20-second conversation: less than one batch, its lanes as set for production
    tracker = vad.SpeechProbabilities()
    tracker.feed(0.0, conversation)

    gap = np.abs(tracker.result() - vad.frame_by_frame_probabilities(conversation))

    # Then it is read in two lanes of ~10 s, not in many short ones each restarting the
    # model's state (lanes of 2 s put frames off by up to 0.42 here)
    assert gap.max() < 0.1
    assert gap.mean() < 0.005


@pytest.mark.slow
def test_lane_results_do_not_depend_on_how_the_audio_arrives(conversation, monkeypatch):
    monkeypatch.setattr(vad, "LANES", 4)
    monkeypatch.setattr(vad, "LANE_FRAMES", 80)

    def probabilities(chunk_s: float) -> np.ndarray:
        tracker = vad.SpeechProbabilities()
        for start_s, chunk in chunked(conversation, chunk_s):
            tracker.feed(start_s, chunk)
        return tracker.result()

    assert np.array_equal(probabilities(0.33), probabilities(60.0))


def room_hiss(duration_s: float, dbfs: float) -> np.ndarray:
    """A quiet room's hiss at `dbfs` RMS, as the benchmarks make it."""
    return benchmark_room_hiss(round(duration_s * RATE_HZ), seed=7, dbfs=dbfs)


@pytest.mark.slow
def test_a_conversation_recorded_from_across_the_room_is_heard_as_a_close_one(conversation):
    # Given the conversation 35 dB quieter, in a quiet room's hiss (a microphone far away)
    far = conversation * np.float32(10 ** (-35 / 20)) + room_hiss(len(conversation) / RATE_HZ, -60)

    def speech_s(audio: np.ndarray, options: vad.VadOptions) -> float:
        return sum(s.duration_s for s in detect_speech([(0.0, audio)], options))

    close = speech_s(conversation, vad.VadOptions())
    heard = speech_s(far, vad.VadOptions())
    as_recorded = speech_s(far, vad.VadOptions(max_gain_db=0.0))

    # Then it is brought up before it is read, and as much speech is heard as from the close
    # microphone; read as recorded, Silero takes much of it for background talk
    assert heard == pytest.approx(close, abs=0.5)
    assert as_recorded < close - 2.0


@pytest.mark.slow
def test_a_quiet_room_brought_up_holds_no_speech():
    t = np.arange(20 * RATE_HZ) / RATE_HZ
    for dbfs in (-70.0, -55.0, -40.0):
        hiss = room_hiss(20.0, dbfs)
        hum = (10 ** (dbfs / 20) * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
        for room in (hiss, hum + room_hiss(20.0, -65.0)):
            # brought up by 9-24 dB, and still nobody speaking
            gain = vad.level_gain(room.reshape(-1, vad.FRAME_SAMPLES), vad.VadOptions())
            assert 20 * np.log10(gain) > 6.0
            assert detect_speech([(0.0, room)]) == []


@pytest.mark.slow
def test_silence_and_hum_hold_no_speech():
    t = np.arange(3 * RATE_HZ) / RATE_HZ
    hum = (0.05 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)

    assert detect_speech([(0.0, silence(3.0))]) == []
    assert detect_speech([(0.0, hum)]) == []


@pytest.mark.slow
def test_a_two_voice_stereo_recording_yields_two_speakers_one_per_channel():
    audio = two_speaker_stereo(TURNS)
    segments = detect_speech(chunked(audio.mean(axis=0), 30.0))

    result = assign_speakers(pieces_of(audio, segments))

    assert result.method == "channels"
    assert len(segments) == len(TURNS)
    assert result.piece_speakers == ["S1", "S2", "S1", "S2", "S1"]
    by_id = {s.id: s for s in result.speakers}
    assert (by_id["S1"].channel, by_id["S2"].channel) == (0, 1)
    # the client talks most: the guess, marked as such
    assert (by_id["S1"].role, by_id["S2"].role) == (CLIENT, CLINICIAN)
    assert {s.role_source for s in result.speakers} == {"guessed"}
    assert by_id["S1"].talk_time_s > by_id["S2"].talk_time_s > 3.0


@pytest.mark.slow
def test_two_voices_mixed_to_mono_are_told_apart_by_clustering():
    mono = two_speaker_stereo(TURNS).sum(axis=0)
    segments = detect_speech(chunked(mono, 30.0))

    result = assign_speakers(pieces_of(mono, segments))

    assert result.method == "clustering"
    assert result.piece_speakers == ["S1", "S2", "S1", "S2", "S1"]


@pytest.mark.slow
def test_one_voice_saying_several_things_stays_one_speaker():
    mono = join(*[part for _, text in TURNS for part in (speak(text), silence(0.6))])
    segments = detect_speech(chunked(mono, 30.0))

    result = assign_speakers(pieces_of(mono, segments))

    assert len(segments) == len(TURNS)
    assert [s.id for s in result.speakers] == ["S1"]
    assert result.speakers[0].role == CLIENT


@pytest.mark.slow
def test_the_speaker_encoder_places_one_voice_closer_to_itself_than_to_another_voice():
    client = campplus_embeddings([speak(text) for text in (FIRST, SECOND)])
    clinician = campplus_embeddings([speak(FIRST, voice=CLINICIAN_VOICE)])[0]

    assert client.shape == (2, 192)
    assert np.allclose(np.linalg.norm(client, axis=1), 1.0, atol=1e-5)
    same_voice = 1 - float(client[0] @ client[1])  # different words, one voice
    other_voice = 1 - float(client[0] @ clinician)  # the same words, another voice
    assert same_voice < SpeakerOptions().min_separation < other_voice


@pytest.mark.slow
def test_onnx_runtime_gives_the_voiceprint_torch_gives():
    pieces = [speak(FIRST), speak(SECOND, voice=CLINICIAN_VOICE)[:6000]]

    through_onnx = campplus_embeddings(pieces)
    through_torch = campplus_embeddings(pieces, engine=TORCH)

    assert np.allclose(through_onnx, through_torch, atol=1e-4)
    assert 1 - float(through_onnx[0] @ through_onnx[1]) > 0.5  # and not one voice for both


@pytest.mark.slow
def test_a_quieter_or_very_short_turn_keeps_its_speakers_voiceprint():
    sentence = speak(FIRST)
    loud, quiet, clipped, blip = campplus_embeddings(
        [sentence, 0.2 * sentence, sentence[:2400], sentence[:200]]
    )

    assert 1 - float(loud @ quiet) < 0.01  # the filterbanks' mean over the piece drops out
    # 0.15 s, under the network's shortest input, is repeated to length; 12 ms, under one
    # filterbank frame, is padded to one first: each is still a voiceprint
    for short in (clipped, blip):
        assert np.isfinite(short).all()
        assert abs(float(np.linalg.norm(short)) - 1.0) < 1e-5


@pytest.mark.slow
def test_the_ge2e_encoder_kept_for_comparison_still_tells_the_voices_apart():
    client = [speaker_embedding(speak(text)) for text in (FIRST, SECOND)]
    clinician = speaker_embedding(speak(FIRST, voice=CLINICIAN_VOICE))

    assert all(e.shape == (256,) and abs(float(np.linalg.norm(e)) - 1.0) < 1e-5 for e in client)
    same_voice = 1 - float(client[0] @ client[1])
    other_voice = 1 - float(client[0] @ clinician)
    assert same_voice < GE2E_OPTIONS.min_separation < other_voice


@pytest.mark.slow
def test_voiceprints_computed_together_are_those_computed_one_piece_at_a_time():
    pieces = [speak(FIRST), speak(SECOND, voice=CLINICIAN_VOICE), speak(SECOND)[:8000]]

    together = speaker_embeddings(pieces)

    assert together.shape == (3, 256)
    for piece, row in zip(pieces, together, strict=True):
        assert np.allclose(row, speaker_embedding(piece), atol=1e-5)


@dataclass(frozen=True)
class SeenTrack:
    track_id: int
    times_s: list[float]
    mouth_motion: list[float]


def test_a_speaker_whose_speech_follows_a_moving_mouth_is_linked_to_that_face():
    pieces = [
        VoicePiece(0.0, 2.0, (0.0, -60.0), (), 110.0),
        VoicePiece(2.5, 4.0, (-60.0, 0.0), (), 200.0),
        VoicePiece(4.5, 6.0, (0.0, -60.0), (), 110.0),
        VoicePiece(6.5, 7.5, (-60.0, 0.0), (), 200.0),
    ]
    times = [i / 5 for i in range(40)]
    talking = [1.0 if (t < 2.0 or 4.5 <= t < 6.0) else 0.05 for t in times]
    tracks = [
        SeenTrack(track_id=0, times_s=times, mouth_motion=talking),
        SeenTrack(track_id=1, times_s=times, mouth_motion=[0.1] * len(times)),
    ]

    result = assign_speakers(pieces, tracks)

    s1, s2 = result.speakers
    assert (s1.face_track_id, s2.face_track_id) == ("0", None)
    assert s1.link_correlation is not None
    assert s1.link_correlation > 0.9
    assert (s1.role, s2.role) == (CLIENT, CLINICIAN)


@pytest.mark.slow
def test_a_higher_voice_has_a_higher_pitch_and_a_louder_one_more_intensity():
    low = speak(FIRST)
    high = speak(FIRST, voice=CLINICIAN_VOICE)

    low_f, high_f = prosody_features(low), prosody_features(high)
    loud_f = prosody_features(np.clip(low * 4, -1, 1))

    assert low_f.f0_median_hz is not None
    assert high_f.f0_median_hz is not None
    assert 70 < low_f.f0_median_hz < 150 < high_f.f0_median_hz < 300
    assert loud_f.intensity_db == pytest.approx(low_f.intensity_db + 12, abs=1.5)
    assert low_f.voiced_fraction > 0.4
    assert low_f.hnr_db is not None
    assert low_f.hnr_db > 0


def test_unvoiced_noise_has_no_pitch():
    noise = np.random.default_rng(1).normal(0, 0.1, RATE_HZ).astype(np.float32)

    features = prosody_features(noise)

    assert features.f0_median_hz is None
    assert features.voiced_fraction < 0.05


def piece(f0: float, intensity: float) -> ProsodyFeatures:
    return ProsodyFeatures(
        duration_s=3.0,
        voiced_fraction=0.8,
        f0_median_hz=f0,
        f0_sd_semitones=2.0,
        intensity_db=intensity,
        hnr_db=10.0,
    )


def test_vocal_arousal_is_relative_to_the_speakers_own_baseline():
    calm = [piece(110, -25), piece(112, -24), piece(108, -26), piece(111, -25)]
    agitated = piece(150, -15)

    estimates = vocal_arousal([*calm, agitated], [2.0, 2.1, 1.9, 2.0, 3.2])

    assert estimates[-1] is not None
    assert estimates[-1].arousal > 0.5
    assert all(e is not None and e.arousal < 0.1 for e in estimates[:-1])
    assert estimates[-1].z_scores["speech_rate"] > 1.5
    assert 0 < estimates[-1].confidence <= 0.6


def test_a_speaker_too_short_for_a_baseline_is_read_against_the_population_never_left_out():
    calm = [piece(110, -25), piece(112, -24), piece(108, -26), piece(111, -25)]
    own = vocal_arousal([*calm, piece(150, -15)], [2.0, 2.1, 1.9, 2.0, 3.2])[-1]

    short = vocal_arousal([piece(110, -25), piece(150, -15)], [2.0, 3.0])

    assert all(e is not None and e.reference == POPULATION for e in short)
    assert short[1] is not None
    assert short[0] is not None
    assert short[1].arousal > short[0].arousal
    assert own is not None
    assert own.reference == SPEAKER
    width = short[1].interval[1] - short[1].interval[0]
    assert width > own.interval[1] - own.interval[0]  # less known about this speaker
    assert short[1].interval[0] < short[1].arousal < short[1].interval[1]
    assert short[1].confidence < own.confidence


def test_loudness_is_read_against_the_recording_when_the_speaker_has_few_pieces():
    recording = [-30.0, -28.0, -26.0, -24.0, -22.0]  # everyone's pieces, one microphone

    loud, quiet = (
        vocal_arousal([piece(120, level)], [2.5], recording_intensities_db=recording)[0]
        for level in (-18.0, -32.0)
    )

    assert loud is not None
    assert quiet is not None
    assert loud.z_scores["intensity"] > 1.0 > -1.0 > quiet.z_scores["intensity"]
    assert loud.reference == POPULATION  # pitch and rate still came from the population
    assert loud.arousal > quiet.arousal


def test_under_two_seconds_of_speech_a_speaker_gets_no_arousal():
    brief = ProsodyFeatures(
        duration_s=0.8,
        voiced_fraction=0.8,
        f0_median_hz=120.0,
        f0_sd_semitones=2.0,
        intensity_db=-20.0,
        hnr_db=10.0,
    )
    assert vocal_arousal([brief, brief], [2.0, 2.0]) == [None, None]


@pytest.mark.slow
def test_aroused_speech_heard_once_reads_higher_than_calm_speech_from_the_same_voice():
    sentence = "I cannot believe they said that to me at the meeting today."
    calm = speak(sentence, words_per_minute=120, pitch=30, amplitude=60)
    aroused = speak(sentence, words_per_minute=210, pitch=80, amplitude=180)
    loudness = [prosody_features(calm).intensity_db, prosody_features(aroused).intensity_db]

    readings = [
        vocal_arousal(
            [prosody_features(samples)],
            [12 / (len(samples) / RATE_HZ)],
            recording_intensities_db=loudness,
        )[0]
        for samples in (calm, aroused)
    ]

    assert all(r is not None and r.reference == POPULATION for r in readings)
    assert readings[0] is not None
    assert readings[1] is not None
    assert readings[1].arousal > readings[0].arousal + 0.5


def _voiceprints(
    centre: np.ndarray, rng: np.random.Generator, n: int, spread: float = 0.04
) -> list[np.ndarray]:
    """n unit vectors scattered around `centre`, as one person's pieces in varied moods."""
    noisy = centre + rng.normal(0.0, spread, size=(n, centre.size))
    return list(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))


@pytest.mark.parametrize(("apart", "voices"), [(0.25, 1), (0.7, 2)])
def test_two_clusters_of_voiceprints_count_as_two_people_only_when_their_centres_lie_apart(
    apart: float, voices: int
):
    rng = np.random.default_rng(5)
    first = np.zeros(256)
    first[0] = 1.0
    second = np.zeros(256)
    second[0], second[1] = 1 - apart, np.sqrt(1 - (1 - apart) ** 2)  # cosine distance `apart`
    prints = _voiceprints(first, rng, 5, 0.06) + _voiceprints(second, rng, 5, 0.06)
    pieces = [
        VoicePiece(2.0 * i, 2.0 * i + 1.5, (-20.0,), (), 120.0, tuple(p))
        for i, p in enumerate(prints)
    ]

    result = assign_speakers(pieces)

    # the pieces alone lie further apart than the separation either way: their centres decide
    across = 1 - np.array(prints[:5]) @ np.array(prints[5:]).T
    assert across.mean() > SpeakerOptions().min_separation
    assert len(result.speakers) == voices


def _direction(*coordinates: float) -> np.ndarray:
    vector = np.zeros(256)
    vector[: len(coordinates)] = coordinates
    return vector / np.linalg.norm(vector)


def test_one_person_heard_in_two_moods_beside_another_person_is_one_speaker():
    # Voiceprints share a direction (the encoder's, the room's); each person adds their own,
    # and each mood of the first person its own: calm and raised lie 0.58 apart, further than
    # two voices need to be kept apart, but far closer than either lies to the other person.
    calm = _direction(0.5, 0.7, 0.0, 1.0, 0.0)
    raised = _direction(0.5, 0.7, 0.0, 0.0, 1.0)
    other = _direction(0.5, -1.0, 0.5, 0.0, 0.0)
    rng = np.random.default_rng(3)
    prints = _voiceprints(calm, rng, 4) + _voiceprints(other, rng, 4) + _voiceprints(raised, rng, 4)
    people = ["first"] * 4 + ["other"] * 4 + ["first"] * 4
    order = np.random.default_rng(1).permutation(len(prints))  # turns in no particular order
    pieces = [
        VoicePiece(2.0 * i, 2.0 * i + 1.5, (-20.0,), (), 120.0, tuple(prints[k]))
        for i, k in enumerate(order)
    ]
    assert SpeakerOptions().min_separation < 1 - calm @ raised < 1 - calm @ other

    centred = assign_speakers(pieces)
    not_centred = replace(SpeakerOptions(), centred=False, max_distance=0.35)
    uncentred = assign_speakers(pieces, options=not_centred)

    assert len(centred.speakers) == 2
    heard_as: dict[str, set[str]] = {}
    for k, speaker in zip(order, centred.piece_speakers, strict=True):
        heard_as.setdefault(speaker, set()).add(people[k])
    assert sorted(map(sorted, heard_as.values())) == [["first"], ["other"]]
    # clustered as the voiceprints were before they were centred: the moods are two people
    assert len(uncentred.speakers) == 3


def test_a_deployment_can_choose_the_lighter_speaker_encoder_and_nothing_else(monkeypatch):
    monkeypatch.delenv(VOICEPRINT_SETTING, raising=False)
    assert voiceprint_encoder().name == "campplus"
    assert voiceprint_encoder().options == SpeakerOptions()

    monkeypatch.setenv(VOICEPRINT_SETTING, "ge2e")
    assert voiceprint_encoder().name == "ge2e"
    assert voiceprint_encoder().options == GE2E_OPTIONS  # its voiceprints, its distances

    monkeypatch.setenv(VOICEPRINT_SETTING, "ecapa")
    with pytest.raises(ModelError, match="unknown speaker encoder 'ecapa'"):
        voiceprint_encoder()


@pytest.mark.slow
def test_the_chosen_encoder_gives_the_pieces_their_voiceprints_and_the_stage_its_fingerprint(
    monkeypatch, tmp_path
):
    speech = write_wav(tmp_path / "speech.wav", join(silence(0.3), speak(FIRST), silence(0.3)))
    voice_only = PipelineOptions(modalities=frozenset({Modality.VOICE}))
    monkeypatch.delenv(VOICEPRINT_SETTING, raising=False)
    campplus = describe_piece(speak(FIRST), 0.0, 2.0, measure_prosody=False)
    by_campplus = stage_fingerprints(speech, voice_only)
    monkeypatch.setenv(VOICEPRINT_SETTING, "ge2e")
    ge2e = describe_piece(speak(FIRST), 0.0, 2.0, measure_prosody=False)
    by_ge2e = stage_fingerprints(speech, voice_only)

    assert campplus is not None
    assert ge2e is not None
    assert len(campplus.piece.voiceprint) == 192
    assert len(ge2e.piece.voiceprint) == 256
    # speakers found with the other encoder are found again; nothing before the voice changes
    assert by_campplus["voice"] != by_ge2e["voice"]
    assert by_campplus["ingest"] == by_ge2e["ingest"]
