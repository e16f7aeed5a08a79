"""A recording replayed as a capture source, so that a failed run can be re-analysed exactly.

``replay:///abs/path/rec.mp4`` (or ``replay:rel/path.mp4``) with ``?pace=realtime`` (default:
frames are delivered at their recorded pace, as the live capture saw them) or ``?pace=fast``
(as fast as the consumers allow). Times are the capture-clock times the recording was made
with (its ``avqa_origin_s`` metadata), so events line up with the original run's timeline.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from detectors.media import AudioChunk, Frame
from harness.capture.clips import recording_origin_s
from harness.capture.pyav_source import PyAVSource
from harness.capture.source import SourceStats
from harness.errors import CaptureError

_PACES = ("realtime", "fast")


def parse_replay_uri(uri: str) -> tuple[str, str]:
    """Return (file path, pace) of a ``replay:`` URI; CaptureError with the expected form otherwise."""
    parts = urlsplit(uri)
    path = unquote(parts.netloc + parts.path) if parts.netloc else unquote(parts.path)
    options = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - {"pace"})
    expected = "replay:///path/to/recording.mp4?pace=realtime|fast"
    if unknown:
        raise CaptureError(f"{uri}: unknown option(s) {', '.join(unknown)} (expected {expected})")
    pace = options.get("pace", "realtime")
    if pace not in _PACES:
        raise CaptureError(f"{uri}: pace must be one of {', '.join(_PACES)}, got {pace!r} (expected {expected})")
    if not path:
        raise CaptureError(f"{uri}: no file (expected {expected})")
    return path, pace


class ReplaySource:
    """Frames and audio of a recording, paced like the original capture or as fast as possible."""

    live = False

    def __init__(self, uri: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 3.0, audio: bool = True) -> None:
        self.uri = uri
        path, self.pace = parse_replay_uri(uri)
        try:
            self._inner = PyAVSource(path, open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s, audio=audio)
        except CaptureError as e:
            raise CaptureError(f"{uri}: {e}") from e
        self.origin_s = recording_origin_s(self._inner._container)
        self.width, self.height = self._inner.width, self._inner.height
        self.has_audio = self._inner.has_audio
        self._stop = threading.Event()

    @property
    def fps(self) -> float:
        return self._inner.fps

    @property
    def stats(self) -> SourceStats:
        return self._inner.stats

    def items(self) -> Iterator[Frame | AudioChunk]:
        start: float | None = None
        for item in self._inner.items():
            if self._stop.is_set():
                return
            if isinstance(item, Frame):
                item.pts_s += self.origin_s
                if self.pace == "realtime":
                    if start is None:
                        start = time.monotonic() - item.pts_s
                    delay = start + item.pts_s - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
            else:
                item = dataclasses.replace(item, pts_s=item.pts_s + self.origin_s)
            yield item

    def close(self) -> None:
        self._stop.set()
        self._inner.close()
