"""LIRC: keys sent through lircd's socket (``irsend`` without irsend).

URI forms: ``lirc:///var/run/lirc/lircd?remote=NAME`` (the Unix socket) and
``lirc://HOST:8765?remote=NAME`` (lircd started with ``--listen``). Options: ``remote``
(required: the remote's name in lircd.conf), ``transmitters`` (e.g. ``1,2``: sent once as
``SET_TRANSMITTERS``).

The socket protocol: a command is one line (``SEND_ONCE remote key``, ``SEND_START``,
``SEND_STOP``, ``LIST``, ``VERSION``...). lircd answers with a block::

    BEGIN
    <the command, echoed>
    SUCCESS | ERROR
    [DATA
    <n>
    <n lines>]
    END

and, on the same socket at any time, broadcasts decoded IR as ``<code> <repeat> <key> <remote>``
lines and ``BEGIN / SIGHUP / END`` blocks. :class:`LircReplyParser` tells them apart.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from harness.control.backend import BackendBase, parse_options
from harness.control.keys import LIRC_KEYS, Key
from harness.errors import ControlError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
FORM = "lirc:///path/to/lircd?remote=NAME or lirc://HOST[:8765]?remote=NAME[&transmitters=1,2]"


@dataclass
class LircReply:
    """One parsed reply block."""

    command: str
    success: bool
    data: list[str] = field(default_factory=list)


class LircProtocolError(ValueError):
    """The peer does not speak lircd's socket protocol."""


class LircReplyParser:
    """Sans-IO parser: :meth:`feed` one line at a time; replies and broadcasts come out separately."""

    def __init__(self) -> None:
        self.broadcasts: list[str] = []
        self._state = "idle"
        self._reply: LircReply | None = None
        self._remaining = 0

    def feed(self, line: str) -> LircReply | None:
        """Take one line (without its newline); return a reply when its END arrives.

        Raises:
            LircProtocolError: a line that fits no part of the protocol.
        """
        state = self._state
        if state == "idle":
            if line == "BEGIN":
                self._state = "command"
                return None
            if len(line.split()) == 4 and _is_hex(line.split()[0]):
                self.broadcasts.append(line)  # "<code> <repeat> <key> <remote>"
                return None
            raise LircProtocolError(f"unexpected line {line[:80]!r}")
        if state == "command":
            self._reply = LircReply(line, success=True)
            self._state = "sighup" if line == "SIGHUP" else "status"
            return None
        assert self._reply is not None
        if state == "sighup":
            if line != "END":
                raise LircProtocolError(f"expected END after SIGHUP, got {line[:80]!r}")
            self.broadcasts.append("SIGHUP")
            self._reset()
            return None
        if state == "status":
            if line in ("SUCCESS", "ERROR"):
                self._reply.success = line == "SUCCESS"
                self._state = "data_or_end"
                return None
            if line == "END":  # old lircd: no status line means success
                return self._finish()
            raise LircProtocolError(f"expected SUCCESS or ERROR, got {line[:80]!r}")
        if state == "data_or_end":
            if line == "DATA":
                self._state = "count"
                return None
            if line == "END":
                return self._finish()
            raise LircProtocolError(f"expected DATA or END, got {line[:80]!r}")
        if state == "count":
            try:
                self._remaining = int(line)
            except ValueError:
                raise LircProtocolError(f"expected a line count after DATA, got {line[:80]!r}") from None
            self._state = "data" if self._remaining else "end"
            return None
        if state == "data":
            self._reply.data.append(line)
            self._remaining -= 1
            if self._remaining == 0:
                self._state = "end"
            return None
        if line != "END":
            raise LircProtocolError(f"expected END, got {line[:80]!r}")
        return self._finish()

    def _finish(self) -> LircReply:
        reply = self._reply
        assert reply is not None
        self._reset()
        return reply

    def _reset(self) -> None:
        self._state = "idle"
        self._reply = None
        self._remaining = 0


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


