"""No unbounded queue: a deliberately slow consumer costs it frames (counted), never memory or the grabber's pace."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from detectors.media import Event
from harness.capture.capture import Capture
from harness.capture.recorder import Recorder
from tests.streams import TcpStreamServer, encode_ts, read_index

FPS = 30


def test_slow_consumer_memory_stays_flat_and_its_misses_are_counted(tmp_path) -> None:
    frames_sent = 6 * FPS
    server = TcpStreamServer(encode_ts(frames=frames_sent, fps=FPS, audio_hz=440.0), duration_s=3.0)  # 2x real time
    events: list[Event] = []
    tracemalloc.start()
    capture = Capture(server.uri, buffer_s=1.0, no_signal_s=1.0, on_event=events.append).start()
    recorder = Recorder(capture, tmp_path / "rec.mp4").start()  # a second consumer, at full speed
    try:
        slow = capture.video_cursor(from_latest=False, name="slow detector")
        samples: list[int] = []
        read = []
        while True:
            frame = slow.next(1.5)
            if frame is None:
                break
            read.append(read_index(frame.luma))
            time.sleep(0.1)  # 10 frames/s against 60 frames/s arriving
            samples.append(tracemalloc.get_traced_memory()[0])
    finally:
        capture.close()
        rec = recorder.close()
        server.close()
        tracemalloc.stop()
    stats = capture.stats()
    assert stats.frames == frames_sent and stats.dropped_frames == 0  # the grabber lost nothing
    assert rec.frames == frames_sent and rec.missed_frames == 0  # nor did the recorder, reading alongside
    assert len(read) < frames_sent / 2
    assert slow.missed == frames_sent - len(read)  # every frame the slow reader never saw is counted...
    assert stats.missed_by_consumers == slow.missed  # ...in the capture stats...
    missed_events = [e for e in events if e.kind == "frames_missed"]
    assert sum(e.details["count"] for e in missed_events) == slow.missed  # ...and as events
    assert all(e.details["reader"] == "slow detector" for e in missed_events)
    assert any(e.kind == "consumer_lagging" and e.details["reader"] == "slow detector" for e in events)
    # memory: the ring holds at most buffer_s of frames; after it filled, usage stays flat
    frame_bytes = 320 * 240 * 3 // 2
    settled = samples[len(samples) // 4 :]
    assert max(settled) - min(settled) < 20 * frame_bytes, f"memory grew by {(max(settled) - min(settled)) / 1e6:.1f} MB"
    assert capture.video.capacity == 31


@pytest.mark.parametrize("buffer_s", [0.1])
def test_ring_capacity_follows_buffer_seconds(buffer_s: float) -> None:
    server = TcpStreamServer(encode_ts(frames=10, fps=FPS, audio_hz=None), duration_s=0.3)
    capture = Capture(server.uri, buffer_s=buffer_s)
    try:
        assert capture.video.capacity == max(2, int(buffer_s * FPS) + 1)
    finally:
        capture.close()
        server.close()
