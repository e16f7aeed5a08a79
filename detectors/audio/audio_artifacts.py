"""Audio artifacts (learned): hum, hiss, distortion and clicks classified on one-second segments.

The audio (channels averaged) is resampled to 16 kHz once, as it arrives, in blocks with
enough context on both sides that the result equals resampling the whole stream. Every
``hop_s`` the last second becomes a level-normalised log-mel spectrogram, waveform statistics
and the fine low-frequency spectrum (:func:`detectors.ml.features.audio_features`), classified
by the shipped ONNX model ``audio_artifacts`` into none / hum / hiss / distortion / clicks
(labels from the model metadata). The STFT frames that overlapping segments share are computed
once (:class:`_PowerRows`); the inputs are bit for bit those of each segment computed alone. A
segment is *flagged* when its most likely class is a defect with probability >=
``min_confidence``. Consecutive flagged segments form a run; a run of at least ``min_segments``
segments becomes one event whose kind is the defect class with the largest summed probability
over the run. Events of the same kind whose spans touch or lie within ``merge_gap_s`` of each
other are one event: with overlapping segments, one segment that dips under ``min_confidence``
in the middle of a defect would otherwise split it in two. Unless set, ``min_confidence`` and
``min_segments`` come from the model's metadata (``smoothing``: chosen on validation sources
by :mod:`detectors.training.audio_validate` when the model was trained). Smoothing never
hides a defect in a stream shorter than ``min_segments`` segments: there, every segment whose
most likely class is a defect counts, whatever its probability (so a one-second file with a
defect is reported). Streams shorter than one second are zero-padded to one segment; the end
of a stream is always covered by a last segment.

Runs with onnxruntime only (the ``ml`` extra); no torch.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.audio._stream import SampleClock, check_chunk
from detectors.media import AudioChunk, Event, Frame, Medium
from detectors.ml import ModelSession, session
from detectors.ml.features import (
    AUDIO_INPUT_NAMES,
    AUDIO_RATE_HZ,
    HOP,
    N_BINS,
    N_FFT,
    N_FRAMES,
    SEGMENT_SAMPLES,
    audio_features,
    frame_power,
)

log = logging.getLogger(__name__)

DEFAULT_MIN_CONFIDENCE = 0.6  # for a model without ``smoothing`` metadata
DEFAULT_MIN_SEGMENTS = 2
_CONTEXT_S = 0.005  # native-rate context on each side of a resampled block (the filter is ~30 samples long)


@functools.cache
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing filter ``scipy.signal.resample_poly`` designs by default for float32 input, designed once."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    return firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)


def _downmix(samples: np.ndarray) -> np.ndarray:
    """Mono float32 average of the channels (column adds: a mean over a short axis is several times slower)."""
    mono = np.asarray(samples[:, 0], np.float32)
    if samples.shape[1] == 1:
        return mono
    mono = mono.copy()
    for c in range(1, samples.shape[1]):
        mono += samples[:, c]
    mono *= np.float32(1.0 / samples.shape[1])
    return mono


class _PowerRows:
    """STFT power rows of the 16 kHz stream (row j: the frame starting at sample j * HOP), kept between segments.

    Overlapping segments that start on a multiple of HOP share rows (44 of 94 at the default 0.5 s hop);
    each is computed once, and equals what :func:`~detectors.ml.features.audio_features` computes per segment.
    """

    def __init__(self) -> None:
        self._first = 0  # frame number of _rows[0]
        self._rows = np.zeros((0, N_BINS), np.float32)

    def of_segment(self, start: int, samples: Callable[[int, int], np.ndarray]) -> np.ndarray:
        """(N_FRAMES, bins) power of the segment starting at 16 kHz index ``start`` (a multiple of HOP);
        ``samples(a, b)`` returns the stream's 16 kHz samples a..b."""
        f0 = start // HOP
        done = min(max(0, f0 - self._first), self._rows.shape[0])  # starts only increase: rows before f0 are done with
        self._rows, self._first = self._rows[done:], self._first + done
        end = self._first + self._rows.shape[0]
        if not self._first <= f0 <= end:  # segments further apart than a segment, or one before the kept rows: afresh
            self._first, self._rows, end = f0, self._rows[:0], f0
        if f0 + N_FRAMES > end:
            new = frame_power(samples(end * HOP, (f0 + N_FRAMES - 1) * HOP + N_FFT))
            self._rows = np.concatenate([self._rows, new]) if self._rows.size else new
        return self._rows[f0 - self._first : f0 - self._first + N_FRAMES]


