"""A minimal RTSP/1.0 server (RFC 2326) on 127.0.0.1 serving one MPEG-TS as RTP/MP2T (RFC 2250).

It answers OPTIONS, DESCRIBE (an SDP with one ``MP2T/90000`` stream, payload type 33), SETUP
(``RTP/AVP/TCP;interleaved=`` over the RTSP connection, or ``RTP/AVP;unicast;client_port=``
over UDP), PLAY (``Session``, ``Range``, ``RTP-Info``), TEARDOWN and GET_PARAMETER (the
usual keep-alive), echoing each request's ``CSeq``. After PLAY the clip is sent once in real
time, seven TS packets per RTP packet (12-byte header, random initial sequence number and
timestamp, 90 kHz timestamps of each packet's target send time); 0.2 s after the last one an
RTCP SR + BYE ends the session (the client's demuxer sees the end instead of a time-out).

Knobs: ``udp=False`` answers a UDP SETUP with 461 Unsupported Transport (an encoder that
only does interleaved TCP; RFC 2326 clients then retry over TCP); ``describe_status`` answers
DESCRIBE with that status instead of the SDP. ``requests`` records every request.
"""

from __future__ import annotations

import io
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_Answer = tuple[int, dict[str, str], bytes, Callable[[], None] | None]  # status, headers, body, then
_PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"
_TS_PER_RTP = 7
_TS_PACKET = 188
_PT_MP2T = 33
_RTCP_SR, _RTCP_BYE = 200, 203
_NTP_EPOCH_OFFSET_S = 2_208_988_800  # 1900-01-01 -> 1970-01-01
_BYE_AFTER_S = 0.2  # the end-of-session RTCP SR + BYE follows the last RTP packet after this long


@dataclass(frozen=True)
class RtspRequest:
    """One request as received: method, request URI, headers (names lower-cased)."""

    method: str
    uri: str
    headers: dict[str, str] = field(default_factory=dict)
    connection: int = 0  # which TCP connection (0, 1, ... in accept order) carried it


class _Session:
    """One client's RTP session: where packets go, and the thread that sends them."""

    def __init__(self, session_id: str, ssrc: int) -> None:
        self.id = session_id
        self.ssrc = ssrc
        self.seq0 = random.randrange(1 << 16)
        self.rtptime0 = random.randrange(1 << 32)
        self.interleaved: tuple[int, int] | None = None  # TCP: RTP and RTCP channel ids
        self.client_ports: tuple[int, int] | None = None  # UDP: client's RTP and RTCP ports
        self.udp: tuple[socket.socket, socket.socket] | None = None  # UDP: our RTP and RTCP sockets
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.packets_sent = 0
        self.octets_sent = 0

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(2)
        for sock in self.udp or ():
            sock.close()


