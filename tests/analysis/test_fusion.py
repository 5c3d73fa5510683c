"""Fusion onto the time grid, roles and scoring, key moments: over plain stage outputs."""

from __future__ import annotations

from dataclasses import replace

import jsonschema
import numpy as np
import pytest

from analysis.fusion import LINEAR, FusionOptions, build_timeline, fuse_emotions
from analysis.labels import EMOTIONS
from analysis.moments import find_moments
from analysis.stage_outputs import FaceOutput, TextLine, TextOutput, VoiceOutput
from analysis.text.transcribe import Utterance, Word
from analysis.timeline import Gap, validate_timeline

HAPPY = {label: (0.9 if label == "happy" else 0.1 / 6) for label in EMOTIONS}


def face_output(until_s: float, *, confidence: float = 0.8, arousal: float = 0.3) -> FaceOutput:
    """One face track, seen from 0 to `until_s`, looking happy, drifting right 10 px a second."""
    windows = [
        {
            "start_s": float(t),
            "end_s": float(t + 2),
            "probs": HAPPY,
            "valence": 0.6,
            "arousal": arousal,
            "confidence": confidence,
            "attention": [{"t_s": t + 0.4, "weight": 0.7}, {"t_s": t + 1.2, "weight": 0.3}],
        }
        for t in range(0, int(until_s), 2)
    ]
    times = [i / 5 for i in range(int(until_s * 5))]
    return FaceOutput.from_json(
        {
            "version": FaceOutput.VERSION,
            "sample_fps": 5.0,
            "duration_s": until_s,
            "no_face": False,
            "tracks": [
                {
                    "track_id": 0,
                    "times_s": times,
                    "boxes": [[40 + 10 * t, 30, 140 + 10 * t, 150] for t in times],
                    "landmarks": [],
                    "det_scores": [],
                    "frame_probs": [],
                    "mouth_motion": [0.0] * len(times),
                    "windows": windows,
                }
            ],
            "models": [],
            "labels": list(EMOTIONS),
        }
    )


def prosody(f0: float, intensity: float) -> dict:
    return {
        "duration_s": 1.5,
        "voiced_fraction": 0.8,
        "f0_median_hz": f0,
        "f0_sd_semitones": 2.0,
        "intensity_db": intensity,
        "hnr_db": 10.0,
    }


def voice_output() -> VoiceOutput:
    """Client S1 speaks calmly three times, then loudly at 6-7.5 s; clinician S2 at 8-9.5 s."""
    pieces = [
        {"start_s": 0.0, "end_s": 1.5, "speaker": "S1", "prosody": prosody(110, -25)},
        {"start_s": 2.0, "end_s": 3.5, "speaker": "S1", "prosody": prosody(112, -26)},
        {"start_s": 4.0, "end_s": 5.5, "speaker": "S1", "prosody": prosody(108, -25)},
        {"start_s": 6.0, "end_s": 7.5, "speaker": "S1", "prosody": prosody(150, -14)},
        {"start_s": 8.0, "end_s": 9.5, "speaker": "S2", "prosody": prosody(200, -20)},
    ]
    return VoiceOutput.from_json(
        {
            "version": VoiceOutput.VERSION,
            "method": "channels",
            "details": {},
            "prosody": True,
            "speakers": [
                {"id": "S1", "role": "client", "role_source": "guessed", "talk_time_s": 6.0},
                {"id": "S2", "role": "clinician", "role_source": "guessed", "talk_time_s": 1.5},
            ],
            "pieces": [{**p, "channel_db": [-20.0]} for p in pieces],
            "models": [],
        }
    )


DEFAULT_FUSION = FusionOptions()


def timeline(face=None, voice=None, *, options=DEFAULT_FUSION, gaps=(), duration_s=10.0, text=None):
    return build_timeline(
        duration_s=duration_s,
        source={"file_name": "session.mp4", "has_video": True, "has_audio": True},
        options=options,
        face=face,
        voice=voice,
        text=text,
        session_gaps=list(gaps),
        models=[{"name": "m", "version": "1", "sha256": "0" * 64, "licence": "MIT"}],
    )


def test_a_missing_face_drops_out_instead_of_counting_as_neutral():
    document = timeline(face=face_output(until_s=4.0))

    validate_timeline(document)
    first, _, third = document["windows"][:3]
    assert first["valence"] == pytest.approx(0.6)
    assert first["dominant"] == "happy"
    assert set(first["modalities"]) == {"face"}
    assert first["modalities"]["face"]["weight"] == 1.0
    assert third["valence"] is None
    assert third["emotions"] is None
    assert third["confidence"] == 0.0
    assert {"modality": "face", "reason": "no_face"} in third["gaps"]