class AudioArtifactsDetector:
    """Report hum, hiss, distortion and clicks found by the learned segment classifier.

    An event's details give the number of flagged segments it covers, their most likely labels and the
    number of runs joined into it (``runs``, see ``merge_gap_s``).

    Per-segment metrics: :attr:`segment_metrics` holds one record per analysed segment
    (start/end in seconds, most likely class, its probability, P(none), flagged or not);
    :meth:`metrics` returns the last one and :attr:`last_metric` its defect probability
    (1 - P(none)).
    """

    name: ClassVar[str] = "audio_artifacts"
    medium: ClassVar[Medium] = "audio"
    # Needs onnxruntime (the ``ml`` extra): runs in ``avqa analyze`` when named (-d NAME), not by default.
    run_by_default: ClassVar[bool] = False
    metric_names: ClassVar[tuple[str, ...]] = ("start_s", "end_s", "label", "confidence", "p_none", "flagged")

    @dataclass(frozen=True)
    class Params:
        """Audio artifact parameters.

        Attributes:
            hop_s: time between the starts of consecutive one-second segments, in seconds
                (0 < hop_s <= 1).
            min_confidence: smallest probability of the winning defect class for a flagged
                segment, in (0, 1]; None: the model's ``smoothing`` metadata (else 0.6).
            min_segments: consecutive flagged segments needed for an event (>= 1); a stream
                with fewer segments is judged without smoothing (any segment whose most likely
                class is a defect); None: the model's ``smoothing`` metadata (else 2).
            merge_gap_s: events of the same kind separated by at most this many seconds
                are reported as one (>= 0; 0: spans that touch, as around a single segment
                under ``min_confidence`` at the default hop).
            threads: onnxruntime intra-op threads (>= 1).
            model: name of the shipped ONNX model.
        """

        hop_s: float = 0.5
        min_confidence: float | None = None
        min_segments: int | None = None
        merge_gap_s: float = 0.0
        threads: int = 1
        model: str = "audio_artifacts"

        def __post_init__(self) -> None:
            if not (math.isfinite(self.hop_s) and 0.0 < self.hop_s <= 1.0):
                raise ValueError(f"audio_artifacts: hop_s must be in (0, 1] seconds, got {self.hop_s}")
            if self.min_confidence is not None and not 0.0 < self.min_confidence <= 1.0:
                raise ValueError(f"audio_artifacts: min_confidence must be in (0, 1], got {self.min_confidence}")
            if self.min_segments is not None and not (isinstance(self.min_segments, int) and self.min_segments >= 1):
                raise ValueError(f"audio_artifacts: min_segments must be an integer >= 1, got {self.min_segments!r}")
            if not (math.isfinite(self.merge_gap_s) and self.merge_gap_s >= 0.0):
                raise ValueError(f"audio_artifacts: merge_gap_s must be a finite number of seconds >= 0, got {self.merge_gap_s}")
            if not (isinstance(self.threads, int) and self.threads >= 1):
                raise ValueError(f"audio_artifacts: threads must be an integer >= 1, got {self.threads!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._model: ModelSession | None = None
        self._labels: tuple[str, ...] = ()
        self._min_confidence = self.params.min_confidence
        self._min_segments = self.params.min_segments
        self._clock = SampleClock()
        self._native = np.zeros(0, np.float32)  # native-rate mono samples still needed for resampling
        self._native_start = 0  # stream sample number of _native[0]
        self._resampled_to = 0  # stream sample number up to which the 16 kHz buffer is complete
        self._buf = np.zeros(0, np.float32)  # 16 kHz mono samples
        self._buf_start = 0  # 16 kHz index (from the first sample) of _buf[0]
        self._first: int | None = None  # stream sample number of the first sample
        self._end = 0  # stream sample number after the last sample received
        self._next_seg = 0  # 16 kHz index of the start of the next segment to analyse
        self._segments = 0
        self._covered_to = 0  # 16 kHz index up to which segments have been analysed
        self._power = _PowerRows()
        self._run: list[tuple[int, int, np.ndarray]] = []  # flagged segments: (start, end, probs)
        self._early: list[tuple[int, int, np.ndarray]] = []  # the first segments, for a stream shorter than smoothing
        self._pending: list[tuple[int, int, np.ndarray]] = []  # the last run that qualified, until no later one can join it
        self._pending_runs = 0
        self.segment_metrics: list[dict[str, float | int | str | None]] = []
        self.last_metric: float | None = None

    # ------------------------------------------------------------------ model

    def _session(self) -> ModelSession:
        if self._model is None:
            self._model = session(self.params.model, self.params.threads)
            self._labels = self._model.labels
            if not self._labels or self._labels[0] != "none":
                raise ValueError(f"audio_artifacts: model {self.params.model!r} labels {self._labels} must start with 'none'")
            chosen = self._model.meta_json("smoothing") if "smoothing" in self._model.metadata else {}
            if self._min_confidence is None:
                self._min_confidence = float(chosen.get("min_confidence", DEFAULT_MIN_CONFIDENCE))
            if self._min_segments is None:
                self._min_segments = int(chosen.get("min_segments", DEFAULT_MIN_SEGMENTS))
        return self._model

    @property
    def smoothing(self) -> tuple[float, int]:
        """(min_confidence, min_segments) in use: the parameters, else the model's ``smoothing`` metadata."""
        self._session()
        assert self._min_confidence is not None and self._min_segments is not None
        return self._min_confidence, self._min_segments

    def classify(self, *inputs: np.ndarray) -> np.ndarray:
        """Return class probabilities (k, classes) of the model inputs of k segments, as
        :func:`~detectors.ml.features.audio_features` returns them (log-mel, statistics, fine spectrum);
        the model is given those it declares (by ONNX input name)."""
        model = self._session()
        if inputs[0].shape[0] == 0:
            return np.zeros((0, len(self._labels)), np.float32)
        by_name = dict(zip(AUDIO_INPUT_NAMES, inputs, strict=False))
        missing = [n for n in model.input_names if n not in by_name]
        if missing:
            raise ValueError(f"audio_artifacts: model {self.params.model!r} needs inputs {missing} that were not given")
        return np.asarray(model.run(*(np.ascontiguousarray(by_name[n], np.float32) for n in model.input_names))[0])

    @property
    def labels(self) -> tuple[str, ...]:
        self._session()
        return self._labels

    # ------------------------------------------------------------------ stream

    def metrics(self) -> dict[str, float | int | str | None]:
        """Return the metric record of the last segment analysed (see :attr:`metric_names`)."""
        if not self.segment_metrics:
            return dict.fromkeys(self.metric_names)
        return dict(self.segment_metrics[-1])

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next chunk; return the events that closed."""
        chunk = check_chunk(self.name, item)
        n = chunk.samples.shape[0]
        if n == 0:
            return []
        self._clock.observe(chunk)
        if self._first is None:
            self._first = self._native_start = self._resampled_to = self._end = chunk.start_sample
        elif chunk.start_sample != self._end:
            log.debug("audio_artifacts: gap of %d samples before sample %d", chunk.start_sample - self._end, chunk.start_sample)
            if chunk.start_sample > self._end:  # fill the gap with silence to keep the sample clock
                self._append(np.zeros(chunk.start_sample - self._end, np.float32))
        self._append(_downmix(chunk.samples))
        return self._analyse(final=False)

    def flush(self) -> list[Event]:
        """Analyse what is left (the end of the stream is always covered) and close the open run."""
        if self._first is None:
            return []
        events = self._analyse(final=True)
        if self._segments < self.smoothing[1]:
            self._run = []  # a stream shorter than the smoothing window: judged on its own below
            events.extend(self._short_stream_events())
        else:
            events.extend(self._close_run())
        return events + self._release()

    def _append(self, x: np.ndarray) -> None:
        self._native = np.concatenate([self._native, x]) if self._native.size else x.copy()
        self._end += x.size

    # ------------------------------------------------------------------ resampling (once per sample)

    def _ratio(self) -> tuple[int, int]:
        g = math.gcd(self._clock.rate_hz, AUDIO_RATE_HZ)
        return AUDIO_RATE_HZ // g, self._clock.rate_hz // g

    def _resample(self, final: bool) -> None:
        """Move the native samples that have enough right-hand context into the 16 kHz buffer."""
        up, down = self._ratio()
        if up == down:
            take = self._end - self._resampled_to
            self._push16(self._native[self._resampled_to - self._native_start :][:take])
            self._resampled_to = self._end
            self._trim_native(self._resampled_to)
            return
        context = down * math.ceil(max(64.0, _CONTEXT_S * self._clock.rate_hz) / down)
        done = self._resampled_to
        if not final and self._end < self._native_of(self._next_seg + SEGMENT_SAMPLES) + context:
            return  # no segment is due yet: resample in a few large blocks, not once per 20 ms chunk
        if final:
            upto = done + down * math.ceil((self._end - done) / down)
        else:
            upto = done + down * ((self._end - context - done) // down)
        if upto <= done:
            return
        lo, hi = done - context, upto + context
        block = np.zeros(hi - lo, np.float32)
        a, b = max(lo, self._native_start), min(hi, self._native_start + self._native.size)
        if b > a:
            block[a - lo : b - lo] = self._native[a - self._native_start : b - self._native_start]
        from scipy.signal import resample_poly

        y = resample_poly(block, up, down, window=_lowpass(up, down))
        first = context * up // down
        self._push16(y[first : first + (upto - done) * up // down].astype(np.float32))
        self._resampled_to = upto
        self._trim_native(upto - context)

    def _trim_native(self, keep_from: int) -> None:
        if keep_from > self._native_start:
            self._native = self._native[keep_from - self._native_start :]
            self._native_start = keep_from

    def _push16(self, y: np.ndarray) -> None:
        self._buf = np.concatenate([self._buf, y]) if self._buf.size else y.copy()

    def _native_of(self, i16: int) -> int:
        """Stream sample number of 16 kHz index ``i16``."""
        assert self._first is not None
        return self._first + round(i16 * self._clock.rate_hz / AUDIO_RATE_HZ)

    # ------------------------------------------------------------------ segments

    def _analyse(self, final: bool) -> list[Event]:
        self._resample(final)
        assert self._first is not None
        total16 = self._buf_start + self._buf.size
        if final:  # samples past the end of the stream (zero-padding to whole resampling units) are not audio
            total16 = min(total16, math.ceil((self._end - self._first) * AUDIO_RATE_HZ / self._clock.rate_hz))
        hop = self._hop16()
        starts: list[int] = []
        while self._next_seg + SEGMENT_SAMPLES <= total16:
            starts.append(self._next_seg)
            self._next_seg += hop
        if final:
            tail = total16 - self._covered_to if not starts else total16 - (starts[-1] + SEGMENT_SAMPLES)
            if (not starts and self._segments == 0) or tail > 0:
                starts.append(max(0, total16 - SEGMENT_SAMPLES))
        if not starts:
            return []
        segs = np.stack([self._segment(s, total16) for s in starts])
        probs = self.classify(
            *audio_features(segs, np.stack([self._segment_power(s, total16, seg) for s, seg in zip(starts, segs)]))
        )
        events: list[Event] = []
        for s, p in zip(starts, probs, strict=True):
            events.extend(self._decide(s, min(s + SEGMENT_SAMPLES, total16), p))
        # drop samples no future segment needs
        keep_from = max(self._buf_start, min(self._next_seg, total16 - SEGMENT_SAMPLES))
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start :]
            self._buf_start = keep_from
        return events

    def _segment(self, start: int, total16: int) -> np.ndarray:
        seg = self._samples16(start, min(start + SEGMENT_SAMPLES, total16))
        if seg.size < SEGMENT_SAMPLES:
            seg = np.pad(seg, (0, SEGMENT_SAMPLES - seg.size))
        return seg

    def _segment_power(self, start: int, total16: int, seg: np.ndarray) -> np.ndarray:
        """The STFT power of a segment: from the shared rows when it starts on a frame boundary and lies within the stream."""
        if start % HOP or start + SEGMENT_SAMPLES > total16:  # off the frame grid, or zero-padded at the end
            return frame_power(seg)
        return self._power.of_segment(start, self._samples16)

    def _samples16(self, a: int, b: int) -> np.ndarray:
        """The 16 kHz samples with indices a..b (from the first sample of the stream), as the buffer holds them."""
        return self._buf[a - self._buf_start : b - self._buf_start]

    def _decide(self, start: int, end: int, probs: np.ndarray) -> list[Event]:
        self._segments += 1
        self._covered_to = max(self._covered_to, end)
        k = int(np.argmax(probs))
        conf = float(probs[k])
        flagged = k != 0 and conf >= self.smoothing[0]
        record = {
            "start_s": round(self._clock.time_of(self._native_of(start)), 6),
            "end_s": round(self._clock.time_of(self._native_of(end)), 6),
            "label": self._labels[k],
            "confidence": round(conf, 6),
            "p_none": round(float(probs[0]), 6),
            "flagged": int(flagged),
        }
        self.segment_metrics.append(record)
        self.last_metric = 1.0 - float(probs[0])
        if self._segments <= self.smoothing[1]:
            self._early.append((start, end, probs))
        if flagged:
            self._run.append((start, end, probs))
            return []
        events = self._close_run()
        if self._pending and start + self._hop16() > self._pending_end() + self._merge_gap16():
            events.extend(self._release())  # a later run starts after this segment, too late to join
        return events

    def _short_stream_events(self) -> list[Event]:
        """Events of a stream with fewer segments than ``min_segments``: no smoothing at all, so that it never hides
        a defect in a one-second file; each run of segments whose most likely class is a defect is an event."""
        events: list[Event] = []
        run: list[tuple[int, int, np.ndarray]] = []
        for segment in [*self._early, (0, 0, None)]:
            probs = segment[2]
            if probs is not None and int(np.argmax(probs)) != 0:
                run.append(segment)  # type: ignore[arg-type]
                continue
            events.extend(self._merge(run))
            run = []
        return events

    def _close_run(self) -> list[Event]:
        run, self._run = self._run, []
        if len(run) < self.smoothing[1]:
            return []
        return self._merge(run)

    def _hop16(self) -> int:
        return max(1, round(self.params.hop_s * AUDIO_RATE_HZ))

    def _merge_gap16(self) -> int:
        return round(self.params.merge_gap_s * AUDIO_RATE_HZ)

    def _pending_end(self) -> int:
        return max(e for _, e, _ in self._pending)

    def _merge(self, run: list[tuple[int, int, np.ndarray]]) -> list[Event]:
        """Join ``run`` to the pending run when both are of one kind and close enough; else release the pending one
        and keep ``run`` pending (a later run may still join it)."""
        if not run:
            return []
        if self._pending and _kind(run) == _kind(self._pending) and run[0][0] <= self._pending_end() + self._merge_gap16():
            self._pending.extend(run)
            self._pending_runs += 1
            return []
        events = self._release()
        self._pending, self._pending_runs = list(run), 1
        return events

    def _release(self) -> list[Event]:
        run, self._pending = self._pending, []
        return self._event(run, self._pending_runs)

    def _event(self, run: list[tuple[int, int, np.ndarray]], runs: int) -> list[Event]:
        if not run:
            return []
        k = _kind(run)
        counts: dict[str, int] = {}
        for _, _, p in run:
            label = self._labels[int(np.argmax(p))]
            counts[label] = counts.get(label, 0) + 1
        event = Event(
            detector=self.name,
            kind=self._labels[k],
            start_s=self._clock.time_of(self._native_of(run[0][0])),
            end_s=self._clock.time_of(self._native_of(max(e for _, e, _ in run))),
            score=float(np.mean([p[k] for _, _, p in run])),
            details={"segments": len(run), "segment_labels": counts, "runs": runs},
        )
        log.debug("audio_artifacts: %s", event.describe())
        return [event]


def _kind(run: list[tuple[int, int, np.ndarray]]) -> int:
    """The defect class (index) with the largest probability summed over the segments of a run."""
    total = np.sum([p for _, _, p in run], axis=0)
    total[0] = -1.0
    return int(np.argmax(total))