def _udp_pair() -> tuple[socket.socket, socket.socket, int]:
    """Two bound UDP sockets on 127.0.0.1 at an even port and the next (RTP, RTCP)."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        port = rtp.getsockname()[1]
        if port % 2:
            rtp.close()
            continue
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind(("127.0.0.1", port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        return rtp, rtcp, port
    raise RuntimeError("no free UDP port pair for RTP/RTCP")


class FakeRtspServer:
    """Serves ``ts`` (an MPEG-TS) at ``rtsp://127.0.0.1:PORT{path}`` once per PLAY, in ``duration_s``."""

    def __init__(
        self, ts: bytes, duration_s: float, *, path: str = "/live", udp: bool = True, describe_status: int = 200
    ) -> None:
        if len(ts) % _TS_PACKET:
            raise ValueError(f"expected whole 188-byte TS packets, got {len(ts)} bytes")
        self.ts = ts
        self.rate_bps = len(ts) / duration_s
        self.path = path
        self.udp = udp
        self.describe_status = describe_status
        self.requests: list[RtspRequest] = []
        self.sessions: dict[str, _Session] = {}
        self.transports: list[str] = []  # "tcp" / "udp" for each session that got to PLAY
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.port = self._sock.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept, name="fake-rtsp accept", daemon=True)
        self._accept_thread.start()

    @property
    def uri(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.requests]

    def close(self) -> None:
        self._stop.set()
        for sock in [self._sock, *self._conns]:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes blocked accept()/recv() so the threads end
            except OSError:
                pass
            sock.close()
        for session in list(self.sessions.values()):
            session.close()
        for thread in [self._accept_thread, *self._threads]:
            thread.join(2)

    # -- connections ------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn, len(self._conns) - 1), name="fake-rtsp conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        write_lock = threading.Lock()  # RTSP replies and interleaved frames never interleave mid-message
        owned: list[_Session] = []
        try:
            while not self._stop.is_set():
                first = reader.read(1)
                if not first:
                    return
                if first == b"$":  # interleaved binary data from the client (RTCP receiver reports)
                    header = reader.read(3)
                    if len(header) < 3:
                        return
                    reader.read(struct.unpack("!xH", header)[0])
                    continue
                request = self._read_request(first, reader, number)
                if request is None:
                    return
                self.requests.append(request)
                status, headers, body, then = self._handle(request, conn, write_lock, owned)
                self._reply(conn, write_lock, request, status, headers, body)
                if then is not None:
                    then()
        except OSError:
            return
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # a sender blocked on this connection fails at once
            except OSError:
                pass
            for session in owned:
                session.close()
                self.sessions.pop(session.id, None)
            conn.close()

    @staticmethod
    def _read_request(first: bytes, reader: io.BufferedReader, number: int) -> RtspRequest | None:
        line = (first + reader.readline()).decode("utf-8", "replace").strip()
        parts = line.split(" ")
        headers: dict[str, str] = {}
        while True:
            raw = reader.readline()
            if not raw:
                return None
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                break
            name, _, value = text.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            reader.read(length)
        if len(parts) != 3 or parts[2] != "RTSP/1.0":
            return RtspRequest("", line, headers, number)
        return RtspRequest(parts[0], parts[1], headers, number)

    def _reply(
        self, conn: socket.socket, lock: threading.Lock, request: RtspRequest, status: int,
        headers: dict[str, str], body: bytes,
    ) -> None:
        lines = [f"RTSP/1.0 {status} {_REASONS.get(status, 'Error')}"]
        if "cseq" in request.headers:
            lines.append(f"CSeq: {request.headers['cseq']}")
        lines.append("Server: avqa-fake-rtsp/1.0")
        lines.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        with lock:
            conn.sendall(message)

    # -- methods ----------------------------------------------------------------------------
    def _handle(
        self, request: RtspRequest, conn: socket.socket, lock: threading.Lock, owned: list[_Session]
    ) -> _Answer:
        """Status, headers, body, and what to do once the reply is sent (None or a callable)."""
        if not request.method:
            return 400, {}, b"", None
        if "cseq" not in request.headers:  # RFC 2326 12.17: every request carries CSeq
            return 400, {}, b"", None
        method = request.method
        if method not in _PUBLIC.split(", "):  # PAUSE, RECORD, ANNOUNCE, SET_PARAMETER, ...
            return 501, {"Public": _PUBLIC}, b"", None
        if method == "OPTIONS":
            return 200, {"Public": _PUBLIC}, b"", None
        if not self._in_path(request.uri):
            return 404, {}, b"", None
        if method == "DESCRIBE":
            if self.describe_status != 200:
                return self.describe_status, {}, b"", None
            sdp = self._sdp().encode()
            base = self._base_uri()
            return 200, {"Content-Base": base, "Content-Type": "application/sdp"}, sdp, None
        if method == "SETUP":
            return self._setup(request, owned)
        session = self._session_of(request)
        if session is None:  # PLAY, TEARDOWN, GET_PARAMETER
            return 454, {}, b"", None
        session_header = {"Session": f"{session.id};timeout=60"}
        if method == "GET_PARAMETER":
            return 200, session_header, b"", None
        if method == "PLAY":
            if session.interleaved is None and session.client_ports is None:
                return 455, {}, b"", None
            if session.thread is not None:  # already playing: a PLAY while playing just confirms
                return 200, session_header, b"", None
            track = self._base_uri() + "track1"
            headers = session_header | {
                "Range": "npt=0.000-",
                "RTP-Info": f"url={track};seq={session.seq0};rtptime={session.rtptime0}",
            }
            self.transports.append("tcp" if session.interleaved else "udp")
            session.thread = threading.Thread(target=self._stream, args=(session, conn, lock), name="fake-rtsp rtp", daemon=True)
            return 200, headers, b"", session.thread.start  # the reply goes out before the first RTP packet
        if method == "TEARDOWN":
            session.close()
            self.sessions.pop(session.id, None)
            return 200, {}, b"", None
        raise AssertionError(f"unhandled method {method}")

    def _in_path(self, uri: str) -> bool:
        path = uri.split("://", 1)[-1].partition("/")[2]
        path = "/" + path.split("?", 1)[0]
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")

    def _base_uri(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path.rstrip('/')}/"

    def _sdp(self) -> str:
        session_id = random.randrange(1 << 31)
        lines = [
            "v=0",
            f"o=- {session_id} 1 IN IP4 127.0.0.1",
            "s=avqa fake RTSP",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=control:*",
            "a=range:npt=0-",
            f"m=video 0 RTP/AVP {_PT_MP2T}",
            f"a=rtpmap:{_PT_MP2T} MP2T/90000",
            "a=control:track1",
            "",
        ]
        return "\r\n".join(lines)

    def _session_of(self, request: RtspRequest) -> _Session | None:
        session_id = request.headers.get("session", "").split(";", 1)[0].strip()
        return self.sessions.get(session_id)

    def _setup(self, request: RtspRequest, owned: list[_Session]) -> _Answer:
        if not request.uri.rstrip("/").endswith("/track1"):
            return 459 if self._in_path(request.uri) else 404, {}, b"", None  # aggregate SETUP not allowed
        if self._session_of(request) is not None:  # one stream only: a second SETUP would be a second track
            return 455, {}, b"", None
        for spec in request.headers.get("transport", "").split(","):  # the client's choices, preferred first
            params = [p.strip() for p in spec.split(";")]
            profile, options = params[0].upper(), dict(p.partition("=")[::2] for p in params[1:])
            if "multicast" in params[1:]:
                continue
            session = _Session(f"{random.randrange(1 << 48):012X}", random.randrange(1 << 32))
            if profile == "RTP/AVP/TCP" and "interleaved" in options:
                low, _, high = options["interleaved"].partition("-")
                session.interleaved = (int(low), int(high or int(low) + 1))
                reply = f"RTP/AVP/TCP;unicast;interleaved={session.interleaved[0]}-{session.interleaved[1]};ssrc={session.ssrc:08X}"
            elif profile in ("RTP/AVP", "RTP/AVP/UDP") and "client_port" in options and self.udp:
                low, _, high = options["client_port"].partition("-")
                session.client_ports = (int(low), int(high or int(low) + 1))
                rtp, rtcp, port = _udp_pair()
                session.udp = (rtp, rtcp)
                reply = (
                    f"RTP/AVP;unicast;client_port={session.client_ports[0]}-{session.client_ports[1]};"
                    f"server_port={port}-{port + 1};ssrc={session.ssrc:08X}"
                )
            else:
                continue
            with self._lock:
                self.sessions[session.id] = session
            owned.append(session)
            return 200, {"Transport": reply, "Session": f"{session.id};timeout=60"}, b"", None
        return 461, {}, b"", None

    # -- RTP --------------------------------------------------------------------------------
    def _send(self, session: _Session, conn: socket.socket, lock: threading.Lock, packet: bytes, rtcp: bool) -> None:
        if session.interleaved is not None:
            channel = session.interleaved[1 if rtcp else 0]
            with lock:
                conn.sendall(struct.pack("!cBH", b"$", channel, len(packet)) + packet)
        else:
            assert session.udp is not None and session.client_ports is not None
            sock = session.udp[1 if rtcp else 0]
            sock.sendto(packet, ("127.0.0.1", session.client_ports[1 if rtcp else 0]))

    def _stream(self, session: _Session, conn: socket.socket, lock: threading.Lock) -> None:
        size = _TS_PACKET * _TS_PER_RTP
        start = time.monotonic()
        try:
            for n, offset in enumerate(range(0, len(self.ts), size)):
                send_s = offset / self.rate_bps  # target transmission time of the first byte (RFC 2250)
                delay = start + send_s - time.monotonic()
                if delay > 0 and session.stop.wait(delay):
                    return
                if session.stop.is_set():
                    return
                payload = self.ts[offset : offset + size]
                rtptime = (session.rtptime0 + round(send_s * 90000)) & 0xFFFFFFFF
                header = struct.pack("!BBHII", 0x80, _PT_MP2T, (session.seq0 + n) & 0xFFFF, rtptime, session.ssrc)
                self._send(session, conn, lock, header + payload, rtcp=False)
                session.packets_sent += 1
                session.octets_sent += len(payload)
            # Not at once: over UDP, FFmpeg ends the stream as soon as it reads the BYE (its RTCP
            # socket), even if the last RTP packets still wait in its RTP socket, losing the last frame.
            if session.stop.wait(_BYE_AFTER_S):
                return
            now_rtptime = (session.rtptime0 + round((time.monotonic() - start) * 90000)) & 0xFFFFFFFF
            self._send(session, conn, lock, self._sender_report(session, now_rtptime) + self._bye(session), rtcp=True)
        except OSError:
            return  # the client went away

    @staticmethod
    def _sender_report(session: _Session, rtptime: int) -> bytes:
        """An RTCP SR (RFC 3550 6.4.1): ``rtptime`` is the RTP clock at this wall-clock instant."""
        now = time.time() + _NTP_EPOCH_OFFSET_S
        ntp_s, ntp_frac = int(now), int((now % 1) * (1 << 32))
        return struct.pack(
            "!BBHIIIIII", 0x80, _RTCP_SR, 6, session.ssrc, ntp_s, ntp_frac, rtptime, session.packets_sent, session.octets_sent
        )

    @staticmethod
    def _bye(session: _Session) -> bytes:
        return struct.pack("!BBHI", 0x81, _RTCP_BYE, 1, session.ssrc)