def test_every_window_names_the_face_frames_it_was_read_from_and_where_the_face_was():
    document = timeline(face=face_output(until_s=6.0))

    validate_timeline(document)
    frames = [w["modalities"]["face"]["frames"] for w in document["windows"][:3]]
    # each window's own attended frames, the one weighed most first, with the face's box then
    assert frames[1] == [
        {"track_id": "0", "t_s": 2.4, "weight": 0.7, "box": [64.0, 30.0, 164.0, 150.0]},
        {"track_id": "0", "t_s": 3.2, "weight": 0.3, "box": [72.0, 30.0, 172.0, 150.0]},
    ]
    assert [f["t_s"] for f in frames[2]] == [4.4, 5.2]
    # a window with no face has no frames to show
    assert "face" not in document["windows"][3]["modalities"]


def test_modalities_are_weighted_by_their_confidence():
    document = timeline(face=face_output(until_s=10.0, arousal=-0.2), voice=voice_output())

    window = document["windows"][3]  # 6-8 s: the client's loud piece
    face, voice = window["modalities"]["face"], window["modalities"]["voice"]
    assert voice["arousal"] > 0.5
    assert voice["source"] == "prosody-derived"
    assert voice["valence"] is None
    assert voice["emotions"] is None
    expected = (face["confidence"] * face["arousal"] + voice["confidence"] * voice["arousal"]) / (
        face["confidence"] + voice["confidence"]
    )
    assert window["arousal"] == pytest.approx(expected, abs=1e-3)
    assert face["arousal"] < window["arousal"] < voice["arousal"]
    assert window["valence"] == pytest.approx(0.6)  # voice says nothing about valence
    assert face["weight"] + voice["weight"] == pytest.approx(1.0, abs=1e-3)


def test_only_the_client_is_scored_and_the_clinician_leaves_an_explicit_gap():
    document = timeline(voice=voice_output())

    assert {s["speaker"] for s in document["voice_segments"]} == {"S1"}
    clinician_window = document["windows"][4]  # 8-10 s: only the clinician speaks
    assert "voice" not in clinician_window["modalities"]
    assert {"modality": "voice", "reason": "not_scored_role"} in clinician_window["gaps"]


def test_a_role_set_by_the_clinician_replaces_the_guess():
    options = FusionOptions(role_overrides=(("speaker:S2", "client"), ("speaker:S1", "clinician")))

    document = timeline(voice=voice_output(), options=options)

    roles = {s["id"]: (s["role"], s["role_source"]) for s in document["speakers"]}
    assert roles == {"S1": ("clinician", "clinician"), "S2": ("client", "clinician")}
    assert {s["speaker"] for s in document["voice_segments"]} == {"S2"}


def test_a_face_without_a_linked_voice_is_guessed_to_be_the_client():
    document = timeline(face=face_output(until_s=10.0))

    (track,) = document["face_tracks"]
    assert (track["role"], track["role_source"], track["frames"]) == ("client", "guessed", 50)


def test_no_consent_for_a_modality_is_a_gap_for_the_whole_session():
    gaps = [Gap("face", "no_consent", 0.0, 10.0), Gap("text", "no_consent", 0.0, 10.0)]

    document = timeline(voice=voice_output(), gaps=gaps)

    validate_timeline(document)
    assert document["gaps"][0] == {
        "modality": "face",
        "reason": "no_consent",
        "start_s": 0.0,
        "end_s": 10.0,
    }
    assert all(
        {"modality": "face", "reason": "no_consent"} in w["gaps"] for w in document["windows"]
    )


def window(i: int, valence: float, confidence: float = 0.8) -> dict:
    return {
        "start_s": 2.0 * i,
        "end_s": 2.0 * i + 2,
        "valence": valence,
        "arousal": 0.0,
        "confidence": confidence,
        "modalities": {"face": {"weight": 1.0}},
    }


def test_a_sustained_drop_in_valence_is_a_shift_moment_with_its_evidence():
    windows = [window(i, 0.4 if i < 10 else -0.3) for i in range(20)]
    transcript = [
        {
            "scored": True,
            "speaker": "S1",
            "words": [{"start_s": 19.5, "end_s": 19.9, "text": "lost"}],
        }
    ]

    moments = find_moments(
        windows, face=face_output(until_s=40.0), transcript=transcript, scored_tracks={"0"}
    )

    (shift,) = [m for m in moments if m["kind"] == "shift"]
    assert shift["dimension"] == "valence"
    assert shift["t_s"] == 20.0
    assert shift["delta"] == pytest.approx(-0.7)
    assert shift["evidence"]["words"] == [{"t_s": 19.5, "text": "lost", "speaker": "S1"}]
    assert shift["evidence"]["frames"][0] == {
        "track_id": "0",
        "t_s": 18.4,
        "weight": 0.7,
        "box": [224.0, 30.0, 324.0, 150.0],  # where the face was at 18.4 s
    }
    assert not [m for m in moments if m["kind"] == "peak"]


