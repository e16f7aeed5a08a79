"""The simulated device's serial debug console on a pseudo-terminal.

The simulator holds the master side; clients open the slave path (``/dev/pts/N``) with pyserial
like any serial port. Lines end in CR LF, as on a UART console. Writes never block: when nobody
reads and the pty's buffer is full, whole lines are dropped and counted. Typed commands are
answered line by line (no echo, no prompt).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import threading
import tty
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

Command = Callable[[], str]


class PtyConsole:
    """A serial console on a fresh pty; ``commands`` maps a command word to a function returning its reply."""

    def __init__(self, commands: Mapping[str, Command]) -> None:
        self.commands = dict(commands)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line editing, no CR/LF translation
        flags = fcntl.fcntl(self._master, fcntl.F_GETFL)
        fcntl.fcntl(self._master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        # The slave stays open here too: the pty keeps its settings and reads never see EIO while no client is attached.
        self.path = os.ttyname(self._slave)
        self.dropped_lines = 0
        self._partial = b""
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._read_loop, name="avqa-sim console", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def write_line(self, text: str) -> None:
        """Print one line on the console; dropped (and counted) if nobody reads and the buffer is full."""
        data = text.encode("utf-8", "replace") + b"\r\n"
        with self._lock:
            if self._closed:
                return
            if self._partial:  # finish a line cut short last time before starting a new one
                self._partial = self._partial[self._write(self._partial) :]
                if self._partial:
                    self._drop()
                    return
            written = self._write(data)
            if written == 0:
                self._drop()
            elif written < len(data):
                self._partial = data[written:]

    def _drop(self) -> None:
        self.dropped_lines += 1
        if self.dropped_lines == 1 or self.dropped_lines % 1000 == 0:
            log.info("console %s: nobody reads, %d line(s) dropped so far", self.path, self.dropped_lines)

    def _write(self, data: bytes) -> int:
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno in (errno.EIO, errno.EAGAIN):
                return 0
            raise

    def _read_loop(self) -> None:
        pending = b""
        while not self._closed:
            try:
                ready, _, _ = select.select([self._master], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except BlockingIOError:
                continue
            except OSError:
                if self._closed:
                    return
                continue
            pending += data
            while True:
                cut = min((i for i in (pending.find(b"\r"), pending.find(b"\n")) if i >= 0), default=-1)
                if cut < 0:
                    break
                line, pending = pending[:cut], pending[cut + 1 :]
                self._command(line.decode("utf-8", "replace").strip())
            if len(pending) > 4096:
                pending = b""

    def _command(self, line: str) -> None:
        if not line:
            return
        word = line.split()[0]
        command = self.commands.get(word)
        if command is None:
            self.write_line(f"sh: {word}: not found")
            return
        try:
            reply = command()
        except Exception:  # a broken command must not kill the console
            log.exception("console command %r failed", word)
            reply = f"sh: {word}: internal error"
        for reply_line in reply.splitlines():
            self.write_line(reply_line)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._thread.join(timeout=1.0)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
