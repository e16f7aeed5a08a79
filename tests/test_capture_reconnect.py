"""Signal loss: no_signal, reconnect on the same capture clock, or a bounded infrastructure failure."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from detectors.media import Event, Frame
from harness.capture.capture import Capture
from harness.errors import InfrastructureError, NoSignalError
from tests.streams import RestartableTcpServer, TcpStreamServer, encode_ts, read_index

FPS = 30


@pytest.fixture(scope="module")
def live_clip() -> bytes:
    return encode_ts(frames=4 * FPS, fps=FPS, audio_hz=440.0)


def test_killed_source_gives_no_signal_then_reconnects_on_the_same_clock(live_clip: bytes) -> None:
    server = RestartableTcpServer(live_clip, duration_s=4.0)
    seen: list[Event] = []
    capture = Capture(server.uri, no_signal_s=0.7, reconnect_s=8.0, open_timeout_s=3, on_event=seen.append).start()
    frames: list[Frame] = []

    def outage() -> None:
        time.sleep(1.2)
        server.kill()  # the encoder dies mid-stream...
        time.sleep(1.5)
        server.start()  # ...and comes back (its timestamps restart at 0)

    threading.Thread(target=outage, daemon=True).start()
    try:
        cursor = capture.video_cursor(from_latest=False)
        while len(frames) < 2 * FPS or read_index(frames[-1].luma) < 45:  # across the outage, never raising
            frames.append(capture.next_frame(cursor))
    finally:
        capture.close()
        server.close()
    kinds = [e.kind for e in seen if e.kind in ("no_signal", "reconnect")]
    assert kinds == ["no_signal", "reconnect"], seen
    lost, back = (e for e in seen if e.kind in ("no_signal", "reconnect"))
    assert back.start_s == lost.start_s and back.end_s > back.start_s + 1.0  # the gap: ~1.5 s without pictures
    times = np.array([f.pts_s for f in frames])
    assert np.all(np.diff(times) > 0), "capture clock must stay monotonic across the reconnect"
    assert [f.index for f in frames] == list(range(len(frames)))
    restart = next(i for i in range(1, len(frames)) if read_index(frames[i].luma) < read_index(frames[i - 1].luma))
    gap_s = times[restart] - times[restart - 1]
    assert 1.0 < gap_s < 4.0, f"the picture gap should reflect the outage, got {gap_s:.3f} s"
    stats = capture.stats()
    assert stats.reconnects == 1 and stats.no_signal == 1
    assert stats.frames == len(frames) or stats.frames >= len(frames)


def test_source_that_never_returns_is_broken_within_the_configured_time(live_clip: bytes) -> None:
    server = RestartableTcpServer(live_clip, duration_s=4.0)
    capture = Capture(server.uri, no_signal_s=0.5, reconnect_s=1.5, open_timeout_s=2).start()
    try:
        cursor = capture.video_cursor(from_latest=False)
        capture.next_frame(cursor)
        server.kill()
        started = time.monotonic()
        with pytest.raises(NoSignalError, match=r"reconnecting gave up after") as info:
            while True:
                capture.next_frame(cursor)
        took = time.monotonic() - started
    finally:
        capture.close()
        server.close()
    assert isinstance(info.value, InfrastructureError)  # Allure: broken, not failed
    assert server.uri in str(info.value)
    assert took < 0.5 + 1.5 + 2.0, f"gave up after {took:.1f} s"
    assert [e.kind for e in capture.events() if e.kind in ("no_signal", "signal_lost")] == ["no_signal", "signal_lost"]


def test_resolution_and_frame_rate_change_are_reported() -> None:
    first = encode_ts(frames=20, fps=30, width=320, height=240, audio_hz=None)
    second = encode_ts(frames=40, fps=60, width=640, height=360, audio_hz=None)
    server = TcpStreamServer(first + second, duration_s=1.5)
    capture = Capture(server.uri, no_signal_s=1.0).start()
    try:
        cursor = capture.video_cursor(from_latest=False)
        frames = [capture.next_frame(cursor) for _ in range(60)]
    finally:
        capture.close()
        server.close()
    assert (frames[0].width, frames[-1].width) == (320, 640)
    changes = [e.details for e in capture.events("format_change")]
    assert {"from": "320x240", "to": "640x360"} in changes
    assert any(c["to"].startswith("60.0") for c in changes), changes
    assert capture.stats().fps == pytest.approx(60.0, rel=0.01)
    assert capture.stats().dropped_frames == 0
    assert capture.events("discontinuity"), "the second encoder's timestamps restart"
    assert np.all(np.diff([f.pts_s for f in frames]) > 0)
