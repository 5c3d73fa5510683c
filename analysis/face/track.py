"""Link per-frame face detections into tracks, so each person keeps one track id.

Between full detections, each live track is carried forward by re-running MTCNN's O-Net on
its last box (see `FaceDetector.refine`): the box follows the face, and a falling score
means the face left. At detection frames, detections are assigned to tracks by IoU and
appearance (Hungarian assignment); a detection that matches no live track is compared by
appearance with recently lost tracks before it opens a new one, so a client who looks away
for a few seconds comes back under the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from analysis.face.detect import FrameFaces
from analysis.face.geometry import box_patches, pairwise_overlap

APPEARANCE_PX = 16  # side of the colour thumbnail used as appearance descriptor
APPEARANCE_CONTEXT = 1.3  # thumbnail covers the face box enlarged by this factor (hair, collar)


@dataclass(frozen=True)
class TrackerOptions:
    min_link_iou: float = 0.2  # a detection links to a live track only above this IoU
    appearance_weight: float = 0.5  # weight of appearance distance next to (1 - IoU)
    reidentify_similarity: float = 0.85  # cosine similarity to revive a lost track
    max_lost_s: float = 30.0  # how long a lost track may be revived by appearance
    duplicate_iou: float = 0.5  # two tracks on one face: the younger one is dropped
    keep_score: float = 0.7  # O-Net score a carried-forward face must keep


@dataclass
class Track:
    track_id: int
    box: np.ndarray  # (4,) last box
    appearance: np.ndarray  # (D,) running mean of unit descriptors, re-normalised
    last_t_s: float
    live: bool = True


@dataclass(frozen=True)
class TrackedFace:
    track_id: int
    box: np.ndarray  # (4,)
    score: float
    landmarks: np.ndarray  # (5, 2)


@dataclass
class FaceTracker:
    options: TrackerOptions = field(default_factory=TrackerOptions)
    tracks: list[Track] = field(default_factory=list)

    def live_boxes(self) -> np.ndarray:
        live = [t.box for t in self.tracks if t.live]
        return np.stack(live).astype(np.float32) if live else np.zeros((0, 4), np.float32)

    def update(
        self,
        image: torch.Tensor,
        t_s: float,
        carried: FrameFaces,
        detected: FrameFaces | None,
    ) -> list[TrackedFace]:
        """Advance all tracks to this frame.

        image: (3, H, W) float RGB of the frame; carried: O-Net results for `live_boxes()` in
        the same order; detected: full-detector results when this is a detection frame.
        """
        live = [t for t in self.tracks if t.live]
        kept: list[tuple[Track, int, FrameFaces]] = []  # track, row, source
        if detected is not None and len(detected):
            det_desc = appearance(image, detected.boxes)
            matched_tracks, matched_dets = self._assign(live, carried, detected, det_desc)
            for track_index, det_index in zip(matched_tracks, matched_dets, strict=True):
                kept.append((live[track_index], det_index, detected))
            unmatched_dets = [i for i in range(len(detected)) if i not in set(matched_dets)]
        else:
            matched_tracks, unmatched_dets, det_desc = [], [], np.zeros((0, 1), np.float32)
        for track_index, track in enumerate(live):
            if track_index in matched_tracks:
                continue
            if carried.scores[track_index] >= self.options.keep_score:
                kept.append((track, track_index, carried))
            else:
                track.live = False
        kept = self._drop_duplicates(kept)
        occupied = np.stack([src.boxes[row] for _, row, src in kept]) if kept else None
        for det_index in unmatched_dets:
            assert detected is not None
            box = detected.boxes[det_index]
            if occupied is not None and _iou(box, occupied).max() > self.options.duplicate_iou:
                continue
            track = self._revive(det_desc[det_index], t_s) or self._open(
                box, det_desc[det_index], t_s
            )
            kept.append((track, det_index, detected))
            occupied = box[None] if occupied is None else np.vstack([occupied, box[None]])

        result = []
        boxes_now = np.stack([src.boxes[row] for _, row, src in kept]) if kept else None
        descriptors = appearance(image, boxes_now) if boxes_now is not None else None
        for track, row, source in sorted(kept, key=lambda item: item[0].track_id):
            track.box = source.boxes[row].copy()
            track.last_t_s = t_s
            track.live = True
            result.append(
                TrackedFace(
                    track.track_id,
                    track.box,
                    float(source.scores[row]),
                    source.landmarks[row].copy(),
                )
            )
        if descriptors is not None:
            for (track, _, _), descriptor in zip(kept, descriptors, strict=True):
                mixed = 0.9 * track.appearance + 0.1 * descriptor
                track.appearance = mixed / max(float(np.linalg.norm(mixed)), 1e-9)
        return result

    def _assign(
        self, live: list[Track], carried: FrameFaces, detected: FrameFaces, det_desc: np.ndarray
    ) -> tuple[list[int], list[int]]:
        if not live:
            return [], []
        # Where O-Net kept the face, its fresh box predicts the track better than the old one.
        predicted = np.stack(
            [
                carried.boxes[i] if carried.scores[i] >= self.options.keep_score else t.box
                for i, t in enumerate(live)
            ]
        )
        iou = _iou_matrix(predicted, detected.boxes)  # (tracks, detections)
        similarity = np.stack([t.appearance for t in live]) @ det_desc.T
        cost = (1 - iou) + self.options.appearance_weight * (1 - similarity)
        cost[iou < self.options.min_link_iou] = 1e6
        rows, cols = linear_sum_assignment(cost)
        valid = cost[rows, cols] < 1e6
        return rows[valid].tolist(), cols[valid].tolist()

    def _drop_duplicates(
        self, kept: list[tuple[Track, int, FrameFaces]]
    ) -> list[tuple[Track, int, FrameFaces]]:
        kept = sorted(kept, key=lambda item: item[0].track_id)  # older tracks win
        survivors: list[tuple[Track, int, FrameFaces]] = []
        for item in kept:
            box = item[2].boxes[item[1]]
            if survivors and _iou(box, np.stack([s[2].boxes[s[1]] for s in survivors])).max() > (
                self.options.duplicate_iou
            ):
                item[0].live = False
                continue
            survivors.append(item)
        return survivors

    def _revive(self, descriptor: np.ndarray, t_s: float) -> Track | None:
        candidates = [
            t for t in self.tracks if not t.live and t_s - t.last_t_s <= self.options.max_lost_s
        ]
        if not candidates:
            return None
        similarity = np.stack([t.appearance for t in candidates]) @ descriptor
        best = int(similarity.argmax())
        return candidates[best] if similarity[best] >= self.options.reidentify_similarity else None

    def _open(self, box: np.ndarray, descriptor: np.ndarray, t_s: float) -> Track:
        track = Track(len(self.tracks), box.copy(), descriptor.copy(), last_t_s=t_s)
        self.tracks.append(track)
        return track


def appearance(image: torch.Tensor, boxes: np.ndarray) -> np.ndarray:
    """(n, 4) boxes -> (n, D) unit descriptors: a mean-removed colour thumbnail of face + hair."""
    if len(boxes) == 0:
        return np.zeros((0, 3 * APPEARANCE_PX**2), np.float32)
    tensor_boxes = torch.from_numpy(np.asarray(boxes, np.float32)).to(image.device)
    centres = (tensor_boxes[:, :2] + tensor_boxes[:, 2:]) / 2
    half = (tensor_boxes[:, 2:] - tensor_boxes[:, :2]).max(dim=1).values * APPEARANCE_CONTEXT / 2
    squares = torch.cat([centres - half[:, None], centres + half[:, None]], dim=1)
    thumbs = box_patches(image, squares, APPEARANCE_PX).flatten(1)  # (n, 3 * 16 * 16)
    thumbs = thumbs - thumbs.mean(dim=1, keepdim=True)
    thumbs = thumbs / thumbs.norm(dim=1, keepdim=True).clamp(min=1e-6)
    vectors: np.ndarray = thumbs.cpu().numpy().astype(np.float32)
    return vectors


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return pairwise_overlap(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    overlaps: np.ndarray = _iou_matrix(box[None].astype(np.float32), boxes.astype(np.float32))[0]
    return overlaps
