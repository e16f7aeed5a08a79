"""Silence: stretches where every channel stays below a level, with sample-accurate edges.

Like FFmpeg's silencedetect: a sample instant is silent when the magnitude of every channel
is below ``threshold_db`` (dBFS); a run of silent samples lasting at least
``min_duration_s`` is reported from its first silent sample to the first loud one. Runs may
span any number of chunks.

Speed: chunks are short (1024 samples of AAC, about 21 ms), so the per-call overhead of
numpy would dominate if each chunk were analysed alone. Contiguous chunks are buffered and
analysed together, vectorised, in blocks of at least :attr:`SilenceDetector.block_s`
(100 ms); every edge is still located to the sample and timed on the clock of the chunk it
falls in, so the events are the same as chunk by chunk. A silence is therefore returned by
the ``feed`` of the block in which it ends (at most ``block_s`` after its end), and
:meth:`SilenceDetector.flush` analyses whatever is buffered. Buffered chunks are held, not
copied: their samples must not be modified after ``feed`` (chunks are immutable).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium

log = logging.getLogger(__name__)

# Views that make "every channel of a sample instant is silent" one comparison: the per-channel
# flags (one byte each) of an instant read as one integer equal to all-ones bytes.
_ALL_SILENT = {2: (np.int16, 0x0101), 4: (np.int32, 0x01010101), 8: (np.int64, 0x0101010101010101)}


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


class SilenceDetector:
    """Report silent stretches lasting at least ``min_duration_s``.

    Per-chunk metric: :attr:`last_metric` is the peak level of the last chunk fed in dBFS
    (``-inf`` for digital silence); :meth:`metrics` gives the record (with the ratio of
    silent sample instants), kept apart from the decision. Both are computed only when read,
    from the last chunk, so they cost nothing when nobody reads them.
    """

    name: ClassVar[str] = "silence"
    medium: ClassVar[Medium] = "audio"
    metric_names: ClassVar[tuple[str, ...]] = ("start_sample", "pts_s", "peak_db", "silent_ratio")
    block_s: ClassVar[float] = 0.1  # shortest stretch of buffered audio analysed at once, in seconds

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
        # Buffered contiguous chunks not analysed yet: sample arrays, chunk offsets and pts.
        self._parts: list[np.ndarray] = []
        self._offsets: list[int] = []
        self._pts: list[float] = []
        self._buffered = 0
        self._block = 0  # samples per analysed block (from the first chunk's rate)
        self._rate = 0
        self._channels = 0
        self._last_chunk: AudioChunk | None = None  # the last non-empty chunk (metrics)
        self._last_start_sample = -1
        self._last_pts_s = 0.0

    # ------------------------------------------------------------------ metrics (computed when read)

    @property
    def last_metric(self) -> float | None:
        """Peak level of the last chunk fed, in dBFS (-inf for digital silence); None before any."""
        chunk = self._last_chunk
        return None if chunk is None else _db(float(np.abs(chunk.samples).max()))

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last chunk fed (see :attr:`metric_names`)."""
        chunk = self._last_chunk
        ratio = None
        if chunk is not None:
            ratio = float(np.count_nonzero(self._silent(chunk.samples))) / chunk.samples.shape[0]
        return {
            "start_sample": self._last_start_sample,
            "pts_s": self._last_pts_s,
            "peak_db": self.last_metric,
            "silent_ratio": ratio,
        }

    # ------------------------------------------------------------------ streaming

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Take the next audio chunk; return the silences that ended in the audio analysed now."""
        if not isinstance(item, AudioChunk):
            raise TypeError(f"silence: expected an AudioChunk, got {type(item).__name__}")
        samples = item.samples
        n = samples.shape[0]
        self._last_start_sample, self._last_pts_s = item.start_sample, item.pts_s
        if n == 0:
            return []
        self._last_chunk = item
        events: list[Event] = []
        rate = item.sample_rate_hz
        if item.start_sample != self._next_sample or rate != self._rate or samples.shape[1] != self._channels:
            # not contiguous with the buffered audio: analyse that first, start a new block
            if self._parts:
                events = self._analyse()
            if self._next_sample is not None and item.start_sample != self._next_sample:
                log.debug(
                    "silence: %d samples missing before sample %d", item.start_sample - self._next_sample, item.start_sample
                )
            self._rate, self._channels = rate, samples.shape[1]
            self._block = max(1, int(rate * self.block_s))
        self._next_sample = item.start_sample + n
        self._end_s = item.pts_s + n / rate
        self._offsets.append(self._buffered)
        self._pts.append(item.pts_s)
        self._parts.append(samples)
        self._buffered += n
        if self._buffered >= self._block:
            events += self._analyse()
        return events

    def flush(self) -> list[Event]:
        """Analyse the buffered audio; close a silence still open at the end of the stream (it ends with the last sample)."""
        events = self._analyse() if self._parts else []
        if self._run_sample is None or self._next_sample is None:
            return events
        duration_s = self._end_s - self._run_start_s
        if duration_s >= self.params.min_duration_s - 1e-6:
            events.append(self._event(self._run_start_s, self._end_s, self._run_peak))
        self._run_sample = None
        return events

    def _silent(self, x: np.ndarray) -> np.ndarray:
        """Return, per sample instant of ``x`` (n, channels), whether every channel is below the threshold."""
        below = np.abs(x) < self._threshold
        channels = below.shape[1]
        if channels == 1:
            return below[:, 0]
        view = _ALL_SILENT.get(channels)
        if view is None:
            return below.all(axis=1)
        return below.view(view[0])[:, 0] == view[1]

    def _time(self, pos: int) -> float:
        """Return the capture time of buffered sample ``pos`` (on the clock of the chunk holding it)."""
        offsets = self._offsets
        k = len(offsets) - 1
        while offsets[k] > pos:  # events are rare: a short backwards scan
            k -= 1
        return self._pts[k] + (pos - offsets[k]) / self._rate

    def _analyse(self) -> list[Event]:
        """Analyse the buffered chunks as one block; return the silences that ended in it."""
        parts = self._parts
        x = parts[0] if len(parts) == 1 else np.concatenate(parts)
        first = self._next_sample - self._buffered  # type: ignore[operator]
        n = x.shape[0]
        events: list[Event] = []
        silent = self._silent(x)
        was_open = self._run_sample is not None
        # Edges: a run starts where silent follows loud and ends where loud follows silent.
        edges = np.flatnonzero(silent[1:] != silent[:-1]) + 1
        if silent[0] != was_open:
            edges = np.concatenate(([0], edges))
        if edges.size == 0:  # nothing starts or ends here
            if was_open:
                self._run_peak = max(self._run_peak, float(np.abs(x).max()))
            self._reset()
            return events
        rate = self._rate
        min_samples = self.params.min_duration_s * rate - 1e-6
        e_iter = 0
        if was_open:  # the open run ends at the first edge
            end = int(edges[0])
            e_iter = 1
            peak = max(self._run_peak, float(np.abs(x[:end]).max()) if end else 0.0)
            if first + end - self._run_sample >= min_samples:  # type: ignore[operator]
                events.append(self._event(self._run_start_s, self._time(end), peak))
            self._run_sample = None
        starts = edges[e_iter::2]
        run_ends = edges[e_iter + 1 :: 2]
        closed = run_ends.size
        if closed:
            for k in np.flatnonzero(run_ends - starts[:closed] >= min_samples):
                a, b = int(starts[k]), int(run_ends[k])
                events.append(self._event(self._time(a), self._time(b), float(np.abs(x[a:b]).max())))
        if starts.size > closed:  # a run opens and is still open at the end of the block
            a = int(starts[-1])
            self._run_sample = first + a
            self._run_start_s = self._time(a)
            self._run_peak = float(np.abs(x[a:]).max()) if a < n else 0.0
        self._reset()
        return events

    def _reset(self) -> None:
        self._parts = []
        self._offsets = []
        self._pts = []
        self._buffered = 0

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
