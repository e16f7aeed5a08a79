"""Capture: real MPEG-TS (H.264 + AAC) streamed over loopback TCP into the threaded capture."""

from __future__ import annotations

import socket
import time
import tracemalloc

import numpy as np
import pytest

from detectors.media import Frame
from harness.capture.capture import Capture
from harness.capture.ring import Cursor, Ring
from harness.errors import CaptureError
from tests.streams import TcpStreamServer, encode_ts, read_index

FPS = 30


@pytest.fixture(scope="module")
def clip() -> bytes:
    return encode_ts(frames=90, fps=FPS)


def drain(capture: Capture, count: int) -> list[Frame]:
    cursor = capture.video_cursor(from_latest=False)
    return [capture.next_frame(cursor) for _ in range(count)]


def test_every_frame_arrives_in_order_with_monotonic_times(clip: bytes) -> None:
    server = TcpStreamServer(clip, duration_s=3.0)
    capture = Capture(server.uri, buffer_s=10, no_signal_s=3).start()
    try:
        frames = drain(capture, 90)
        assert [read_index(f.luma) for f in frames] == list(range(90))
        times = np.array([f.pts_s for f in frames])
        assert times[0] == 0.0
        assert np.allclose(np.diff(times), 1 / FPS, atol=1e-6)
        assert (frames[0].width, frames[0].height) == (320, 240)
        time.sleep(0.3)
        stats = capture.stats()
        assert stats.dropped_frames == 0 and stats.frames == 90
        # audio on the same clock: chunks are contiguous and start within one frame of the first picture
        cursor: Cursor = Cursor(capture.audio, capture.audio.oldest)
        chunks = []
        while (chunk := cursor.next(0.5)) is not None:
            chunks.append(chunk)
        assert chunks and abs(chunks[0].pts_s) <= 1 / FPS
        total_s = sum(c.duration_s for c in chunks)
        assert total_s == pytest.approx(3.0, abs=0.1)
        for a, b in zip(chunks, chunks[1:]):
            assert b.pts_s == pytest.approx(a.pts_s + a.duration_s, abs=1e-4)
        rms = np.sqrt(np.mean(np.concatenate([c.samples for c in chunks[5:-5]]) ** 2))
        assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.1)
    finally:
        capture.close()
        server.close()


def test_stream_end_is_a_capture_error_naming_the_uri(clip: bytes) -> None:
    server = TcpStreamServer(clip[: len(clip) // 3], duration_s=0.5)
    capture = Capture(server.uri, no_signal_s=2).start()
    try:
        cursor = capture.video_cursor(from_latest=False)
        with pytest.raises(CaptureError, match=rf"{server.uri}: stream ended"):
            for _ in range(1000):
                capture.next_frame(cursor)
    finally:
        capture.close()
        server.close()


def test_silent_source_is_no_signal_not_a_hang(clip: bytes) -> None:
    server = TcpStreamServer(clip[: len(clip) // 3], duration_s=0.5, hold_open=True)
    capture = Capture(server.uri, no_signal_s=1.0).start()
    try:
        cursor = capture.video_cursor(from_latest=False)
        start = time.monotonic()
        with pytest.raises(CaptureError, match="no data for 1 s|no frames for 1 s"):
            for _ in range(1000):
                capture.next_frame(cursor)
        assert time.monotonic() - start < 5
    finally:
        capture.close()
        server.close()


def test_unreachable_uri_fails_fast_naming_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"tcp://127.0.0.1:{port}"
    start = time.monotonic()
    with pytest.raises(CaptureError, match=rf"{uri}: cannot open capture source"):
        Capture(uri, open_timeout_s=2)
    assert time.monotonic() - start < 3


def test_missing_file_and_unknown_scheme(tmp_path) -> None:
    with pytest.raises(CaptureError, match="nothing.ts: cannot open capture source"):
        Capture(str(tmp_path / "nothing.ts"))
    with pytest.raises(ValueError, match="unknown scheme 'gopher'"):
        Capture("gopher://x")


def test_ring_slow_reader_counts_what_it_missed_and_memory_stays_bounded() -> None:
    ring: Ring[np.ndarray] = Ring(capacity=8)
    reader = Cursor(ring, 0)
    tracemalloc.start()
    for i in range(4000):
        ring.append(np.full((64, 64), i % 256, np.uint8))
        if i == 100:
            base, _ = tracemalloc.get_traced_memory()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert after - base < 64 * 64 * 4  # only `capacity` items are ever held
    item = reader.next(0)
    assert item is not None and reader.missed == 4000 - 8
    assert reader.lag == 7


def test_timestamp_restart_is_a_discontinuity_and_the_clock_stays_monotonic() -> None:
    first, second = encode_ts(frames=30, fps=FPS, audio_hz=None), encode_ts(frames=30, fps=FPS, audio_hz=None)
    server = TcpStreamServer(first + second, duration_s=2.0)  # the encoder restarted: pts jump back
    capture = Capture(server.uri, no_signal_s=2).start()
    try:
        frames = drain(capture, 60)
        times = np.array([f.pts_s for f in frames])
        assert np.all(np.diff(times) > 0)
        assert np.allclose(np.diff(times), 1 / FPS, atol=1e-6)
        assert capture.stats().discontinuities == 1 and capture.stats().dropped_frames == 0
    finally:
        capture.close()
        server.close()


def test_v4l2_device_that_is_not_there_names_it() -> None:
    with pytest.raises(CaptureError, match=r"/dev/video99: cannot open V4L2 device '/dev/video99'"):
        Capture("/dev/video99")
    with pytest.raises(CaptureError, match=r"unknown option\(s\) colour"):
        Capture("v4l2:///dev/video99?colour=red")
