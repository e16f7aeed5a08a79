"""Loudness (EBU R128 / ITU-R BS.1770-4): momentary, short-term, integrated, true peak and loudness jumps.

The audio is K-weighted (the BS.1770 pre-filter and RLB high-pass, coefficients derived for
any sample rate as libebur128 and FFmpeg's ebur128 do), squared and summed per 10 ms with
channel weights (L, R, C: 1.0; LFE: 0; surrounds: 1.41). From those sums:

* momentary loudness: 400 ms window, updated every 100 ms;
* short-term loudness: 3 s window, updated every 100 ms;
* integrated loudness: 400 ms blocks every 100 ms, gated at -70 LUFS absolute and -10 LU
  relative (BS.1770-4);
* true peak: 4x oversampled sample peak (dBTP), per metrics record and overall.

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
_ZEROS_300 = np.zeros(300)  # read-only padding: 10 ms sums before the stream start
_ZEROS_300.flags.writeable = False
_ZERO = np.zeros(1)


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


def _tp_gain(fir: np.ndarray) -> float:
    # Sum of |taps| of the largest polyphase branch: no interpolated sample exceeds it times the
    # largest input magnitude it is made from (a hair added for rounding).
    return float(max(np.abs(fir[p::_TP_OVERSAMPLE]).sum() for p in range(_TP_OVERSAMPLE))) * (1.0 + 1e-9)


def _lufs(mean_power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return _OFFSET + 10.0 * np.log10(mean_power)


class LoudnessDetector:
    """Measure EBU R128 loudness and true peak; report loudness jumps (and optional limits).

    Per-chunk metric: :attr:`last_metric` is the momentary loudness (LUFS) after the last
    chunk; :meth:`metrics` also gives short-term, integrated and the true peak of the audio
    fed since the previous record (the last chunk when it is read after every chunk). The
    values are kept apart from the jump/limit decisions. :attr:`integrated_lufs` and
    :attr:`true_peak_dbtp` give the programme values at any time.

    Speed: chunks are short (1024 samples of AAC, about 21 ms) and numpy and scipy cost a
    few microseconds per call, so chunks are buffered and analysed together in blocks of at
    least :attr:`block_s` (filters keep their state across blocks, so every value is the
    same as chunk by chunk). The true peak is oversampled only where it can matter: around
    10 ms stretches whose sample peak, times the interpolator's largest gain, could exceed
    the true peak found so far (or ``max_true_peak_dbtp``); elsewhere the 4x interpolation
    provably cannot raise it. Reading a value (:attr:`momentary_lufs`, :meth:`metrics`...)
    first analyses the buffered audio, so values read after a ``feed`` are those after that
    chunk; events found then are returned by the next ``feed`` or ``flush``. Once
    :meth:`metrics` has been read the true peak is oversampled everywhere (the per-record
    value must be exact), and reading after every chunk costs the per-chunk analysis.
    Buffered chunks are held, not copied: their samples must not be modified after ``feed``.
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
    block_s: ClassVar[float] = 0.5  # shortest stretch of buffered audio analysed at once, in seconds

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
            true_peak: compute the 4x oversampled true peak (only where it can exceed the
                peak so far, see the class notes).
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
        self._block = 0  # samples per analysed block
        self._pending = np.zeros(0)  # weighted squared samples not yet in a 10 ms sum
        self._next_sample: int | None = None
        # Chunks buffered and not analysed yet (contiguous), and events found by a read.
        self._parts: list[np.ndarray] = []
        self._buffered = 0
        self._stashed: list[Event] = []
        # 10 ms energy sums (channel-weighted sums of squares): the last `_keep` of them.
        self._keep = max(300, 4 * round(self.params.window_s * 100) + 100)
        self._hist = np.zeros(0)
        self._stream_first = 0  # stream sample number of the first 10 ms sum
        self._tick_count = 0  # 10 ms sums so far
        self._blocks: list[float] = []  # gating-block mean powers (400 ms every 100 ms)
        self._w = round(self.params.window_s * 10)  # momentary values per jump window
        self._mom_hist = np.zeros(0)  # the last 2w-1 momentary LUFS values (jump windows)
        self._jump_best: tuple[float, int] | None = None  # (change, boundary tick) of an open jump
        self._tp_fir = None if not self.params.true_peak else _tp_filter()
        # Largest gain of the interpolator (over its phases): no output exceeds it times the input peak.
        self._tp_gain = 0.0 if self._tp_fir is None else _tp_gain(self._tp_fir)
        self._tp_hist: np.ndarray | None = None
        self._tp_over: list[int] = []  # open true-peak-over run: [first, last]
        self._tp_over_peak = 0.0
        self._tp_exact = False  # oversample everywhere (per-record true peaks are being read)
        self._true_peak = 0.0
        self._seg_peak = 0.0  # true peak since the last metrics record
        self._seg_new = False
        self._momentary = -math.inf
        self._short_term = -math.inf
        self._analysed = False
        self._last_tp: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0
        self._end_sample = 0

    # ------------------------------------------------------------------ public values

    @property
    def momentary_lufs(self) -> float:
        """Momentary loudness (400 ms) after the last chunk fed, in LUFS (-inf for silence)."""
        self._sync()
        return self._momentary

    @property
    def short_term_lufs(self) -> float:
        """Short-term loudness (3 s) after the last chunk fed, in LUFS (-inf for silence)."""
        self._sync()
        return self._short_term

    @property
    def last_metric(self) -> float | None:
        """The momentary loudness after the last chunk fed, in LUFS (None before any, or if -inf)."""
        self._sync()
        return _finite(self._momentary) if self._analysed else None

    @property
    def integrated_lufs(self) -> float:
        """Integrated (gated) loudness so far, in LUFS (-inf before any block is above -70 LUFS)."""
        self._sync()
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
    def true_peak(self) -> float:
        """Highest true peak (4x oversampled) so far, as a linear amplitude (sample peak if true_peak=False)."""
        self._sync()
        return self._true_peak

    @property
    def true_peak_dbtp(self) -> float:
        """Highest true peak (4x oversampled) so far, in dBTP (sample peak if true_peak=False)."""
        return db(self.true_peak)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record after the last chunk fed (see :attr:`metric_names`).

        ``true_peak_dbtp`` is the true peak of the audio fed since the previous record.
        """
        self._tp_exact = True
        self._sync()
        if self._seg_new:
            self._last_tp, self._seg_peak, self._seg_new = db(self._seg_peak), 0.0, False
        analysed = self._analysed
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "momentary_lufs": _finite(self._momentary) if analysed else None,
            "short_term_lufs": _finite(self._short_term) if analysed else None,
            "integrated_lufs": _finite(self.integrated_lufs) if analysed else None,
            "true_peak_dbtp": self._last_tp,
        }

    # ------------------------------------------------------------------ streaming

    def _setup(self, chunk: AudioChunk) -> None:
        self._clock.observe(chunk)
        self._rate = chunk.sample_rate_hz
        if self._rate % 100:
            raise ValueError(f"loudness: sample rate {self._rate} Hz is not a multiple of 100 Hz")
        self._tick = self._rate // 100
        self._block = max(self._tick, int(self._rate * self.block_s))
        self._sos = k_weighting_sos(self._rate)
        self._zi = np.zeros((self._sos.shape[0], 2, chunk.channels))
        self._weights = channel_weights(chunk.channels)
        self._stream_first = chunk.start_sample
        if self._tp_fir is not None:
            self._tp_hist = np.zeros((self._tp_fir.size // _TP_OVERSAMPLE - 1, chunk.channels))

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Take the next chunk; return loudness jumps and true-peak stretches that ended in the audio analysed now."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        events, self._stashed = self._stashed, []
        n = chunk.samples.shape[0]
        if n == 0:
            return events
        if chunk.sample_rate_hz != self._rate:
            if self._sos is None:
                self._setup(chunk)
            else:
                self._clock.observe(chunk)  # raises: the rate changed mid-stream
        elif chunk.start_sample != self._next_sample:
            log.debug("loudness: %d samples missing before sample %d", chunk.start_sample - self._next_sample, chunk.start_sample)
            if self._parts:  # a block is contiguous: analyse what came before the gap
                events += self._analyse()
        self._next_sample = self._end_sample = chunk.start_sample + n
        self._parts.append(chunk.samples)
        self._buffered += n
        if self._buffered >= self._block:
            events += self._analyse()
        return events

    def _sync(self) -> None:
        """Analyse the buffered audio now (before a value is read); keep its events for the next call."""
        if self._parts:
            self._stashed.extend(self._analyse())

    def _analyse(self) -> list[Event]:
        """Analyse the buffered chunks as one block; return the events that ended in it."""
        assert self._sos is not None and self._weights is not None and self._next_sample is not None
        parts = self._parts
        x = parts[0].astype(np.float64) if len(parts) == 1 else np.concatenate(parts, dtype=np.float64)
        first = self._next_sample - self._buffered
        self._parts, self._buffered = [], 0
        events: list[Event] = []
        if self._tp_fir is not None:
            peak = self._true_peak_block(x, first, events)
        else:
            peak = float(np.abs(x).max())
        self._true_peak = max(self._true_peak, peak)
        self._seg_peak, self._seg_new = max(self._seg_peak, peak), True
        y, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        np.multiply(y, y, out=y)
        weighted = y @ self._weights
        data = np.concatenate((self._pending, weighted)) if self._pending.size else weighted
        k = data.size // self._tick
        self._pending = data[k * self._tick :].copy()
        if k:
            events.extend(self._on_ticks(data[: k * self._tick].reshape(k, self._tick).sum(axis=1)))
        self._analysed = True
        return events

    def _on_ticks(self, new: np.ndarray) -> list[Event]:
        """Take new 10 ms energy sums: update momentary / short-term, gating blocks and jumps every 100 ms."""
        c0 = self._tick_count
        c1 = c0 + new.size
        hist = self._hist
        # zeros before the stream start: windows there sum what came so far (as BS.1770 meters do)
        arr = np.concatenate((_ZEROS_300, hist, new, _ZERO))  # (a last 0: reduceat indices stay inside)
        real = arr[300:-1]
        base = c0 - hist.size  # global number of real[0]
        self._tick_count = c1
        self._hist = real[-self._keep :].copy()
        steps = np.arange((c0 // 10 + 1) * 10, c1 + 1, 10)  # tick counts at the 100 ms steps
        if steps.size == 0:
            return []
        end = steps - base + 300  # exclusive end of each step's windows in arr
        # One reduceat for both windows: sums over [end-40, end) and [end-300, end) (the ranges in
        # between are discarded).
        bounds = np.empty((steps.size, 4), np.intp)
        bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3] = end - 40, end, end - 300, end
        sums = np.add.reduceat(arr, bounds.ravel()).reshape(-1, 4)
        tick = self._tick
        m_power = sums[:, 0] / (40 * tick)
        s_power = sums[:, 2] / (300 * tick)
        m_lufs, s_lufs = _lufs(m_power), _lufs(s_power)
        self._momentary, self._short_term = float(m_lufs[-1]), float(s_lufs[-1])
        gated = steps >= 40  # a full 400 ms behind the step: a gating block and a momentary value
        self._blocks.extend(m_power[gated].tolist())
        changes = self._changes(m_lufs[gated], np.flatnonzero(gated), steps.size)
        events: list[Event] = []
        if self._jump_best is None and not (np.abs(changes) >= self.params.jump_lu).any():
            return events
        for i, change in enumerate(changes.tolist()):
            if abs(change) >= self.params.jump_lu:
                if self._jump_best is None or abs(change) > abs(self._jump_best[0]):
                    self._jump_best = (change, int(steps[i]))
            elif self._jump_best is not None:
                count = int(steps[i])
                g0 = max(0, count - self._keep)  # the 10 ms sums kept at that step
                events.extend(self._jump_event(real[g0 - base : count - base], g0))
        return events

    def _changes(self, new_mom: np.ndarray, at_steps: np.ndarray, n_steps: int) -> np.ndarray:
        """Return per 100 ms step the change of median momentary loudness between the two windows (0 if not judged)."""
        w = self._w
        changes = np.zeros(n_steps)
        values = np.concatenate((self._mom_hist, new_mom))
        done = self._mom_hist.size
        self._mom_hist = values[-(2 * w - 1) :].copy()
        if values.size < 2 * w or new_mom.size == 0:
            return changes
        first = max(0, done - 2 * w + 1)  # first window ending on a new value
        step = values.strides[0]
        # rows: each window of 2w values ending on a new value, as (older, newer) halves
        rows = np.lib.stride_tricks.as_strided(
            values[first:], shape=(values.size - first - 2 * w + 1, 2, w), strides=(step, w * step, step), writeable=False
        )
        floor = self.params.programme_lufs
        # Both windows mostly programme (3/4): a cut to silence moves the median, it is no jump.
        ok = (np.count_nonzero(rows > floor, axis=2) * 4 >= 3 * w).all(axis=1)
        if ok.any():
            ordered = np.sort(rows[ok], axis=2)
            median = (ordered[:, :, (w - 1) // 2] + ordered[:, :, w // 2]) / 2.0  # as np.median
            idx = first + np.flatnonzero(ok) + 2 * w - 1 - done  # index in new_mom of each judged window's end
            changes[at_steps[idx]] = median[:, 1] - median[:, 0]
        return changes

    def _jump_event(self, ticks: np.ndarray, g0: int) -> list[Event]:
        """Close the open jump; ``ticks`` are the 10 ms sums kept, the first being sum number ``g0``."""
        assert self._jump_best is not None
        change, at_tick = self._jump_best
        self._jump_best = None
        # The step lies inside the two windows compared at `at_tick`: find the 10 ms split with
        # the largest level contrast between the second before and the second after it.
        w_ticks = 10 * self._w
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

    def _true_peak_block(self, x: np.ndarray, first: int, events: list[Event]) -> float:
        """Return the true peak of block ``x`` (first sample number ``first``); append true-peak-over events."""
        assert self._tp_fir is not None and self._tp_hist is not None
        hist = self._tp_hist.shape[0]  # input samples before each output that it depends on
        n = x.shape[0]
        ext = np.concatenate((self._tp_hist, x))
        self._tp_hist = ext[-hist:].copy()
        limit = self.params.max_true_peak_dbtp
        limit_amp = None if limit is None else 10.0 ** (limit / 20.0)
        size = self._tick  # 10 ms stretches
        # sample peak of each 10 ms stretch (the interpolator never reports less than a real sample)
        sub = np.maximum.reduceat(np.abs(x), np.arange(0, n, size), axis=0).max(axis=1)
        peak = float(sub.max())
        if self._tp_exact:
            spans = [(0, n)]
        else:
            # An output depends on the input sample at its position and the `hist` before it: bound
            # each stretch by its own sample peak and that of the stretch before it.
            before = np.empty_like(sub)
            before[0] = np.abs(ext[:hist]).max() if hist else 0.0
            before[1:] = sub[:-1]
            bound = np.maximum(sub, before) * self._tp_gain
            ref = max(self._true_peak, peak)
            if limit_amp is not None:
                ref = min(ref, limit_amp)
            need = bound > ref
            if not need.any():
                spans = []
            else:
                edges = np.flatnonzero(np.diff(need.astype(np.int8), prepend=0, append=0))
                spans = [(int(a) * size, min(n, int(b) * size)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        for a, b in spans:
            up = signal.upfirdn(self._tp_fir, ext[a : b + hist], up=_TP_OVERSAMPLE, axis=0)
            valid = up[hist * _TP_OVERSAMPLE : (hist + b - a) * _TP_OVERSAMPLE]
            if limit_amp is None:
                peak = max(peak, float(valid.max()), -float(valid.min()))
                continue
            mag = np.abs(valid).max(axis=1)
            peak = max(peak, float(mag.max()))
            self._overs(mag, first + a, limit_amp, events)
        if limit_amp is not None and self._tp_over and first + n - self._tp_over[1] > self._rate // 10:
            events.extend(self._close_tp())
        return peak

    def _overs(self, mag: np.ndarray, start_sample: int, limit_amp: float, events: list[Event]) -> None:
        """Extend or open true-peak-over runs with the oversampled magnitudes ``mag`` from ``start_sample``."""
        # The interpolator delays by (taps-1)/2 output samples: map back to input samples.
        assert self._tp_fir is not None
        lag = ((self._tp_fir.size - 1) / 2.0) / _TP_OVERSAMPLE
        over = np.flatnonzero(mag > limit_amp)
        if over.size == 0:
            return
        samples = np.floor(over / _TP_OVERSAMPLE - lag).astype(np.int64) + start_sample
        merge = self._rate // 10
        for s, v in zip(samples.tolist(), mag[over].tolist(), strict=True):
            if self._tp_over and s - self._tp_over[1] <= merge:
                self._tp_over[1] = max(self._tp_over[1], s)
                self._tp_over_peak = max(self._tp_over_peak, v)
                continue
            events.extend(self._close_tp())
            self._tp_over, self._tp_over_peak = [s, s], v

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
        """Analyse the buffered audio; close an open jump or true-peak stretch; check the integrated loudness against the target."""
        self._sync()
        events, self._stashed = self._stashed, []
        if self._jump_best is not None:
            g0 = self._tick_count - self._hist.size
            events.extend(self._jump_event(self._hist, g0))
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
