"""Encode the simulated panel like an HDMI-to-IP encoder and send MPEG-TS over loopback.

:class:`TsEncoder` turns I420 pictures and planar float audio into MPEG-TS bytes (libx264 +
AAC, muxed by PyAV into a file-like sink) and hands back whole 188-byte TS packets after every
frame. :class:`TcpBroadcaster` serves them to any number of TCP clients (each joins at the next
PAT, each has a bounded queue; a client that falls behind is dropped, never waited for).
:class:`UdpSender` sends seven TS packets per datagram.

Latency notes (measured with FFmpeg 8 / PyAV 18): ``flush_packets=1`` makes the muxer flush its
AVIO buffer after every packet, ``max_delay=0`` removes the mpegts muxer's 0.7 s PCR/PTS
offset, ``max_interleave_delta=1`` stops the interleaver from holding a video packet until the
(lagging) AAC encoder produces later audio, so every video frame leaves one frame period after
it was encoded, and ``output_ts_offset`` (the AAC priming, 1024 samples) keeps the first AAC
packet's negative timestamp from wrapping. In the TS, video frame ``n`` has PTS
``1920 + n * 90000 / fps`` and audio sample ``s`` plays at ``1920 + s * 90000 / 48000``
(90 kHz units): both clocks start together. ``pat_period`` is raised so that a PAT appears only
before each keyframe (the muxer forces one there): a TCP client joining at a PAT starts with
PAT, PMT, SPS/PPS and an IDR picture, so probing is quick and the first packet decodes.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from fractions import Fraction

import av
import numpy as np

from harness.sim.audio import CHANNELS, SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

TS_PACKET = 188
PACKETS_PER_DATAGRAM = 7
_AAC_FRAME = 1024
_AAC_PRIMING = 1024
NULL_PACKET = bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * (TS_PACKET - 4)


class _Sink:
    """The file-like object PyAV writes the TS into."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)


