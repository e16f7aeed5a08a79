"""Audio from a capture card's sound device (ALSA) through PyAudio, the optional ``audio`` extra.

``alsa://hw:1,0?rate=48000&channels=2&frames=1024`` (a device whose PortAudio name contains
``hw:1,0``), ``alsa://default`` or ``alsa://3`` (a PortAudio device index). Each block's time
is its arrival ``time.monotonic()`` minus the block length and the stream's input latency
(the measured offset, reported as ``latency_s``), smoothed by the running sample count so
that chunks are contiguous (a late read of buffered samples does not move them; a device
clock that runs slow is followed at 1 ms a second); an overrun reported by PortAudio is
counted as lost audio and the clock re-anchored. The capture maps these times onto its video clock.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from detectors.media import AudioChunk
from harness.capture.source import SourceStats
from harness.errors import CaptureError

log = logging.getLogger(__name__)

_KNOWN = ("rate", "channels", "frames")
_EXPECTED = "alsa://hw:CARD,DEV?rate=48000&channels=2&frames=1024 (or alsa://default, alsa://INDEX)"
_PA_INPUT_OVERFLOWED = -9981  # PortAudio paInputOverflowed
_DRIFT_S = 0.001


def _import_pyaudio() -> ModuleType:
    """Import PyAudio, or raise CaptureError naming the missing extra or system library."""
    try:
        import pyaudio
    except ImportError as e:
        if "portaudio" in str(e).lower():
            raise CaptureError(
                f"audio capture needs the PortAudio system library ({e}); install it (Debian/Ubuntu: apt install libportaudio2)"
            ) from e
        raise CaptureError("audio capture needs PyAudio, the optional 'audio' extra: pip install 'avqa[audio]' "
                           "(it needs PortAudio: apt install libportaudio2 portaudio19-dev)") from e
    except OSError as e:
        raise CaptureError(f"audio capture needs the PortAudio system library ({e}); apt install libportaudio2") from e
    return pyaudio


def parse_alsa_uri(uri: str) -> tuple[str, dict[str, int]]:
    """Return (device name or index, options) of an ``alsa://`` URI; CaptureError with the expected form otherwise."""
    parts = urlsplit(uri)
    device = unquote(parts.netloc + parts.path).strip("/")
    raw = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(raw) - set(_KNOWN))
    if unknown or not device:
        what = f"unknown option(s) {', '.join(unknown)}" if unknown else "no device"
        raise CaptureError(f"{uri}: {what} (expected {_EXPECTED})")
    try:
        options = {k: int(v) for k, v in raw.items()}
    except ValueError as e:
        raise CaptureError(f"{uri}: options must be integers (expected {_EXPECTED})") from e
    options = {"rate": 48000, "channels": 2, "frames": 1024} | options
    if options["rate"] < 8000 or not 1 <= options["channels"] <= 8 or options["frames"] < 64:
        raise CaptureError(f"{uri}: rate >= 8000, channels 1-8 and frames >= 64 expected, got {options}")
    return device, options


class AlsaSource:
    """An input stream of a sound device, read in blocks on the capture's audio thread."""

    def __init__(self, uri: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 3.0, audio: bool = True) -> None:
        self.uri = uri
        self.stats = SourceStats()
        device, options = parse_alsa_uri(uri)
        self.sample_rate_hz = options["rate"]
        self.channels = options["channels"]
        self._frames = options["frames"]
        self.read_timeout_s = read_timeout_s
        pyaudio = _import_pyaudio()
        self._pa: Any = pyaudio.PyAudio()
        try:
            index = self._find(device)
            self._stream: Any = self._pa.open(
                format=pyaudio.paFloat32, channels=self.channels, rate=self.sample_rate_hz, input=True,
                input_device_index=index, frames_per_buffer=self._frames,
            )
        except CaptureError:
            self._pa.terminate()
            raise
        except (OSError, ValueError) as e:
            self._pa.terminate()
            raise CaptureError(f"{uri}: cannot open the sound device: {e}") from e
        self.latency_s = float(self._stream.get_input_latency())
        self._closed = False
        log.info("opened %s: %d Hz, %d channels, input latency %.1f ms", uri, self.sample_rate_hz, self.channels,
                 self.latency_s * 1000)

    def _find(self, device: str) -> int | None:
        if device == "default":
            return None
        if device.isdigit():
            return int(device)
        names = []
        for i in range(self._pa.get_device_count()):
            info = self._pa.get_device_info_by_index(i)
            names.append(str(info.get("name")))
            if device in names[-1] and int(info.get("maxInputChannels", 0)) > 0:
                return i
        raise CaptureError(f"{self.uri}: no input device named like {device!r} (devices: {', '.join(names) or 'none'})")

    def chunks(self) -> Iterator[AudioChunk]:
        rate, n = self.sample_rate_hz, self._frames
        anchor_s: float | None = None  # monotonic time of sample 0 of the current run
        run_samples = 0
        total = 0
        late: collections.deque[float] = collections.deque(maxlen=max(8, rate // n))  # ~1 s of (measured - expected)
        try:
            while not self._closed:
                overflowed = False
                try:
                    data = self._stream.read(n, exception_on_overflow=True)
                except OSError as e:
                    if self._closed:
                        return
                    if getattr(e, "errno", None) != _PA_INPUT_OVERFLOWED:
                        raise CaptureError(f"{self.uri}: sound device failed: {e}") from e
                    overflowed = True  # samples were lost before this read: re-anchor on arrival
                    self.stats.dropped_audio_s += n / rate
                    data = self._stream.read(n, exception_on_overflow=False)
                arrival = time.monotonic()
                samples = np.frombuffer(data, np.float32).reshape(-1, self.channels).copy()
                measured = arrival - self.latency_s - samples.shape[0] / rate
                if anchor_s is None or overflowed:
                    anchor_s, run_samples = measured, 0
                    late.clear()
                expected = anchor_s + run_samples / rate
                error = measured - expected
                if error < 0:  # arrived earlier than predicted: the estimate was late
                    anchor_s += error
                    expected = measured
                    late.clear()
                else:
                    late.append(error)
                    if len(late) == late.maxlen and min(late) > _DRIFT_S:  # the device clock runs slow: follow it
                        step = min(min(late), _DRIFT_S)
                        anchor_s += step
                        expected += step
                        late.clear()
                yield AudioChunk(expected, rate, samples, total)
                run_samples += samples.shape[0]
                total += samples.shape[0]
                self.stats.audio_chunks += 1
        finally:
            self._release()

    def _release(self) -> None:
        try:
            self._stream.stop_stream()
            self._stream.close()
        except OSError:
            pass
        self._pa.terminate()

    def close(self) -> None:
        self._closed = True
