"""Dropouts: short gaps of (near) digital silence inside programme audio.

A dropout is a run of sample instants where every channel is below ``threshold_db``,
lasting from ``min_gap_ms`` up to ``max_gap_s`` (longer gaps are the silence detector's),
with programme on both sides: the ``context_ms`` just before and just after the gap are at
least ``context_db`` RMS. Natural pauses fade out and so fail the context test; a cut in
the stream drops from programme to nothing at once. Edges are sample-exact.
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


class DropoutDetector:
    """Report short gaps inside programme audio, sample-accurate.

    Per-chunk metric: :attr:`last_metric` is the longest run of quiet samples (ms) that ended
    in the last chunk; :meth:`metrics` also gives the chunk's RMS level.
    """

    name: ClassVar[str] = "dropout"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "longest_gap_ms", "rms_db")

    @dataclass(frozen=True)
    class Params:
        """Dropout parameters.

        Attributes:
            threshold_db: level under which a sample instant is part of a gap, in dBFS (< 0).
            min_gap_ms: shortest gap reported, in ms (> 0).
            max_gap_s: longest gap reported, in seconds (longer ones are silences).
            context_ms: programme measured on each side of the gap, in ms (1-100).
            context_db: lowest RMS level of that programme, in dBFS (< 0).
        """

        threshold_db: float = -70.0
        min_gap_ms: float = 2.0
        max_gap_s: float = 0.5
        context_ms: float = 10.0
        context_db: float = -40.0

        def __post_init__(self) -> None:
            for name in ("threshold_db", "context_db"):
                v = getattr(self, name)
                if not (math.isfinite(v) and v < 0):
                    raise ValueError(f"dropout: {name} must be < 0 dBFS, got {v}")
            if not (math.isfinite(self.min_gap_ms) and self.min_gap_ms > 0):
                raise ValueError(f"dropout: min_gap_ms must be > 0 ms, got {self.min_gap_ms}")
            if not (math.isfinite(self.max_gap_s) and self.max_gap_s * 1000.0 > self.min_gap_ms):
                raise ValueError(f"dropout: max_gap_s must be longer than min_gap_ms, got {self.max_gap_s}")
            if not 1.0 <= self.context_ms <= 100.0:
                raise ValueError(f"dropout: context_ms must be in [1, 100] ms, got {self.context_ms}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._thr = np.float32(10.0 ** (self.params.threshold_db / 20.0))
        self._ctx_ms = 10.0 ** (self.params.context_db / 10.0)
        self._clock = SampleClock()
        self._buf = np.zeros((0, 1), np.float32)  # recent samples (n, ch)
        self._buf_start = 0
        self._done = 0  # gaps starting before this stream sample were decided
        self.last_metric: float | None = None
        self._last_rms: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "longest_gap_ms": self.last_metric,
            "rms_db": self._last_rms,
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return dropouts whose after-context is complete."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        n = chunk.samples.shape[0]
        if n == 0:
            return []
        self._clock.observe(chunk)
        rate = chunk.sample_rate_hz
        self._last_rms = round(db(math.sqrt(float(np.mean(chunk.samples.astype(np.float64) ** 2)))), 2)
        if self._buf.shape[0] and self._buf_start + self._buf.shape[0] == chunk.start_sample and self._buf.shape[1] == chunk.channels:
            buf = np.concatenate([self._buf, chunk.samples])
        else:
            buf = chunk.samples
            self._buf_start = chunk.start_sample
        p = self.params
        ctx = max(1, int(round(p.context_ms * rate / 1000.0)))
        min_len = max(1, int(math.ceil(p.min_gap_ms * rate / 1000.0 - 1e-9)))
        max_len = int(p.max_gap_s * rate)
        amp = np.abs(buf).max(axis=1)
        quiet = amp < self._thr
        edges = np.diff(np.concatenate([[False], quiet, [False]]).astype(np.int8))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)
        total = buf.shape[0]
        events: list[Event] = []
        longest = 0
        keep_from = max(0, total - ctx)  # the before-context of a gap starting in the next chunk
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            length = b - a
            if length < min_len or self._buf_start + a < self._done:
                continue
            if b == total or total - b < ctx:  # still open, or the after-context not there yet
                if length <= max_len:  # (a longer gap is a silence: forget its start)
                    keep_from = min(keep_from, max(0, a - ctx))
                break
            longest = max(longest, length)
            self._done = self._buf_start + b
            if length > max_len or a < ctx:
                continue
            before = float(np.mean(buf[a - ctx : a].astype(np.float64) ** 2))
            after = float(np.mean(buf[b : b + ctx].astype(np.float64) ** 2))
            if before >= self._ctx_ms and after >= self._ctx_ms:
                events.append(self._event(self._buf_start + a, self._buf_start + b, before, after))
        self.last_metric = round(1000.0 * longest / rate, 3)
        self._buf = buf[keep_from:].copy()
        self._buf_start += keep_from
        return events

    def flush(self) -> list[Event]:
        """Forget the stream end (a gap running into the end has no programme after it)."""
        self._buf = np.zeros((0, 1), np.float32)
        return []

    def _event(self, a: int, b: int, before: float, after: float) -> Event:
        context = min(before, after)
        event = Event(
            detector=self.name,
            kind="dropout",
            start_s=self._clock.time_of(a),
            end_s=self._clock.time_of(b),
            score=min(1.0, max(0.0, (10.0 * math.log10(context) - self.params.context_db) / 20.0 + 0.5)),
            details={"gap_ms": round(1000.0 * (b - a) / self._clock.rate_hz, 3), "context_db": round(10.0 * math.log10(context), 1)},
        )
        log.debug("dropout: %s", event.describe())
        return event
