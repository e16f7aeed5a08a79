"""Hiss: a broadband noise floor heard in quiet passages.

Audio is analysed in 10 ms blocks. A block is *quiet* when its level is ``quiet_margin_db``
below the programme level (the 90th percentile of block levels over the last
``programme_window_s``) or below ``quiet_level_db``; in loud passages noise is masked and not
measured. A quiet block is *hissy* when its high band (above ``band_hz``, 4th-order
high-pass) reaches ``threshold_db`` and carries a broadband share of the block's energy (at
most ``max_band_deficit_db`` below the whole block, as white or pink noise does; room rumble
or a decaying note does not). Stretches of hissy quiet blocks lasting ``min_duration_s``
(bridging ``max_gap_s``) are reported, so fricatives and breaths do not count.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import signal

from detectors.audio._stream import BlockCutter, BlockRuns, SampleClock, check_chunk, power_db
from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)


class HissDetector:
    """Report hiss (broadband noise floor) in quiet passages.

    Per-chunk metric: :attr:`last_metric` is the high-band level (dBFS) of the quietest 10 ms
    block of the last chunk, the noise floor estimate; :meth:`metrics` also gives the
    programme level.
    """

    name: ClassVar[str] = "hiss"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "noise_floor_db", "programme_db")

    @dataclass(frozen=True)
    class Params:
        """Hiss parameters.

        Attributes:
            threshold_db: high-band RMS level (dBFS, full-scale sine = -3 dB) at or above which
                the floor of a quiet block is hiss (< 0).
            band_hz: lower edge of the hiss band, in Hz (1000-12000).
            max_band_deficit_db: largest distance of the band level below the block level
                for broadband noise, in dB (> 0).
            quiet_margin_db: a block this far below the programme level is quiet, in dB (> 0).
            quiet_level_db: a block below this level is quiet whatever the programme, in dBFS.
            programme_window_s: window of the programme level, in seconds (1-60).
            min_duration_s: shortest hiss reported, in seconds (> 0).
            max_gap_s: louder gaps bridged inside one hiss stretch, in seconds (>= 0).
        """

        threshold_db: float = -60.0
        band_hz: float = 4000.0
        max_band_deficit_db: float = 8.0
        quiet_margin_db: float = 20.0
        quiet_level_db: float = -40.0
        programme_window_s: float = 5.0
        min_duration_s: float = 0.5
        max_gap_s: float = 0.03

        def __post_init__(self) -> None:
            for name in ("threshold_db", "quiet_level_db"):
                v = getattr(self, name)
                if not (math.isfinite(v) and v < 0):
                    raise ValueError(f"hiss: {name} must be < 0 dBFS, got {v}")
            if not 1000.0 <= self.band_hz <= 12000.0:
                raise ValueError(f"hiss: band_hz must be in [1000, 12000] Hz, got {self.band_hz}")
            for name in ("max_band_deficit_db", "quiet_margin_db", "min_duration_s"):
                v = getattr(self, name)
                if not (math.isfinite(v) and v > 0):
                    raise ValueError(f"hiss: {name} must be > 0, got {v}")
            if not 1.0 <= self.programme_window_s <= 60.0:
                raise ValueError(f"hiss: programme_window_s must be in [1, 60] s, got {self.programme_window_s}")
            if not (math.isfinite(self.max_gap_s) and self.max_gap_s >= 0):
                raise ValueError(f"hiss: max_gap_s must be >= 0 s, got {self.max_gap_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = SampleClock()
        self._cutter: BlockCutter | None = None
        self._sos: np.ndarray | None = None
        self._zi: np.ndarray | None = None
        self._levels: deque[float] = deque()
        self._runs: BlockRuns | None = None
        self.last_metric: float | None = None
        self._last_programme: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "noise_floor_db": self.last_metric,
            "programme_db": self._last_programme,
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return hiss stretches that ended."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        if chunk.samples.shape[0] == 0:
            return []
        self._clock.observe(chunk)
        rate = chunk.sample_rate_hz
        p = self.params
        if self._cutter is None:
            self._cutter = BlockCutter(rate // 100)
            self._sos = signal.butter(4, min(p.band_hz, 0.45 * rate), "highpass", fs=rate, output="sos")
            self._zi = np.zeros((self._sos.shape[0], 2, chunk.channels))
            self._runs = BlockRuns(int(round(p.min_duration_s * rate)), int(round(p.max_gap_s * 100)))
        assert self._sos is not None and self._runs is not None
        first, blocks = self._cutter.push(chunk)
        if blocks.shape[0] == 0:
            return []
        k, size, ch = blocks.shape
        x = blocks.reshape(k * size, ch).astype(np.float64)
        hf, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        level = 10.0 * np.log10(np.maximum((x * x).reshape(k, size, ch).mean(axis=(1, 2)), 1e-20))
        band = 10.0 * np.log10(np.maximum((hf * hf).reshape(k, size, ch).mean(axis=(1, 2)), 1e-20))
        self._levels.extend(level.tolist())
        keep = int(p.programme_window_s * 100)
        while len(self._levels) > keep:
            self._levels.popleft()
        programme = float(np.percentile(np.fromiter(self._levels, float), 90))
        quiet = (level <= programme - p.quiet_margin_db) | (level <= p.quiet_level_db)
        hissy = quiet & (band >= p.threshold_db) & (band >= level - p.max_band_deficit_db)
        self.last_metric = round(float(band[quiet].min()), 2) if quiet.any() else None
        self._last_programme = round(programme, 2)
        return [self._event(r) for r in self._runs.feed(first, size, hissy, band)]

    def flush(self) -> list[Event]:
        """Close a hiss stretch still open at the end of the stream."""
        if self._runs is None:
            return []
        return [self._event(r) for r in self._runs.flush()]

    def _event(self, run) -> Event:  # type: ignore[no-untyped-def]
        event = Event(
            detector=self.name,
            kind="hiss",
            start_s=self._clock.time_of(run.start),
            end_s=self._clock.time_of(run.end),
            score=min(1.0, max(0.0, (run.mean - self.params.threshold_db) / 20.0)),
            details={"noise_floor_db": round(run.mean, 1), "peak_db": round(run.peak, 1)},
        )
        log.debug("hiss: %s", event.describe())
        return event


__all__ = ["HissDetector", "power_db"]
