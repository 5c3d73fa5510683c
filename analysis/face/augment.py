"""Batched augmentation of grey face crops for training the expression CNN.

FER2013's web photos differ from a consulting-room camera in pose, light, focus and what
covers the face; each training image is therefore seen through a fresh random chain:

- geometry (one affine warp): rotation within +/-15 degrees, zoom 0.85-1.15 (a random
  resized crop), shift up to 8 % of the side, horizontal flip;
- photometry: brightness, contrast and gamma;
- degradation: Gaussian blur, sensor noise and a grey rectangle over part of the face
  (a hand, glasses, hair).

Everything runs on whole batches of tensors; one `torch.Generator` drives every draw, so a
seeded epoch is reproduced exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from analysis.face.expression import INPUT_SIZE_PX


@dataclass(frozen=True)
class AugmentOptions:
    rotation_deg: float = 15.0  # +/- this
    zoom: tuple[float, float] = (0.85, 1.15)  # >1 zooms in (a tighter crop)
    shift: float = 0.08  # +/- this fraction of the side
    flip_p: float = 0.5
    brightness: float = 0.15  # +/- this, on a 0..1 scale
    contrast: tuple[float, float] = (0.7, 1.3)
    gamma: tuple[float, float] = (0.7, 1.4)
    blur_p: float = 0.2  # chance of a Gaussian blur (sigma 0.5-1.5 px)
    noise_p: float = 0.3  # chance of Gaussian noise (sigma up to 0.05)
    occlusion_p: float = 0.35  # chance of a grey rectangle of 15-45 % of the side


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def resize_faces(images: torch.Tensor, size_px: int = INPUT_SIZE_PX) -> torch.Tensor:
    """(N, H, W) uint8 -> (N, size, size) uint8, bilinear: FER+'s 48 px crops at model size."""
    resized = F.interpolate(
        images[:, None].float(), size=(size_px, size_px), mode="bilinear", align_corners=False
    )
    return resized[:, 0].round().clamp(0, 255).to(torch.uint8)


def augment_faces(
    images: torch.Tensor,
    generator: torch.Generator,
    options: AugmentOptions | None = None,
    size_px: int = INPUT_SIZE_PX,
) -> torch.Tensor:
    """(N, H, W) uint8 grey faces -> (N, size, size) uint8 augmented faces at model size."""
    o = options or AugmentOptions()
    n = len(images)
    x = images[:, None].float() / 255.0  # (N, 1, H, W)

    angle = _uniform(n, -o.rotation_deg, o.rotation_deg, generator) * math.pi / 180
    zoom = _uniform(n, *o.zoom, generator)
    flip = torch.where(torch.rand(n, generator=generator) < o.flip_p, -1.0, 1.0)
    shift = _uniform(2 * n, -o.shift, o.shift, generator).view(n, 2) * 2  # grid units: side = 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * flip, cos, shift[:, 1]], dim=1),
        ],
        dim=1,
    )  # (N, 2, 3): output grid -> input grid
    grid = F.affine_grid(theta, [n, 1, size_px, size_px], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(n, *o.contrast, generator).view(n, 1, 1, 1)
    brightness = _uniform(n, -o.brightness, o.brightness, generator).view(n, 1, 1, 1)
    x = ((x - mean) * contrast + mean + brightness).clamp(0.0, 1.0)
    x = x.pow(_uniform(n, *o.gamma, generator).view(n, 1, 1, 1))

    blurred = torch.rand(n, generator=generator) < o.blur_p
    if blurred.any():
        x[blurred] = _gaussian_blur(x[blurred], _uniform(int(blurred.sum()), 0.5, 1.5, generator))
    noisy = (torch.rand(n, generator=generator) < o.noise_p).float().view(n, 1, 1, 1)
    sigma = _uniform(n, 0.0, 0.05, generator).view(n, 1, 1, 1)
    x = x + noisy * sigma * torch.randn(x.shape, generator=generator)

    occluded = (torch.rand(n, generator=generator) < o.occlusion_p).view(n, 1, 1, 1)
    sides = _uniform(2 * n, 0.15, 0.45, generator).view(n, 2) * size_px
    corners = torch.rand(n, 2, generator=generator) * (size_px - sides)
    ys = torch.arange(size_px).view(1, size_px, 1)
    xs = torch.arange(size_px).view(1, 1, size_px)
    top, left = corners[:, 0].view(n, 1, 1), corners[:, 1].view(n, 1, 1)
    inside = (
        (ys >= top)
        & (ys < top + sides[:, 0].view(n, 1, 1))
        & (xs >= left)
        & (xs < left + sides[:, 1].view(n, 1, 1))
    )[:, None]
    fill = torch.rand(n, generator=generator).view(n, 1, 1, 1)
    x = torch.where(occluded & inside, fill, x)

    return (x[:, 0] * 255).round().clamp(0, 255).to(torch.uint8)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """(M, 1, S, S), (M,) sigmas in pixels -> blurred, with a 5-tap separable kernel each."""
    taps = torch.arange(-2, 3, dtype=x.dtype)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (M, 5)
    m = len(x)
    padded = F.pad(x.transpose(0, 1), (2, 2, 2, 2), mode="reflect")  # (1, M, S+4, S+4)
    rows = F.conv2d(padded, kernel.view(m, 1, 1, 5), groups=m)
    out = F.conv2d(rows, kernel.view(m, 1, 5, 1), groups=m)
    return out.transpose(0, 1)
