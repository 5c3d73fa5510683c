"""Cut time regions out of a stream of audio chunks, holding only what the next region needs.

A 2-hour recording is 460 MB as 16 kHz float32; stages that look at speech only (prosody,
speakers, transcription) receive it chunk by chunk and keep just the samples from the start of
the next unfinished region onward.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

SAMPLE_RATE_HZ = 16000

R = TypeVar("R")


def iter_region_audio(
    chunks: Iterable[tuple[float, np.ndarray]],
    regions: Sequence[R],
    bounds: Sequence[tuple[float, float]],
    sample_rate: int = SAMPLE_RATE_HZ,
) -> Iterator[tuple[R, np.ndarray]]:
    """Yield (region, samples) in order; samples are (n,) or (channels, n) like the chunks.

    `bounds[i]` is the (start_s, end_s) of `regions[i]`; regions must be sorted by start and
    may overlap. A region running past the end of the audio gets what there is.
    """
    buffer: np.ndarray | None = None
    buffer_start = 0  # sample index of buffer[..., 0], counted from the first chunk
    origin_s: float | None = None
    index = 0

    def span(i: int) -> tuple[int, int]:
        start_s, end_s = bounds[i]
        assert origin_s is not None
        return (
            max(0, round((start_s - origin_s) * sample_rate)),
            max(0, round((end_s - origin_s) * sample_rate)),
        )

    for start_s, samples in chunks:
        if origin_s is None:
            origin_s = start_s
            buffer = samples[..., :0]
        assert buffer is not None
        buffer = np.concatenate([buffer, samples], axis=-1)
        while index < len(regions):
            begin, end = span(index)
            if buffer_start + buffer.shape[-1] < end:
                break
            yield regions[index], buffer[..., begin - buffer_start : end - buffer_start].copy()
            index += 1
            if index < len(regions):
                # regions are sorted by start: nothing before the next one is needed again
                drop = min(max(0, span(index)[0] - buffer_start), buffer.shape[-1])
                buffer, buffer_start = buffer[..., drop:], buffer_start + drop
        if index >= len(regions):
            return
    if buffer is None:
        return
    while index < len(regions):
        begin, end = span(index)
        piece = buffer[..., max(0, begin - buffer_start) : max(0, end - buffer_start)]
        if piece.shape[-1] > 0:
            yield regions[index], piece.copy()
        index += 1
