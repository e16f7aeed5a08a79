"""rtsp:// capture against a protocol-faithful RTSP/1.0 server on loopback, and srt:// without libsrt.

The stream is real H.264 + AAC MPEG-TS carrying each frame's number as a bar code and
beeping exactly when frames 20 and 45 are presented, sent as RTP/MP2T in real time, so
completeness, order, timestamps and A/V alignment are checked against the truth (as in
test_capture_sources.py for tcp/udp/rtp/http).
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable

import numpy as np
import pytest

from harness.capture.capture import Capture
from harness.errors import CaptureError, NoSignalError
from tests.fakes.rtsp_server import FakeRtspServer
from tests.streams import beep_onsets, collect, encode_ts, read_index

FPS = 30
FRAMES = 60
BEEPS = (20, 45)


@pytest.fixture(scope="module")
def clip() -> bytes:
    return encode_ts(frames=FRAMES, fps=FPS, beeps_at=BEEPS)


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_rtsp_stream_arrives_complete_in_order_and_aligned(transport: str, clip: bytes) -> None:
    """udp: RTP to the client's ports. tcp: the server refuses UDP (461), FFmpeg retries interleaved."""
    server = FakeRtspServer(clip, duration_s=FRAMES / FPS, udp=transport == "udp")
    capture = Capture(server.uri, buffer_s=10, no_signal_s=1.5, open_timeout_s=5).start()
    try:
        frames, chunks = collect(capture, FRAMES - 1)
        stats = capture.stats()
    finally:
        capture.close()
    try:
        # the RTSP conversation: FFmpeg's part checked against RFC 2326, the server's by FFmpeg accepting it
        assert _wait_for(lambda: "TEARDOWN" in server.methods), f"no TEARDOWN after close: {server.methods}"
        assert server.transports == [transport]
        setups = [r.headers["transport"] for r in server.requests if r.method == "SETUP"]
        if transport == "tcp":
            assert server.methods[:4] == ["OPTIONS", "DESCRIBE", "SETUP", "SETUP"], server.methods
            assert "client_port=" in setups[0] and setups[1].startswith("RTP/AVP/TCP") and "interleaved=0-1" in setups[1]
        else:
            assert server.methods[:3] == ["OPTIONS", "DESCRIBE", "SETUP"] and "client_port=" in setups[0], setups
        assert server.methods[-2:] == ["PLAY", "TEARDOWN"], server.methods
        assert server.requests[-1].uri == server.requests[-2].uri == server.uri + "/"  # aggregate control: Content-Base
        for conn, group in itertools.groupby(server.requests, key=lambda r: r.connection):
            cseqs = [int(r.headers["cseq"]) for r in group]
            assert cseqs == sorted(set(cseqs)), f"connection {conn}: CSeq not increasing: {cseqs}"
    finally:
        server.close()

    indexes = [read_index(f.luma) for f in frames]
    assert indexes == list(range(FRAMES)), f"rtsp/{transport}: frames missing or out of order: {indexes}"
    times = np.array([f.pts_s for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) > 0)
    assert np.allclose(np.diff(times), 1 / FPS, atol=1e-3)
    assert stats.frames == FRAMES and stats.dropped_frames == 0 and stats.discontinuities == 0 and stats.decode_errors == 0
    assert [f.index for f in frames] == list(range(FRAMES))
    # audio: contiguous, the whole clip, and each beep starts within one frame of its picture
    assert chunks, f"rtsp/{transport}: no audio"
    for a, b in itertools.pairwise(chunks):
        assert b.pts_s == pytest.approx(a.pts_s + a.duration_s, abs=1e-3)
    assert sum(c.duration_s for c in chunks) == pytest.approx(FRAMES / FPS, abs=0.1)
    onsets = list(beep_onsets(chunks))
    assert len(onsets) == len(BEEPS), onsets
    for beep, onset in zip(BEEPS, onsets):
        picture_s = times[indexes.index(beep)]
        assert abs(onset - picture_s) <= 1 / FPS, f"rtsp/{transport}: beep for frame {beep} at {onset:.4f} s, picture at {picture_s:.4f} s"
    assert stats.av_offset_s is not None and abs(stats.av_offset_s) <= 1 / FPS


