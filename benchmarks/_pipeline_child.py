"""One measured case of the pipeline benchmark, run in its own process so that its peak memory
is its own: `python -m benchmarks._pipeline_child CASE RECORDING [SECONDS]` prints one JSON line.

Cases:
- `pipeline`: the pipeline's own runner with nothing saved before, each stage timed by it
  (end to end = sum). Stage outputs are written out to a scratch folder as the command line
  does (`FileStageStore`), and let go, as the worker lets them go once they are in the
  database; held in this process they would count towards its peak, which the worker's
  memory never holds.
- `decode`: the floor: the same decoding the pipeline does (frames sampled and scaled as the
  face stage asks, all audio at 16 kHz), with no model at all.
- `naive-face [SECONDS]`: the face loop a first version would write: every sampled frame alone
  through full MTCNN detection, then each face alone through the expression CNN; no batching,
  no tracking between detections. Its cost per frame does not depend on the recording's
  length, so it may stop after the first SECONDS of video.
- `whisper-plain`: openai-whisper's own `transcribe` on the whole recording's audio at once
  (the reference engine's plain call, same tiny.en weights).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import resident_mib


class _MemoryTrace:
    """A pipeline reporter that reads this process's resident memory as progress comes in:
    per stage label, the memory when it started and the most it reached, and along the run,
    the memory at every tenth of it (how it grows with the recording's position)."""

    def __init__(self) -> None:
        self.by_stage: dict[str, dict[str, float]] = {}
        self.along: list[tuple[float, float]] = []  # (fraction of the run, MiB)

    def progress(self, stage: str, fraction: float) -> None:
        rss = resident_mib()
        seen = self.by_stage.setdefault(stage, {"start_mib": rss, "max_mib": rss})
        seen["max_mib"] = max(seen["max_mib"], rss)
        if not self.along or fraction >= self.along[-1][0] + 0.1:
            self.along.append((round(fraction, 2), rss))

    def should_stop(self, *, at_boundary: bool = False) -> bool:
        return False

    def to_json(self) -> dict[str, Any]:
        return {
            "by_stage": {
                stage: {k: round(v, 1) for k, v in seen.items()}
                for stage, seen in self.by_stage.items()
            },
            "along": [[fraction, round(rss, 1)] for fraction, rss in self.along],
        }


def _pipeline(path: Path) -> dict[str, Any]:
    from analysis.pipeline import FileStageStore, PipelineOptions, run_pipeline

    options = PipelineOptions()
    trace = _MemoryTrace()
    with tempfile.TemporaryDirectory() as outputs:
        started = time.perf_counter()
        run = run_pipeline(
            path, options=options, store=FileStageStore(Path(outputs)), reporter=trace
        )
        elapsed_s = time.perf_counter() - started  # not the stages' sum: some run side by side
    stage_s = run.seconds
    document = run.document
    with tempfile.TemporaryDirectory() as scratch:  # the document really serialises
        Path(scratch, "timeline.json").write_text(json.dumps(document))
    return {
        "seconds": elapsed_s,
        "stage_s": stage_s,
        "engine": options.transcript_engine,
        "sample_fps": options.sample_fps,
        "windows": len(document["windows"]),
        "utterances": len(document["transcript"]),
        "face_tracks": len(document.get("face_tracks", [])),
        # voice segments read by the optional speech-emotion head (0 when it is off)
        "speech_emotion_segments": sum(
            segment.get("emotions") is not None for segment in document["voice_segments"]
        ),
        "resident_memory": trace.to_json(),
    }


def _decode(path: Path) -> dict[str, Any]:
    from analysis.face.stage import FaceOptions
    from analysis.media import iter_audio, iter_video_frames

    face = FaceOptions()
    started = time.perf_counter()
    frames = sum(
        1 for _ in iter_video_frames(path, sample_fps=face.sample_fps, max_side_px=face.max_side_px)
    )
    audio_s = sum(len(chunk.samples) for chunk in iter_audio(path)) / 16000
    return {"seconds": time.perf_counter() - started, "frames": frames, "audio_s": audio_s}


@torch.inference_mode()
def _naive_face(path: Path, max_seconds: float = float("inf")) -> dict[str, Any]:
    from analysis.face.align import aligned_grey_faces
    from analysis.face.detect import DetectorOptions, FaceDetector, frames_to_tensor
    from analysis.face.expression import to_model_input
    from analysis.face.loading import load_expression_cnn
    from analysis.face.stage import FaceOptions
    from analysis.media import iter_video_frames

    face = FaceOptions()
    detector = FaceDetector(DetectorOptions(min_face_px=face.min_face_px))
    cnn = load_expression_cnn()
    started = time.perf_counter()
    frames = faces = 0
    for frame in iter_video_frames(path, sample_fps=face.sample_fps, max_side_px=face.max_side_px):
        if frame.t_s >= max_seconds:
            break
        image = frames_to_tensor([frame.rgb])  # (1, 3, H, W)
        found = detector.detect(image)[0]
        frames += 1
        for k in range(len(found)):
            crop = aligned_grey_faces(
                image[0],
                torch.from_numpy(found.boxes[k : k + 1]).to(image.device),
                torch.from_numpy(found.landmarks[k : k + 1]).to(image.device),
            )  # (1, 64, 64)
            cnn(to_model_input(crop))
            faces += 1
    return {"seconds": time.perf_counter() - started, "frames": frames, "faces": faces}


def _whisper_plain(path: Path) -> dict[str, Any]:
    from analysis.media import read_audio
    from analysis.weights.speech import load_whisper

    model = load_whisper()
    audio = read_audio(path)
    started = time.perf_counter()
    result = model.transcribe(audio.astype(np.float32), language="en", fp16=False, verbose=None)
    return {
        "seconds": time.perf_counter() - started,
        "audio_s": len(audio) / 16000,
        "words": len(str(result["text"]).split()),
        "whisper_device": str(model.device),
    }


CASES = {
    "pipeline": _pipeline,
    "decode": _decode,
    "naive-face": _naive_face,
    "whisper-plain": _whisper_plain,
}


def main(argv: list[str]) -> int:
    case, recording, *limit = argv
    from analysis.allocator import allocator_in_use
    from analysis.device import torch_device
    from analysis.threads import apply_thread_budget

    budget = apply_thread_budget()  # as a worker does at start (MOODLINE_* in the environment)

    if case == "naive-face" and limit:
        result = _naive_face(Path(recording), float(limit[0]))
    else:
        result = CASES[case](Path(recording))
    result["device"] = str(torch_device())
    result["allocator"] = allocator_in_use()
    result["threads"] = budget.threads
    result["torch_threads"] = torch.get_num_threads()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
