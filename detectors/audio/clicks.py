"""Clicks and pops: isolated impulses that stand out of the local signal.

The centred second difference ``x[n+1] - 2 x[n] + x[n-1]`` of each channel emphasises
impulses and discontinuities while smooth programme (tones, voice, music) stays small. Its
median magnitude per 5 ms block measures the local activity; a sample is a click when its
second difference exceeds ``ratio`` times the largest median of its own block and the two
neighbouring blocks (so the onset of a drum, loud on one side, is not a click) and at least
``min_level_db``. Clicks closer than ``merge_gap_s`` form one event.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.audio._stream import BlockCutter, SampleClock, check_chunk, db
from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)


class ClickDetector:
    """Report clicks/pops (impulsive discontinuities), sample-accurate.

    Per-chunk metric: :attr:`last_metric` is the largest click ratio (second difference over
    local activity) seen in the blocks analysed during the last chunk; :meth:`metrics` gives it
    with the count of clicks.
    """

    name: ClassVar[str] = "clicks"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "max_ratio", "clicks")

    @dataclass(frozen=True)
    class Params:
        """Click parameters.

        Attributes:
            ratio: how many times the local median second difference a click must exceed (> 1).
            min_level_db: smallest second-difference magnitude of a click, in dBFS (< 0).
            block_ms: block over which the local activity is measured, in ms (1-50).
            merge_gap_s: clicks closer than this form one event, in seconds (>= 0).
        """

        ratio: float = 12.0
        min_level_db: float = -26.0
        block_ms: float = 5.0
        merge_gap_s: float = 0.05

        def __post_init__(self) -> None:
            if not (math.isfinite(self.ratio) and self.ratio > 1.0):
                raise ValueError(f"clicks: ratio must be > 1, got {self.ratio}")
            if not (math.isfinite(self.min_level_db) and self.min_level_db < 0):
                raise ValueError(f"clicks: min_level_db must be < 0 dBFS, got {self.min_level_db}")
            if not 1.0 <= self.block_ms <= 50.0:
                raise ValueError(f"clicks: block_ms must be in [1, 50] ms, got {self.block_ms}")
            if not (math.isfinite(self.merge_gap_s) and self.merge_gap_s >= 0):
                raise ValueError(f"clicks: merge_gap_s must be >= 0 s, got {self.merge_gap_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._min_level = 10.0 ** (self.params.min_level_db / 20.0)
        self._clock = SampleClock()
        self._cutter: BlockCutter | None = None
        self._context: np.ndarray | None = None  # the last two blocks (2, block, ch)
        self._context_start = 0
        self._open: list[float] = []  # first, last, count, best ratio
        self._end_sample = 0
        self.last_metric: float | None = None
        self._last_clicks = 0
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "max_ratio": self.last_metric,
            "clicks": self._last_clicks,
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return click events that ended (one block of delay)."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        if chunk.samples.shape[0] == 0:
            return []
        self._clock.observe(chunk)
        if self._cutter is None:
            self._cutter = BlockCutter(max(4, int(round(chunk.sample_rate_hz * self.params.block_ms / 1000.0))))
        first, blocks = self._cutter.push(chunk)
        self._end_sample = chunk.start_sample + chunk.samples.shape[0]
        self._last_clicks = 0
        if blocks.shape[0] == 0:
            return self._maybe_close()
        size = self._cutter.block
        if self._context is not None and self._context_start + 2 * size == first:
            allb = np.concatenate([self._context, blocks])
            base = self._context_start
        else:
            allb = blocks
            base = first
        self._context = allb[-2:].copy() if allb.shape[0] >= 2 else None
        self._context_start = base + (allb.shape[0] - 2) * size
        if allb.shape[0] < 3:
            return self._maybe_close()
        events = self._analyse(allb, base, size)
        events.extend(self._maybe_close())
        return events

    def _analyse(self, allb: np.ndarray, base: int, size: int) -> list[Event]:
        k, _, ch = allb.shape
        x = allb.reshape(k * size, ch).astype(np.float32, copy=False)
        d2 = np.zeros_like(x)
        d2[1:-1] = np.abs(x[2:] - 2.0 * x[1:-1] + x[:-2])
        blocks = d2.reshape(k, size, ch)
        med = np.median(blocks, axis=1)  # (k, ch)
        scale = np.maximum(np.maximum(med[:-2], med[1:-1]), med[2:])  # for blocks 1..k-2
        mid = blocks[1:-1]  # (k-2, size, ch)
        thr = np.maximum(self.params.ratio * scale, self._min_level)[:, None, :]
        hits = mid > thr
        ratios = mid / np.maximum(scale[:, None, :], 1e-12)
        best = float(ratios.max()) if ratios.size else 0.0
        self.last_metric = round(best, 3)
        if not hits.any():
            return []
        b, i, c = np.nonzero(hits)
        pos = base + (b + 1) * size + i
        order = np.argsort(pos, kind="stable")
        pos, rat = pos[order], ratios[b, i, c][order]
        uniq = np.unique(pos)
        self._last_clicks = int(uniq.size)
        merge = int(self.params.merge_gap_s * self._clock.rate_hz)
        events: list[Event] = []
        for p, r in zip(pos.tolist(), rat.tolist(), strict=True):
            if self._open and p - self._open[1] <= merge:
                if p > self._open[1] + 2:  # an impulse flags up to 3 neighbouring samples
                    self._open[2] += 1
                self._open[1] = p
                self._open[3] = max(self._open[3], r)
            else:
                events.extend(self._close())
                self._open = [p, p, 1, r]
        return events

    def _maybe_close(self) -> list[Event]:
        # Analysis lags by one block; close when no click can join any more.
        lag = self._cutter.block * 2 if self._cutter is not None else 0
        merge = int(self.params.merge_gap_s * self._clock.rate_hz)
        if self._open and self._end_sample - lag - self._open[1] > merge:
            return self._close()
        return []

    def flush(self) -> list[Event]:
        """Close an open click event (the last block of the stream is not analysed)."""
        return self._close()

    def _close(self) -> list[Event]:
        if not self._open:
            return []
        first, last, count, ratio = self._open
        self._open = []
        event = Event(
            detector=self.name,
            kind="click",
            start_s=self._clock.time_of(first),
            end_s=self._clock.time_of(last + 1),
            score=min(1.0, ratio / (2.0 * self.params.ratio)),
            details={"clicks": int(count), "ratio": round(ratio, 1)},
        )
        log.debug("clicks: %s", event.describe())
        return [event]


__all__ = ["ClickDetector", "db"]
