"""The capture: a source decoded on its own thread into ring buffers on one capture clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from detectors.media import AudioChunk, Frame
from harness.capture import registry
from harness.capture.ring import Cursor, Ring
from harness.capture.source import CaptureSource
from harness.errors import CaptureError

log = logging.getLogger(__name__)

_AUDIO_CHUNKS_PER_S = 50  # generous: AAC gives ~47 chunks/s at 48 kHz


@dataclass(frozen=True)
class CaptureStats:
    """What the capture has seen so far."""

    frames: int
    audio_chunks: int
    dropped_frames: int
    decode_errors: int
    discontinuities: int


class Capture:
    """Opens a capture URI, decodes it on a background thread and keeps the last ``buffer_s``.

    Consumers read through cursors (:meth:`video_cursor`, :meth:`audio_cursor`) and never block
    the grabber; what a slow consumer missed is counted on its cursor. ``to_capture_time``
    maps ``time.monotonic()`` readings (key presses) onto the capture clock.
    """

    def __init__(
        self,
        uri: str,
        *,
        buffer_s: float = 10.0,
        no_signal_s: float = 3.0,
        open_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.uri = uri
        self.name = name or uri
        self.no_signal_s = no_signal_s
        self._clock = clock
        source_cls = registry.source_class(uri)
        self.source: CaptureSource = source_cls(uri, open_timeout_s=open_timeout_s, read_timeout_s=no_signal_s)
        capacity = max(2, int(buffer_s * self.source.fps) + 1)
        self.video: Ring[Frame] = Ring(capacity)
        self.audio: Ring[AudioChunk] = Ring(max(2, int(buffer_s * _AUDIO_CHUNKS_PER_S)))
        self.error: CaptureError | None = None
        self.ended = False
        self._closing = False
        self._offset_s: float | None = None  # min(arrival monotonic - pts): maps monotonic -> capture clock
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"avqa-capture {self.name}", daemon=True)

    @property
    def fps(self) -> float:
        return self.source.fps

    def start(self) -> Capture:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for item in self.source.items():
                arrival = self._clock()
                if isinstance(item, Frame):
                    offset = arrival - item.pts_s
                    if self._offset_s is None or offset < self._offset_s:
                        self._offset_s = offset
                    self.video.append(item)
                    self._started.set()
                else:
                    self.audio.append(item)
            self.ended = True
            if self.source.live or self.source.stats.frames == 0:
                self.error = CaptureError(f"{self.uri}: stream ended (source closed the connection)")
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

    def video_cursor(self, from_latest: bool = True) -> Cursor[Frame]:
        """A reader positioned after the newest frame (or at the oldest held frame)."""
        return Cursor(self.video, self.video.head if from_latest else self.video.oldest)

    def video_cursor_at(self, t_s: float) -> Cursor[Frame]:
        """A reader positioned at the first held frame presented at or after ``t_s``."""
        return Cursor(self.video, self.video.find(lambda f: f.pts_s >= t_s - 1e-6))

    def audio_cursor_at(self, t_s: float) -> Cursor[AudioChunk]:
        """A reader positioned at the first held chunk that ends after ``t_s``."""
        return Cursor(self.audio, self.audio.find(lambda c: c.pts_s + c.duration_s > t_s))

    def frame_by_index(self, index: int) -> Frame | None:
        """The frame with ``index`` if the ring still holds it."""
        seq = self.video.find(lambda f: f.index >= index)
        _, frame = self.video.get(seq, 0)
        return frame if frame is not None and frame.index == index else None

    def next_frame(self, cursor: Cursor[Frame]) -> Frame:
        """Return the cursor's next frame; CaptureError when the signal is lost or the stream ended."""
        frame = cursor.next(self.no_signal_s)
        if frame is None:
            self.raise_if_failed()
            raise CaptureError(f"{self.uri}: no frames for {self.no_signal_s:g} s (no signal)")
        return frame

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise CaptureError(f"capture lost: {self.error}") from self.error

    def stats(self) -> CaptureStats:
        s = self.source.stats
        return CaptureStats(s.frames, s.audio_chunks, s.dropped_frames, s.decode_errors, s.discontinuities)

    def close(self, timeout_s: float | None = None) -> None:
        """Stop the grabber thread and release the source."""
        self._closing = True
        self.source.close()
        if self._thread.is_alive():
            self._thread.join(timeout_s if timeout_s is not None else self.no_signal_s + 1.0)
