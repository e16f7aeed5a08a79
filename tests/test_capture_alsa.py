"""The ALSA (PyAudio) audio source: a protocol-faithful fake PyAudio, alignment onto the video clock, missing extra."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from harness.capture import alsa_source
from harness.capture.capture import Capture
from harness.errors import CaptureError
from tests.streams import TcpStreamServer, encode_ts

RATE = 48000
LATENCY_S = 0.04


class FakeStream:
    """Blocks like a real input stream (one block per block duration); beeps at a given monotonic time."""

    def __init__(self, channels: int, rate: int, frames_per_buffer: int, beep_at: float) -> None:
        self.channels, self.rate, self.frames = channels, rate, frames_per_buffer
        self.beep_at = beep_at
        self.start = time.monotonic()
        self.read_samples = 0
        self.closed = False

    def get_input_latency(self) -> float:
        return LATENCY_S

    def read(self, n: int, exception_on_overflow: bool = True) -> bytes:
        # sample s entered the converter at start + s/rate; the block is handed over LATENCY_S after its last sample
        ready_at = self.start + (self.read_samples + n) / self.rate + LATENCY_S
        delay = ready_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = self.start + (self.read_samples + np.arange(n)) / self.rate
        tone = np.where((t >= self.beep_at) & (t < self.beep_at + 0.1), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
        self.read_samples += n
        return np.repeat(tone.astype(np.float32)[:, None], self.channels, axis=1).tobytes()

    def stop_stream(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def fake_pyaudio(beep_at: float) -> Any:
    devices = [{"name": "HDA Intel PCH: ALC (hw:0,0)", "maxInputChannels": 2},
               {"name": "USB3 HDMI capture: Audio (hw:1,0)", "maxInputChannels": 2}]
    opened: list[dict[str, Any]] = []

    class PyAudio:
        def get_device_count(self) -> int:
            return len(devices)

        def get_device_info_by_index(self, i: int) -> dict[str, Any]:
            return devices[i]

        def open(self, **kw: Any) -> FakeStream:
            opened.append(kw)
            return FakeStream(kw["channels"], kw["rate"], kw["frames_per_buffer"], beep_at)

        def terminate(self) -> None:
            pass

    return SimpleNamespace(PyAudio=PyAudio, paFloat32=1, opened=opened)


def test_alsa_audio_lands_on_the_video_clock_with_the_latency_taken_off(monkeypatch: pytest.MonkeyPatch) -> None:
    beep_at = time.monotonic() + 1.5
    module = fake_pyaudio(beep_at)
    monkeypatch.setattr(alsa_source, "_import_pyaudio", lambda: module)
    server = TcpStreamServer(encode_ts(frames=90, fps=30, audio_hz=None), duration_s=3.0)
    capture = Capture(server.uri, audio_uri="alsa://hw:1,0?frames=480", no_signal_s=1.0).start()
    try:
        assert module.opened[0]["input_device_index"] == 1 and module.opened[0]["rate"] == RATE
        capture.wait_started(5)
        time.sleep(max(0.0, beep_at + 0.1 - time.monotonic()))
        # where the beep belongs on the capture clock: where a key pressed at that instant is placed
        expected_s = capture.to_capture_time(beep_at)
        time.sleep(0.7)
        cursor = capture.audio_cursor_at(-1.0)
        chunks = []
        while (chunk := cursor.next(0.1)) is not None:
            chunks.append(chunk)
    finally:
        capture.close()
        server.close()
    assert capture.has_audio and chunks
    for a, b in itertools.pairwise(chunks):
        assert b.pts_s == pytest.approx(a.pts_s + a.duration_s, abs=2.5e-3)
    loud = next(c for c in chunks if np.any(np.abs(c.samples[:, 0]) > 0.05))
    onset_s = loud.pts_s + np.flatnonzero(np.abs(loud.samples[:, 0]) > 0.05)[0] / RATE
    assert abs(onset_s - expected_s) < 0.015, f"beep at {onset_s:.4f} s, expected {expected_s:.4f} s"
    stats = capture.stats()
    assert stats.audio_latency_s == LATENCY_S and stats.av_offset_s is not None


def test_missing_pyaudio_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyaudio", None)  # import pyaudio -> ImportError
    with pytest.raises(CaptureError, match=r"pip install 'avqa\[audio\]'"):
        alsa_source.AlsaSource("alsa://hw:1,0")


def test_alsa_uri_is_validated_and_audio_only(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CaptureError, match=r"unknown option\(s\) bits .*expected alsa://hw:CARD,DEV"):
        alsa_source.AlsaSource("alsa://hw:1,0?bits=24")
    monkeypatch.setattr(alsa_source, "_import_pyaudio", lambda: fake_pyaudio(0.0))
    with pytest.raises(CaptureError, match=r"no input device named like 'hw:7,0' \(devices: HDA Intel"):
        alsa_source.AlsaSource("alsa://hw:7,0")
    with pytest.raises(ValueError, match="audio only"):
        Capture("alsa://hw:1,0")
    assert threading.active_count() >= 1