def test_rtsp_describe_404_names_the_uri(clip: bytes) -> None:
    server = FakeRtspServer(clip, duration_s=1.0, describe_status=404)
    try:
        with pytest.raises(CaptureError) as info:
            Capture(server.uri, open_timeout_s=2)
    finally:
        server.close()
    assert not isinstance(info.value, NoSignalError)  # refused at once, not a time-out
    message = str(info.value)
    assert message.startswith(f"{server.uri}: cannot open capture source") and "404 Not Found" in message
    assert server.methods == ["OPTIONS", "DESCRIBE"]


def test_fake_rtsp_server_speaks_rfc_2326(clip: bytes) -> None:
    """The fake itself: CSeq echoed, Public listed, SDP shape, and the RFC's error statuses."""
    server = FakeRtspServer(clip, duration_s=1.0)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as conn:
            reader = conn.makefile("rb")

            def ask(request: str) -> tuple[str, dict[str, str], bytes]:
                conn.sendall(request.replace("\n", "\r\n").encode())
                status = reader.readline().decode().strip()
                headers = {}
                while line := reader.readline().decode().strip():
                    name, _, value = line.partition(":")
                    headers[name.lower()] = value.strip()
                return status, headers, reader.read(int(headers.get("content-length", 0)))

            status, headers, _ = ask(f"OPTIONS {server.uri} RTSP/1.0\nCSeq: 7\n\n")
            assert status == "RTSP/1.0 200 OK" and headers["cseq"] == "7"
            assert {"DESCRIBE", "SETUP", "PLAY", "TEARDOWN"} <= {m.strip() for m in headers["public"].split(",")}
            status, headers, sdp = ask(f"DESCRIBE {server.uri} RTSP/1.0\nCSeq: 8\nAccept: application/sdp\n\n")
            assert status == "RTSP/1.0 200 OK" and headers["content-type"] == "application/sdp"
            assert headers["content-base"] == server.uri + "/"
            assert b"m=video 0 RTP/AVP 33\r\na=rtpmap:33 MP2T/90000\r\na=control:track1\r\n" in sdp
            status, headers, _ = ask(f"PLAY {server.uri} RTSP/1.0\nCSeq: 9\nSession: 1234\n\n")
            assert status == "RTSP/1.0 454 Session Not Found" and headers["cseq"] == "9"
            status, _, _ = ask(f"SETUP {server.uri}/track1 RTSP/1.0\nCSeq: 10\nTransport: RTP/AVP;multicast\n\n")
            assert status == "RTSP/1.0 461 Unsupported Transport"
            status, headers, _ = ask(f"SETUP {server.uri}/track1 RTSP/1.0\nCSeq: 11\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\n\n")
            assert status == "RTSP/1.0 200 OK" and headers["transport"].startswith("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=")
            assert headers["session"].endswith(";timeout=60")
            status, _, _ = ask(f"RECORD {server.uri} RTSP/1.0\nCSeq: 12\nSession: {headers['session'].split(';')[0]}\n\n")
            assert status == "RTSP/1.0 501 Not Implemented"
            status, headers, _ = ask(f"OPTIONS {server.uri} RTSP/1.0\n\n")
            assert status == "RTSP/1.0 400 Bad Request" and "cseq" not in headers
    finally:
        server.close()


def test_srt_without_libsrt_says_so() -> None:
    try:
        Capture("srt://127.0.0.1:9?mode=caller", open_timeout_s=1)
    except CaptureError as e:
        if "no SRT support" not in str(e):
            pytest.skip(f"this FFmpeg build has SRT ({e})")
        assert str(e).startswith("srt://127.0.0.1:9?mode=caller: this FFmpeg build has no SRT support (PyAV wheel without libsrt)")
    else:
        pytest.skip("this FFmpeg build has SRT and something answered on port 9")
