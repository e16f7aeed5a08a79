"""Channel problems: a dead channel, phase inversion between left and right, swapped channels.

Audio is analysed in 5 ms blocks (per-channel mean squares and the left-right cross term):

* ``dead_channel``: one of ``checked_channels`` stays below ``dead_db`` while the loudest
  checked channel is above ``active_db`` (a mono programme on stereo is not a defect; one
  silent side is);
* ``phase_inversion``: the left/right correlation is at most ``-inversion_correlation``
  while both channels are active (a polarity flip on one side; mono-compatible content
  cancels when downmixed);
* ``swapped_channels`` (only when ``channel_tones_hz`` names one test tone per channel): a
  channel carries another channel's tone.

Flagged blocks lasting ``min_duration_s`` (bridging ``max_gap_s``, and any blocks where
the channels are too quiet to judge) make an event.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.audio._stream import BlockCutter, BlockRuns, SampleClock, check_chunk
from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)


class ChannelDetector:
    """Report dead channels, phase inversion and (with test tones) swapped channels.

    Per-chunk metric: :attr:`last_metric` is the left/right correlation of the last chunk's
    blocks (None for mono); :meth:`metrics` also gives the level difference in dB.
    """

    name: ClassVar[str] = "channels"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "correlation", "balance_db")

    @dataclass(frozen=True)
    class Params:
        """Channel parameters.

        Attributes:
            checked_channels: channel indices examined (LFE and centre often legitimately
                silent, so only front left/right by default).
            dead_db: a channel below this mean-square level is dead, in dBFS (< 0).
            active_db: the loudest channel must be above this for a dead channel, in dBFS.
            inversion_correlation: left/right correlation at or below minus this is an
                inversion, in (0, 1].
            channel_tones_hz: one expected test-tone frequency per checked channel, in Hz,
                or () to skip the swap check.
            min_duration_s: shortest problem reported, in seconds (> 0).
            max_gap_s: unflagged blocks bridged inside one event, in seconds (>= 0).
        """

        checked_channels: tuple[int, ...] = (0, 1)
        dead_db: float = -70.0
        active_db: float = -40.0
        inversion_correlation: float = 0.7
        channel_tones_hz: tuple[float, ...] = ()
        min_duration_s: float = 0.5
        max_gap_s: float = 0.05

        def __post_init__(self) -> None:
            chans = tuple(self.checked_channels)
            if len(chans) < 2 or len(set(chans)) != len(chans) or any(not isinstance(c, int) or c < 0 for c in chans):
                raise ValueError(f"channels: checked_channels must be >= 2 distinct indices, got {self.checked_channels!r}")
            object.__setattr__(self, "checked_channels", chans)
            if not (math.isfinite(self.dead_db) and self.dead_db < 0):
                raise ValueError(f"channels: dead_db must be < 0 dBFS, got {self.dead_db}")
            if not (math.isfinite(self.active_db) and self.dead_db < self.active_db < 0):
                raise ValueError(f"channels: active_db must be between dead_db and 0 dBFS, got {self.active_db}")
            if not 0.0 < self.inversion_correlation <= 1.0:
                raise ValueError(f"channels: inversion_correlation must be in (0, 1], got {self.inversion_correlation}")
            tones = tuple(float(f) for f in self.channel_tones_hz)
            if tones and (len(tones) != len(chans) or any(f <= 0 for f in tones) or len(set(tones)) != len(tones)):
                raise ValueError(f"channels: channel_tones_hz needs one distinct positive frequency per checked channel, got {tones}")
            object.__setattr__(self, "channel_tones_hz", tones)
            if not (math.isfinite(self.min_duration_s) and self.min_duration_s > 0):
                raise ValueError(f"channels: min_duration_s must be > 0 s, got {self.min_duration_s}")
            if not (math.isfinite(self.max_gap_s) and self.max_gap_s >= 0):
                raise ValueError(f"channels: max_gap_s must be >= 0 s, got {self.max_gap_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = SampleClock()
        self._cutter: BlockCutter | None = None
        self._runs: dict[str, BlockRuns] = {}
        self._which: dict[str, int] = {}
        self.last_metric: float | None = None
        self._last_balance: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "correlation": self.last_metric,
            "balance_db": self._last_balance,
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return channel problems that ended."""
        chunk = check_chunk(self.name, item)
        self._last_start_sample, self._last_pts_s = chunk.start_sample, chunk.pts_s
        p = self.params
        if chunk.samples.shape[0] == 0 or chunk.channels <= max(p.checked_channels):
            return []
        self._clock.observe(chunk)
        rate = chunk.sample_rate_hz
        if self._cutter is None:
            self._cutter = BlockCutter(rate // 200)
            min_samples, gap = int(round(p.min_duration_s * rate)), int(round(p.max_gap_s * 200))
            kinds = ["dead_channel", "phase_inversion"] + (["swapped_channels"] if p.channel_tones_hz else [])
            self._runs = {k: BlockRuns(min_samples, gap) for k in kinds}
        first, blocks = self._cutter.push(chunk)
        if blocks.shape[0] == 0:
            return []
        k, size, _ = blocks.shape
        x = blocks[:, :, list(p.checked_channels)].astype(np.float64)
        ms = (x * x).mean(axis=1)  # (k, c)
        lvl = 10.0 * np.log10(np.maximum(ms, 1e-20))
        loud = lvl.max(axis=1)
        dead_any = (lvl <= p.dead_db) & (loud >= p.active_db)[:, None]
        dead = dead_any.any(axis=1)
        l, r = x[:, :, 0], x[:, :, 1]
        cross = (l * r).mean(axis=1)
        corr = cross / np.sqrt(np.maximum(ms[:, 0] * ms[:, 1], 1e-30))
        active = (lvl[:, 0] >= p.active_db) & (lvl[:, 1] >= p.active_db)
        inverted = active & (corr <= -p.inversion_correlation)
        tot = ms[:, :2].sum(axis=0)
        self.last_metric = round(float((l * r).mean() / math.sqrt(max(tot[0] * tot[1] / k / k, 1e-30))), 4)
        self._last_balance = round(10.0 * math.log10(max(tot[0], 1e-20) / max(tot[1], 1e-20)), 2)
        if dead.any():
            self._which["dead_channel"] = int(np.argmax(dead_any[np.argmax(dead)]))
        # While the channels are quiet nothing can be judged: such blocks are neutral.
        flags = {
            "dead_channel": (dead, loud - lvl.min(axis=1), loud < p.active_db),
            "phase_inversion": (inverted, -corr, ~active),
        }
        if p.channel_tones_hz:
            flags["swapped_channels"] = (self._swapped(x, first, rate), loud, loud < p.active_db)
        events: list[Event] = []
        for kind, (flag, value, neutral) in flags.items():
            for run in self._runs[kind].feed(first, size, flag, value, neutral):
                events.append(self._event(kind, run))
        return events

    def _swapped(self, x: np.ndarray, first: int, rate: int) -> np.ndarray:
        """Per block: some channel carries another channel's tone more than its own (10 dB)."""
        k, size, c = x.shape
        n = first + np.arange(k * size)
        carried = np.zeros((k, c, c))  # block, channel, tone
        for j, f in enumerate(self.params.channel_tones_hz):
            ph = np.exp(-2j * np.pi * f * n / rate).reshape(k, size)
            carried[:, :, j] = np.abs((x * ph[:, :, None]).sum(axis=1)) ** 2
        own = carried[:, np.arange(c), np.arange(c)]
        other = carried.copy()
        other[:, np.arange(c), np.arange(c)] = 0.0
        return (other.max(axis=2) > 10.0 * own).any(axis=1) & (other.max(axis=2) > 1e-6 * size * size).any(axis=1)

    def flush(self) -> list[Event]:
        """Close problems still open at the end of the stream."""
        return [self._event(kind, run) for kind, runs in self._runs.items() for run in runs.flush()]

    def _event(self, kind: str, run) -> Event:  # type: ignore[no-untyped-def]
        details: dict[str, object] = {}
        if kind == "dead_channel":
            details["channel"] = self.params.checked_channels[self._which.get(kind, 0)]
            details["level_gap_db"] = round(run.mean, 1)
            score = min(1.0, run.mean / 60.0)
        elif kind == "phase_inversion":
            details["correlation"] = round(-run.mean, 3)
            score = min(1.0, run.mean)
        else:
            details["channel_tones_hz"] = list(self.params.channel_tones_hz)
            score = 1.0
        event = Event(
            detector=self.name,
            kind=kind,
            start_s=self._clock.time_of(run.start),
            end_s=self._clock.time_of(run.end),
            score=max(0.0, score),
            details=details,
        )
        log.debug("channels: %s", event.describe())
        return event
