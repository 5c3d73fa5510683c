"""Long session-like recordings for the benchmarks, written as a stream (never whole in memory).

720p at 25 fps, H.264 at a low rate (a mostly static office backdrop with the scikit-image
astronaut's face drifting slowly, as a seated client does), with AAC speech: espeak-ng sentences
in two voices at varied speeds, separated by pauses of varied length. Whisper falls back to
sampling on exactly repeated audio, so no two consecutive turns repeat and sentence order,
voice, speed and pause are drawn from a seeded generator: the same minutes give the same file.
"""

from __future__ import annotations

import math
import random
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

AUDIO_RATE_HZ = 16000
AUDIO_CHUNK_SAMPLES = 1024  # AAC frame size
VOICES = ("en-us+m3", "en-us+f4")  # client, clinician
SPEEDS_WPM = (135, 150, 165)
SENTENCES = (
    "I have been sleeping badly since the move, waking at four most nights.",
    "Work has been calmer this week, I managed to say no to one extra project.",
    "When my sister called on Sunday I felt relieved and a little guilty.",
    "What do you notice in your body when that thought comes back?",
    "My chest gets tight and I start planning every conversation in advance.",
    "We talked about the walk you took on Thursday. How was it?",
    "It helped more than I expected, the park was quiet and cold.",
    "I keep thinking they will find out that I cannot really do the job.",
    "That sounds exhausting. Where did you first learn to expect that?",
    "Probably at school, my father checked every mark I brought home.",
    "I laughed at dinner for the first time in weeks, it surprised me.",
    "The train was late again and I was furious for the whole morning.",
    "Let us keep the breathing exercise in the plan for next week.",
    "I tried it twice on the bus and it worked the second time.",
    "Some days I do not want to get out of bed at all.",
    "My manager said the first month is hard for everyone.",
    "I am looking forward to seeing my friends at the weekend.",
    "Can you tell me more about what happened after the meeting?",
    "I went quiet, then I cried in the car before driving home.",
    "Honestly I think I am doing a bit better than last month.",
)


@dataclass(frozen=True)
class RecordingSpec:
    minutes: float  # length of the recording
    width: int = 1280
    height: int = 720
    fps: int = 25
    crf: int = 35  # high constant rate factor: a low bitrate, like a consultation-room camera
    seed: int = 7


@cache
def spoken(sentence: str, voice: str, words_per_minute: int) -> np.ndarray:
    """`sentence` spoken by espeak-ng as 16 kHz mono float32."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), sentence],
            check=True,
            capture_output=True,
        )
        samples, rate = sf.read(wav, dtype="float32")
    return (0.8 * resample_poly(samples, AUDIO_RATE_HZ, rate)).astype(np.float32)


def speech_turns(seed: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Endless (sentence, its speech, the pause after it): pauses of 0.4-3 s, never the same
    sentence twice in a row."""
    rng = random.Random(seed)
    previous = -1
    while True:
        index = rng.randrange(len(SENTENCES))
        if index == previous:
            index = (index + 1) % len(SENTENCES)
        previous = index
        speech = spoken(SENTENCES[index], rng.choice(VOICES), rng.choice(SPEEDS_WPM))
        pause = np.zeros(round(rng.uniform(0.4, 3.0) * AUDIO_RATE_HZ), dtype=np.float32)
        yield SENTENCES[index], speech, pause


def speech_stream(seed: int) -> Iterator[np.ndarray]:
    """Endless turns of speech and pauses, in pieces of any length."""
    for _sentence, speech, pause in speech_turns(seed):
        yield speech
        yield pause


def session_speech(minutes: float, seed: int) -> tuple[np.ndarray, str]:
    """Whole turns of speech and pauses, at least `minutes` long, and the text spoken."""
    parts: list[np.ndarray] = []
    said: list[str] = []
    total = 0
    for sentence, speech, pause in speech_turns(seed):
        if total >= minutes * 60 * AUDIO_RATE_HZ:
            break
        parts += [speech, pause]
        said.append(sentence)
        total += len(speech) + len(pause)
    return np.concatenate(parts), " ".join(said)


