"""Loudness (EBU R128 / ITU-R BS.1770-4): momentary, short-term, integrated, true peak and loudness jumps.

The audio is K-weighted (the BS.1770 pre-filter and RLB high-pass, coefficients derived for
any sample rate as libebur128 and FFmpeg's ebur128 do), squared and summed per 10 ms with
channel weights (L, R, C: 1.0; LFE: 0; surrounds: 1.41). From those sums:

* momentary loudness: 400 ms window, updated every 100 ms;
* short-term loudness: 3 s window, updated every 100 ms;
* integrated loudness: 400 ms blocks every 100 ms, gated at -70 LUFS absolute and -10 LU
  relative (BS.1770-4);
* true peak: 4x oversampled sample peak (dBTP), per chunk and overall.

Events:

* ``loudness_jump``: the median momentary loudness of the last ``window_s`` differs from
  that of the ``window_s`` before by at least ``jump_lu``; both windows must be mostly
  programme (not silence), so fades to silence and silent gaps are not jumps. The step is
  located to 10 ms by splitting the K-weighted energy around the window boundary.
* ``true_peak_over`` (when ``max_true_peak_dbtp`` is set): stretches whose oversampled peak
  exceeds it.
* ``loudness_off_target`` (when ``target_lufs`` is set): at the end of the stream, the
  integrated loudness is more than ``target_tolerance_lu`` away from the target.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import signal

from detectors.audio._stream import SampleClock, check_chunk, db
from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)

_OFFSET = -0.691
_SILENT_LUFS = -70.0
_REL_GATE_LU = -10.0
_TP_OVERSAMPLE = 4


def k_weighting_sos(rate_hz: int) -> np.ndarray:
    """Return the BS.1770 K-weighting filter for ``rate_hz`` as second-order sections (2, 6)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate_hz)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    pre_b = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    pre_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate_hz)
    a0 = 1.0 + k / q + k * k
    rlb_b = [1.0, -2.0, 1.0]
    rlb_a = [1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([pre_b + pre_a, rlb_b + rlb_a])


def channel_weights(channels: int) -> np.ndarray:
    """Return BS.1770 channel weights: 5.1 is L R C LFE Ls Rs; other layouts weigh every channel 1."""
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


def lufs(mean_power: float) -> float:
    """Return the loudness (LUFS) of a channel-weighted mean square; -inf for none."""
    return _OFFSET + 10.0 * math.log10(mean_power) if mean_power > 0 else -math.inf


def _tp_filter() -> np.ndarray:
    # 4x interpolation low-pass: 12 taps per phase (as BS.1770-4 Annex 2), cut-off at the original Nyquist.
    return signal.firwin(12 * _TP_OVERSAMPLE, 0.9 / _TP_OVERSAMPLE, window=("kaiser", 5.0)) * _TP_OVERSAMPLE


class LoudnessDetector:
    """Measure EBU R128 loudness and true peak; report loudness jumps (and optional limits).

    Per-chunk metric: :attr:`last_metric` is the momentary loudness (LUFS) after the last
    chunk; :meth:`metrics` also gives short-term, integrated and the chunk's true peak. The
    values are kept apart from the jump/limit decisions. :attr:`integrated_lufs` and
    :attr:`true_peak_dbtp` give the programme values at any time.
    """

    name: ClassVar[str] = "loudness"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = (
        "start_sample",
        "pts_s",
        "momentary_lufs",
        "short_term_lufs",
        "integrated_lufs",
        "true_peak_dbtp",
    )

    @dataclass(frozen=True)
    class Params:
        """Loudness parameters.

        Attributes:
            jump_lu: smallest change of the median momentary loudness between two adjacent
                windows reported as a loudness jump, in LU (> 0).
            window_s: length of each of the two windows compared, in seconds (0.5-30).
            programme_lufs: a momentary block below this is not programme (silence, pauses),
                in LUFS; each window needs three quarters of its blocks above it.
            max_true_peak_dbtp: report stretches whose true peak exceeds this level, in dBTP;
                None (default) reports none.
            target_lufs: expected integrated loudness, in LUFS; None (default) checks none.
            target_tolerance_lu: allowed distance from ``target_lufs``, in LU (> 0).
            true_peak: compute the 4x oversampled true peak (costs about half the time).
        """

        jump_lu: float = 6.0
        window_s: float = 3.0
        programme_lufs: float = -50.0
        max_true_peak_dbtp: float | None = None
        target_lufs: float | None = None
        target_tolerance_lu: float = 1.0
        true_peak: bool = True

        def __post_init__(self) -> None:
            if not (math.isfinite(self.jump_lu) and self.jump_lu > 0):
                raise ValueError(f"loudness: jump_lu must be > 0 LU, got {self.jump_lu}")
            if not 0.5 <= self.window_s <= 30.0:
                raise ValueError(f"loudness: window_s must be in [0.5, 30] s, got {self.window_s}")
            if not (math.isfinite(self.programme_lufs) and self.programme_lufs < 0):
                raise ValueError(f"loudness: programme_lufs must be a level below 0 LUFS, got {self.programme_lufs}")
            if self.max_true_peak_dbtp is not None and not math.isfinite(self.max_true_peak_dbtp):
                raise ValueError(f"loudness: max_true_peak_dbtp must be finite or None, got {self.max_true_peak_dbtp}")
            if self.max_true_peak_dbtp is not None and not self.true_peak:
                raise ValueError("loudness: max_true_peak_dbtp needs true_peak=True")
            if self.target_lufs is not None and not (math.isfinite(self.target_lufs) and self.target_lufs < 0):
                raise ValueError(f"loudness: target_lufs must be a level below 0 LUFS or None, got {self.target_lufs}")
            if not (math.isfinite(self.target_tolerance_lu) and self.target_tolerance_lu > 0):
                raise ValueError(f"loudness: target_tolerance_lu must be > 0 LU, got {self.target_tolerance_lu}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = SampleClock()
        self._rate = 0
        self._sos: np.ndarray | None = None
        self._zi: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self._tick = 0  # samples per 10 ms
        self._pending = np.zeros(0)  # weighted squared samples not yet in a 10 ms sum
        self._next_sample: int | None = None
        # 10 ms energy sums (channel-weighted sums of squares) with their first sample.
        self._ticks: deque[float] = deque()
        self._stream_first = 0  # stream sample number of the first 10 ms sum
        self._tick_count = 0  # 10 ms sums so far
        self._blocks: list[float] = []  # gating-block mean powers (400 ms every 100 ms)
        self._momentary: deque[float] = deque()  # momentary LUFS per 100 ms (jump windows)
        self._jump_best: tuple[float, int] | None = None  # (|change|, boundary tick) of an open jump
        self._tp_fir = None if not self.params.true_peak else _tp_filter()
        self._tp_hist: np.ndarray | None = None
        self._tp_over: list[int] = []  # open true-peak-over run: [first, last, peak_milli]
        self._tp_over_peak = 0.0
        self.true_peak = 0.0
        self.momentary_lufs = -math.inf
        self.short_term_lufs = -math.inf
        self.last_metric: float | None = None
        self._last_tp: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0
        self._end_sample = 0

    # ------------------------------------------------------------------ public values

    @property
    def integrated_lufs(self) -> float:
        """Integrated (gated) loudness so far, in LUFS (-inf before any block is above -70 LUFS)."""
        blocks = np.asarray(self._blocks)
        if blocks.size == 0:
            return -math.inf
        abs_gate = 10.0 ** ((_SILENT_LUFS - _OFFSET) / 10.0)
        kept = blocks[blocks > abs_gate]
        if kept.size == 0:
            return -math.inf
        rel_gate = kept.mean() * 10.0 ** (_REL_GATE_LU / 10.0)
        kept = kept[kept > rel_gate]
        return lufs(float(kept.mean())) if kept.size else -math.inf

    @property
    def true_peak_dbtp(self) -> float:
        """Highest true peak (4x oversampled) so far, in dBTP (sample peak if true_peak=False)."""
        return db(self.true_peak)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "momentary_lufs": _finite(self.momentary_lufs) if self.last_metric is not None else None,
            "short_term_lufs": _finite(self.short_term_lufs) if self.last_metric is not None else None,
            "integrated_lufs": _finite(self.integrated_lufs) if self.last_metric is not None else None,
            "true_peak_dbtp": self._last_tp,
        }

    # ------------------------------------------------------------------ streaming

    def _setup(self, chunk: AudioChunk) -> None:
        self._rate = chunk.sample_rate_hz
        if self._rate % 100:
            raise ValueError(f"loudness: sample rate {self._rate} Hz is not a multiple of 100 Hz")
        self._tick = self._rate // 100
        self._sos = k_weighting_sos(self._rate)
        self._zi = np.zeros((self._sos.shape[0], 2, chunk.channels))
        self._weights = channel_weights(chunk.channels)
        self._stream_first = chunk.start_sample
        if self._tp_fir is not None:
            self._tp_hist = np.zeros((self._tp_fir.size // _TP_OVERSAMPLE, chunk.channels))

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return loudness jumps and true-peak stretches that ended."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        n = chunk.samples.shape[0]
        if n == 0:
            return []
        self._clock.observe(chunk)
        if self._sos is None:
            self._setup(chunk)
        elif self._next_sample is not None and chunk.start_sample != self._next_sample:
            log.debug("loudness: %d samples missing before sample %d", chunk.start_sample - self._next_sample, chunk.start_sample)
        self._next_sample = chunk.start_sample + n
        self._end_sample = self._next_sample
        x = chunk.samples.astype(np.float64)
        events: list[Event] = []
        if self._tp_fir is not None:
            events.extend(self._true_peak(x, chunk.start_sample))
        else:
            peak = float(np.abs(x).max())
            self.true_peak = max(self.true_peak, peak)
            self._last_tp = db(peak)
        y, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        weighted = (y * y) @ self._weights
        data = np.concatenate([self._pending, weighted]) if self._pending.size else weighted
        k = data.size // self._tick
        sums = data[: k * self._tick].reshape(k, self._tick).sum(axis=1)
        self._pending = data[k * self._tick :]
        for s in sums:  # per 10 ms: cheap bookkeeping
            events.extend(self._on_tick(float(s)))
        self.last_metric = _finite(self.momentary_lufs)
        return events

    def _on_tick(self, energy: float) -> list[Event]:
        self._ticks.append(energy)
        self._tick_count += 1
        keep = max(300, 4 * int(round(self.params.window_s * 100)) + 100)
        while len(self._ticks) > keep:
            self._ticks.popleft()
        if self._tick_count % 10:
            return []
        # A 100 ms step: update momentary / short-term and the gating blocks.
        ticks = self._ticks
        if self._tick_count >= 40:
            m_power = sum(ticks[i] for i in range(len(ticks) - 40, len(ticks))) / (40 * self._tick)
            self._blocks.append(m_power)
            self.momentary_lufs = lufs(m_power)
            self._momentary.append(self.momentary_lufs)
        else:
            self.momentary_lufs = lufs(sum(ticks) / (40 * self._tick))
        n_st = min(300, len(ticks))
        self.short_term_lufs = lufs(sum(ticks[i] for i in range(len(ticks) - n_st, len(ticks))) / (300 * self._tick))
        return self._check_jump()

    def _check_jump(self) -> list[Event]:
        w = int(round(self.params.window_s * 10))
        mom = self._momentary
        while len(mom) > 2 * w:
            mom.popleft()
        change = 0.0
        if len(mom) == 2 * w:
            values = np.fromiter(mom, float, 2 * w)
            older, newer = values[:w], values[w:]
            floor = self.params.programme_lufs
            # Both windows mostly programme (3/4): a cut to silence moves the median, it is no jump.
            if np.count_nonzero(older > floor) * 4 >= 3 * w and np.count_nonzero(newer > floor) * 4 >= 3 * w:
                change = float(np.median(newer) - np.median(older))
        events: list[Event] = []
        if abs(change) >= self.params.jump_lu:
            if self._jump_best is None or abs(change) > abs(self._jump_best[0]):
                self._jump_best = (change, self._tick_count)
        elif self._jump_best is not None:
            events.extend(self._jump_event())
        return events

    def _jump_event(self) -> list[Event]:
        assert self._jump_best is not None
        change, at_tick = self._jump_best
        self._jump_best = None
        # The step lies inside the two windows compared at `at_tick`: find the 10 ms split with
        # the largest level contrast between the second before and the second after it.
        w_ticks = 10 * int(round(self.params.window_s * 10))
        ticks = np.fromiter(self._ticks, float, len(self._ticks))
        g0 = self._tick_count - ticks.size  # global number of ticks[0]
        lo, hi = max(g0, at_tick - 2 * w_ticks - 40), at_tick
        side = max(1, min(100, (hi - lo) // 3))
        cand = np.arange(lo + side, hi - side + 1)
        split = at_tick - w_ticks
        if cand.size:
            c = np.concatenate([[0.0], np.cumsum(ticks)])
            idx = cand - g0
            before = (c[idx] - c[idx - side]) / side
            after = (c[idx + side] - c[idx]) / side
            score = np.abs(np.log10(np.maximum(after, 1e-30)) - np.log10(np.maximum(before, 1e-30)))
            split = int(cand[int(np.argmax(score))])
        t = self._clock.time_of(self._stream_first + split * self._tick)
        event = Event(
            detector=self.name,
            kind="loudness_jump",
            start_s=t,
            end_s=t,
            score=min(1.0, abs(change) / (2.0 * self.params.jump_lu)),
            details={"change_lu": round(change, 2), "direction": "up" if change > 0 else "down"},
        )
        log.debug("loudness: %s", event.describe())
        return [event]

    def _true_peak(self, x: np.ndarray, start_sample: int) -> list[Event]:
        assert self._tp_fir is not None and self._tp_hist is not None
        hist = self._tp_hist.shape[0]
        ext = np.concatenate([self._tp_hist, x])
        up = signal.upfirdn(self._tp_fir, ext, up=_TP_OVERSAMPLE, axis=0)
        # Output sample j*4+p of `ext` is valid once the full filter overlaps real input.
        delay = self._tp_fir.size - 1
        valid = up[hist * _TP_OVERSAMPLE : hist * _TP_OVERSAMPLE + x.shape[0] * _TP_OVERSAMPLE]
        self._tp_hist = ext[-hist:]
        mag = np.abs(valid).max(axis=1) if valid.ndim > 1 else np.abs(valid)
        # Include the sample peak: the interpolator never reports less than a real sample.
        peak = max(float(mag.max()) if mag.size else 0.0, float(np.abs(x).max()))
        self.true_peak = max(self.true_peak, peak)
        self._last_tp = db(peak)
        events: list[Event] = []
        limit = self.params.max_true_peak_dbtp
        if limit is None:
            return events
        amp = 10.0 ** (limit / 20.0)
        # The interpolator delays by (taps-1)/2 output samples: map back to input samples.
        lag = (delay / 2.0) / _TP_OVERSAMPLE
        over = np.flatnonzero(mag > amp)
        samples = np.floor(over / _TP_OVERSAMPLE - lag).astype(np.int64) + start_sample
        merge = self._rate // 10
        for s, v in zip(samples.tolist(), mag[over].tolist(), strict=True):
            if self._tp_over and s - self._tp_over[1] <= merge:
                self._tp_over[1] = max(self._tp_over[1], s)
                self._tp_over_peak = max(self._tp_over_peak, v)
                continue
            events.extend(self._close_tp())
            self._tp_over, self._tp_over_peak = [s, s], v
        if self._tp_over and start_sample + x.shape[0] - self._tp_over[1] > merge:
            events.extend(self._close_tp())
        return events

    def _close_tp(self) -> list[Event]:
        if not self._tp_over:
            return []
        first, last = self._tp_over
        self._tp_over = []
        assert self.params.max_true_peak_dbtp is not None
        peak_db = db(self._tp_over_peak)
        return [
            Event(
                detector=self.name,
                kind="true_peak_over",
                start_s=self._clock.time_of(first),
                end_s=self._clock.time_of(last + 1),
                score=min(1.0, max(0.0, (peak_db - self.params.max_true_peak_dbtp) / 3.0)),
                details={"true_peak_dbtp": round(peak_db, 2), "limit_dbtp": self.params.max_true_peak_dbtp},
            )
        ]

    def flush(self) -> list[Event]:
        """Close an open jump or true-peak stretch; check the integrated loudness against the target."""
        events: list[Event] = []
        if self._jump_best is not None:
            events.extend(self._jump_event())
        events.extend(self._close_tp())
        target = self.params.target_lufs
        if target is not None and self._rate:
            integrated = self.integrated_lufs
            off = integrated - target if math.isfinite(integrated) else -math.inf
            if not abs(off) <= self.params.target_tolerance_lu:
                start_s = self._clock.time_of(self._stream_first)
                events.append(
                    Event(
                        detector=self.name,
                        kind="loudness_off_target",
                        start_s=start_s,
                        end_s=self._clock.time_of(self._end_sample),
                        score=min(1.0, abs(off) / (4.0 * self.params.target_tolerance_lu)) if math.isfinite(off) else 1.0,
                        details={"integrated_lufs": _finite(integrated), "target_lufs": target},
                    )
                )
        return events


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None
