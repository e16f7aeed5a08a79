"""The device's serial debug console: every line logged with its time, expect(), commands, failure patterns.

Failure patterns (regexes from the device YAML, e.g. ``Kernel panic``, ``ANR in``, ``FATAL
EXCEPTION``) are matched on every line as it arrives; a match becomes a :class:`ConsoleFailure`
passed to ``on_failure`` (the session puts it on the timeline and fails the running test).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.errors import ControlError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsoleLine:
    monotonic_s: float
    text: str


@dataclass(frozen=True)
class ConsoleFailure:
    """A console line that matched a failure pattern."""

    pattern: str
    line: ConsoleLine
    index: int  # of the line in SerialConsole.lines

    def __str__(self) -> str:
        return f"console line {self.index} matched {self.pattern!r}: {self.line.text}"


class SerialConsole:
    """Reads a pyserial URL (/dev/ttyUSB0, a pty path, socket://host:port, rfc2217://...) on a thread."""

    channel = "serial"

    def __init__(
        self,
        url: str,
        *,
        baud: int = 115200,
        device: str = "",
        on_line: Callable[[ConsoleLine], None] | None = None,
        failure_patterns: Sequence[str] = (),
        on_failure: Callable[[ConsoleFailure], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import serial  # pyserial

        self.url = url
        self.device = device
        self.on_line = on_line
        self.on_failure = on_failure
        self._failure_patterns = [(p, re.compile(p)) for p in failure_patterns]
        self.failures: list[ConsoleFailure] = []
        self._clock = clock
        self.lines: list[ConsoleLine] = []
        self._cond = threading.Condition()
        self._closed = False
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0.2)
        except (serial.SerialException, ValueError) as e:
            raise ControlError(f"{device or 'device'}: serial console {url}: cannot open: {e}") from e
        self._thread = threading.Thread(target=self._read, name=f"avqa-console {url}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import serial

        pending = b""
        while not self._closed:
            try:
                data = self._port.read(4096)
            except (serial.SerialException, OSError, TypeError) as e:
                if not self._closed:
                    log.warning("serial console %s: read failed: %s", self.url, e)
                return
            if not data:
                continue
            pending += data
            *complete, pending = re.split(rb"\r?\n", pending)
            for raw in complete:
                line = ConsoleLine(self._clock(), raw.decode("utf-8", "replace").rstrip("\r"))
                log.debug("console %s: %s", self.url, line.text)
                with self._cond:
                    self.lines.append(line)
                    index = len(self.lines) - 1
                    self._cond.notify_all()
                if self.on_line is not None:
                    self.on_line(line)
                for pattern, regex in self._failure_patterns:
                    if regex.search(line.text):
                        failure = ConsoleFailure(pattern, line, index)
                        log.warning("%s: serial console %s: %s", self.device or "device", self.url, failure)
                        self.failures.append(failure)
                        if self.on_failure is not None:
                            self.on_failure(failure)
                        break

    def send(self, command: str) -> None:
        """Type ``command`` followed by a newline."""
        try:
            self._port.write(command.encode() + b"\n")
            self._port.flush()
        except Exception as e:
            raise ControlError(f"{self.device or 'device'}: serial console {self.url}: write failed: {e}") from e

    def expect(self, pattern: str, timeout_s: float, since: int | None = None) -> re.Match[str]:
        """Wait for a line matching ``pattern`` (searched in lines from index ``since``, default: new lines only)."""
        regex = re.compile(pattern)
        start = len(self.lines) if since is None else since
        deadline = self._clock() + timeout_s
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    match = regex.search(line.text)
                    if match:
                        return match
                start = len(self.lines)
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise ControlError(
                        f"{self.device or 'device'}: serial console {self.url}: no line matching {pattern!r} within {timeout_s:g} s"
                    )
                self._cond.wait(min(remaining, 0.2))

    def read_build(self, pattern: str, *, command: str = "version", timeout_s: float = 5.0) -> str:
        """The build/firmware version: group 1 of ``pattern`` on a line seen so far, else after typing ``command``."""
        regex = re.compile(pattern)
        if regex.groups < 1:
            raise ValueError(f"build pattern {pattern!r} needs one group")
        with self._cond:
            seen = list(self.lines)
        for line in seen:
            match = regex.search(line.text)
            if match:
                return match.group(1)
        start = len(seen)
        self.send(command)
        return self.expect(pattern, timeout_s=timeout_s, since=start).group(1)

    def text(self) -> str:
        """The whole console log so far, one line each."""
        with self._cond:
            return "\n".join(line.text for line in self.lines)

    def close(self) -> None:
        self._closed = True
        self._thread.join(1.0)
        try:
            self._port.close()
        except Exception:
            log.debug("closing %s failed", self.url, exc_info=True)
