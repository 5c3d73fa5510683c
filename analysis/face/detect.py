"""MTCNN face detection, batched over frames, plus O-Net-only refinement for tracking.

`FaceDetector.detect` runs the full cascade (P-Net over an image pyramid, R-Net, O-Net) on a
batch of same-size frames. `FaceDetector.refine` runs only O-Net on boxes carried over from
an earlier frame: that is how tracks move between full detections at a fraction of the cost,
and every tracked frame still gets a fresh box, score and five landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from analysis.device import torch_device
from analysis.face.geometry import apply_offsets, batched_nms, box_patches, square
from analysis.face.loading import mtcnn_networks

PNET_STRIDE_PX = 2
PNET_CELL_PX = 12
RNET_INPUT_PX = 24
ONET_INPUT_PX = 48
PIXEL_MEAN = 127.5
PIXEL_SCALE = 1 / 128


@dataclass(frozen=True)
class DetectorOptions:
    min_face_px: float = 24.0  # smallest face side searched for, in detection-image pixels
    pyramid_factor: float = 0.709  # scale step between pyramid levels (MTCNN's default)
    pnet_threshold: float = 0.6  # face probability to keep a proposal
    rnet_threshold: float = 0.7
    onet_threshold: float = 0.7  # also the score a tracked face must keep
    pnet_nms_iou: float = 0.5  # within one pyramid level
    merge_nms_iou: float = 0.7  # across levels and after R-Net
    final_nms_overlap: float = 0.7  # intersection over the smaller box, after O-Net


@dataclass(frozen=True)
class FrameFaces:
    """Faces found in one frame, in that frame's pixel coordinates."""

    boxes: np.ndarray  # (n, 4) float32, x1 y1 x2 y2
    scores: np.ndarray  # (n,) float32, O-Net face probability
    landmarks: np.ndarray  # (n, 5, 2) float32: eyes (left, right), nose, mouth corners

    @staticmethod
    def empty() -> FrameFaces:
        return FrameFaces(
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0, 5, 2), np.float32),
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


