"""The face stage on generated recordings: who is on screen, and what their faces show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import Cancelled, ErrorCode, MediaError
from analysis.face.stage import FaceOptions, run_face_stage
from analysis.labels import EMOTIONS
from analysis.stage_outputs import FaceOutput
from tests.analysis import face_factory as faces
from tests.analysis import media_factory as make

pytestmark = pytest.mark.slow

CLIP_S = 6.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("face_stage")


@pytest.fixture(scope="module")
def two_people(clips: Path) -> Path:
    """The astronaut drifts right on the left; an LFW face drifts left on the right."""
    return make.write_clip(
        clips / "two_people.mp4",
        duration_s=CLIP_S,
        size=(640, 360),
        faces=[
            make.MovingFace(faces.astronaut_head(110), (40, 100), (200, 130)),
            make.MovingFace(faces.lfw_rgb(3, size_px=110), (480, 150), (380, 120)),
        ],
        audio=make.tone(CLIP_S),
    )


@pytest.fixture(scope="module")
def two_people_result(two_people: Path) -> FaceOutput:
    return run_face_stage(two_people, FaceOptions())


def test_two_people_keep_two_stable_track_ids(two_people_result: FaceOutput) -> None:
    result = two_people_result
    expected_frames = CLIP_S * result.sample_fps

    assert not result.no_face
    assert [t.track_id for t in result.tracks] == [0, 1]
    for track in result.tracks:
        assert len(track.times_s) == expected_frames  # followed in every sampled frame
        assert np.all(np.diff(track.times_s) > 0)
        centres_x = [(b[0] + b[2]) / 2 for b in track.boxes]
        assert np.abs(np.diff(centres_x)).max() < 20  # never jumps to the other person
    left_starts = [t.boxes[0][0] < 320 for t in result.tracks]
    assert sorted(left_starts) == [False, True]


def test_the_astronaut_reads_happy_window_after_window(two_people_result: FaceOutput) -> None:
    astronaut = next(t for t in two_people_result.tracks if t.boxes[0][0] < 320)

    assert len(astronaut.windows) == CLIP_S / FaceOptions().window_s
    for window in astronaut.windows:
        assert max(window.probs, key=lambda label: window.probs[label]) == "happy"
        assert window.valence > 0.3
        assert 0.5 < window.confidence <= 1.0
        assert sum(window.probs.values()) == pytest.approx(1.0, abs=1e-3)
        assert len(window.attention) == FaceOptions().attention_top_k
        assert all(window.start_s <= a.t_s < window.end_s for a in window.attention)


def test_every_frame_carries_box_landmarks_score_probs_and_mouth_motion(
    two_people_result: FaceOutput,
) -> None:
    for track in two_people_result.tracks:
        n = len(track.times_s)
        assert len(track.boxes) == len(track.landmarks) == len(track.det_scores) == n
        assert len(track.frame_probs) == len(track.mouth_motion) == n
        assert all(len(p) == len(EMOTIONS) for p in track.frame_probs)
        assert all(len(points) == 5 for points in track.landmarks)
        assert min(track.det_scores) > 0.7
        assert track.mouth_motion[0] == 0.0
        assert all(0.0 <= m <= 1.0 for m in track.mouth_motion)


def test_the_result_round_trips_through_json(two_people_result: FaceOutput) -> None:
    text = json.dumps(two_people_result.to_json())
    assert FaceOutput.from_json(json.loads(text)) == two_people_result
    names = {m["name"] for m in two_people_result.models}
    assert {"mtcnn-pnet", "ferplus-expression-cnn", "face-temporal-head-v2"} <= names


def test_a_room_without_faces_is_an_explicit_no_face_result(clips: Path) -> None:
    progress: list[float] = []
    result = run_face_stage(
        make.write_no_face_clip(clips / "empty_room.mp4"), FaceOptions(), progress=progress.append
    )

    assert result.no_face
    assert result.tracks == ()
    assert result.duration_s == pytest.approx(2.0, abs=0.1)
    assert progress[-1] == 1.0
    assert progress == sorted(progress)


def test_a_voice_memo_has_no_video_to_analyse(clips: Path) -> None:
    with pytest.raises(MediaError) as refused:
        run_face_stage(make.write_audio_only(clips / "memo.m4a"), FaceOptions())
    assert refused.value.code == ErrorCode.NO_VIDEO_STREAM


def test_the_stage_stops_when_asked(two_people: Path) -> None:
    with pytest.raises(Cancelled):
        run_face_stage(two_people, FaceOptions(batch_size=4), should_cancel=lambda: True)