def test_a_brief_spike_is_a_peak_and_uncertain_windows_are_ignored():
    windows = [window(i, 0.05 * (i % 2)) for i in range(20)]
    windows[7] = window(7, -0.8)
    windows[15] = window(15, 0.9, confidence=0.05)  # too uncertain to be a moment

    moments = find_moments(windows, face=None, transcript=[], scored_tracks=set())

    assert [(m["kind"], m["t_s"], m["value"]) for m in moments] == [("peak", 15.0, -0.8)]


def test_the_schema_rejects_a_value_off_the_scale():
    document = timeline(face=face_output(until_s=10.0))
    document["windows"][0]["valence"] = 1.5

    with pytest.raises(jsonschema.ValidationError):
        validate_timeline(document)


def test_without_consent_for_the_voice_every_window_says_so_even_while_the_client_speaks():
    heard = voice_output()
    voice = replace(
        heard, prosody=False, pieces=tuple(replace(p, prosody=None) for p in heard.pieces)
    )

    document = timeline(voice=voice, gaps=[Gap("voice", "no_consent", 0.0, 10.0)])

    assert document["voice_segments"] == []
    assert all(
        {"modality": "voice", "reason": "no_consent"} in w["gaps"] for w in document["windows"]
    )


def scored_line(
    text: str,
    speaker: str,
    start_s: float,
    end_s: float,
    valence: float,
    *,
    affect: float = 0.6,
    emotions: dict[str, float] = HAPPY,
) -> TextLine:
    words = text.split()
    step = (end_s - start_s) / len(words)
    return TextLine(
        utterance=Utterance(
            start_s,
            end_s,
            text,
            tuple(
                Word(start_s + i * step, start_s + (i + 1) * step, w, 0.9)
                for i, w in enumerate(words)
            ),
        ),
        speaker=speaker,
        sentiment={"compound": valence, "label": "positive", "source": "vader", "affect": affect},
        emotions=emotions,
        valence=valence,
        arousal=0.2,
    )


def test_fusion_keeps_the_text_scores_of_scored_roles_only_and_runs_no_text_model(monkeypatch):
    def refuse(texts):
        raise AssertionError("fusion must not run the text models")

    monkeypatch.setattr("analysis.text.emotion.embed", refuse)
    text = TextOutput(
        valence_source="blend",
        lines=(
            scored_line("I feel fine.", "S1", 6.1, 7.4, 0.5),
            scored_line("How so?", "S2", 8.0, 8.9, 0.1),
        ),
    )

    lines = timeline(voice=voice_output(), text=text)["transcript"]

    assert [(line["text"], line["role"], line["scored"]) for line in lines] == [
        ("I feel fine.", "client", True),
        ("How so?", "clinician", False),
    ]
    assert (lines[0]["valence"], lines[0]["emotions"]) == (0.5, HAPPY)
    assert lines[1]["valence"] is None
    assert lines[1]["sentiment"] is None


def test_a_speaker_with_fewer_than_three_pieces_still_gets_an_arousal_for_each():
    heard = voice_output()
    brief = replace(
        heard,
        pieces=heard.pieces[:2],  # the client's first two pieces: 3 s of speech
        speakers=heard.speakers[:1],
    )

    segments = timeline(voice=brief)["voice_segments"]

    assert len(segments) == 2
    for segment in segments:
        arousal = segment["arousal"]
        assert arousal is not None  # before, fewer than three pieces read as no arousal at all
        assert arousal["reference"] == "population"
        assert arousal["interval"][0] < arousal["value"] < arousal["interval"][1]


ANGRY = {label: (0.8 if label == "angry" else 0.2 / 6) for label in EMOTIONS}


