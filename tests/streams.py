"""Real encoded test streams (PyAV) served over loopback sockets, for capture tests."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import numpy as np

from detectors.media import AudioChunk, Frame
from harness.capture.capture import Capture
from harness.capture.ring import Cursor
from harness.errors import CaptureError

BITS = 10  # frame number as a bar code of 10 blocks across the top of the picture


def picture(index: int, width: int, height: int) -> np.ndarray:
    """An RGB picture that carries ``index`` as a bar code and moves every frame."""
    img = np.zeros((height, width, 3), np.uint8)
    img[:, :, 1] = (np.arange(width)[None, :] + 4 * index) % 200 + 30
    block = width // BITS
    for bit in range(BITS):
        img[: height // 4, bit * block : (bit + 1) * block] = 235 if (index >> bit) & 1 else 20
    return img


def read_index(luma: np.ndarray) -> int:
    """Decode the bar code written by :func:`picture` from a frame's luma."""
    height, width = luma.shape
    block = width // BITS
    row = luma[height // 8]
    return sum(1 << bit for bit in range(BITS) if row[bit * block + block // 2] > 128)


def encode_ts(
    frames: int = 60, fps: int = 30, width: int = 320, height: int = 240, audio_hz: float | None = 440.0,
    beeps_at: tuple[int, ...] = (), beep_s: float = 0.1,
) -> bytes:
    """An MPEG-TS (H.264 + AAC) clip whose frame n carries n as a bar code; audio is a sine.

    With ``beeps_at``, the audio is silent except a ``beep_s`` burst of the sine that starts
    exactly when each of those frames is presented (the A/V alignment truth).
    """
    out = io.BytesIO()
    # PES lengths on video packets: a demuxer can hand over the last frame without waiting for the next one.
    with av.open(out, "w", format="mpegts", options={"omit_video_pes_length": "0"}) as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "tune": "zerolatency", "g": str(fps)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=48000, layout="stereo") if audio_hz else None
        samples_per_frame = 48000 // fps
        for n in range(frames):
            vf = av.VideoFrame.from_ndarray(picture(n, width, height), format="rgb24")
            vf.pts, vf.time_base = n, Fraction(1, fps)
            container.mux(video.encode(vf))
            if audio is not None:
                t = (np.arange(samples_per_frame) + n * samples_per_frame) / 48000
                tone = (0.3 * np.sin(2 * np.pi * audio_hz * t)).astype(np.float32)
                if beeps_at:
                    on = np.zeros_like(tone, dtype=bool)
                    for b in beeps_at:
                        on |= (t >= b / fps) & (t < b / fps + beep_s)
                    tone = np.where(on, tone, 0.0).astype(np.float32)
                af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = 48000, n * samples_per_frame, Fraction(1, 48000)
                container.mux(audio.encode(af))
        container.mux(video.encode())
        if audio is not None:
            container.mux(audio.encode())
    return out.getvalue()


class TcpStreamServer:
    """Serves ``data`` to each TCP client at ``rate_bps`` bytes/s, then closes (or holds) the connection."""

    def __init__(self, data: bytes, duration_s: float, *, hold_open: bool = False, port: int = 0) -> None:
        self.data = data
        self.rate_bps = len(data) / duration_s
        self.hold_open = hold_open
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.conns: list[socket.socket] = []
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            with conn:
                start = time.monotonic()
                chunk = 188 * 7
                for offset in range(0, len(self.data), chunk):
                    if self.stop.is_set():
                        return
                    delay = start + offset / self.rate_bps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    try:
                        conn.sendall(self.data[offset : offset + chunk])
                    except OSError:
                        break
                while self.hold_open and not self.stop.is_set():
                    time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux) so the port is really free
        except OSError:
            pass
        self.sock.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _paced(data: bytes, rate_bps: float, size: int, send: Callable[[bytes], None], stop: threading.Event) -> None:
    """Call ``send`` with ``size``-byte pieces of ``data`` at ``rate_bps`` bytes per second."""
    start = time.monotonic()
    for offset in range(0, len(data), size):
        if stop.is_set():
            return
        delay = start + offset / rate_bps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send(data[offset : offset + size])


def free_udp_port(even: bool = False) -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago (even, with the next one free too, for RTP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not even:
            return port
        port += port % 2
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no free UDP port pair")


class UdpStreamSender:
    """Sends ``data`` once to udp://127.0.0.1:PORT (7 TS packets per datagram, or RTP/MP2T with ``rtp``) in real time.

    Sending starts ``start_delay_s`` after construction, so that the receiver can bind first.
    """

    def __init__(self, data: bytes, duration_s: float, *, rtp: bool = False, start_delay_s: float = 0.5) -> None:
        self.rtp = rtp
        self.port = free_udp_port(even=rtp)
        self.stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._seq = 0
        self._t0 = 0.0
        self.thread = threading.Thread(target=self._run, args=(data, len(data) / duration_s, start_delay_s), daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"{'rtp' if self.rtp else 'udp'}://127.0.0.1:{self.port}"

    def _send(self, payload: bytes) -> None:
        if self.rtp:
            stamp = int((time.monotonic() - self._t0) * 90000) & 0xFFFFFFFF
            payload = struct.pack("!BBHII", 0x80, 33, self._seq & 0xFFFF, stamp, 0x41565141) + payload
            self._seq += 1
        self._sock.sendto(payload, ("127.0.0.1", self.port))

    def _run(self, data: bytes, rate_bps: float, delay_s: float) -> None:
        if self.stop.wait(delay_s):
            return
        self._t0 = time.monotonic()
        _paced(data, rate_bps, 188 * 7, self._send, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self._sock.close()


class HttpStreamServer:
    """Serves ``data`` as one endless-looking HTTP response (no length) at real-time rate to each GET."""

    def __init__(self, data: bytes, duration_s: float) -> None:
        stop = self.stop = threading.Event()
        rate = len(data) / duration_s

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    _paced(data, rate, 188 * 7, self.wfile.write, stop)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.ts"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class RestartableTcpServer:
    """A live TCP stream on a fixed port that can be killed (listener and connections) and brought back.

    Each client gets ``data`` from the start at real-time rate (an encoder restarting), then
    the connection is held open.
    """

    def __init__(self, data: bytes, duration_s: float) -> None:
        self.data = data
        self.duration_s = duration_s
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server: TcpStreamServer | None = None
        self.start()

    @property
    def uri(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = TcpStreamServer(self.data, self.duration_s, hold_open=True, port=self.port)

    def kill(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def close(self) -> None:
        self.kill()


def collect(capture: Capture, last_index: int) -> tuple[list[Frame], list[AudioChunk]]:
    """Frames until the one carrying ``last_index`` (or the stream's end), then the audio held."""
    cursor = capture.video_cursor(from_latest=False)
    frames: list[Frame] = []
    try:
        while not frames or read_index(frames[-1].luma) < last_index:
            frames.append(capture.next_frame(cursor))
    except CaptureError:
        pass
    audio_cursor: Cursor[AudioChunk] = capture.audio_cursor_at(-1.0)
    chunks = []
    while (chunk := audio_cursor.next(0.3)) is not None:
        chunks.append(chunk)
    return frames, chunks


def beep_onsets(chunks: list[AudioChunk]) -> Iterator[float]:
    """Capture-clock times where the audio goes from silence to sound."""
    samples = np.concatenate([c.samples[:, 0] for c in chunks])
    rate = chunks[0].sample_rate_hz
    loud = np.abs(samples) > 0.05
    t0 = chunks[0].pts_s
    quiet_for = rate  # samples of silence before an onset counts
    last_loud = -quiet_for
    for i in np.flatnonzero(loud):
        if i - last_loud > rate // 20:
            yield t0 + i / rate
        last_loud = i
