"""Global Caché iTach / GC-100 IR: ``sendir`` over TCP port 4998.

URI: ``itach://HOST[:4998]?connector=1:1&codes=FILE`` with options ``connector`` (module:port,
default ``1:1``) and ``codes`` (required: a code file, see :mod:`harness.control.ir`; names in it
are the channel key names, by default the Linux names of ``LIRC_KEYS`` such as ``KEY_OK``).

The exchange (ASCII, every message ends in CR)::

    > getdevices                      < device,0,0 ETHERNET / device,1,3 IR / endlistdevices
    > sendir,1:1,<id>,<freq>,<repeat>,<offset>,<on1>,<off1>,...
    < completeir,1:1,<id>             sent
    < busyIR,1:1,<id>                 another connection is sending on this connector: try again
    < ERR_1:1,<nnn>                   refused (codes below)
    > stopir,1:1                      < stopir,1:1   (ends a held key: keydown is sendir with many repeats)

An unknown command may also get ``unknowncommand,<n>`` (GC-100).
"""

from __future__ import annotations

import itertools
import logging
import re
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness.control.backend import BackendBase, parse_options
from harness.control.ir import IrCode, load_code_file
from harness.control.keys import LIRC_KEYS, Key
from harness.errors import ControlError

log = logging.getLogger(__name__)

DEFAULT_PORT = 4998
HOLD_REPEATS = 50  # the iTach maximum; a held key is stopped with stopir long before
BUSY_RETRY_S = 0.02
FORM = "itach://HOST[:4998]?connector=M:C&codes=FILE"

ERRORS: dict[int, str] = {
    1: "invalid command",
    2: "invalid module address",
    3: "invalid connector address",
    4: "invalid ID",
    5: "invalid frequency",
    6: "invalid repeat",
    7: "invalid offset",
    8: "invalid pulse count",
    9: "invalid pulse data",
    10: "uneven amount of on/off statements",
    11: "no carriage return found",
    12: "repeat count exceeded",
    13: "IR command sent to input connector",
    14: "blaster command sent to non-blaster connector",
    15: "no carriage return before buffer full",
    16: "no carriage return",
    17: "bad command syntax",
    18: "sensor command sent to non-input connector",
    19: "repeated IR transmission failure",
    20: "above designated IR on/off pair limit",
    21: "symbol odd boundary",
    22: "undefined symbol",
    23: "unknown option",
    24: "invalid baud rate setting",
    25: "invalid flow control setting",
    26: "invalid parity setting",
    27: "settings are locked",
}

_ERR = re.compile(r"^ERR_?(?:(\d+:\d+),)?0*(\d+)$")


def describe_error(line: str) -> str | None:
    """``"ERR_1:1,008"`` -> ``"ERR_1:1,008 (invalid pulse count)"``; None if ``line`` is no error."""
    match = _ERR.match(line)
    if match:
        return f"{line} ({ERRORS.get(int(match.group(2)), 'unknown error')})"
    if line.startswith("unknowncommand"):
        return f"{line} (unknown command)"
    return None


