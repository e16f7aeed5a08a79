"""An lircd socket server for the simulated device: IR sent through "lircd" reaches the simulated TV.

Speaks lircd's socket protocol on a Unix socket and on TCP (like ``lircd --listen``): one
command per line, answered by a ``BEGIN / <command> / SUCCESS|ERROR / [DATA / n / lines] / END``
block. The one configured remote (default ``avqa-sim``) has the Linux key names of
:data:`~harness.control.keys.LIRC_KEYS`. ``SEND_ONCE`` and ``SEND_START`` queue the key for the
app; ``SEND_STOP`` ends the repeat. ``broadcast`` sends a decoded-IR line to every client, as
lircd does when its receiver hears a remote.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable

from harness.control.keys import LIRC_KEYS, Key

log = logging.getLogger(__name__)

LIRCD_VERSION = "0.10.2"
DEFAULT_REMOTE = "avqa-sim"


class LircServer:
    """lircd on ``unix_path`` (a fresh temporary path by default) and on TCP ``host:port`` (ephemeral by default)."""

    def __init__(
        self,
        on_key: Callable[[Key], None],
        *,
        remote: str = DEFAULT_REMOTE,
        host: str = "127.0.0.1",
        port: int = 0,
        unix_path: str | None = None,
        keys: dict[Key, str] | None = None,
    ) -> None:
        self.on_key = on_key
        self.remote = remote
        self.codes: dict[str, Key] = {name: key for key, name in (keys or LIRC_KEYS).items()}
        self._repeating: set[str] = set()
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._tmpdir: str | None = None
        if unix_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="avqa-sim-lirc-")
            unix_path = os.path.join(self._tmpdir, "lircd")
        self.unix_path = unix_path
        handler = _make_handler(self)
        self._tcp = socketserver.ThreadingTCPServer((host, port), handler, bind_and_activate=False)
        self._tcp.allow_reuse_address = True
        self._tcp.daemon_threads = True
        self._tcp.server_bind()
        self._tcp.server_activate()
        self._unix = socketserver.ThreadingUnixStreamServer(unix_path, handler)
        self._unix.daemon_threads = True
        self.host = host
        self.port = int(self._tcp.server_address[1])
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, name=f"avqa-sim lircd {n}", daemon=True)
            for n, s in (("tcp", self._tcp), ("unix", self._unix))
        ]

    @property
    def url(self) -> str:
        """The Unix-socket URI (what a lab host would use)."""
        return f"lirc://{self.unix_path}?remote={self.remote}"

    @property
    def tcp_url(self) -> str:
        return f"lirc://{self.host}:{self.port}?remote={self.remote}"

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        for server, thread in zip((self._tcp, self._unix), self._threads):
            if thread.is_alive():
                server.shutdown()
            server.server_close()
        with self._lock:
            for client in list(self._clients):
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        try:
            os.unlink(self.unix_path)
        except OSError:
            pass
        if self._tmpdir is not None:
            try:
                os.rmdir(self._tmpdir)
            except OSError:
                pass

    def broadcast(self, line: str) -> None:
        """Send one unsolicited line (``<code> <repeat> <key> <remote>``) to every connected client."""
        data = line.encode() + b"\n"
        with self._lock:
            for client in list(self._clients):
                try:
                    client.sendall(data)
                except OSError:
                    pass

    # -- the protocol -------------------------------------------------------------------------

    def reply(self, command: str, ok: bool, data: list[str] | None = None) -> list[str]:
        lines = ["BEGIN", command, "SUCCESS" if ok else "ERROR"]
        if data:
            lines += ["DATA", str(len(data)), *data]
        return [*lines, "END"]

    def handle(self, command: str) -> list[str]:
        """The reply lines to one command line."""
        words = command.split()
        if not words:
            return []
        verb = words[0].upper()
        if verb in ("SEND_ONCE", "SEND_START", "SEND_STOP"):
            if len(words) < 3:
                return self.reply(command, False, ["bad send packet"])
            remote, code = words[1], words[2]
            if remote != self.remote:
                return self.reply(command, False, [f'unknown remote: "{remote}"'])
            if code not in self.codes:
                return self.reply(command, False, [f'unknown command: "{code}"'])
            if verb == "SEND_STOP":
                if code not in self._repeating:
                    return self.reply(command, False, ["not repeating"])
                self._repeating.discard(code)
                return self.reply(command, True)
            if verb == "SEND_START":
                self._repeating.add(code)
            count = int(words[3]) if verb == "SEND_ONCE" and len(words) > 3 and words[3].isdigit() else 0
            for _ in range(1 + min(count, 20)):
                self.on_key(self.codes[code])
            return self.reply(command, True)
        if verb == "LIST":
            if len(words) == 1:
                return self.reply(command, True, [self.remote])
            if words[1] != self.remote:
                return self.reply(command, False, [f'unknown remote: "{words[1]}"'])
            names = list(self.codes)
            if len(words) > 2:
                if words[2] not in self.codes:
                    return self.reply(command, False, [f'unknown code: "{words[2]}"'])
                names = [words[2]]
            return self.reply(command, True, [f"{0x10 + list(self.codes).index(n):016x} {n}" for n in names])
        if verb == "VERSION":
            return self.reply(command, True, [LIRCD_VERSION])
        if verb == "SET_TRANSMITTERS":
            return self.reply(command, True)
        return self.reply(command, False, [f'unknown directive: "{words[0]}"'])

    def _serve_client(self, conn: socket.socket) -> None:
        with self._lock:
            self._clients.add(conn)
        try:
            buffer = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
                while b"\n" in buffer:
                    raw, _, buffer = buffer.partition(b"\n")
                    command = raw.decode("utf-8", "replace").strip()
                    log.debug("lircd: %s", command)
                    lines = self.handle(command)
                    if lines:
                        with self._lock:  # a reply block is never split by a broadcast
                            conn.sendall("".join(f"{line}\n" for line in lines).encode())
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)


def _make_handler(server: LircServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            server._serve_client(self.request)

    return Handler
