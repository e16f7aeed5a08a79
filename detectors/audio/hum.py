"""Mains hum: a steady 50 or 60 Hz component and/or its harmonics standing out of the spectrum.

Every ``hop_s`` the last second of audio (channels summed) is analysed with a Hann-windowed
FFT at 1 Hz resolution. For each mains frequency (50 and 60 Hz) and each harmonic up to
``harmonics``, the spectral peak within ``tolerance_hz`` (times the harmonic number) of the
nominal frequency must stand ``prominence_db`` above the median of the surrounding 20 Hz.
A window hums when the fundamental, or at least two harmonics, stand out and their summed
level reaches ``min_level_db``. Windows humming for ``min_duration_s`` make an event; its
edges are then located to a few ms from the amplitude envelope of the strongest component
(complex demodulation through an 80 ms Hann window).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import signal

from detectors.audio._stream import BlockCutter, SampleClock, check_chunk, power_db
from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)

_MAINS_HZ = (50.0, 60.0)


def tone_envelope(x: np.ndarray, freq_hz: float, rate_hz: int, periods: int = 4) -> tuple[np.ndarray, int]:
    """Return the amplitude envelope of the ``freq_hz`` component of mono ``x`` and the window length.

    ``env[i]`` is the amplitude measured over samples ``[i, i + n)`` (Hann-weighted), so a tone
    starting at sample ``s`` reaches half its amplitude at ``i = s - n/2``.
    """
    n = max(8, int(round(periods * rate_hz / freq_hz)))
    if x.size < n:
        return np.zeros(0), n
    w = np.hanning(n)
    w /= w.sum()
    ph = np.exp(-2j * np.pi * freq_hz * np.arange(x.size) / rate_hz)
    z = signal.fftconvolve(x * ph, w[::-1], mode="valid")
    return 2.0 * np.abs(z), n


def refine_edge(x: np.ndarray, freq_hz: float, rate_hz: int, amplitude: float, rising: bool) -> int | None:
    """Return the sample of ``x`` where the ``freq_hz`` component starts (rising) or stops, or None."""
    env, n = tone_envelope(x, freq_hz, rate_hz)
    if env.size == 0 or amplitude <= 0:
        return None
    above = env >= 0.5 * amplitude
    if rising:
        idx = np.flatnonzero(above)
        if idx.size == 0:
            return None
        # the last crossing from below before the component stays up
        below = np.flatnonzero(~above[: idx[-1] + 1])
        i = int(below[-1]) + 1 if below.size else int(idx[0])
        return i + n // 2
    idx = np.flatnonzero(~above)
    if idx.size == 0:
        return None
    up = np.flatnonzero(above[: idx[-1] + 1])
    i = int(up[-1]) + 1 if up.size else int(idx[0])
    return i + n // 2


class HumDetector:
    """Report mains hum (50/60 Hz and harmonics) lasting at least ``min_duration_s``.

    Per-window metric: :attr:`last_metric` is the hum level (dBFS, summed prominent mains
    components) of the last window analysed; :meth:`metrics` also names the mains frequency.
    """

    name: ClassVar[str] = "hum"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "hum_db", "mains_hz")

    @dataclass(frozen=True)
    class Params:
        """Hum parameters.

        Attributes:
            min_level_db: lowest summed level of the hum components, in dBFS (< 0).
            prominence_db: how far a component must stand above the nearby spectrum, in dB (> 0).
            harmonics: highest harmonic number examined (1-10).
            tolerance_hz: largest distance of the fundamental from 50/60 Hz, in Hz (0-2).
            min_duration_s: shortest hum reported, in seconds (>= 1).
            hop_s: analysis step, in seconds (0.05-0.5).
        """

        min_level_db: float = -70.0
        prominence_db: float = 15.0
        harmonics: int = 5
        tolerance_hz: float = 0.2
        min_duration_s: float = 2.0
        hop_s: float = 0.25

        def __post_init__(self) -> None:
            if not (math.isfinite(self.min_level_db) and self.min_level_db < 0):
                raise ValueError(f"hum: min_level_db must be < 0 dBFS, got {self.min_level_db}")
            if not (math.isfinite(self.prominence_db) and self.prominence_db > 0):
                raise ValueError(f"hum: prominence_db must be > 0 dB, got {self.prominence_db}")
            if not (isinstance(self.harmonics, int) and 1 <= self.harmonics <= 10):
                raise ValueError(f"hum: harmonics must be an integer in [1, 10], got {self.harmonics!r}")
            if not 0.0 < self.tolerance_hz <= 2.0:
                raise ValueError(f"hum: tolerance_hz must be in (0, 2] Hz, got {self.tolerance_hz}")
            if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 1.0):
                raise ValueError(f"hum: min_duration_s must be >= 1 s, got {self.min_duration_s}")
            if not 0.05 <= self.hop_s <= 0.5:
                raise ValueError(f"hum: hop_s must be in [0.05, 0.5] s, got {self.hop_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = SampleClock()
        self._cutter: BlockCutter | None = None
        self._hist: deque[np.ndarray] = deque()  # mono hop blocks, newest last
        self._hist_first = 0  # stream sample of the first block kept
        self._window: np.ndarray | None = None
        self._run: dict[str, float] | None = None
        self._end_sample = 0
        self.last_metric: float | None = None
        self._last_mains: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "hum_db": self.last_metric,
            "mains_hz": self._last_mains,
        }

    def analyse(self, x: np.ndarray, rate_hz: int) -> tuple[float, float, float, float]:
        """Return (mains Hz or 0, hum level dBFS, reference component Hz, its amplitude) for 1 s of mono ``x``.

        The level is that of a sine with the summed power of the prominent components (peak
        amplitude in dBFS); the reference component is the fundamental when present.
        """
        if self._window is None or self._window.size != x.size:
            self._window = np.hanning(x.size)
        spec = np.fft.rfft(x * self._window)
        # Scaled so that a sine of amplitude a on a bin reads a^2 / 2 (its mean square).
        power = np.abs(spec) ** 2 * (2.0 / (np.sum(self._window) ** 2))
        hz_per_bin = rate_hz / x.size
        best = (0.0, -math.inf, 0.0, 0.0)
        quarters = x.size // 4
        for mains in _MAINS_HZ:
            present = []
            for h in range(1, self.params.harmonics + 1):
                f = mains * h
                k = int(round(f / hz_per_bin))
                tol = max(1, int(math.ceil(self.params.tolerance_hz * h / hz_per_bin)))
                lo, hi = k - tol, k + tol + 1
                if hi + 13 >= power.size or lo - 13 < 0:
                    break
                j = lo + int(np.argmax(power[lo:hi]))
                a, b, c = np.log(power[j - 1 : j + 2] + 1e-30)
                den = a - 2 * b + c
                delta = 0.5 * (a - c) / den if den != 0 else 0.0
                freq = (j + delta) * hz_per_bin
                if abs(freq - f) > self.params.tolerance_hz * h:
                    continue
                ring = np.concatenate([power[j - 12 : j - 2], power[j + 3 : j + 13]])
                floor = float(np.median(ring)) + 1e-30
                ms = float(power[j - 1 : j + 2].sum()) / 1.5  # a bin-centred Hann peak spreads 1 + 2 * 0.25 of its power
                if ms <= 1e-20 or 10.0 * math.log10(ms / floor) < self.params.prominence_db:
                    continue
                # Steady: the component's amplitude in each quarter of the window within 6 dB.
                n = np.arange(quarters * 4)
                ph = np.exp(-2j * np.pi * freq * n / rate_hz)
                amps = np.abs((x[: quarters * 4] * ph).reshape(4, quarters).sum(axis=1)) * 2.0 / quarters
                if amps.min() < 0.5 * amps.max():
                    continue
                present.append((h, freq, ms))
            if not present or not (present[0][0] == 1 or len(present) >= 2):
                continue
            level = power_db(2.0 * sum(p for _, _, p in present))
            if level > best[1]:
                h, freq, ms = present[0]
                best = (mains, level, float(freq), math.sqrt(2.0 * ms))
        return best

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return hum events that ended."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        if chunk.samples.shape[0] == 0:
            return []
        self._clock.observe(chunk)
        rate = chunk.sample_rate_hz
        if self._cutter is None:
            self._cutter = BlockCutter(max(1, int(round(self.params.hop_s * rate))))
        self._end_sample = chunk.start_sample + chunk.samples.shape[0]
        first, blocks = self._cutter.push(chunk)
        hop = self._cutter.block
        per_window = max(1, int(round(rate / hop)))
        keep = per_window + int(math.ceil(4.0 * rate / hop))
        events: list[Event] = []
        for i in range(blocks.shape[0]):
            start = first + i * hop
            if self._hist and self._hist_first + len(self._hist) * hop != start:
                self._hist.clear()
            if not self._hist:
                self._hist_first = start
            self._hist.append(blocks[i].sum(axis=1, dtype=np.float64))
            while len(self._hist) > keep:
                self._hist.popleft()
                self._hist_first += hop
            if len(self._hist) < per_window:
                continue
            window = np.concatenate(list(self._hist)[-per_window:])
            w_start = start + hop - window.size
            mains, level, freq, amp = self.analyse(window, rate)
            humming = mains > 0 and level >= self.params.min_level_db
            self.last_metric = round(level, 2) if math.isfinite(level) else None
            self._last_mains = mains or None
            if humming:
                if self._run is None:
                    self._run = {"start": float(w_start), "end": float(start + hop), "mains": mains, "freq": freq,
                                 "amp": amp, "level": level, "refined": -1.0}
                    self._refine_start(rate)
                elif self._run["mains"] == mains:
                    self._run["end"] = float(start + hop)
                    self._run["level"] = max(self._run["level"], level)
                    if self._run["refined"] < 0:
                        self._refine_start(rate)
                else:
                    events.extend(self._close(rate))
            elif self._run is not None:
                events.extend(self._close(rate))
        return events

    def _history(self) -> tuple[int, np.ndarray]:
        return self._hist_first, np.concatenate(list(self._hist)) if self._hist else np.zeros(0)

    def _refine_start(self, rate: int) -> None:
        run = self._run
        assert run is not None
        first, x = self._history()
        lo = max(0, int(run["start"]) - first - rate)
        s = refine_edge(x[lo:], run["freq"], rate, run["amp"], rising=True)
        if s is not None:
            run["start"] = float(first + lo + s)
        run["refined"] = 1.0

    def _close(self, rate: int) -> list[Event]:
        run = self._run
        self._run = None
        if run is None:
            return []
        first, x = self._history()
        end = run["end"]
        lo = max(0, int(end) - first - 3 * rate)
        s = refine_edge(x[lo:], run["freq"], rate, run["amp"], rising=False)
        if s is not None and first + lo + s > run["start"]:
            end = float(first + lo + s)
        if (end - run["start"]) / rate < self.params.min_duration_s - 1e-6:
            return []
        event = Event(
            detector=self.name,
            kind="hum",
            start_s=self._clock.time_of(run["start"]),
            end_s=self._clock.time_of(end),
            score=min(1.0, max(0.0, (run["level"] - self.params.min_level_db) / 40.0)),
            details={"mains_hz": run["mains"], "frequency_hz": round(run["freq"], 2), "level_db": round(run["level"], 1)},
        )
        log.debug("hum: %s", event.describe())
        return [event]

    def flush(self) -> list[Event]:
        """Close a hum still open at the end of the stream (it ends with the last sample)."""
        if self._run is None:
            return []
        self._run["end"] = float(self._end_sample)
        run = self._run
        self._run = None
        if (run["end"] - run["start"]) / self._clock.rate_hz < self.params.min_duration_s - 1e-6:
            return []
        return [
            Event(
                detector=self.name,
                kind="hum",
                start_s=self._clock.time_of(run["start"]),
                end_s=self._clock.time_of(run["end"]),
                score=min(1.0, max(0.0, (run["level"] - self.params.min_level_db) / 40.0)),
                details={"mains_hz": run["mains"], "frequency_hz": round(run["freq"], 2), "level_db": round(run["level"], 1)},
            )
        ]