class ITachRemote(BackendBase):
    """One TCP connection to an iTach; each press is one ``sendir`` answered by ``completeir``."""

    channel = "itach"

    def __init__(self, uri: str, *, timeout_s: float = 3.0, keymap: dict[str, str] | None = None, device: str = "") -> None:
        parts = urlsplit(uri)
        if parts.scheme != "itach" or not parts.hostname or parts.path not in ("", "/"):
            raise ControlError(f"{uri}: expected {FORM}")
        options = parse_options(uri, parts.query, {"connector": "1:1", "codes": ""}, FORM)
        if not re.fullmatch(r"\d+:\d+", options["connector"]):
            raise ControlError(f"{uri}: connector {options['connector']!r} is not MODULE:PORT (expected {FORM})")
        if not options["codes"]:
            raise ControlError(f"{uri}: missing codes=FILE (expected {FORM})")
        super().__init__(uri, device=device, default_keys=LIRC_KEYS, keymap=keymap)
        self.connector = options["connector"]
        self.codes_path = Path(options["codes"])
        try:
            self.codes: dict[str, IrCode] = load_code_file(self.codes_path)
        except OSError as e:
            raise self.error(f"codes file {self.codes_path}: {e.strerror or e}") from e
        except ValueError as e:
            raise self.error(f"codes file {self.codes_path}: {e}") from e
        self.host = parts.hostname
        self.port = parts.port or DEFAULT_PORT
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._held: int | None = None
        self.devices = self._get_devices()

    # -- transport ------------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            except OSError as e:
                raise self.error(f"connect: unreachable: {e.strerror or e}") from e
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._buffer = b""
            self.traffic.add("!", f"connected to {self.host}:{self.port}")
        return self._sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _send_line(self, line: str, what: str) -> None:
        sock = self._connect()
        self.traffic.sent(line)
        try:
            sock.sendall(line.encode("ascii") + b"\r")
        except OSError as e:
            self._drop()
            raise self.error(f"{what}: send failed: {e.strerror or e}") from e

    def _read_line(self, deadline: float, what: str) -> str:
        sock = self._connect()
        while True:
            match = re.search(rb"[\r\n]", self._buffer)
            if match:
                raw, self._buffer = self._buffer[: match.start()], self._buffer[match.end() :]
                if not raw.strip():
                    continue
                line = raw.decode("ascii", "replace").strip()
                self.traffic.received(line)
                return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._drop()
                raise self.error(f"{what}: no answer within {self.timeout_s:g} s")
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError as e:
                self._drop()
                raise self.error(f"{what}: connection dropped: {e.strerror or e}") from e
            if not chunk:
                self._drop()
                raise self.error(f"{what}: connection closed by the iTach")
            if len(self._buffer) > 65536:
                self._drop()
                raise self.error(f"{what}: garbage reply (no line end in 64 KiB)")
            self._buffer += chunk

    def _get_devices(self) -> list[str]:
        self._send_line("getdevices", "getdevices")
        deadline = time.monotonic() + self.timeout_s
        devices: list[str] = []
        while True:
            line = self._read_line(deadline, "getdevices")
            if line == "endlistdevices":
                break
            if not line.startswith("device,"):
                self._drop()
                raise self.error(f"getdevices: not an iTach reply: {line[:80]!r}")
            devices.append(line)
        module, port = (int(v) for v in self.connector.split(":"))
        for line in devices:  # "device,<module>,<count> <type>"
            match = re.fullmatch(r"device,(\d+),(\d+)\s+(\S+)", line)
            if match and int(match.group(1)) == module and "IR" in match.group(3).upper() and port <= int(match.group(2)):
                return devices
        self._drop()
        raise self.error(f"connector {self.connector}: no such IR connector (the iTach has: {'; '.join(devices) or 'nothing'})")

    # -- keys -----------------------------------------------------------------------------------

    def key_name(self, key: Key) -> str | None:
        name = super().key_name(key)
        return name if name in self.codes else None

    def _code(self, name: str) -> IrCode:
        try:
            return self.codes[name]
        except KeyError:
            raise self.error(f"key {name}: not in codes file {self.codes_path}") from None

    def _sendir(self, name: str, repeat: int, what: str, *, wait: bool = True) -> int:
        code = self._code(name)
        deadline = time.monotonic() + self.timeout_s
        while True:
            ident = next(self._ids) % 65536
            self._send_line(f"sendir,{self.connector},{ident},{code.sendir_tail(repeat)}", what)
            if not wait:
                return ident
            while True:
                line = self._read_line(deadline, what)
                fields = line.split(",")
                if fields[0] == "completeir" and fields[1:] == [self.connector, str(ident)]:
                    return ident
                if fields[0] == "busyIR":
                    if time.monotonic() + BUSY_RETRY_S >= deadline:
                        raise self.error(f"{what}: connector {self.connector} busy (busyIR) for {self.timeout_s:g} s")
                    time.sleep(BUSY_RETRY_S)
                    break  # send again with a new id
                error = describe_error(line)
                if error is not None:
                    raise self.error(f"{what}: iTach refused the code: {error}")
                if fields[0] in ("completeir", "stopir", "busyIR"):
                    continue  # about another id or connector
                self._drop()
                raise self.error(f"{what}: not an iTach reply: {line[:80]!r}")

    def press(self, name: str) -> None:
        self._sendir(name, 1, f"key {name}")

    def keydown(self, name: str) -> None:
        self._held = self._sendir(name, HOLD_REPEATS, f"keydown {name}", wait=False)

    def keyup(self, name: str) -> None:
        what = f"keyup {name}"
        self._send_line(f"stopir,{self.connector}", what)
        deadline = time.monotonic() + self.timeout_s
        while True:
            line = self._read_line(deadline, what)
            if line == f"stopir,{self.connector}":
                self._held = None
                return
            error = describe_error(line)
            if error is not None:
                raise self.error(f"{what}: iTach refused: {error}")
            # completeir of the held code (it ran out of repeats) or busyIR: keep reading

    def close(self) -> None:
        self._drop()
