"""Clipping: runs of samples stuck at full scale, or flat-topped plateaus left by clipping then attenuation.

A channel is clipped where at least ``min_run_samples`` consecutive samples hold the same
value at ``clip_level_db`` or above (0 dBFS clipping; decoders that overshoot are clamped to
full scale on decoding), or where at least
``min_plateau_samples`` consecutive samples hold the very same value at a level of at least
``plateau_level_db`` (digital clipping followed by a gain change; real audio never holds a
loud value that long above ~16 Hz). Clipped samples closer than ``merge_gap_s`` form one
event from the first clipped sample to the last (inclusive, so ``end_s`` is one sample later).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.audio._stream import SampleClock, check_chunk, db
from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)


def in_long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    """Return which positions of the 1-D bool ``mask`` lie in runs of at least ``length`` Trues."""
    n = mask.size
    if length <= 1 or n == 0:
        return mask.copy()
    if n < length:
        return np.zeros(n, bool)
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    full = (c[length:] - c[:-length]) == length  # window [i, i+length) all True
    d = np.concatenate([[0], np.cumsum(full, dtype=np.int64)])
    idx = np.arange(n)
    lo = np.clip(idx - length + 1, 0, full.size)
    hi = np.clip(idx + 1, 0, full.size)
    return (d[hi] - d[lo]) > 0


class ClippingDetector:
    """Report clipped stretches (full-scale runs and flat-topped plateaus).

    Per-chunk metric: :attr:`last_metric` is the number of clipped samples in the last chunk
    (all channels); :meth:`metrics` also gives the chunk's sample peak in dBFS.
    """

    name: ClassVar[str] = "clipping"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "peak_db", "clipped_samples")

    @dataclass(frozen=True)
    class Params:
        """Clipping parameters.

        Attributes:
            clip_level_db: a sample at or above this magnitude is at full scale, in dBFS (<= 0).
            min_run_samples: consecutive full-scale samples that make clipping (>= 2).
            plateau_level_db: lowest level of a flat-topped plateau, in dBFS (< 0); None
                disables plateau detection (e.g. for 8-bit audio).
            min_plateau_samples: consecutive identical samples that make a plateau (>= 4).
            merge_gap_s: clipped samples closer than this belong to one event, in seconds (>= 0).
        """

        clip_level_db: float = -0.01
        min_run_samples: int = 3
        plateau_level_db: float | None = -12.0
        min_plateau_samples: int = 10
        merge_gap_s: float = 0.1

        def __post_init__(self) -> None:
            if not (math.isfinite(self.clip_level_db) and self.clip_level_db <= 0.0):
                raise ValueError(f"clipping: clip_level_db must be <= 0 dBFS, got {self.clip_level_db}")
            if not (isinstance(self.min_run_samples, int) and self.min_run_samples >= 2):
                raise ValueError(f"clipping: min_run_samples must be an integer >= 2, got {self.min_run_samples!r}")
            if self.plateau_level_db is not None and not (math.isfinite(self.plateau_level_db) and self.plateau_level_db < 0):
                raise ValueError(f"clipping: plateau_level_db must be < 0 dBFS or None, got {self.plateau_level_db}")
            if not (isinstance(self.min_plateau_samples, int) and self.min_plateau_samples >= 4):
                raise ValueError(f"clipping: min_plateau_samples must be an integer >= 4, got {self.min_plateau_samples!r}")
            if not (math.isfinite(self.merge_gap_s) and self.merge_gap_s >= 0):
                raise ValueError(f"clipping: merge_gap_s must be >= 0 s, got {self.merge_gap_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        p = self.params
        self._clip = np.float32(10.0 ** (p.clip_level_db / 20.0))
        self._plateau = None if p.plateau_level_db is None else np.float32(10.0 ** (p.plateau_level_db / 20.0))
        self._look = max(p.min_run_samples, p.min_plateau_samples)
        self._clock = SampleClock()
        self._tail: np.ndarray | None = None
        self._next: int | None = None
        self._reported = -1  # last stream sample already counted
        self._open: list[int] = []  # [first, last, count] of the open event
        self._peak = 0.0
        self._end_sample = 0
        self.last_metric: int | None = None
        self._last_peak_db: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "peak_db": self._last_peak_db,
            "clipped_samples": self.last_metric,
        }

    def clipped_positions(self, x: np.ndarray) -> np.ndarray:
        """Return a bool per sample instant of ``x`` (n, channels): clipped on any channel."""
        mag = np.abs(x)
        out = np.zeros(x.shape[0], bool)
        if x.shape[0] < 2:
            return out
        for ch in range(x.shape[1]):
            same = np.zeros(x.shape[0], bool)
            same[1:] = x[1:, ch] == x[:-1, ch]
            for level, length in ((self._clip, self.params.min_run_samples), (self._plateau, self.params.min_plateau_samples)):
                if level is None:
                    continue
                run = in_long_runs(same & (mag[:, ch] >= level), length - 1)
                run[:-1] |= run[1:]  # the first sample of the run too
                out |= run
        return out

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return clipped stretches that ended."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        n = chunk.samples.shape[0]
        if n == 0:
            return []
        self._clock.observe(chunk)
        x = chunk.samples
        start = chunk.start_sample
        if self._tail is not None and self._next == start:
            x = np.concatenate([self._tail, x])
            start -= self._tail.shape[0]
        self._next = chunk.start_sample + n
        self._end_sample = self._next
        self._tail = x[-(self._look - 1) :].copy() if self._look > 1 else None
        flags = self.clipped_positions(x)
        pos = np.flatnonzero(flags) + start
        pos = pos[pos > self._reported]
        self.last_metric = int(pos.size)
        peak = float(np.abs(chunk.samples).max())
        self._last_peak_db = round(db(peak), 3)
        events: list[Event] = []
        merge = int(self.params.merge_gap_s * chunk.sample_rate_hz)
        if pos.size:
            self._reported = int(pos[-1])
            breaks = np.flatnonzero(np.diff(pos) > merge)
            groups = np.split(pos, breaks + 1)
            peak_here = float(np.abs(x).max())
            for g in groups:
                first, last = int(g[0]), int(g[-1])
                if self._open and first - self._open[1] <= merge:
                    self._open[1], self._open[2] = last, self._open[2] + g.size
                else:
                    events.extend(self._close())
                    self._open = [first, last, int(g.size)]
                self._peak = max(self._peak, peak_here)
        if self._open and self._end_sample - 1 - self._open[1] > merge:
            events.extend(self._close())
        return events

    def flush(self) -> list[Event]:
        """Close a clipped stretch still open at the end of the stream."""
        events = self._close()
        self._tail = None
        return events

    def _close(self) -> list[Event]:
        if not self._open:
            return []
        first, last, count = self._open
        self._open = []
        rate = self._clock.rate_hz
        event = Event(
            detector=self.name,
            kind="clipping",
            start_s=self._clock.time_of(first),
            end_s=self._clock.time_of(last + 1),
            score=min(1.0, count / max(1.0, rate / 1000.0)),  # 1 ms of clipped samples: certain
            details={"clipped_samples": count, "peak_db": round(db(self._peak), 2)},
        )
        self._peak = 0.0
        log.debug("clipping: %s", event.describe())
        return [event]
