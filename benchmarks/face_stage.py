"""Face stage speed: the streaming, batched stage against a naive per-frame loop, same video;
and the FER+ expression CNN (the default) against the FER2013 mini-Xception it replaced.

    python -m benchmarks.face_stage [--quick] [--seconds S] [--repeats N]

The video is generated here: 720p at 25 fps (H.264), the astronaut's head and an LFW face
drifting over a backdrop, `--seconds` long. The naive loop is how per-frame libraries work:
decode every frame at full size, run the whole MTCNN cascade on it alone, then the CNN on each
face one at a time. The face stage samples 5 fps, decodes at 480 px, detects fully every 5th
sampled frame in batches and tracks with O-Net in between. Both run in the same process on
the same file; the figure is the median of the repeats. The stage runs once more with the old
CNN (`MOODLINE_FACE_CNN=fer2013-mini-xception`), interleaved with the default, so the two CNNs'
cost per analysed frame is compared under the same load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from analysis.face.align import aligned_grey_faces
from analysis.face.detect import DetectorOptions, FaceDetector, frames_to_tensor
from analysis.face.expression import to_model_input
from analysis.face.loading import FACE_CNN_ENV, load_expression_cnn
from analysis.face.stage import FaceOptions, run_face_stage
from analysis.media import iter_video_frames
from benchmarks.common import Row, print_rows, repeat, summarise, write_result

VIDEO_SIZE = (1280, 720)
VIDEO_FPS = 25
NAIVE_MIN_FACE_PX = 20.0  # the usual per-frame default (facenet-pytorch, fer)
OLD_CNN = "fer2013-mini-xception"


@contextmanager
def _face_cnn(name: str) -> Iterator[None]:
    """Run the face stage with another expression CNN (and its head) inside the block."""
    before = os.environ.get(FACE_CNN_ENV)
    os.environ[FACE_CNN_ENV] = name
    try:
        yield
    finally:
        if before is None:
            del os.environ[FACE_CNN_ENV]
        else:
            os.environ[FACE_CNN_ENV] = before


def write_video(path: Path, seconds: float) -> Path:
    from skimage import data  # dev dependency, like every benchmark's fixtures

    from tests.analysis.media_factory import MovingFace, tone, write_clip

    astronaut = data.astronaut()[10:230, 140:340]
    with Image.fromarray(astronaut) as image:
        head = np.asarray(image.resize((200, 220), Image.Resampling.BICUBIC))
    grey = (data.lfw_subset()[3] * 255).round().astype(np.uint8)
    with Image.fromarray(grey) as image:
        other = np.asarray(image.convert("RGB").resize((200, 200), Image.Resampling.BICUBIC))
    return write_clip(
        path,
        duration_s=seconds,
        fps=VIDEO_FPS,
        size=VIDEO_SIZE,
        faces=[
            MovingFace(head, (150, 200), (400, 260)),
            MovingFace(other, (900, 260), (700, 220)),
        ],
        audio=tone(seconds),
    )


@torch.inference_mode()
def naive_loop(path: Path) -> int:
    """Every frame, full size, one at a time: MTCNN, then the CNN per face. Returns faces seen."""
    detector = FaceDetector(DetectorOptions(min_face_px=NAIVE_MIN_FACE_PX))
    cnn = load_expression_cnn()
    seen = 0
    for frame in iter_video_frames(path, sample_fps=VIDEO_FPS):
        image = frames_to_tensor([frame.rgb])
        faces = detector.detect(image)[0]
        for k in range(len(faces)):
            crop = aligned_grey_faces(
                image[0],
                torch.from_numpy(faces.boxes[k : k + 1]).to(image.device),
                torch.from_numpy(faces.landmarks[k : k + 1]).to(image.device),
            )
            cnn(to_model_input(crop))
            seen += 1
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 4 s video, 2 repeats")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the test video")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    seconds, repeats = (4.0, 2) if args.quick else (args.seconds, args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        video = write_video(Path(tmp) / "session_720p.mp4", seconds)
        result = run_face_stage(video, FaceOptions())  # warm-up: loads the models
        with _face_cnn(OLD_CNN):
            run_face_stage(video, FaceOptions())
        stage_s, old_s = [], []
        for _ in range(repeats):  # interleaved, so both see the same load
            stage_s += repeat(lambda: run_face_stage(video, FaceOptions()), 1)
            with _face_cnn(OLD_CNN):
                old_s += repeat(lambda: run_face_stage(video, FaceOptions()), 1)
        naive_s, naive_faces = [], 0
        for _ in range(repeats):  # models are warm already; its first frame costs the same
            started = time.perf_counter()
            naive_faces = naive_loop(video)
            naive_s.append(time.perf_counter() - started)

    stage, naive, old = summarise(stage_s), summarise(naive_s), summarise(old_s)
    stage_rtf, naive_rtf = seconds / stage.median, seconds / naive.median
    rows = [
        Row(
            "face stage, 720p/25 fps, 5 fps sampled",
            "seconds",
            round(stage.median, 3),
            stage.spread(),
            "naive per-frame loop",
            round(naive.median, 3),
        ),
        Row(
            "face stage",
            "x real time",
            round(stage_rtf, 2),
            "",
            "naive per-frame loop",
            round(naive_rtf, 2),
            note=f"{seconds:g} s of video",
        ),
        Row("face stage speed-up over naive", "x", round(naive.median / stage.median, 2)),
        Row(
            "face stage, FER+ CNN (default)",
            "seconds",
            round(stage.median, 3),
            stage.spread(),
            "same stage, FER2013 mini-Xception",
            round(old.median, 3),
            note="target: at most 1.5x the old CNN per analysed frame",
        ),
    ]
    print_rows("Face stage against a naive per-frame loop (same video, same run)", rows)
    details = {
        "video": {"seconds": seconds, "size": VIDEO_SIZE, "fps": VIDEO_FPS, "faces": 2},
        "stage_seconds": stage.to_dict(),
        "naive_seconds": naive.to_dict(),
        "stage_x_real_time": round(stage_rtf, 2),
        "naive_x_real_time": round(naive_rtf, 2),
        "speedup": round(naive.median / stage.median, 2),
        "old_cnn_seconds": old.to_dict(),
        "new_over_old_cnn": round(stage.median / old.median, 3),
        "stage_tracks": len(result.tracks),
        "naive_faces_seen": naive_faces,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    write_result("face_stage", rows, details)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
