"""Compression blockiness: visible block edges on a regular grid (a DSP feature).

Block codecs (MPEG-2, H.264 at low rates, broken decoders) leave steps in the picture every
``block_px`` pixels. The absolute differences between neighbouring columns, averaged over
every ``row_step``-th full-resolution row, make a column profile; the differences between
neighbouring rows, averaged along bands of rows, make row profiles. For each grid offset,
each block boundary's difference is compared with the largest difference inside its block;
the direction's blockiness is the 40th percentile of that ratio over all boundaries (about
1 for clean pictures; a grid must show at most boundaries, so UI layouts on an 8-pixel
design grid, checkerboards of 2-block squares or 2x upscales stay low), for the strongest
offset. The frame's blockiness is the mean of the two directions, and it counts when the
boundaries also exceed the block interiors by at least ``min_step_levels`` (so flat
pictures with tiny differences are not judged blocky).

Frames at least ``min_blockiness`` for ``min_duration_s`` make a ``blockiness`` event. The
per-frame value is exported as a metric and is meant as an input to the learned
corruption detector too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import Run, RunTracker

log = logging.getLogger(__name__)

# Differences are capped before averaging so that a few strong content edges landing on the
# grid do not look like block edges (codec block steps are a few levels).
_CAP_LEVELS = 24


def _grid_strength(profile: np.ndarray, block: int) -> tuple[float, float]:
    """Return (blockiness, step in levels) of the strongest block grid in a difference profile.

    ``profile`` is (n, L): n independent runs of mean absolute differences between
    consecutive columns (or rows). For each grid offset ``o`` every block boundary is
    compared with the largest of the block's interior differences (so any pattern repeating
    faster than the block, such as a 2x upscale, matches an interior phase); the grid's strength is the
    40th percentile over all boundaries, so a grid must be present at most boundaries (a
    few content or UI edges that happen to fall on the grid, or a pattern repeating every
    two blocks, do not make it).
    """
    n, length = profile.shape
    m = (length - block) // block  # whole blocks after any offset
    if m < 1:
        return 1.0, 0.0
    # view[o, r, k, j] = profile[r, o + k * block + j]: every offset's blocks at once
    prof = np.ascontiguousarray(profile, dtype=np.float32)
    s_row, s_col = prof.strides
    view = np.lib.stride_tricks.as_strided(prof, (block, n, m, block), (s_col, s_row, block * s_col, s_col), writeable=False)
    edge = view[..., 0].reshape(block, -1)
    inner = view[..., 1:].max(axis=3).reshape(block, -1)
    k = int(0.4 * (edge.shape[1] - 1))  # 40th percentile (lower element)
    ratios = np.partition(edge / np.maximum(inner, 0.25), k, axis=1)[:, k]
    o = int(ratios.argmax())
    if ratios[o] <= 1.0:
        return 1.0, 0.0
    step = float(np.partition(edge[o] - inner[o], k)[k])
    return float(ratios[o]), step


class BlockinessDetector:
    """Report runs of blocky pictures lasting at least ``min_duration_s``.

    Per-frame metric: :attr:`last_metric` is the blockiness (>= 1; 1 is clean); :meth:`metrics`
    also gives the horizontal and vertical values and the grid step in levels.
    """

    name: ClassVar[str] = "blockiness"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "blockiness", "horizontal", "vertical", "step_levels")

    @dataclass(frozen=True)
    class Params:
        """Blockiness parameters.

        Attributes:
            block_px: the codec block size on screen, in pixels (>= 4; 8 for MPEG/H.264
                transforms at native resolution).
            min_blockiness: smallest blockiness of a blocky frame (> 1).
            min_step_levels: smallest excess of the block-edge phase over the next phase,
                in 8-bit levels (> 0).
            row_step: analyse every n-th row (and every n-th band of rows), >= 1.
            min_duration_s: shortest event, in seconds (>= 0).
            region: the part of the picture analysed; None for the whole picture.
        """

        block_px: int = 8
        min_blockiness: float = 1.3
        min_step_levels: float = 1.0
        row_step: int = 8
        min_duration_s: float = 0.5
        region: Region | None = None

        def __post_init__(self) -> None:
            if not (isinstance(self.block_px, int) and self.block_px >= 4):
                raise ValueError(f"blockiness: block_px must be an integer >= 4, got {self.block_px!r}")
            if not self.min_blockiness > 1.0:
                raise ValueError(f"blockiness: min_blockiness must be > 1, got {self.min_blockiness}")
            if not self.min_step_levels > 0:
                raise ValueError(f"blockiness: min_step_levels must be > 0, got {self.min_step_levels}")
            if not (isinstance(self.row_step, int) and self.row_step >= 1):
                raise ValueError(f"blockiness: row_step must be an integer >= 1, got {self.row_step!r}")
            if not self.min_duration_s >= 0:
                raise ValueError(f"blockiness: min_duration_s must be >= 0, got {self.min_duration_s}")
            if self.region is not None and not isinstance(self.region, Region):
                raise ValueError(f"blockiness: region must be a Region, got {self.region!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._runs = RunTracker(self.params.min_duration_s)
        self.last_metric: float | None = None
        self._last: dict[str, float | int | None] = dict.fromkeys(self.metric_names)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    def measure(self, frame: Frame) -> tuple[float, float, float, float]:
        """Return (blockiness, horizontal, vertical, step in levels) of ``frame``."""
        p = self.params
        luma = frame.luma
        if p.region is not None:
            rows, cols = p.region.clip(frame.width, frame.height).slices
            luma = luma[rows, cols]
        h, w = luma.shape
        b = p.block_px
        strengths: list[tuple[float, float]] = []
        if w > 3 * b:
            rows = luma[:: p.row_step]
            hdiff = cv2.min(cv2.absdiff(rows[:, 1:], rows[:, :-1]), _CAP_LEVELS)
            profile = cv2.reduce(hdiff, 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F)
            strengths.append(_grid_strength(profile, b))
        if h > 3 * b + 1:
            span = 3 * b  # room for every offset and two whole blocks
            starts = range(0, h - span, max(span, b * p.row_step))
            bands = [cv2.min(cv2.absdiff(luma[y + 1 : y + span + 1], luma[y : y + span]), _CAP_LEVELS) for y in starts]
            profile = np.stack([cv2.reduce(d, 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel() for d in bands])
            strengths.append(_grid_strength(profile, b))
        if not strengths:
            return 1.0, 1.0, 1.0, 0.0
        horizontal = strengths[0][0]
        vertical = strengths[-1][0]
        step = float(np.mean([st for _, st in strengths]))
        return (horizontal + vertical) / 2, horizontal, vertical, step

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the blockiness run that ended, if any."""
        if not isinstance(item, Frame):
            raise TypeError(f"blockiness: expected a Frame, got {type(item).__name__}")
        value, horizontal, vertical, step = self.measure(item)
        blocky = value >= self.params.min_blockiness and step >= self.params.min_step_levels
        run = self._runs.update(item, "blockiness" if blocky else None, value)
        self.last_metric = value
        self._last = {
            "index": item.index,
            "pts_s": item.pts_s,
            "blockiness": value,
            "horizontal": horizontal,
            "vertical": vertical,
            "step_levels": step,
        }
        return [] if run is None else [self._event(run)]

    def flush(self) -> list[Event]:
        """Close a run still open at the end of the stream."""
        run = self._runs.flush()
        return [] if run is None else [self._event(run)]

    def _event(self, run: Run) -> Event:
        score = 1.0 - 1.0 / run.mean_score  # 0 for clean (1), towards 1 for strong grids
        event = run.event(
            self.name,
            "blockiness",
            score=max(0.0, min(1.0, score)),
            region=self.params.region,
            details={"mean_blockiness": round(run.mean_score, 4), "max_blockiness": round(run.max_score, 4)},
        )
        log.debug("blockiness: %s", event.describe())
        return event
