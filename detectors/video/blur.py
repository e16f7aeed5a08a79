"""Loss of sharpness: pictures whose edges have gone soft (upscaled low resolution, defocus, bad scaler).

Edge sharpness is measured on full-resolution luma, on every ``row_step``-th row (and
column-wise on the same sparse rows), at a scale of ``scale_px`` pixels. At each position
where the luma changes by at least ``edge_levels`` over two steps (``|c - a|`` with
``a, b, c`` pixels ``scale_px`` apart), the larger one-step change ``max(|b - a|, |c - b|)``
is compared with it: 1 for a step edge (all the change in one step), 1/2 for a ramp (the
change spread evenly). The frame's sharpness is ``2 * sum(max one-step) / sum(two-step) - 1``
over those positions, in [0, 1]: near 1 for crisp pictures, near 0 for blurred ones,
independent of contrast. Film grain only raises it.

Frames with too few edges (flat, dark or faded pictures) are not judged and end a run. A
run of frames with sharpness at most ``max_sharpness`` lasting ``min_duration_s`` is one
``blur`` event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import cv2

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import Run, RunTracker

log = logging.getLogger(__name__)


class BlurDetector:
    """Report runs of blurred (soft) pictures lasting at least ``min_duration_s``.

    Per-frame metric: :attr:`last_metric` is the sharpness in [0, 1] (None when the frame
    has too few edges); :meth:`metrics` also gives the ratio of sampled positions on edges.
    """

    name: ClassVar[str] = "blur"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "sharpness", "edge_ratio")

    @dataclass(frozen=True)
    class Params:
        """Blur parameters.

        Attributes:
            max_sharpness: highest sharpness of a blurred frame, in [0, 1).
            edge_levels: smallest luma change over two steps that makes an edge, in 8-bit
                levels (> 0).
            scale_px: step between compared pixels, in pixels (>= 1); None: 1 per 540 lines
                of picture height, rounded (2 at 1080p), so that the same blur is measured
                alike at every resolution.
            row_step: analyse every n-th row (>= 1); larger is faster.
            min_edge_ratio: smallest share of sampled positions on edges for a frame to be
                judged, in (0, 1).
            min_duration_s: shortest blur reported, in seconds (>= 0).
            region: the part of the picture analysed; None for the whole picture.
        """

        max_sharpness: float = 0.35
        edge_levels: float = 24.0
        scale_px: int | None = None
        row_step: int = 8
        min_edge_ratio: float = 0.002
        min_duration_s: float = 0.5
        region: Region | None = None

        def __post_init__(self) -> None:
            if not 0.0 <= self.max_sharpness < 1.0:
                raise ValueError(f"blur: max_sharpness must be in [0, 1), got {self.max_sharpness}")
            if not 0 < self.edge_levels < 255:
                raise ValueError(f"blur: edge_levels must be in (0, 255), got {self.edge_levels}")
            if self.scale_px is not None and not (isinstance(self.scale_px, int) and self.scale_px >= 1):
                raise ValueError(f"blur: scale_px must be an integer >= 1 or None, got {self.scale_px!r}")
            if not (isinstance(self.row_step, int) and self.row_step >= 1):
                raise ValueError(f"blur: row_step must be an integer >= 1, got {self.row_step!r}")
            if not 0.0 < self.min_edge_ratio < 1.0:
                raise ValueError(f"blur: min_edge_ratio must be in (0, 1), got {self.min_edge_ratio}")
            if not self.min_duration_s >= 0:
                raise ValueError(f"blur: min_duration_s must be >= 0, got {self.min_duration_s}")
            if self.region is not None and not isinstance(self.region, Region):
                raise ValueError(f"blur: region must be a Region, got {self.region!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._runs = RunTracker(self.params.min_duration_s)
        self.last_metric: float | None = None
        self._last: dict[str, float | int | None] = dict.fromkeys(self.metric_names)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    def sharpness(self, frame: Frame) -> tuple[float | None, float]:
        """Return (sharpness in [0, 1] or None when too few edges, ratio of sampled positions on edges)."""
        p = self.params
        luma = frame.luma
        if p.region is not None:
            rows, cols = p.region.clip(frame.width, frame.height).slices
            luma = luma[rows, cols]
        h, w = luma.shape
        s = p.scale_px if p.scale_px is not None else max(1, round(frame.height / 540))
        if w <= 2 * s or h <= 2 * s:
            return None, 0.0
        step = p.row_step
        big_sum = small_sum = 0.0
        edges = total = 0
        # horizontal changes along sparse rows; vertical changes between sparse row triples
        rows = luma[: h - 2 * s : step]
        triples = [
            (rows[:, : w - 2 * s], rows[:, s : w - s], rows[:, 2 * s :]),
            (rows, luma[s : h - s : step][: rows.shape[0]], luma[2 * s :: step][: rows.shape[0]]),
        ]
        for a, b, c in triples:
            d2 = cv2.absdiff(c, a)
            big = cv2.max(cv2.absdiff(b, a), cv2.absdiff(c, b))
            mask = cv2.compare(d2, p.edge_levels, cv2.CMP_GE)
            n = cv2.countNonZero(mask)
            total += d2.size
            if n:
                # masked sums (cv2.mean with a mask is ~50x slower than and + sum)
                edges += n
                small_sum += cv2.sumElems(cv2.bitwise_and(d2, mask))[0]
                big_sum += cv2.sumElems(cv2.bitwise_and(big, mask))[0]
        ratio = edges / total if total else 0.0
        if ratio < p.min_edge_ratio or small_sum <= 0:
            return None, ratio
        return max(0.0, min(1.0, 2.0 * big_sum / small_sum - 1.0)), ratio

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the blur run that ended, if any."""
        if not isinstance(item, Frame):
            raise TypeError(f"blur: expected a Frame, got {type(item).__name__}")
        sharp, ratio = self.sharpness(item)
        blurred = sharp is not None and sharp <= self.params.max_sharpness
        run = self._runs.update(item, "blur" if blurred else None, 0.0 if sharp is None else sharp)
        self.last_metric = sharp
        self._last = {"index": item.index, "pts_s": item.pts_s, "sharpness": sharp, "edge_ratio": ratio}
        return [] if run is None else [self._event(run)]

    def flush(self) -> list[Event]:
        """Close a blur run still open at the end of the stream."""
        run = self._runs.flush()
        return [] if run is None else [self._event(run)]

    def _event(self, run: Run) -> Event:
        score = 1.0 - run.mean_score / self.params.max_sharpness if self.params.max_sharpness > 0 else 1.0
        event = run.event(
            self.name,
            "blur",
            score=max(0.0, min(1.0, score)),
            region=self.params.region,
            details={"max_sharpness": round(run.max_score, 4), "mean_sharpness": round(run.mean_score, 4)},
        )
        log.debug("blur: %s", event.describe())
        return event
