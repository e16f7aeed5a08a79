"""V4L2 capture cards (HDMI to USB/PCIe, UVC) through OpenCV's V4L2 backend."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import cv2

from detectors.media import AudioChunk, Frame
from harness.capture.source import SourceStats
from harness.errors import CaptureError, NoSignalError

log = logging.getLogger(__name__)


def _device(uri: str) -> tuple[str | int, dict[str, str]]:
    """Return (device path or index, query options) for /dev/videoN, N or v4l2:///dev/videoN?width=..."""
    if uri.isdigit():
        return int(uri), {}
    if uri.startswith("/dev/"):
        return uri, {}
    parts = urlsplit(uri)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    path = parts.path or parts.netloc
    return (int(path) if path.isdigit() else path), options


class V4L2Source:
    """Frames from a V4L2 device; times from the driver's buffer timestamps when given, else arrival."""

    _KNOWN = frozenset({"width", "height", "fps", "fourcc", "buffers"})

    def __init__(self, uri: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 3.0, audio: bool = True) -> None:
        self.uri = uri
        self.stats = SourceStats()
        self.read_timeout_s = read_timeout_s
        self.has_audio = False
        self.live = True
        device, options = _device(uri)
        unknown = sorted(set(options) - self._KNOWN)
        if unknown:
            raise CaptureError(f"{uri}: unknown option(s) {', '.join(unknown)} (expected: {', '.join(sorted(self._KNOWN))})")
        self._cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            raise CaptureError(f"{uri}: cannot open V4L2 device {device!r}")
        if "fourcc" in options:
            self._cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*options["fourcc"][:4].ljust(4)))
        for name, prop in (("width", cv2.CAP_PROP_FRAME_WIDTH), ("height", cv2.CAP_PROP_FRAME_HEIGHT),
                           ("fps", cv2.CAP_PROP_FPS), ("buffers", cv2.CAP_PROP_BUFFERSIZE)):
            if name in options:
                self._cap.set(prop, float(options[name]))
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 30.0
        log.info("opened %s: driver granted %dx%d @ %.3f fps", uri, self.width, self.height, self.fps)
        self._closed = False

    def items(self) -> Iterator[Frame | AudioChunk]:
        index = 0
        origin: float | None = None
        last_ok = time.monotonic()
        try:
            while not self._closed:
                ok, bgr = self._cap.read()
                now = time.monotonic()
                if not ok:
                    if now - last_ok > self.read_timeout_s:
                        raise NoSignalError(f"{self.uri}: no frames for {self.read_timeout_s:g} s")
                    time.sleep(0.005)
                    continue
                last_ok = now
                stamp_ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
                t = stamp_ms / 1000.0 if stamp_ms > 0 else now
                if origin is None:
                    origin = t
                h, w = bgr.shape[0] & ~1, bgr.shape[1] & ~1
                yield Frame.from_bgr(bgr[:h, :w], index, t - origin)
                index += 1
                self.stats.frames += 1
        finally:
            self._cap.release()

    def close(self) -> None:
        self._closed = True
