"""Silence: stretches where every channel stays below a level, with sample-accurate edges.

Like FFmpeg's silencedetect: a sample instant is silent when the magnitude of every channel
is below ``threshold_db`` (dBFS); a run of silent samples lasting at least
``min_duration_s`` is reported from its first silent sample to the first loud one. Runs may
span any number of chunks. Everything is vectorised over the chunk's samples.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


class SilenceDetector:
    """Report silent stretches lasting at least ``min_duration_s``.

    Per-chunk metric: :attr:`last_metric` is the peak level of the last chunk in dBFS
    (``-inf`` for digital silence); :meth:`metrics` gives the record, kept apart from the
    decision.
    """

    name: ClassVar[str] = "silence"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "peak_db", "silent_ratio")

    @dataclass(frozen=True)
    class Params:
        """Silence detection parameters.

        Attributes:
            threshold_db: level in dBFS (0 dBFS = full scale) under which a sample is
                silent; FFmpeg's ``noise`` (< 0).
            min_duration_s: shortest silence reported, in seconds (> 0).
        """

        threshold_db: float = -60.0
        min_duration_s: float = 0.5

        def __post_init__(self) -> None:
            if not (math.isfinite(self.threshold_db) and self.threshold_db < 0.0):
                raise ValueError(f"silence: threshold_db must be a finite level below 0 dBFS, got {self.threshold_db}")
            if not (math.isfinite(self.min_duration_s) and self.min_duration_s > 0.0):
                raise ValueError(f"silence: min_duration_s must be > 0, got {self.min_duration_s}")

        @property
        def threshold_amplitude(self) -> float:
            """The threshold as a linear amplitude (full scale = 1.0)."""
            return float(10.0 ** (self.threshold_db / 20.0))

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._threshold = np.float32(self.params.threshold_amplitude)
        # Open run: its first sample (stream count), its start time and the loudest sample in it.
        self._run_sample: int | None = None
        self._run_start_s = 0.0
        self._run_peak = 0.0
        self._end_s = 0.0
        self._next_sample: int | None = None
        self.last_metric: float | None = None
        self._last_silent_ratio: float | None = None
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "peak_db": self.last_metric,
            "silent_ratio": self._last_silent_ratio,
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next audio chunk; return the silences that ended inside it."""
        if not isinstance(item, AudioChunk):
            raise TypeError(f"silence: expected an AudioChunk, got {type(item).__name__}")
        samples = item.samples
        n = samples.shape[0]
        self._last_start_sample, self._last_pts_s = item.start_sample, item.pts_s
        if n == 0:
            return []
        rate = item.sample_rate_hz
        if self._next_sample is not None and item.start_sample != self._next_sample:
            log.debug("silence: %d samples missing before sample %d", item.start_sample - self._next_sample, item.start_sample)
        self._next_sample = item.start_sample + n
        self._end_s = item.pts_s + n / rate

        amp = np.abs(samples).max(axis=1) if samples.shape[1] > 1 else np.abs(samples[:, 0])
        silent = amp < self._threshold
        self.last_metric = _db(float(amp.max()))
        self._last_silent_ratio = float(np.count_nonzero(silent)) / n

        # Edges: a run starts where silent follows loud and ends where loud follows silent.
        before = np.empty(n, dtype=bool)
        before[0] = self._run_sample is not None
        before[1:] = silent[:-1]
        starts = np.flatnonzero(silent & ~before)
        ends = np.flatnonzero(~silent & before)

        events: list[Event] = []
        min_samples = self.params.min_duration_s * rate - 1e-6
        e_iter = 0
        if self._run_sample is not None:
            if ends.size:  # the open run ends in this chunk
                end = int(ends[0])
                e_iter = 1
                peak = max(self._run_peak, float(amp[:end].max()) if end else 0.0)
                if item.start_sample + end - self._run_sample >= min_samples:
                    events.append(self._event(self._run_start_s, item.pts_s + end / rate, peak))
                self._run_sample = None
            else:  # the whole chunk continues it
                self._run_peak = max(self._run_peak, float(amp.max()))
                return events
        run_ends = ends[e_iter:]
        closed = min(starts.size, run_ends.size)
        if closed:
            lengths = run_ends[:closed] - starts[:closed]
            for k in np.flatnonzero(lengths >= min_samples):
                a, b = int(starts[k]), int(run_ends[k])
                events.append(self._event(item.pts_s + a / rate, item.pts_s + b / rate, float(amp[a:b].max())))
        if starts.size > closed:  # a run opens and is still open at the end of the chunk
            a = int(starts[-1])
            self._run_sample = item.start_sample + a
            self._run_start_s = item.pts_s + a / rate
            self._run_peak = float(amp[a:].max())
        return events

    def flush(self) -> list[Event]:
        """Close a silence still open at the end of the stream (it ends with the last sample)."""
        if self._run_sample is None or self._next_sample is None:
            return []
        events: list[Event] = []
        duration_s = self._end_s - self._run_start_s
        if duration_s >= self.params.min_duration_s - 1e-6:
            events.append(self._event(self._run_start_s, self._end_s, self._run_peak))
        self._run_sample = None
        return events

    def _event(self, start_s: float, end_s: float, peak: float) -> Event:
        score = max(0.0, 1.0 - peak / float(self._threshold))
        event = Event(
            detector=self.name,
            kind="silence",
            start_s=start_s,
            end_s=end_s,
            score=score,
            details={"peak_db": round(_db(peak), 2) if peak > 0 else None},
        )
        log.debug("silence: %s", event.describe())
        return event
