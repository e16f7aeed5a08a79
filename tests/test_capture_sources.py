"""Every network source type: real H.264 + AAC MPEG-TS streamed over loopback into the capture.

Each stream carries its frame number as a bar code and beeps exactly when frames 30 and 60
are presented, so completeness, order, timestamps and A/V alignment are checked against
the truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from harness.capture.capture import Capture
from harness.errors import CaptureError
from tests.streams import HttpStreamServer, TcpStreamServer, UdpStreamSender, beep_onsets, collect, encode_ts, read_index

FPS = 30
FRAMES = 90
BEEPS = (30, 60)


@pytest.fixture(scope="module")
def clip() -> bytes:
    return encode_ts(frames=FRAMES, fps=FPS, beeps_at=BEEPS)


def _tcp(data: bytes) -> Any:
    return TcpStreamServer(data, duration_s=FRAMES / FPS)


def _udp(data: bytes) -> Any:
    return UdpStreamSender(data, duration_s=FRAMES / FPS)


def _rtp(data: bytes) -> Any:
    return UdpStreamSender(data, duration_s=FRAMES / FPS, rtp=True)


def _http(data: bytes) -> Any:
    return HttpStreamServer(data, duration_s=FRAMES / FPS)


SERVERS: dict[str, Callable[[bytes], Any]] = {"tcp": _tcp, "udp": _udp, "rtp": _rtp, "http": _http}




@pytest.mark.parametrize("scheme", list(SERVERS))
def test_stream_arrives_complete_in_order_and_aligned(scheme: str, clip: bytes) -> None:
    server = SERVERS[scheme](clip)
    capture = Capture(server.uri, buffer_s=10, no_signal_s=1.5, open_timeout_s=5).start()
    try:
        frames, chunks = collect(capture, FRAMES - 1)
    finally:
        capture.close()
        server.close()
    indexes = [read_index(f.luma) for f in frames]
    assert indexes == list(range(FRAMES)), f"{scheme}: frames missing or out of order: {indexes}"
    times = np.array([f.pts_s for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 1 / FPS, atol=1e-3)
    stats = capture.stats()
    assert stats.dropped_frames == 0 and stats.discontinuities == 0
    assert stats.frames == FRAMES
    assert [f.index for f in frames] == list(range(FRAMES))
    # audio: contiguous, the whole clip, and each beep starts within one frame of its picture
    assert chunks, f"{scheme}: no audio"
    for a, b in itertools.pairwise(chunks):
        assert b.pts_s == pytest.approx(a.pts_s + a.duration_s, abs=1e-3)
    assert sum(c.duration_s for c in chunks) == pytest.approx(FRAMES / FPS, abs=0.1)
    onsets = list(beep_onsets(chunks))
    assert len(onsets) == len(BEEPS), onsets
    for beep, onset in zip(BEEPS, onsets):
        picture_s = times[indexes.index(beep)]
        assert abs(onset - picture_s) <= 1 / FPS, f"{scheme}: beep for frame {beep} at {onset:.4f} s, picture at {picture_s:.4f} s"
    assert stats.av_offset_s is not None and abs(stats.av_offset_s) <= 1 / FPS


def test_rtp_without_port_names_the_expected_form() -> None:
    with pytest.raises(CaptureError, match=r"rtp://nowhere: expected rtp://HOST:PORT"):
        Capture("rtp://nowhere")


@pytest.mark.slow
def test_simulator_stream_over_udp_with_recording(tmp_path) -> None:
    """The simulated device (its own process, 720p30 H.264 + AAC over UDP) into capture + recorder."""
    from harness.capture.recorder import Recorder
    from harness.sim.launcher import SimulatorProcess

    device = tmp_path / "sim-udp.yaml"
    device.write_text("simulator:\n  transport: udp\n  boot_black_s: 0.2\n  boot_logo_s: 0.5\n")
    sim = SimulatorProcess(device, start_timeout_s=30)
    try:
        capture = Capture(sim.endpoints.video, no_signal_s=2.0, open_timeout_s=10).start()
        recorder = Recorder(capture, tmp_path / "sim.mp4").start()
        try:
            cursor = capture.video_cursor(from_latest=False)
            frames = [capture.next_frame(cursor) for _ in range(60)]
        finally:
            capture.close()
            rec = recorder.close()
    finally:
        sim.stop()
    times = np.array([f.pts_s for f in frames])
    assert np.allclose(np.diff(times), 1 / 30, atol=1e-3)
    assert (frames[0].width, frames[0].height) == (1280, 720)
    stats = capture.stats()
    assert stats.dropped_frames == 0 and stats.decode_errors == 0
    assert stats.audio_chunks > 0 and stats.av_offset_s is not None and abs(stats.av_offset_s) <= 1 / 30
    assert rec.frames >= 60 and rec.missed_frames == 0
