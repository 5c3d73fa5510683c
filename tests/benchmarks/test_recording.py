"""Long recordings for the benchmarks made by repeating a short one: the repeat plays through,
picture and sound, as one recording of about the summed length (copies meet on the video's
frame grid, after the few frames H.264 decodes ahead of the first)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.media import iter_audio, iter_video_frames, probe
from benchmarks._recording import repeat_recording
from tests.analysis.media_factory import tone, write_clip


def test_a_recording_repeated_three_times_plays_three_times_as_long(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "two_seconds.mp4", duration_s=2.0, audio=tone(2.0))

    long = repeat_recording(clip, tmp_path / "six_seconds.mp4", 3)

    info = probe(long)
    assert info.has_video
    assert info.has_audio
    assert abs(info.duration_s - 3 * probe(clip).duration_s) < 0.3
    times = np.array([frame.t_s for frame in iter_video_frames(long, sample_fps=5.0)])
    assert 30 <= len(times) <= 32
    assert np.all(np.diff(times) > 0)  # each sampled frame once, in order
    assert np.diff(times).max() < 0.35  # where one copy meets the next, at most a frame or two
    assert abs(_audio_s(long) - 3 * _audio_s(clip)) < 0.05  # every copy's sound, whole


def _audio_s(path: Path) -> float:
    return sum(len(chunk.samples) for chunk in iter_audio(path, chunk_s=1.0)) / 16000
