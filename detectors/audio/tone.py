"""Tone detection: a steady sine (test tone, beep, line-up tone) with its frequency and level.

Each 5 ms block of the channel sum gets its dominant frequency from a Hann-windowed,
zero-padded FFT (or the expected ``frequency_hz`` is used; set it for tones under ~300 Hz,
which a 5 ms block cannot resolve) and is fitted with a sine at that frequency (least
squares, any phase); the block is tonal when the sine carries at least
``min_purity`` of the block's energy and its level reaches ``min_level_db``. Tonal blocks at
the same frequency (within ``tolerance_hz`` of the run's mean) lasting ``min_duration_s`` make an event.
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

_FFT = 8192


class ToneDetector:
    """Report steady tones (frequency, level) lasting at least ``min_duration_s``.

    Per-chunk metric: :attr:`last_metric` is the purity (share of energy in the sine fit) of
    the last 5 ms block; :meth:`metrics` also gives the frequency analysed and the level.
    """

    name: ClassVar[str] = "tone"
    medium: ClassVar[Medium] = "audio"
    # A measurement, not a defect: `avqa analyze` runs it only when named.
    run_by_default: ClassVar[bool] = False
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "purity", "frequency_hz", "level_db")

    @dataclass(frozen=True)
    class Params:
        """Tone parameters.

        Attributes:
            frequency_hz: the tone looked for, in Hz; None finds the dominant frequency.
            tolerance_hz: largest frequency difference within one tone (and from
                ``frequency_hz``), in Hz (> 0).
            min_level_db: lowest tone amplitude, in dBFS (peak, < 0).
            min_purity: smallest share of a block's energy in the tone, in (0, 1].
            min_duration_s: shortest tone reported, in seconds (> 0).
        """

        frequency_hz: float | None = None
        tolerance_hz: float = 5.0
        min_level_db: float = -50.0
        min_purity: float = 0.9
        min_duration_s: float = 0.2

        def __post_init__(self) -> None:
            if self.frequency_hz is not None and not (math.isfinite(self.frequency_hz) and self.frequency_hz > 0):
                raise ValueError(f"tone: frequency_hz must be > 0 Hz or None, got {self.frequency_hz}")
            if not (math.isfinite(self.tolerance_hz) and self.tolerance_hz > 0):
                raise ValueError(f"tone: tolerance_hz must be > 0 Hz, got {self.tolerance_hz}")
            if not (math.isfinite(self.min_level_db) and self.min_level_db < 0):
                raise ValueError(f"tone: min_level_db must be < 0 dBFS, got {self.min_level_db}")
            if not 0.0 < self.min_purity <= 1.0:
                raise ValueError(f"tone: min_purity must be in (0, 1], got {self.min_purity}")
            if not (math.isfinite(self.min_duration_s) and self.min_duration_s > 0):
                raise ValueError(f"tone: min_duration_s must be > 0 s, got {self.min_duration_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = SampleClock()
        self._cutter: BlockCutter | None = None
        self._run: list[float] = []  # start, end, freq, level sum, count
        self._hann = np.hanning(_FFT)
        self.last_metric: float | None = None
        self._last_freq: float | None = None
        self._last_level: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "purity": self.last_metric,
            "frequency_hz": self._last_freq,
            "level_db": self._last_level,
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return tones that ended."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        if chunk.samples.shape[0] == 0:
            return []
        self._clock.observe(chunk)
        rate = chunk.sample_rate_hz
        if self._cutter is None:
            self._cutter = BlockCutter(rate // 200)
        first, blocks = self._cutter.push(chunk)
        events: list[Event] = []
        size = self._cutter.block
        k = blocks.shape[0]
        if k == 0:
            return events
        group = blocks.sum(axis=2, dtype=np.float64)  # (k, size)
        if self.params.frequency_hz is None:
            freqs = self.block_frequencies(group, rate)
        else:
            freqs = np.full(k, self.params.frequency_hz)
        n = first + np.arange(k * size).reshape(k, size)
        arg = 2 * np.pi * freqs[:, None] * n / rate
        cs, sn = np.cos(arg), np.sin(arg)
        scc, sss, scs = (cs * cs).sum(1), (sn * sn).sum(1), (cs * sn).sum(1)
        sxc, sxs = (group * cs).sum(1), (group * sn).sum(1)
        det = np.maximum(scc * sss - scs * scs, 1e-12)
        a = (sxc * sss - sxs * scs) / det
        b = (sxs * scc - sxc * scs) / det
        fit = a * sxc + b * sxs  # energy explained by the sine
        energy = (group * group).sum(1)
        purity = np.where(energy > 0, fit / np.maximum(energy, 1e-30), 0.0)
        amp = np.sqrt(a * a + b * b) / chunk.channels
        tonal = (purity >= self.params.min_purity) & (amp >= 10.0 ** (self.params.min_level_db / 20.0))
        self.last_metric = round(float(purity[-1]), 4)
        self._last_freq = round(float(freqs[-1]), 2)
        self._last_level = round(db(float(amp[-1])), 2)
        for j in range(k):
            s = first + j * size
            f = float(freqs[j])
            if tonal[j]:
                if self._run and abs(self._run[2] / self._run[4] - f) <= self.params.tolerance_hz and self._run[1] == s:
                    self._run[1] = s + size
                    self._run[2] += f
                    self._run[3] += float(amp[j])
                    self._run[4] += 1
                    continue
                events.extend(self._close())
                self._run = [s, s + size, f, float(amp[j]), 1]
            elif self._run:
                events.extend(self._close())
        return events

    def block_frequencies(self, group: np.ndarray, rate: int) -> np.ndarray:
        """Return the dominant frequency of each block (Hann, zero-padded FFT, parabolic peak), in Hz."""
        k, size = group.shape
        if self._hann.size != size:
            self._hann = np.hanning(size)
        mag = np.abs(np.fft.rfft(group * self._hann, n=_FFT, axis=1))
        j = np.argmax(mag[:, 1:-1], axis=1) + 1
        rows = np.arange(k)
        a, b, c = (np.log(mag[rows, j + d] + 1e-30) for d in (-1, 0, 1))
        den = a - 2 * b + c
        delta = np.where(den != 0, 0.5 * (a - c) / np.where(den != 0, den, 1.0), 0.0)
        return (j + delta) * rate / _FFT

    def flush(self) -> list[Event]:
        """Close a tone still open at the end of the stream."""
        return self._close()

    def _close(self) -> list[Event]:
        if not self._run:
            return []
        start, end, f_sum, amp_sum, count = self._run
        f = f_sum / count
        self._run = []
        rate = self._clock.rate_hz
        if (end - start) / rate < self.params.min_duration_s - 1e-6:
            return []
        if self.params.frequency_hz is not None and abs(f - self.params.frequency_hz) > self.params.tolerance_hz:
            return []
        level = db(amp_sum / count)
        event = Event(
            detector=self.name,
            kind="tone",
            start_s=self._clock.time_of(start),
            end_s=self._clock.time_of(end),
            score=1.0,
            details={"frequency_hz": round(float(f), 1), "level_db": round(level, 2)},
        )
        log.debug("tone: %s", event.describe())
        return [event]
