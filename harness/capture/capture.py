"""The capture: a source decoded on its own thread into ring buffers on one capture clock.

The grabber thread owns the source: it decodes, stamps and appends to the rings and never
waits for a consumer. When a live source stops (no data for ``no_signal_s``, or the
connection closes) the capture reports a ``no_signal`` event and, if ``reconnect_s`` > 0,
re-opens the URI with back-off; frames after the reconnect continue the same capture clock.
If the signal does not return within ``reconnect_s`` the capture fails with
:class:`~harness.errors.NoSignalError` (an infrastructure error: Allure *broken*).

Everything noteworthy becomes a :class:`~detectors.media.Event` of detector ``"capture"``
(kinds in :data:`EVENT_KINDS`), kept in a bounded list and passed to ``on_event``.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from detectors.media import AudioChunk, Event, Frame
from harness.capture import registry
from harness.capture.ring import Cursor, Ring
from harness.capture.source import AudioSource, CaptureSource
from harness.errors import CaptureError, NoSignalError

log = logging.getLogger(__name__)

_AUDIO_CHUNKS_PER_S = 50  # generous: AAC gives ~47 chunks/s at 48 kHz
_MAX_EVENTS = 10_000
_LAG_CHECK_S = 0.5
_LAG_WARN = 0.5  # a reader more than half the ring behind is reported as lagging...
_LAG_CLEAR = 0.25  # ...until it is back under a quarter
_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)
_AUDIO_JUMP_S = 0.25  # a separate audio device further off than this from its continuation is re-placed at once
_AUDIO_SLEW_S = 0.002  # otherwise it is moved at most this much per chunk (the video mapping settles)
_CLOCK_SETTLE_S = 0.5

EVENT_DETECTOR = "capture"
EVENT_KINDS = (
    "no_signal",  # no frames (stream stopped or connection lost); end_s = when it was noticed
    "reconnect",  # the source is back; start_s..end_s is the gap without pictures
    "signal_lost",  # reconnecting gave up: the capture fails
    "discontinuity",  # the stream's timestamps jumped; the capture clock continued
    "dropped_frames",  # the source skipped frames (a gap in presentation times); details.count
    "format_change",  # resolution or frame rate changed; details.from / details.to
    "consumer_lagging",  # a reader (recorder, detector, wait) is more than half the buffer behind
    "frames_missed",  # a reader was overwritten: details.count frames it never saw
    "audio_missed",  # the same for audio chunks
)


@dataclass(frozen=True)
class CaptureStats:
    """What the capture has seen so far.

    ``dropped_frames`` are frames the source never delivered (gaps in its timestamps);
    ``missed_by_consumers`` are delivered frames that a slow reader never saw (overwritten in
    the ring before it got to them), summed over all readers. ``av_offset_s`` is where the
    first audio sample lies relative to the first picture on the capture clock (None without
    audio); ``audio_latency_s`` is the input latency of a separate audio device (0 otherwise).
    """

    frames: int
    audio_chunks: int
    dropped_frames: int
    decode_errors: int
    discontinuities: int
    reconnects: int = 0
    no_signal: int = 0
    format_changes: int = 0
    missed_by_consumers: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    av_offset_s: float | None = None
    audio_latency_s: float = 0.0


class Capture:
    """Opens a capture URI, decodes it on a background thread and keeps the last ``buffer_s``.

    Consumers read through cursors (:meth:`video_cursor`, :meth:`audio_cursor_at`) and never
    block the grabber; what a slow consumer missed is counted (its cursor, the stats and a
    ``frames_missed`` event). ``to_capture_time`` maps ``time.monotonic()`` readings (key
    presses) onto the capture clock.

    Args:
        uri: video capture URI (see :mod:`harness.capture.registry`).
        buffer_s: seconds of video and audio kept in the rings (memory: buffer_s x fps x
            width x height x 1.5 bytes).
        no_signal_s: no frames for this long is a loss of signal.
        open_timeout_s: give up opening the source after this long (fail fast).
        reconnect_s: after a loss, keep re-opening for this long before failing; 0 fails at
            once (the stream's end or the silence is the error).
        audio_uri: a separate audio device (``alsa://...``) instead of the audio muxed in the
            video stream.
        on_event: called on the grabber thread with every capture event; keep it quick.
    """

    def __init__(
        self,
        uri: str,
        *,
        buffer_s: float = 10.0,
        no_signal_s: float = 3.0,
        open_timeout_s: float = 10.0,
        reconnect_s: float = 0.0,
        audio_uri: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        if buffer_s <= 0 or no_signal_s <= 0 or open_timeout_s <= 0 or reconnect_s < 0:
            raise ValueError(
                f"{uri}: buffer_s, no_signal_s and open_timeout_s must be > 0 and reconnect_s >= 0 "
                f"(got {buffer_s}, {no_signal_s}, {open_timeout_s}, {reconnect_s})"
            )
        self.uri = uri
        self.name = name or uri
        self.buffer_s = buffer_s
        self.no_signal_s = no_signal_s
        self.open_timeout_s = open_timeout_s
        self.reconnect_s = reconnect_s
        self.on_event = on_event
        self._clock = clock
        registry.check_video_uri(uri)
        self._source_cls = registry.source_class(uri)
        self.source: CaptureSource = self._open_source(open_timeout_s, use_muxed_audio=audio_uri is None)
        self.audio_source: AudioSource | None = None
        if audio_uri is not None:
            audio_cls = registry.source_class(audio_uri)
            self.audio_source = audio_cls(audio_uri, open_timeout_s=open_timeout_s, read_timeout_s=no_signal_s)
        capacity = max(2, int(buffer_s * self.source.fps) + 1)
        self.video: Ring[Frame] = Ring(capacity)
        self.audio: Ring[AudioChunk] = Ring(max(2, int(buffer_s * _AUDIO_CHUNKS_PER_S)))
        self.error: CaptureError | None = None
        self.ended = False
        self.reconnecting = False
        self._closing = False
        self._offset_s: float | None = None  # min(arrival monotonic - pts): maps monotonic -> capture clock
        self._offset_moved_at = 0.0  # when that mapping last moved by more than 1 ms
        self._shift_s = 0.0  # added to the current source's times (continues the clock after a reconnect)
        self._last_pts_s: float | None = None
        self._format: tuple[int, int] | None = None
        self._fps = self.source.fps
        self._first_video_s: float | None = None
        self._first_audio_s: float | None = None
        self._events: collections.deque[Event] = collections.deque(maxlen=_MAX_EVENTS)
        self._events_lock = threading.Lock()
        self._counts = collections.Counter[str]()
        self._previous_counts: dict[str, int] = {"dropped": 0, "discontinuities": 0}
        self._totals = {"frames": 0, "audio_chunks": 0, "dropped_frames": 0, "decode_errors": 0, "discontinuities": 0}
        self._banked = False  # the current source's counters are already in _totals
        self._readers: weakref.WeakSet[Cursor[Any]] = weakref.WeakSet()
        self._next_lag_check = 0.0
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"avqa-capture {self.name}", daemon=True)
        self._audio_thread: threading.Thread | None = None
        if self.audio_source is not None:
            self._audio_thread = threading.Thread(target=self._run_audio, name=f"avqa-capture-audio {self.name}", daemon=True)

    @property
    def fps(self) -> float:
        return self.source.fps

    @property
    def has_audio(self) -> bool:
        return self.audio_source is not None or self.source.has_audio

    def _open_source(self, timeout_s: float, use_muxed_audio: bool = True) -> CaptureSource:
        if use_muxed_audio:
            source: CaptureSource = self._source_cls(self.uri, open_timeout_s=timeout_s, read_timeout_s=self.no_signal_s)
        else:
            source = self._source_cls(self.uri, open_timeout_s=timeout_s, read_timeout_s=self.no_signal_s, audio=False)
        return source

    def start(self) -> Capture:
        self._thread.start()
        if self._audio_thread is not None:
            self._audio_thread.start()
        return self

    # -- events -----------------------------------------------------------------------------
    def _emit(self, kind: str, start_s: float, end_s: float | None = None, **details: Any) -> Event:
        event = Event(EVENT_DETECTOR, kind, start_s, start_s if end_s is None else max(start_s, end_s), details=details)
        with self._events_lock:
            self._events.append(event)
            self._counts[kind] += 1
        level = logging.INFO if kind in ("reconnect", "dropped_frames", "frames_missed", "audio_missed") else logging.WARNING
        if kind != "dropped_frames" or self._counts[kind] <= 20:
            log.log(level, "%s: %s at t=%.3f s %s", self.name, kind, start_s, details or "")
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("%s: capture event listener failed on %s", self.name, kind)
        return event

    def events(self, kind: str | None = None) -> list[Event]:
        """Capture events so far (the last 10 000), optionally of one kind."""
        with self._events_lock:
            return [e for e in self._events if kind is None or e.kind == kind]

    # -- the grabber ------------------------------------------------------------------------
    def _run(self) -> None:
        source = self.source
        try:
            while True:
                failure = self._pump(source)
                self._bank(source)
                if self._closing:
                    return
                if not source.live:  # a file: its end is normal, a failure is final
                    self.ended = True
                    if failure is not None:
                        self.error = failure
                    elif source.stats.frames == 0:
                        self.error = CaptureError(f"{self.uri}: stream ended before the first frame")
                    return
                if failure is None:
                    failure = CaptureError(f"{self.uri}: stream ended (source closed the connection)")
                lost_at = self._lost_at()
                self._emit("no_signal", lost_at, self.now_s(), reason=str(failure))
                if self.reconnect_s <= 0 or self._last_pts_s is None:
                    self.error = failure
                    return
                reopened = self._reconnect(lost_at, failure)
                if reopened is None:
                    return
                source = self.source = reopened
                self._banked = False
        except CaptureError as e:
            self.error = e
        except Exception as e:  # noqa: BLE001 - report any decoder crash as a capture failure
            self.error = CaptureError(f"{self.uri}: capture thread failed: {type(e).__name__}: {e}")
        finally:
            if self.error is not None and not self._closing:
                log.error("%s", self.error)
            self.video.close()
            self.audio.close()
            self._started.set()

    def _pump(self, source: CaptureSource) -> CaptureError | None:
        """Move the source's items into the rings until it ends (None) or fails (the error)."""
        first = True
        try:
            for item in source.items():
                if self._closing:
                    return None
                arrival = self._clock()
                if isinstance(item, Frame):
                    if first:
                        first = False
                        if self._last_pts_s is not None:  # after a reconnect: continue at arrival time
                            floor = self._last_pts_s + 1.0 / max(source.fps, 1.0)
                            self._shift_s = max(floor, arrival - (self._offset_s or 0.0)) - item.pts_s
                    self._on_frame(source, item, arrival)
                elif not self.audio_source:
                    self._on_audio(item)
        except CaptureError as e:
            return e
        return None

    def _on_frame(self, source: CaptureSource, frame: Frame, arrival: float) -> None:
        if self._shift_s:
            frame.pts_s += self._shift_s
        frame.index = self.video.head
        offset = arrival - frame.pts_s
        if getattr(source, "flushing", False) and self._offset_s is not None:
            pass  # handed over at once when the stream stopped, not on arrival: no clock information
        elif self._offset_s is None or offset < self._offset_s:
            if self._offset_s is None or self._offset_s - offset > 1e-3:
                self._offset_moved_at = arrival
            self._offset_s = offset
        if self._first_video_s is None:
            self._first_video_s = frame.pts_s
        stats = source.stats
        if stats.dropped_frames > self._previous_counts["dropped"]:
            count = stats.dropped_frames - self._previous_counts["dropped"]
            self._emit("dropped_frames", self._last_pts_s if self._last_pts_s is not None else frame.pts_s, frame.pts_s, count=count)
        if stats.discontinuities > self._previous_counts["discontinuities"]:
            self._emit("discontinuity", frame.pts_s, frame.pts_s, count=stats.discontinuities - self._previous_counts["discontinuities"])
        self._previous_counts["dropped"] = stats.dropped_frames
        self._previous_counts["discontinuities"] = stats.discontinuities
        size = (frame.width, frame.height)
        if self._format is not None and size != self._format:
            self._emit("format_change", frame.pts_s, frame.pts_s, **{"from": _size(self._format), "to": _size(size)})
        if source.fps != self._fps:
            self._emit("format_change", frame.pts_s, frame.pts_s, **{"from": f"{self._fps:.3f} fps", "to": f"{source.fps:.3f} fps"})
            self._fps = source.fps
        self._format = size
        self._last_pts_s = frame.pts_s
        self.video.append(frame)
        self._started.set()
        if arrival >= self._next_lag_check:
            self._next_lag_check = arrival + _LAG_CHECK_S
            self._check_readers(frame.pts_s)

    def _on_audio(self, chunk: AudioChunk) -> None:
        if self._shift_s:
            chunk = dataclasses.replace(chunk, pts_s=chunk.pts_s + self._shift_s)
        if self._first_audio_s is None:
            self._first_audio_s = chunk.pts_s
        self.audio.append(chunk)

    def _bank(self, source: CaptureSource) -> None:
        """Add a finished source's counters to the capture's totals."""
        s = source.stats
        for key in self._totals:
            self._totals[key] += getattr(s, key)
        self._banked = True
        self._previous_counts = {"dropped": 0, "discontinuities": 0}

    def _lost_at(self) -> float:
        last = self._last_pts_s if self._last_pts_s is not None else 0.0
        return last + 1.0 / max(self._fps, 1.0)

    def _reconnect(self, lost_at: float, failure: CaptureError) -> CaptureSource | None:
        """Re-open the URI with back-off until it works (the new source) or ``reconnect_s`` passes."""
        self.reconnecting = True
        started = self._clock()
        deadline = started + self.reconnect_s
        attempts = 0
        last_error: CaptureError = failure
        try:
            while not self._closing:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                attempts += 1
                try:
                    source = self._open_source(max(0.5, min(self.open_timeout_s, remaining, max(1.0, self.no_signal_s))),
                                               use_muxed_audio=self.audio_source is None)
                except CaptureError as e:
                    last_error = e
                    log.debug("%s: reconnect attempt %d failed: %s", self.name, attempts, e)
                    pause = min(_BACKOFF_S[min(attempts, len(_BACKOFF_S)) - 1], max(0.0, deadline - self._clock()))
                    time.sleep(pause)
                    continue
                if self._closing:
                    source.close()
                    return None
                self._emit("reconnect", lost_at, self.now_s(), attempts=attempts, after_s=round(self._clock() - started, 3))
                if (source.width, source.height) != (self.source.width, self.source.height):
                    log.info("%s: source came back as %dx%d", self.name, source.width, source.height)
                return source
            if self._closing:
                return None
            waited = self._clock() - started
            self._emit("signal_lost", lost_at, self.now_s(), attempts=attempts, reason=str(last_error))
            self.error = NoSignalError(
                f"{self.uri}: no signal since t={lost_at:.3f} s; reconnecting gave up after {waited:.1f} s "
                f"({attempts} attempts, last: {last_error})"
            )
            return None
        finally:
            self.reconnecting = False

    def _check_readers(self, now_pts_s: float) -> None:
        capacity = self.video.capacity
        for cursor in list(self._readers):
            if cursor.ring is not self.video:
                continue
            lag = cursor.lag
            if not cursor.lag_warned and lag > _LAG_WARN * capacity:
                cursor.lag_warned = True
                self._emit("consumer_lagging", now_pts_s, now_pts_s, reader=cursor.name or "reader", lag_frames=lag,
                           buffer_frames=capacity)
            elif cursor.lag_warned and lag < _LAG_CLEAR * capacity:
                cursor.lag_warned = False

    def _reader_missed(self, cursor: Cursor[Any], count: int) -> None:
        video = cursor.ring is self.video
        if video:
            with self._events_lock:
                self._counts["_missed"] += count
        item = cursor.ring.latest()
        t = getattr(item, "pts_s", 0.0) if item is not None else 0.0
        self._emit("frames_missed" if video else "audio_missed", t, t, reader=cursor.name or "reader", count=count,
                   total=cursor.missed)

    # -- separate audio device ----------------------------------------------------------------
    def _run_audio(self) -> None:
        assert self.audio_source is not None
        expected: float | None = None  # where the next chunk continues the previous one
        try:
            for chunk in self.audio_source.chunks():
                if self._closing:
                    return
                if self._offset_s is None:
                    continue  # the capture clock starts with the first picture
                if expected is None and self._clock() - self._offset_moved_at < _CLOCK_SETTLE_S:
                    continue  # the first pictures come in a burst (probing): wait until the mapping is steady
                mapped = chunk.pts_s - self._offset_s
                if expected is not None and abs(mapped - expected) < _AUDIO_JUMP_S:
                    # the video clock mapping still settles: slew towards it, keeping the chunks contiguous
                    mapped = expected + max(-_AUDIO_SLEW_S, min(_AUDIO_SLEW_S, mapped - expected))
                chunk = dataclasses.replace(chunk, pts_s=mapped)
                expected = mapped + chunk.duration_s
                if self._first_audio_s is None:
                    self._first_audio_s = chunk.pts_s
                self.audio.append(chunk)
        except CaptureError as e:
            if not self._closing:
                log.error("%s: audio device failed: %s", self.name, e)
                self._emit("no_signal", self.now_s(), self.now_s(), reason=f"audio: {e}")
        except Exception:  # a bug in the audio path must not take the video down
            log.exception("%s: audio thread failed", self.name)

    # -- consumers --------------------------------------------------------------------------
    def wait_started(self, timeout_s: float) -> None:
        """Wait for the first frame; CaptureError if none comes."""
        if not self._started.wait(timeout_s):
            raise CaptureError(f"{self.uri}: no video frame within {timeout_s:g} s")
        if self.video.head == 0:
            raise self.error or CaptureError(f"{self.uri}: stream ended before the first frame")

    def to_capture_time(self, monotonic_s: float) -> float:
        """Map a ``time.monotonic()`` reading onto the capture clock (seconds)."""
        if self._offset_s is None:
            return 0.0
        return monotonic_s - self._offset_s

    def now_s(self) -> float:
        """The capture-clock time of this instant."""
        return self.to_capture_time(self._clock())

    def _cursor(self, ring: Ring[Any], seq: int, name: str) -> Cursor[Any]:
        cursor: Cursor[Any] = Cursor(ring, seq, name=name, on_missed=self._reader_missed)
        self._readers.add(cursor)
        return cursor

    def video_cursor(self, from_latest: bool = True, *, name: str = "") -> Cursor[Frame]:
        """A reader positioned after the newest frame (or at the oldest held frame)."""
        return self._cursor(self.video, self.video.head if from_latest else self.video.oldest, name)

    def video_cursor_at(self, t_s: float, *, name: str = "") -> Cursor[Frame]:
        """A reader positioned at the first held frame presented at or after ``t_s``."""
        return self._cursor(self.video, self.video.find(lambda f: f.pts_s >= t_s - 1e-6), name)

    def audio_cursor_at(self, t_s: float, *, name: str = "") -> Cursor[AudioChunk]:
        """A reader positioned at the first held chunk that ends after ``t_s``."""
        return self._cursor(self.audio, self.audio.find(lambda c: c.pts_s + c.duration_s > t_s), name)

    def next_frame(self, cursor: Cursor[Frame]) -> Frame:
        """Return the cursor's next frame; CaptureError when the signal is lost for good or the stream ended.

        With ``reconnect_s`` > 0 a loss of signal waits for the reconnect (bounded by
        ``reconnect_s``) instead of failing at once.
        """
        frame = cursor.next(self.no_signal_s)
        if frame is not None:
            return frame
        # The grabber decides about the signal (it may still flush the decoder's last frames, or
        # reconnect): wait for its verdict, bounded.
        grace_s = self.no_signal_s + 1.0 + (self.reconnect_s + self.open_timeout_s if self.reconnect_s > 0 else 0.0)
        deadline = self._clock() + grace_s
        while frame is None and self._thread.is_alive() and self._clock() < deadline:
            frame = cursor.next(0.1)
        if frame is not None:
            return frame
        self.raise_if_failed()
        if self.ended:
            raise CaptureError(f"{self.uri}: stream ended")
        raise NoSignalError(f"{self.uri}: no frames for {self.no_signal_s:g} s (no signal)")

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise type(self.error)(f"capture lost: {self.error}") from self.error

    def stats(self) -> CaptureStats:
        t = dict(self._totals)
        if not self._banked:
            for key in t:
                t[key] += getattr(self.source.stats, key)
        with self._events_lock:
            counts = dict(self._counts)
        offset = None
        if self._first_audio_s is not None and self._first_video_s is not None:
            offset = self._first_audio_s - self._first_video_s
        width, height = self._format or (self.source.width, self.source.height)
        return CaptureStats(
            frames=t["frames"],
            audio_chunks=t["audio_chunks"] + (self.audio_source.stats.audio_chunks if self.audio_source else 0),
            dropped_frames=t["dropped_frames"],
            decode_errors=t["decode_errors"],
            discontinuities=t["discontinuities"],
            reconnects=counts.get("reconnect", 0),
            no_signal=counts.get("no_signal", 0),
            format_changes=counts.get("format_change", 0),
            missed_by_consumers=counts.get("_missed", 0),
            width=width,
            height=height,
            fps=self._fps,
            av_offset_s=offset,
            audio_latency_s=self.audio_source.latency_s if self.audio_source else 0.0,
        )

    def close(self, timeout_s: float | None = None) -> None:
        """Stop the grabber thread(s) and release the source(s)."""
        self._closing = True
        self.source.close()
        if self.audio_source is not None:
            self.audio_source.close()
        wait_s = timeout_s if timeout_s is not None else self.no_signal_s + max(1.0, min(self.open_timeout_s, self.no_signal_s)) + 1.0
        for thread in (self._thread, self._audio_thread):
            if thread is not None and thread.is_alive():
                thread.join(wait_s)


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"