class TsEncoder:
    """H.264 (libx264, zerolatency, GOP 1 s, no B-frames) + AAC 48 kHz stereo in MPEG-TS."""

    def __init__(self, width: int, height: int, fps: int, *, preset: str = "ultrafast", crf: int = 23, threads: int = 1) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self._sink = _Sink()
        offset_s = _AAC_PRIMING / SAMPLE_RATE_HZ
        options = {
            "flush_packets": "1",
            "max_delay": "0",
            "max_interleave_delta": "1",
            "output_ts_offset": f"{offset_s + 1e-6:.6f}",
            "pes_payload_size": "0",
            "omit_video_pes_length": "0",
            # PAT/PMT only where the muxer forces them: right before every video keyframe (and at the start),
            # so a client that joins at a PAT starts with a decodable picture.
            "pat_period": "3600",
            "sdt_period": "3600",
        }
        self._container = av.open(self._sink, mode="w", format="mpegts", options=options)
        video = self._container.add_stream("libx264", rate=fps)
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        video.time_base = Fraction(1, fps)
        ctx = video.codec_context
        ctx.thread_count = threads
        ctx.options = {
            "preset": preset,
            "tune": "zerolatency",
            "crf": str(crf),
            "x264-params": (
                f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0:repeat-headers=1"
                ":colorprim=smpte170m:transfer=smpte170m:colormatrix=smpte170m:range=tv"
            ),
        }
        audio = self._container.add_stream("aac", rate=SAMPLE_RATE_HZ, layout="stereo")
        audio.time_base = Fraction(1, SAMPLE_RATE_HZ)
        self._video = video
        self._audio = audio
        # The streams' time bases become 1/90000 once the muxer starts; frames are stamped in these.
        self._video_time_base = Fraction(1, fps)
        self._audio_time_base = Fraction(1, SAMPLE_RATE_HZ)
        self._frame_index = 0
        self._audio_samples = 0
        self._pending_audio: list[np.ndarray] = []
        self._pending_count = 0
        self._closed = False

    @property
    def frames_encoded(self) -> int:
        return self._frame_index

    def encode(self, picture: np.ndarray, audio: np.ndarray) -> bytes:
        """Encode one frame's I420 picture and its ``(2, n)`` float32 audio; return the TS packets ready to send."""
        if picture.shape != (self.height * 3 // 2, self.width):
            raise ValueError(f"expected an I420 picture of shape {(self.height * 3 // 2, self.width)}, got {picture.shape}")
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts = self._frame_index
        frame.time_base = self._video_time_base
        self._frame_index += 1
        self._container.mux(self._video.encode(frame))
        self._encode_audio(audio)
        return self._take()

    def _encode_audio(self, audio: np.ndarray) -> None:
        if audio.shape[0] != CHANNELS:
            raise ValueError(f"expected planar audio with {CHANNELS} channels, got shape {audio.shape}")
        self._pending_audio.append(audio)
        self._pending_count += audio.shape[1]
        if self._pending_count < _AAC_FRAME:
            return
        joined = np.concatenate(self._pending_audio, axis=1) if len(self._pending_audio) > 1 else self._pending_audio[0]
        used = 0
        while self._pending_count - used >= _AAC_FRAME:
            chunk = np.ascontiguousarray(joined[:, used : used + _AAC_FRAME], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = SAMPLE_RATE_HZ
            frame.pts = self._audio_samples
            frame.time_base = self._audio_time_base
            self._audio_samples += _AAC_FRAME
            used += _AAC_FRAME
            self._container.mux(self._audio.encode(frame))
        rest = joined[:, used:]
        self._pending_audio = [rest] if rest.shape[1] else []
        self._pending_count = rest.shape[1]

    def _take(self) -> bytes:
        buf = self._sink.buffer
        whole = len(buf) - len(buf) % TS_PACKET
        if whole == 0:
            return b""
        data = bytes(buf[:whole])
        del buf[:whole]
        return data

    def close(self) -> bytes:
        """Flush the encoders and the muxer; return the last TS packets."""
        if self._closed:
            return b""
        self._closed = True
        try:
            self._container.mux(self._video.encode(None))
            self._container.mux(self._audio.encode(None))
        except av.FFmpegError as e:  # flushing at shutdown is best effort
            log.debug("encoder flush failed: %s", e)
        self._container.close()
        return self._take()


def find_pat(data: bytes | memoryview) -> int:
    """Offset of the first TS packet in ``data`` that starts a PAT (PID 0), or -1."""
    for offset in range(0, len(data) - TS_PACKET + 1, TS_PACKET):
        if data[offset] == 0x47 and data[offset + 1] & 0x40 and (data[offset + 1] & 0x1F) == 0 and data[offset + 2] == 0:
            return offset
    return -1


class _Client:
    def __init__(self, sock: socket.socket, peer: str, max_chunks: int) -> None:
        self.sock = sock
        self.peer = peer
        self.synced = False
        self.closed = False
        self.sent_bytes = 0
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_chunks)
        self.thread = threading.Thread(target=self._run, name=f"avqa-sim tcp {peer}", daemon=True)

    def _run(self) -> None:
        while True:
            data = self.queue.get()
            if data is None or self.closed:
                break
            try:
                self.sock.sendall(data)
            except OSError as e:
                if not self.closed:
                    log.info("video client %s went away: %s", self.peer, e.strerror or e)
                break
            self.sent_bytes += len(data)
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def offer(self, data: bytes) -> bool:
        """Queue ``data`` without blocking; False when the client's queue is full."""
        try:
            self.queue.put_nowait(data)
        except queue.Full:
            return False
        return True

    def drop(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a sendall blocked on a full socket
        except OSError:
            pass
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass


class TcpBroadcaster:
    """Serve the live TS to every client that connects to ``tcp://host:port``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, max_queued_chunks: int = 60, send_buffer_bytes: int = 256 * 1024
    ) -> None:
        self.host = host
        self.max_queued_chunks = max_queued_chunks
        self.send_buffer_bytes = send_buffer_bytes
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._closed = False
        self.dropped_clients = 0
        self._thread = threading.Thread(target=self._accept, name="avqa-sim tcp accept", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def client_count(self) -> int:
        with self._lock:
            return sum(1 for c in self._clients if not c.closed)

    def _accept(self) -> None:
        while not self._closed:
            try:
                sock, addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._closed:
                    log.exception("video listener failed")
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A fixed, modest kernel buffer (like an encoder's): a stalled client shows up as a full queue within
            # seconds instead of after megabytes of loopback autotuning.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
            client = _Client(sock, f"{addr[0]}:{addr[1]}", self.max_queued_chunks)
            client.thread.start()
            with self._lock:
                self._clients.append(client)
            log.info("video client %s connected (%d now)", client.peer, self.client_count)

    def send(self, data: bytes) -> None:
        """Hand ``data`` (whole TS packets) to every client; never blocks."""
        if not data:
            return
        with self._lock:
            clients = list(self._clients)
        gone: list[_Client] = []
        for client in clients:
            if client.closed:
                gone.append(client)
                continue
            chunk = data
            if not client.synced:
                start = find_pat(data)
                if start < 0:
                    continue
                client.synced = True
                chunk = data[start:]
            if not client.offer(chunk):
                log.warning(
                    "video client %s cannot keep up (%d chunks queued), disconnecting it", client.peer, client.queue.qsize()
                )
                self.dropped_clients += 1
                client.drop()
                gone.append(client)
        if gone:
            with self._lock:
                self._clients = [c for c in self._clients if c not in gone]

    def close(self) -> None:
        self._closed = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.drop()
        self._thread.join(timeout=1.0)


def pick_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class UdpSender:
    """Send the TS to ``udp://host:port``, seven packets per datagram (null packets pad the last one)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port if port is not None else pick_udp_port(host)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self.sent_datagrams = 0
        self.dropped_datagrams = 0

    @property
    def url(self) -> str:
        return f"udp://{self.host}:{self.port}"

    def send(self, data: bytes) -> None:
        """Send whole TS packets now; errors (nobody listening, full buffer) only count."""
        if not data:
            return
        size = TS_PACKET * PACKETS_PER_DATAGRAM
        short = len(data) % size
        if short:
            data += NULL_PACKET * ((size - short) // TS_PACKET)
        address = (self.host, self.port)
        for offset in range(0, len(data), size):
            try:
                self._sock.sendto(data[offset : offset + size], address)
                self.sent_datagrams += 1
            except OSError:
                self.dropped_datagrams += 1

    def close(self) -> None:
        self._sock.close()
