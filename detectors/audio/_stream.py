"""Helpers shared by the audio detectors: a sample clock, fixed-size block cutting and runs of flagged blocks.

Audio detectors receive chunks of any size; most analyse fixed blocks (10 ms, 100 ms...).
:class:`BlockCutter` turns the chunk stream into whole blocks without copying more than one
partial block, :class:`SampleClock` maps stream sample numbers to capture-clock seconds and
:class:`BlockRuns` turns per-block decisions into runs with a minimum duration and a merge gap.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from detectors.media import AudioChunk, Frame


def db(value: float, floor_db: float = -200.0) -> float:
    """Return ``20*log10(value)`` (amplitude to dB), ``floor_db`` for zero."""
    return 20.0 * math.log10(value) if value > 10.0 ** (floor_db / 20.0) else floor_db


def power_db(value: float, floor_db: float = -200.0) -> float:
    """Return ``10*log10(value)`` (power to dB), ``floor_db`` for zero."""
    return 10.0 * math.log10(value) if value > 10.0 ** (floor_db / 10.0) else floor_db


def check_chunk(name: str, item: Frame | AudioChunk) -> AudioChunk:
    """Return ``item`` if it is an AudioChunk, TypeError naming the detector otherwise."""
    if not isinstance(item, AudioChunk):
        raise TypeError(f"{name}: expected an AudioChunk, got {type(item).__name__}")
    return item


class SampleClock:
    """Map stream sample numbers to seconds on the capture clock (anchored on the first chunk)."""

    __slots__ = ("_pts0", "_s0", "rate_hz")

    def __init__(self) -> None:
        self._pts0 = 0.0
        self._s0 = 0
        self.rate_hz = 0

    def observe(self, chunk: AudioChunk) -> None:
        if self.rate_hz == 0:
            self._pts0, self._s0, self.rate_hz = chunk.pts_s, chunk.start_sample, chunk.sample_rate_hz
        elif chunk.sample_rate_hz != self.rate_hz:
            raise ValueError(f"sample rate changed from {self.rate_hz} to {chunk.sample_rate_hz} Hz mid-stream")

    def time_of(self, sample: int | float) -> float:
        """Return the capture time of stream sample number ``sample``, in seconds."""
        return self._pts0 + (sample - self._s0) / self.rate_hz if self.rate_hz else 0.0


class BlockCutter:
    """Cut a stream of chunks into whole blocks of ``block`` samples.

    ``push`` returns ``(first_sample, blocks)`` with ``blocks`` shaped (k, block, channels)
    (k may be 0). A gap in ``start_sample`` drops the partial block (its samples are lost).
    """

    def __init__(self, block: int) -> None:
        if block < 1:
            raise ValueError(f"block size must be >= 1 sample, got {block}")
        self.block = block
        self._pending: np.ndarray | None = None
        self._pending_start = 0
        self._next: int | None = None

    def push(self, chunk: AudioChunk) -> tuple[int, np.ndarray]:
        data = chunk.samples
        start = chunk.start_sample
        if self._pending is not None and self._next == start:
            data = np.concatenate([self._pending, data])
            start = self._pending_start
        self._next = chunk.start_sample + chunk.samples.shape[0]
        k = data.shape[0] // self.block
        used = k * self.block
        rest = data[used:]
        self._pending = rest.copy() if rest.shape[0] else None
        self._pending_start = start + used
        return start, data[:used].reshape(k, self.block, data.shape[1])


@dataclass(frozen=True, slots=True)
class Run:
    """A closed run of flagged blocks: samples ``[start, end)``, the peak value and its block."""

    start: int
    end: int
    peak: float
    peak_at: int
    mean: float


class BlockRuns:
    """Group per-block flags into runs; a run may bridge gaps of up to ``max_gap`` unflagged blocks."""

    def __init__(self, min_samples: int, max_gap: int = 0) -> None:
        self.min_samples = min_samples
        self.max_gap = max_gap
        self._start: int | None = None
        self._end = 0
        self._gap = 0
        self._peak = -math.inf
        self._peak_at = 0
        self._sum = 0.0
        self._n = 0

    @property
    def open(self) -> bool:
        return self._start is not None

    def feed(
        self, first: int, size: int, flags: np.ndarray, values: np.ndarray, neutral: np.ndarray | None = None
    ) -> Iterator[Run]:
        """Feed consecutive blocks starting at sample ``first``; yield the runs that closed.

        ``neutral`` blocks (nothing can be judged there) neither extend nor break a run.
        """
        if flags.size == 0:
            return
        if self._start is None and not flags.any():
            return
        for i in range(flags.size):  # per block (5-100 ms), not per sample
            s = first + i * size
            if neutral is not None and neutral[i]:
                continue
            if flags[i]:
                if self._start is None:
                    self._start, self._peak, self._sum, self._n = s, -math.inf, 0.0, 0
                self._end, self._gap = s + size, 0
                v = float(values[i])
                self._sum += v
                self._n += 1
                if v > self._peak:
                    self._peak, self._peak_at = v, s
            elif self._start is not None:
                self._gap += 1
                if self._gap > self.max_gap:
                    run = self._close()
                    if run is not None:
                        yield run

    def flush(self) -> Iterator[Run]:
        if self._start is not None:
            run = self._close()
            if run is not None:
                yield run

    def _close(self) -> Run | None:
        start = self._start
        assert start is not None
        self._start, self._gap = None, 0
        if self._end - start < self.min_samples:
            return None
        return Run(start, self._end, self._peak, self._peak_at, self._sum / max(1, self._n))
