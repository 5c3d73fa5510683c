"""Box arithmetic, non-maximum suppression and patch sampling, all vectorised in torch.

Boxes are (x1, y1, x2, y2) in continuous pixel coordinates: pixel i spans [i, i + 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_SUPERSAMPLE = 4  # samples per output pixel and axis when shrinking a large patch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def pairwise_overlap(a: torch.Tensor, b: torch.Tensor, mode: str = "union") -> torch.Tensor:
    """(n, 4) x (m, 4) -> (n, m) IoU, or intersection over the smaller box with mode='min'."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:4], b[None, :, 2:4])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a, area_b = box_area(a)[:, None], box_area(b)[None, :]
    denominator = torch.minimum(area_a, area_b) if mode == "min" else area_a + area_b - inter
    return inter / denominator.clamp(min=1e-9)


def nms(
    boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union"
) -> torch.Tensor:
    """Greedy NMS without a Python loop over boxes; returns kept indices, best first.

    Greedy NMS keeps box j iff no *kept* higher-scoring box overlaps it by more than the
    threshold. That rule is a fixed point over the score order; iterating it from "keep all"
    settles in as many rounds as the longest chain of suppressions (two or three in practice).
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True)
    sorted_boxes = boxes[order]
    overlaps = pairwise_overlap(sorted_boxes, sorted_boxes, mode) > threshold
    suppresses = torch.triu(overlaps, diagonal=1)  # [i, j]: higher-scoring i suppresses j
    keep = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    for _ in range(len(order)):
        updated = ~(suppresses & keep[:, None]).any(dim=0)
        if torch.equal(updated, keep):
            break
        keep = updated
    return order[keep]


def batched_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    groups: torch.Tensor,
    threshold: float,
    mode: str = "union",
) -> torch.Tensor:
    """NMS within each group (e.g. each frame of a batch); returns kept indices."""
    kept = [
        members[nms(boxes[members], scores[members], threshold, mode)]
        for group in groups.unique()
        for members in [torch.nonzero(groups == group).squeeze(1)]
    ]
    if not kept:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    return torch.cat(kept)


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square around its centre (MTCNN's 'rerec')."""
    wh = boxes[:, 2:4] - boxes[:, :2]
    side = wh.max(dim=1).values
    centre = boxes[:, :2] + wh / 2
    half = side[:, None] / 2
    return torch.cat([centre - half, centre + half], dim=1)


def apply_offsets(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """MTCNN box regression: offsets are fractions of the box's width/height per edge."""
    wh = (boxes[:, 2:4] - boxes[:, :2]).repeat(1, 2)
    return boxes[:, :4] + offsets * wh


def sample_patches(
    image: torch.Tensor,
    centres: torch.Tensor,
    sides: torch.Tensor,
    angles: torch.Tensor | None,
    out_px: int,
) -> torch.Tensor:
    """Square patches of one image, resampled to out_px x out_px, optionally rotated.

    image: (C, H, W) float; centres: (k, 2) x, y; sides: (k,) px; angles: (k,) radians, the
    direction in the image that becomes the patch's horizontal axis. Outside the image reads 0.
    Large patches are supersampled and averaged, so shrinking a face does not alias.
    """
    k = centres.shape[0]
    channels, height, width = image.shape
    if k == 0:
        return image.new_zeros((0, channels, out_px, out_px))
    ratio = float(sides.max()) / out_px
    supersample = int(min(MAX_SUPERSAMPLE, max(1, math.ceil(ratio))))
    n = out_px * supersample
    steps = (torch.arange(n, device=image.device, dtype=image.dtype) + 0.5) / n - 0.5  # (n,)
    u = steps[None, None, :].expand(k, n, n)  # along the patch's x axis
    v = steps[None, :, None].expand(k, n, n)  # along the patch's y axis
    if angles is None:
        cos = torch.ones(k, device=image.device, dtype=image.dtype)
        sin = torch.zeros_like(cos)
    else:
        cos, sin = torch.cos(angles), torch.sin(angles)
    s = sides[:, None, None]
    x = centres[:, 0, None, None] + s * (cos[:, None, None] * u - sin[:, None, None] * v)
    y = centres[:, 1, None, None] + s * (sin[:, None, None] * u + cos[:, None, None] * v)
    grid = torch.stack([2 * x / width - 1, 2 * y / height - 1], dim=-1)  # (k, n, n, 2)
    sampled = F.grid_sample(
        image[None],
        grid.reshape(1, k * n, n, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # (1, C, k * n, n)
    patches = sampled.reshape(channels, k, n, n).permute(1, 0, 2, 3)  # (k, C, n, n)
    if supersample > 1:
        patches = F.avg_pool2d(patches, supersample)
    return patches


def box_patches(image: torch.Tensor, boxes: torch.Tensor, out_px: int) -> torch.Tensor:
    """Axis-aligned crops of square boxes: (k, 4) -> (k, C, out_px, out_px)."""
    centres = (boxes[:, :2] + boxes[:, 2:4]) / 2
    sides = (boxes[:, 2] - boxes[:, 0]).clamp(min=1.0)
    return sample_patches(image, centres, sides, None, out_px)