def frames_to_tensor(frames: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 on the pipeline's device."""
    array = np.ascontiguousarray(np.stack(frames) if isinstance(frames, list) else frames)
    return torch.from_numpy(array).to(torch_device()).permute(0, 3, 1, 2).float()


class FaceDetector:
    def __init__(self, options: DetectorOptions | None = None, engine: str | None = None) -> None:
        self.options = options or DetectorOptions()
        self.pnet, self.rnet, self.onet = mtcnn_networks(engine)  # engine: else the setting

    def pyramid_scales(self, height: int, width: int) -> list[float]:
        scale = PNET_CELL_PX / self.options.min_face_px
        shortest = min(height, width) * scale
        scales = []
        while shortest >= PNET_CELL_PX:
            scales.append(scale)
            scale *= self.options.pyramid_factor
            shortest *= self.options.pyramid_factor
        return scales

    @torch.inference_mode()
    def detect(self, images: torch.Tensor) -> list[FrameFaces]:
        """Full MTCNN on (N, 3, H, W) float RGB in [0, 255]; one FrameFaces per image."""
        n_images = images.shape[0]
        boxes, image_ids = self._propose(images)
        boxes, image_ids = self._refine_rnet(images, boxes, image_ids)
        scores, boxes, landmarks, image_ids = self._output_onet(images, boxes, image_ids)
        keep = scores >= self.options.onet_threshold
        scores, boxes, landmarks, image_ids = (
            scores[keep],
            boxes[keep],
            landmarks[keep],
            image_ids[keep],
        )
        pick = batched_nms(boxes, scores, image_ids, self.options.final_nms_overlap, mode="min")
        return _split_by_image(
            n_images, image_ids[pick], boxes[pick], scores[pick], landmarks[pick]
        )

    @torch.inference_mode()
    def refine(self, images: torch.Tensor, boxes_per_image: list[np.ndarray]) -> list[FrameFaces]:
        """O-Net on given boxes (e.g. each track's last box); returns one result per input box.

        Unlike `detect`, nothing is dropped: a box whose score falls below the threshold is
        returned with its low score so the tracker can decide the face was lost.
        """
        counts = [len(b) for b in boxes_per_image]
        if sum(counts) == 0:
            return [FrameFaces.empty() for _ in boxes_per_image]
        device = images.device
        boxes = torch.from_numpy(np.concatenate(boxes_per_image).astype(np.float32)).to(device)
        image_ids = torch.repeat_interleave(
            torch.arange(len(counts), device=device), torch.tensor(counts, device=device)
        )
        scores, new_boxes, landmarks, _ = self._output_onet(images, square(boxes), image_ids)
        results, start = [], 0
        for count in counts:
            stop = start + count
            results.append(
                _to_numpy(new_boxes[start:stop], scores[start:stop], landmarks[start:stop])
            )
            start = stop
        return results

    def _propose(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """P-Net over the pyramid: square candidate boxes (k, 5: box + score) and image ids."""
        _, _, height, width = images.shape
        all_boxes, all_ids = [], []
        for scale in self.pyramid_scales(height, width):
            size = (int(height * scale + 1), int(width * scale + 1))
            scaled = F.interpolate(images, size=size, mode="area")
            face_prob, offsets = self.pnet((scaled - PIXEL_MEAN) * PIXEL_SCALE)
            # face_prob: (N, h, w); offsets: (N, 4, h, w); one cell per 12x12 window, stride 2
            hits = torch.nonzero(face_prob >= self.options.pnet_threshold)  # (k, 3): n, row, col
            if hits.shape[0] == 0:
                continue
            ids, rows, cols = hits[:, 0], hits[:, 1], hits[:, 2]
            scores = face_prob[ids, rows, cols]
            cell_xy = torch.stack([cols, rows], dim=1).float()
            top_left = torch.floor((PNET_STRIDE_PX * cell_xy + 1) / scale)
            bottom_right = torch.floor((PNET_STRIDE_PX * cell_xy + PNET_CELL_PX) / scale)
            windows = torch.cat([top_left, bottom_right], dim=1)
            regressed = apply_offsets(windows, offsets[ids, :, rows, cols])
            pick = batched_nms(windows, scores, ids, self.options.pnet_nms_iou)
            all_boxes.append(torch.cat([regressed[pick], scores[pick, None]], dim=1))
            all_ids.append(ids[pick])
        if not all_boxes:
            return images.new_zeros((0, 5)), images.new_zeros(0, dtype=torch.long)
        boxes, ids = torch.cat(all_boxes), torch.cat(all_ids)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], ids, self.options.merge_nms_iou)
        return torch.cat([square(boxes[pick, :4]), boxes[pick, 4:]], dim=1), ids[pick]

    def _crops(
        self, images: torch.Tensor, boxes: torch.Tensor, image_ids: torch.Tensor, size_px: int
    ) -> torch.Tensor:
        """(k, 3, size, size) crops, normalised for the MTCNN nets, in the input's order."""
        crops = images.new_zeros((boxes.shape[0], 3, size_px, size_px))
        for image_id in image_ids.unique():
            members = torch.nonzero(image_ids == image_id).squeeze(1)
            crops[members] = box_patches(images[image_id], boxes[members, :4], size_px)
        return (crops - PIXEL_MEAN) * PIXEL_SCALE

    def _refine_rnet(
        self, images: torch.Tensor, boxes: torch.Tensor, image_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if boxes.shape[0] == 0:
            return boxes, image_ids
        scores, offsets = self.rnet(self._crops(images, boxes, image_ids, RNET_INPUT_PX))
        keep = scores >= self.options.rnet_threshold
        boxes, scores, offsets, image_ids = (
            boxes[keep],
            scores[keep],
            offsets[keep],
            image_ids[keep],
        )
        pick = batched_nms(boxes[:, :4], scores, image_ids, self.options.merge_nms_iou)
        refined = square(apply_offsets(boxes[pick, :4], offsets[pick]))
        return refined, image_ids[pick]

    def _output_onet(
        self, images: torch.Tensor, boxes: torch.Tensor, image_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """O-Net on square boxes: scores (k,), boxes (k, 4), landmarks (k, 5, 2), image ids."""
        if boxes.shape[0] == 0:
            return (
                images.new_zeros(0),
                images.new_zeros((0, 4)),
                images.new_zeros((0, 5, 2)),
                image_ids,
            )
        scores, offsets, points = self.onet(self._crops(images, boxes, image_ids, ONET_INPUT_PX))
        wh = boxes[:, 2:4] - boxes[:, :2]  # (k, 2)
        landmarks = (
            boxes[:, None, :2] + torch.stack([points[:, :5], points[:, 5:]], dim=2) * wh[:, None, :]
        )  # (k, 5, 2)
        return scores, apply_offsets(boxes[:, :4], offsets), landmarks, image_ids


def _to_numpy(boxes: torch.Tensor, scores: torch.Tensor, landmarks: torch.Tensor) -> FrameFaces:
    return FrameFaces(
        boxes.float().cpu().numpy(), scores.float().cpu().numpy(), landmarks.float().cpu().numpy()
    )


def _split_by_image(
    n_images: int,
    image_ids: torch.Tensor,
    boxes: torch.Tensor,
    scores: torch.Tensor,
    landmarks: torch.Tensor,
) -> list[FrameFaces]:
    results = []
    for image_id in range(n_images):
        members = image_ids == image_id
        order = scores[members].argsort(descending=True)
        results.append(
            _to_numpy(boxes[members][order], scores[members][order], landmarks[members][order])
        )
    return results