def _backdrop(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack(
        [90 + 60 * xs / width, 100 + 40 * ys / height, 120 + 30 * (xs + ys) / (width + height)],
        axis=-1,
    )
    rgb[height // 10 : height // 3, width // 20 : width // 6] = (180, 170, 150)  # a picture
    rgb[int(height * 0.75) :, :] *= 0.6  # a desk
    return rgb.clip(0, 255).astype(np.uint8)


def _face(height_px: int) -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    head = data.astronaut()[10:230, 150:330]  # the astronaut's head and shoulders
    width_px = round(head.shape[1] * height_px / head.shape[0])
    scaled = resize(head, (height_px, width_px), anti_aliasing=True, preserve_range=True)
    return np.asarray(scaled.round(), dtype=np.uint8)


def write_recording(path: Path, spec: RecordingSpec) -> Path:
    """Encode `spec.minutes` of session-like video with speech to `path` (MP4)."""
    backdrop = _backdrop(spec.width, spec.height)
    face = _face(spec.height // 3)
    face_h, face_w = face.shape[:2]
    n_frames = round(spec.minutes * 60 * spec.fps)
    speech = speech_stream(spec.seed)
    pending = np.zeros(0, dtype=np.float32)
    audio_written = 0
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(
            "libx264", rate=spec.fps, options={"crf": str(spec.crf), "preset": "ultrafast"}
        )
        video.width, video.height = spec.width, spec.height
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=AUDIO_RATE_HZ)
        audio.layout = "mono"
        for i in range(n_frames):
            t_s = i / spec.fps
            # a slow sway, as someone seated in a chair
            x = round(spec.width / 2 - face_w / 2 + 60 * math.sin(t_s / 7))
            y = round(spec.height / 3 - face_h / 2 + 15 * math.sin(t_s / 3))
            frame = backdrop.copy()
            frame[y : y + face_h, x : x + face_w] = face
            container.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            # audio interleaved with video, up to the end of this frame
            wanted = round((i + 1) / spec.fps * AUDIO_RATE_HZ)
            while len(pending) < wanted - audio_written:
                pending = np.concatenate([pending, next(speech)])
            take = wanted - audio_written
            if take >= AUDIO_CHUNK_SAMPLES or i == n_frames - 1:
                piece = np.ascontiguousarray(pending[:take]).reshape(1, -1)
                pending = pending[take:]
                audio_frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
                audio_frame.sample_rate = AUDIO_RATE_HZ
                audio_frame.pts = audio_written
                container.mux(audio.encode(audio_frame))
                audio_written += take
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return path


def repeat_recording(source: Path, target: Path, times: int) -> Path:
    """`source` played `times` times in a row, its packets copied rather than encoded again: a
    four-hour recording in seconds, where drawing and encoding one takes most of an hour. Every
    stream is shifted by the same span, so sound and picture stay together."""
    with av.open(str(source)) as container:
        # Over every stream, decoding times too: B-frames are decoded before zero, and the next
        # copy's may not be decoded before this copy's last.
        start_s, end_s = 0.0, 0.0
        for packet in container.demux():
            if packet.pts is None or packet.dts is None or packet.time_base is None:
                continue
            start_s = min(start_s, float(packet.pts * packet.time_base))
            start_s = min(start_s, float(packet.dts * packet.time_base))
            for time in (packet.pts, packet.dts):
                end_s = max(end_s, float((time + (packet.duration or 0)) * packet.time_base))
        rate = container.streams.video[0].average_rate if container.streams.video else None
    # whole video frames, so every copy's frames fall on the first copy's grid of times
    frame_s = 1 / float(rate) if rate else 1e-3
    span_s = math.ceil((end_s - start_s) / frame_s - 1e-6) * frame_s
    with av.open(str(target), mode="w") as output:
        streams: dict[int, Any] = {}
        for turn in range(times):
            with av.open(str(source)) as container:
                for stream in container.streams:
                    if stream.index not in streams:
                        streams[stream.index] = output.add_stream_from_template(stream)
                for packet in container.demux():
                    if packet.dts is None or packet.time_base is None:
                        continue  # a demuxer's empty end-of-stream packet
                    shift = round(turn * span_s / packet.time_base)
                    packet.pts = None if packet.pts is None else packet.pts + shift
                    packet.dts += shift
                    packet.stream = streams[packet.stream.index]
                    output.mux(packet)
    return target
