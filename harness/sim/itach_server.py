"""A Global Caché iTach (IP2IR) for the simulated device: ``sendir`` over TCP reaches the simulated TV.

Each ``sendir`` is decoded as NEC IR (the simulated TV's own remote, address
:data:`~harness.control.keys.SIM_NEC_ADDRESS`) and answered ``completeir`` once the signal has
"played" (its real duration). A ``sendir`` to a connector that another connection is using gets
``busyIR``; malformed commands get the iTach's ``ERR_<module>:<port>,<nnn>`` codes. The code set
is published as a code file (Pronto hex), whose path is in :attr:`ITachServer.url`.
"""

from __future__ import annotations

import logging
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable
from urllib.parse import quote

from harness.control.ir import IrCode, nec_code, nec_decode, write_code_file
from harness.control.keys import LIRC_KEYS, SIM_NEC_ADDRESS, SIM_NEC_COMMANDS, Key

log = logging.getLogger(__name__)

CONNECTORS = ("1:1", "1:2", "1:3")
VERSION = "710-1001-05"
_MAX_PLAY_S = 1.0  # never block a connector longer than this per sendir (a held key ends with stopir)


def sim_codes() -> dict[str, IrCode]:
    """The simulated TV remote's codes by Linux key name (what the published code file holds)."""
    return {LIRC_KEYS[key]: nec_code(SIM_NEC_ADDRESS, command) for key, command in SIM_NEC_COMMANDS.items() if key in LIRC_KEYS}


class ITachServer:
    """An IP2IR on ``host:port`` (ephemeral by default); writes its code file to a temporary folder."""

    def __init__(self, on_key: Callable[[Key], None], *, host: str = "127.0.0.1", port: int = 0, play_signals: bool = True) -> None:
        self.on_key = on_key
        self.play_signals = play_signals
        self._by_command = {command: key for key, command in SIM_NEC_COMMANDS.items()}
        self._busy: dict[str, object] = {}
        self._stop: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._tmpdir = tempfile.mkdtemp(prefix="avqa-sim-itach-")
        self.codes_path = os.path.join(self._tmpdir, "avqa-sim.codes")
        write_code_file(self.codes_path, sim_codes(), comment="avqa simulated TV remote (NEC, Pronto hex)")
        self._tcp = socketserver.ThreadingTCPServer((host, port), _make_handler(self), bind_and_activate=False)
        self._tcp.allow_reuse_address = True
        self._tcp.daemon_threads = True
        self._tcp.server_bind()
        self._tcp.server_activate()
        self.host = host
        self.port = int(self._tcp.server_address[1])
        self._thread = threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.2}, name="avqa-sim itach", daemon=True)

    @property
    def url(self) -> str:
        return f"itach://{self.host}:{self.port}?connector=1:1&codes={quote(self.codes_path, safe='/')}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._tcp.shutdown()
        self._tcp.server_close()
        for path in (self.codes_path,):
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            os.rmdir(self._tmpdir)
        except OSError:
            pass

    # -- the protocol -------------------------------------------------------------------------

    def handle(self, line: str, owner: object) -> list[str]:
        """The reply lines to one command (without its CR); ``owner`` identifies the connection."""
        fields = line.split(",")
        verb = fields[0]
        if verb == "getdevices":
            return ["device,0,0 ETHERNET", "device,1,3 IR", "endlistdevices"]
        if verb == "getversion":
            return [VERSION]
        if verb == "stopir":
            if len(fields) != 2 or fields[1] not in CONNECTORS:
                return [f"ERR_{fields[1] if len(fields) > 1 else '0:0'},003"]
            with self._lock:
                event = self._stop.get(fields[1])
            if event is not None:
                event.set()
            return [f"stopir,{fields[1]}"]
        if verb == "sendir":
            return self._sendir(fields, owner)
        return ["ERR_0:0,001"]

    def _sendir(self, fields: list[str], owner: object) -> list[str]:
        if len(fields) < 2 or fields[1] not in CONNECTORS:
            return [f"ERR_{fields[1] if len(fields) > 1 else '0:0'},003"]
        connector = fields[1]
        err = f"ERR_{connector},"
        try:
            ident, frequency_hz, repeat, offset, *timings = (int(v) for v in fields[2:])
        except ValueError:
            return [err + "017"]
        if not 0 <= ident <= 65535:
            return [err + "004"]
        if not 15_000 <= frequency_hz <= 500_000:
            return [err + "005"]
        if not 1 <= repeat <= 50:
            return [err + "006"]
        if not timings or len(timings) % 2:
            return [err + "010"]
        if offset < 1 or offset % 2 == 0 or offset > len(timings):
            return [err + "007"]
        if any(not 1 <= t <= 65535 for t in timings):
            return [err + "009"]
        stop = threading.Event()
        with self._lock:
            if self._busy.get(connector) not in (None, owner):
                return [f"busyIR,{connector},{ident}"]
            self._busy[connector] = owner
            self._stop[connector] = stop
        try:
            code = IrCode(frequency_hz, tuple(timings[: offset - 1]), tuple(timings[offset - 1 :]))
            durations = code.durations_us(repeat - 1)
            frames = nec_decode(durations)
            first = next((f for f in frames if f is not None), None)
            if first is None:
                log.info("itach: sendir %d on %s is no NEC code this TV knows", ident, connector)
            elif first[0] != SIM_NEC_ADDRESS or first[1] not in self._by_command:
                log.info("itach: NEC address %#x command %#x is not for this TV", *first)
            if self.play_signals:  # the TV decodes the first frame after it has been sent
                first_frame_s = sum(durations[: len(code.once) or len(code.repeat)]) / 1e6
                stop.wait(min(first_frame_s, _MAX_PLAY_S))
            if first is not None and first[0] == SIM_NEC_ADDRESS and first[1] in self._by_command:
                self.on_key(self._by_command[first[1]])
            if self.play_signals and not stop.is_set():
                rest_s = sum(durations) / 1e6 - first_frame_s
                stop.wait(min(rest_s, _MAX_PLAY_S * 5))
            if stop.is_set():
                return []  # stopped: the stopir answer is the only reply
            return [f"completeir,{connector},{ident}"]
        finally:
            with self._lock:
                if self._busy.get(connector) is owner:
                    del self._busy[connector]
                    self._stop.pop(connector, None)

    def _serve_client(self, conn: socket.socket) -> None:
        owner = object()
        send_lock = threading.Lock()

        def run(line: str) -> None:
            replies = self.handle(line, owner)
            if replies:
                with send_lock:
                    try:
                        conn.sendall("".join(f"{r}\r" for r in replies).encode())
                    except OSError:
                        pass

        buffer = b""
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
                while b"\r" in buffer or b"\n" in buffer:
                    cut = min(i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0)
                    raw, buffer = buffer[:cut], buffer[cut + 1 :]
                    line = raw.decode("ascii", "replace").strip()
                    if not line:
                        continue
                    log.debug("itach: %s", line[:80])
                    if line.startswith("sendir"):  # plays in the background: stopir must get through
                        threading.Thread(target=run, args=(line,), daemon=True).start()
                    else:
                        run(line)
        except OSError:
            return


def _make_handler(server: ITachServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            server._serve_client(self.request)

    return Handler

