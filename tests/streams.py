"""Real encoded test streams (PyAV) served over loopback sockets, for capture tests."""

from __future__ import annotations

import io
import socket
import threading
import time
from fractions import Fraction

import av
import numpy as np

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


def encode_ts(frames: int = 60, fps: int = 30, width: int = 320, height: int = 240, audio_hz: float | None = 440.0) -> bytes:
    """An MPEG-TS (H.264 + AAC) clip whose frame n carries n as a bar code; audio is a sine."""
    out = io.BytesIO()
    with av.open(out, "w", format="mpegts") as container:
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
                af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                af.sample_rate, af.pts, af.time_base = 48000, n * samples_per_frame, Fraction(1, 48000)
                container.mux(audio.encode(af))
        container.mux(video.encode())
        if audio is not None:
            container.mux(audio.encode())
    return out.getvalue()


class TcpStreamServer:
    """Serves ``data`` to each TCP client at ``rate_bps`` bytes/s, then closes (or holds) the connection."""

    def __init__(self, data: bytes, duration_s: float, *, hold_open: bool = False) -> None:
        self.data = data
        self.rate_bps = len(data) / duration_s
        self.hold_open = hold_open
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
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
        self.sock.close()