class LircRemote(BackendBase):
    """One lircd socket connection, kept open; commands are sent one at a time."""

    channel = "lirc"

    def __init__(self, uri: str, *, timeout_s: float = 3.0, keymap: dict[str, str] | None = None, device: str = "") -> None:
        parts = urlsplit(uri)
        if parts.scheme != "lirc":
            raise ControlError(f"{uri}: expected {FORM}")
        options = parse_options(uri, parts.query, {"remote": "", "transmitters": ""}, FORM)
        if not options["remote"]:
            raise ControlError(f"{uri}: missing remote=NAME (expected {FORM})")
        self.remote_name = options["remote"]
        if parts.netloc:
            self.address: str | tuple[str, int] = (parts.hostname or "", parts.port or DEFAULT_PORT)
            if parts.path not in ("", "/"):
                raise ControlError(f"{uri}: a TCP lircd URI has no path (expected {FORM})")
        elif parts.path:
            self.address = unquote(parts.path)
        else:
            raise ControlError(f"{uri}: expected {FORM}")
        super().__init__(uri, device=device, default_keys=LIRC_KEYS, keymap=keymap)
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._parser = LircReplyParser()
        self.remote_keys: frozenset[str] = frozenset()
        self._connect()
        reply = self._command(f"LIST {self.remote_name}", "list keys")
        if not reply.success:
            raise self.error(f"unknown remote {self.remote_name!r}: lircd says {' '.join(reply.data) or 'ERROR'}")
        # LIST <remote> answers "<code> <key>" per key
        self.remote_keys = frozenset(line.split()[-1] for line in reply.data if line.split())
        if options["transmitters"]:
            numbers = options["transmitters"].replace(",", " ")
            reply = self._command(f"SET_TRANSMITTERS {numbers}", "set transmitters")
            if not reply.success:
                raise self.error(f"set transmitters {numbers}: {' '.join(reply.data) or 'ERROR'}")

    def _connect(self) -> None:
        family = socket.AF_UNIX if isinstance(self.address, str) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(self.address)
        except OSError as e:
            sock.close()
            raise self.error(f"connect: unreachable: {e.strerror or e}") from e
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._buffer = b""
        self._parser = LircReplyParser()
        self.traffic.add("!", f"connected to {self.address}")

    def _readline(self, deadline: float) -> str:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("lircd closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def _command(self, command: str, what: str) -> LircReply:
        for attempt in (1, 2):  # lircd restarted (SIGHUP, reload): reconnect once
            if self._sock is None:
                self._connect()
            assert self._sock is not None
            try:
                self.traffic.sent(command)
                self._sock.sendall(command.encode() + b"\n")
                deadline = time.monotonic() + self.timeout_s
                while True:
                    line = self._readline(deadline)
                    self.traffic.received(line)
                    reply = self._parser.feed(line)
                    if self._parser.broadcasts:
                        for item in self._parser.broadcasts:
                            log.debug("%s: broadcast %s", self.uri, item)
                        self._parser.broadcasts.clear()
                    if reply is None:
                        continue
                    if reply.command.strip() != command.strip():
                        log.debug("%s: reply to another command %r ignored", self.uri, reply.command)
                        continue
                    return reply
            except TimeoutError as e:
                self._drop()
                raise self.error(f"{what}: no answer within {self.timeout_s:g} s") from e
            except LircProtocolError as e:
                self._drop()
                raise self.error(f"{what}: not a lircd reply: {e}") from e
            except (ConnectionResetError, BrokenPipeError) as e:
                self._drop()
                if attempt == 2:
                    raise self.error(f"{what}: connection dropped: {e}") from e
            except OSError as e:
                self._drop()
                raise self.error(f"{what}: {e.strerror or e}") from e
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def key_name(self, key: Key) -> str | None:
        name = super().key_name(key)
        if name is not None and self.remote_keys and name not in self.remote_keys:
            return None  # lircd.conf of this remote has no such button
        return name

    def _send(self, verb: str, name: str, what: str) -> None:
        reply = self._command(f"{verb} {self.remote_name} {name}", what)
        if not reply.success:
            raise self.error(f"{what}: lircd says {' '.join(reply.data) or 'ERROR'}")

    def press(self, name: str) -> None:
        self._send("SEND_ONCE", name, f"key {name}")

    def keydown(self, name: str) -> None:
        self._send("SEND_START", name, f"keydown {name}")

    def keyup(self, name: str) -> None:
        self._send("SEND_STOP", name, f"keyup {name}")

    def version(self) -> str:
        reply = self._command("VERSION", "version")
        return reply.data[0] if reply.data else ""

    def close(self) -> None:
        self._drop()