def test_a_voice_read_by_the_speech_emotion_head_adds_its_emotions_to_the_window():
    heard = voice_output()
    with_emotions = replace(
        heard,
        pieces=tuple(
            replace(p, emotions=ANGRY if p.start_s == 6.0 else None) for p in heard.pieces
        ),
    )

    document = timeline(voice=with_emotions)

    loud = document["windows"][3]  # 6-8 s: the client's loud piece, read as angry
    assert loud["modalities"]["voice"]["emotions"]["angry"] == pytest.approx(0.8, abs=1e-3)
    assert loud["dominant"] == "angry"  # no face, no words: before, an arousal and no emotion
    segment = next(s for s in document["voice_segments"] if s["start_s"] == 6.0)
    assert segment["emotions"]["confidence"] == pytest.approx(0.4)  # 0.5 x its top probability
    assert segment["arousal"] is not None
    quiet = document["windows"][0]
    assert quiet["modalities"]["voice"]["emotions"] is None


NEUTRAL_WORDS = np.array([0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.88])


def _leaning(label: str, share: float) -> np.ndarray:
    """A reading that gives `label` `share` and spreads the rest evenly."""
    return np.array([share if e == label else (1 - share) / 6 for e in EMOTIONS])


def test_a_flat_sentence_no_longer_outvotes_a_clear_face():
    happy = np.array([HAPPY[label] for label in EMOTIONS])
    readings = {"face": (happy, 0.3), "text": (NEUTRAL_WORDS, 0.5)}

    as_a_weighted_mean = fuse_emotions(readings, {}, pool=LINEAR)  # how fusion read it before
    pooled = fuse_emotions(readings, {})

    assert as_a_weighted_mean is not None
    assert pooled is not None
    assert EMOTIONS[int(as_a_weighted_mean.argmax())] == "neutral"
    assert EMOTIONS[int(pooled.argmax())] == "happy"
    assert pooled.sum() == pytest.approx(1.0)
    assert fuse_emotions({"face": (None, 0.9)}, {}) is None
    sharper = fuse_emotions(readings, {}, temperature=0.65)
    assert sharper is not None
    assert sharper.argmax() == pooled.argmax()  # a temperature changes confidence, not choice
    assert sharper.max() > pooled.max()
    assert sharper.sum() == pytest.approx(1.0)


def test_channels_that_agree_strengthen_each_other_and_one_found_unreliable_weighs_less():
    face, voice = (_leaning("sad", 0.5), 0.8), (_leaning("sad", 0.5), 0.8)

    alone = fuse_emotions({"face": face}, {})
    together = fuse_emotions({"face": face, "voice": voice}, {})
    averaged = fuse_emotions({"face": face, "voice": voice}, {}, pool=LINEAR)

    assert alone is not None
    assert together is not None
    assert averaged is not None
    sad = EMOTIONS.index("sad")
    assert together[sad] > alone[sad]  # two witnesses of the same thing
    assert averaged[sad] == pytest.approx(0.5)  # a mean of two halves stays a half
    # A voice that disagrees moves the reading less once it is found less reliable.
    angry_voice = (_leaning("angry", 0.6), 0.8)
    trusted = fuse_emotions({"face": face, "voice": angry_voice}, {"voice": 1.0})
    doubted = fuse_emotions({"face": face, "voice": angry_voice}, {"voice": 0.25})
    assert trusted is not None
    assert doubted is not None
    assert EMOTIONS[int(trusted.argmax())] == "angry"
    assert EMOTIONS[int(doubted.argmax())] == "sad"


def test_plain_words_give_the_window_their_valence_but_leave_its_emotions_to_the_face():
    """A sentence with no affect words (VADER) tells nothing about how its speaker feels: its
    emotions weigh nothing beside the face's, whatever the words model makes of it."""
    sad = {label: (0.55 if label == "sad" else 0.45 / 6) for label in EMOTIONS}
    face = face_output(10.0, confidence=0.3)
    face = replace(
        face,
        tracks=tuple(
            replace(t, windows=tuple(replace(w, probs=sad) for w in t.windows)) for t in face.tracks
        ),
    )
    angry_reading = {label: (0.6 if label == "angry" else 0.4 / 6) for label in EMOTIONS}

    def window(affect: float) -> dict:
        line = scored_line(
            "Kids are talking by the door.",
            "S1",
            6.1,
            7.9,
            0.0,
            affect=affect,
            emotions=angry_reading,
        )
        document = timeline(face, voice_output(), text=TextOutput("blend", (line,)))
        return document["windows"][3]  # 6-8 s

    plain, felt = window(0.0), window(0.8)

    assert plain["modalities"]["text"]["emotions_confidence"] == 0.0
    assert plain["modalities"]["text"]["valence"] == 0.0  # its valence still counts
    assert plain["dominant"] == "sad"
    assert felt["modalities"]["text"]["emotions_confidence"] > 0.3
    assert felt["dominant"] == "angry"
