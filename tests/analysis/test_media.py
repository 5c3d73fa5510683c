"""Media ingest: clinicians upload all sorts of files; each is read or refused with a clear code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.errors import ErrorCode, MediaError
from analysis.media import (
    iter_audio,
    iter_video_frames,
    probe,
    read_audio,
    require_audio,
    require_video,
)
from tests.analysis import media_factory as make


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def session_clip(media_dir: Path) -> Path:
    """Three seconds of 320x240 / 25 fps video with a 220 Hz tone as its sound."""
    return make.write_clip(media_dir / "session.mp4", duration_s=3.0, audio=make.tone(3.0))


def test_probe_describes_a_recording(session_clip: Path) -> None:
    info = probe(session_clip)

    assert info.has_video
    assert info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert (info.width, info.height, info.fps) == (320, 240, 25.0)
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"
    assert info.audio_channels == 1
    assert info.audio_sample_rate == make.AUDIO_RATE_HZ
    assert info.rotation_deg == 0
    assert info.size_bytes == session_clip.stat().st_size
    assert "mp4" in info.container
    assert [s.kind for s in info.streams] == ["video", "audio"]
    require_video(info)
    require_audio(info)


def test_frames_are_sampled_evenly_in_time(session_clip: Path) -> None:
    frames = list(iter_video_frames(session_clip, sample_fps=5.0))

    assert len(frames) == 15
    assert [f.index for f in frames] == list(range(15))
    assert np.allclose(np.diff([f.t_s for f in frames]), 0.2, atol=1e-6)
    assert frames[0].rgb.shape == (240, 320, 3)
    assert frames[0].rgb.dtype == np.uint8


def test_frames_can_be_downscaled_while_decoding(session_clip: Path) -> None:
    first = next(iter_video_frames(session_clip, sample_fps=1.0, max_side_px=160))
    assert first.rgb.shape == (120, 160, 3)


def test_sampling_faster_than_the_source_keeps_every_frame(session_clip: Path) -> None:
    frames = list(iter_video_frames(session_clip, sample_fps=100.0))
    assert len(frames) == 75


def test_phone_recordings_are_turned_upright(media_dir: Path) -> None:
    # A portrait phone clip is stored landscape with a "rotate 90° clockwise" display matrix.
    clip = make.write_clip(media_dir / "portrait.mp4", duration_s=0.5, rotation_deg=-90)

    info = probe(clip)
    frame = next(iter_video_frames(clip, sample_fps=5.0))

    assert info.rotation_deg == 270
    assert (info.width, info.height) == (240, 320)
    assert frame.rgb.shape == (320, 240, 3)
    # The backdrop's darker desk (bottom of the stored image) ends up on the left.
    left, right = frame.rgb[:, :20].mean(), frame.rgb[:, -20:].mean()
    assert left < right


def test_audio_is_mono_float32_at_16_khz(session_clip: Path) -> None:
    samples = read_audio(session_clip)

    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert len(samples) == pytest.approx(3 * 16000, abs=1600)
    spectrum = np.abs(np.fft.rfft(samples[8000:24000]))
    assert np.fft.rfftfreq(16000, 1 / 16000)[spectrum.argmax()] == pytest.approx(220, abs=2)


def test_audio_streams_in_chunks_on_one_clock(media_dir: Path) -> None:
    rate = 16000
    stereo = np.stack([make.tone(5.0, 300, rate), make.tone(5.0, 500, rate)], axis=1)
    wav = make.write_wav(media_dir / "stereo.wav", stereo, rate_hz=rate)

    chunks = list(iter_audio(wav, chunk_s=2.0, keep_channels=True))

    assert [c.start_s for c in chunks] == [0.0, 2.0, 4.0]
    assert [c.samples.shape for c in chunks] == [(2, 32000), (2, 32000), (2, 16000)]
    mono = np.concatenate([c.samples for c in iter_audio(wav, chunk_s=2.0)])
    assert mono.shape == (80000,)
    assert np.allclose(mono, stereo.mean(axis=1), atol=2e-3)


def test_audio_is_resampled_to_the_rate_asked_for(media_dir: Path) -> None:
    wav = make.write_wav(media_dir / "tone8k.wav", make.tone(1.0, 440, 8000), rate_hz=8000)
    assert read_audio(wav, sample_rate=22050).shape == pytest.approx((22050,), abs=64)


def test_a_recording_without_sound_is_refused_for_audio(media_dir: Path) -> None:
    clip = make.write_no_audio_clip(media_dir / "silent.mp4")
    info = probe(clip)

    assert info.has_video
    assert not info.has_audio
    with pytest.raises(MediaError) as refused:
        require_audio(info)
    assert refused.value.code == ErrorCode.NO_AUDIO_STREAM
    with pytest.raises(MediaError) as streamed:
        next(iter_audio(clip))
    assert streamed.value.code == ErrorCode.NO_AUDIO_STREAM


def test_a_voice_memo_is_refused_for_video(media_dir: Path) -> None:
    memo = make.write_audio_only(media_dir / "memo.m4a")
    info = probe(memo)

    assert info.has_audio
    assert not info.has_video
    assert info.width is None
    with pytest.raises(MediaError) as refused:
        require_video(info)
    assert refused.value.code == ErrorCode.NO_VIDEO_STREAM
    with pytest.raises(MediaError) as streamed:
        next(iter_video_frames(memo, sample_fps=5.0))
    assert streamed.value.code == ErrorCode.NO_VIDEO_STREAM


def _code_of(path: Path) -> ErrorCode:
    with pytest.raises(MediaError) as raised:
        probe(path)
    return raised.value.code


def test_a_text_file_named_mp4_is_not_media(media_dir: Path) -> None:
    assert _code_of(make.write_text_as_mp4(media_dir / "notes.mp4")) == ErrorCode.NOT_MEDIA


def test_a_missing_file_is_not_media(media_dir: Path) -> None:
    assert _code_of(media_dir / "never-uploaded.mp4") == ErrorCode.NOT_MEDIA


def test_an_mp4_that_lost_its_index_is_corrupt(media_dir: Path) -> None:
    damaged = make.write_damaged_header(media_dir / "damaged.mp4")
    assert _code_of(damaged) == ErrorCode.CORRUPT_MEDIA


def test_a_truncated_upload_is_corrupt_when_decoded(media_dir: Path) -> None:
    truncated = make.write_truncated(media_dir / "truncated.mp4")
    info = probe(truncated)  # the index survived, so probing alone cannot tell
    assert info.duration_s == pytest.approx(4.0, abs=0.1)

    with pytest.raises(MediaError) as video:
        for _ in iter_video_frames(truncated, sample_fps=5.0):
            pass
    assert video.value.code == ErrorCode.CORRUPT_MEDIA
    with pytest.raises(MediaError) as audio:
        read_audio(truncated)
    assert audio.value.code == ErrorCode.CORRUPT_MEDIA


def test_a_recording_with_no_samples_has_zero_duration(media_dir: Path) -> None:
    assert _code_of(make.write_zero_duration(media_dir / "aborted.wav")) == ErrorCode.ZERO_DURATION


def test_an_unknown_codec_is_unsupported(media_dir: Path) -> None:
    exotic = make.write_unsupported_codec(media_dir / "capture.avi")
    assert _code_of(exotic) == ErrorCode.UNSUPPORTED_CODEC
    with pytest.raises(MediaError) as streamed:
        next(iter_video_frames(exotic, sample_fps=5.0))
    assert streamed.value.code == ErrorCode.UNSUPPORTED_CODEC
