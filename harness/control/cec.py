"""HDMI-CEC through libcec's ``cec-client``: one long-running process per session, fed commands on stdin.

URI: ``cec:[ADAPTER]?dest=0&type=p&osd=avqa&client=cec-client`` where ADAPTER is the adapter's
port (``/dev/ttyACM0``, ``RPI``...; empty: autodetect), ``dest`` the logical address of the
device under test (0 = TV), ``type`` the role cec-client registers as (``p`` playback,
``r`` recorder, ``t`` tuner, ``a`` audio system), ``osd`` its OSD name and ``client`` the
executable.

cec-client is started as ``cec-client -t TYPE -o OSD -d 13 [ADAPTER]`` (log levels error +
notice + traffic). It prints ``waiting for input`` when the adapter is open and logs each frame
it transmits as ``TRAFFIC: [  <ms>]\t<< 4f:82:10:00`` (``>>`` for frames received). A key
press is ``tx <src><dest>:44:<UI code>`` (User Control Pressed) then ``tx <src><dest>:45``
(User Control Released); power is ``on <dest>`` (Image View On, ``04``) and ``standby <dest>``
(``36``); ``as`` makes us the active source (``82``). A command is acknowledged when its frame
shows up as transmitted traffic; an ``ERROR:`` line before that fails it.
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import unquote, urlsplit

from harness.control.backend import BackendBase, parse_options
from harness.control.keys import CEC_UI_CODES
from harness.errors import ControlError

log = logging.getLogger(__name__)

FORM = "cec:[ADAPTER]?dest=0&type=p|r|t|a&osd=NAME&client=PATH"
_DEFAULT_LOGICAL = {"p": 4, "r": 1, "t": 3, "a": 5}
_TRAFFIC = re.compile(r"^TRAFFIC:\s*\[\s*\d+\]\s*(<<|>>)\s*([0-9a-fA-F:]+)\s*$")
_REGISTERED = re.compile(r"logical address\(es\)\s*=.*\((\d+)\)")
_START_FAILURES = ("autodetect FAILED", "unable to open the device", "could not open a connection", "no serial port given")


class CecRemote(BackendBase):
    """Keys and power over HDMI-CEC with one ``cec-client`` child process."""

    channel = "cec"

    def __init__(self, uri: str, *, timeout_s: float = 5.0, keymap: dict[str, str] | None = None, device: str = "") -> None:
        parts = urlsplit(uri)
        if parts.scheme != "cec" or parts.netloc:
            raise ControlError(f"{uri}: expected {FORM}")
        options = parse_options(uri, parts.query, {"dest": "0", "type": "p", "osd": "avqa", "client": "cec-client"}, FORM)
        if options["type"] not in _DEFAULT_LOGICAL:
            raise ControlError(f"{uri}: type {options['type']!r} is not one of p, r, t, a (expected {FORM})")
        try:
            self.dest = int(options["dest"], 16)
        except ValueError:
            raise ControlError(f"{uri}: dest {options['dest']!r} is not a logical address 0..f") from None
        if not 0 <= self.dest <= 15:
            raise ControlError(f"{uri}: dest {options['dest']!r} is not a logical address 0..f")
        super().__init__(uri, device=device, default_keys=CEC_UI_CODES, keymap=keymap)
        self.adapter = unquote(parts.path)
        self.timeout_s = timeout_s
        self.source = _DEFAULT_LOGICAL[options["type"]]
        executable = shutil.which(options["client"])
        if executable is None:
            raise self.error(f"start: {options['client']!r} not found (install libcec's cec-client or pass client=PATH)")
        command = [executable, "-t", options["type"], "-o", options["osd"], "-d", "13"]
        if self.adapter:
            command.append(self.adapter)
        self.command = command
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.received: list[str] = []  # frames seen from other devices (">>"), hex
        self._lock = threading.Lock()
        try:
            self._proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1
            )
        except OSError as e:
            raise self.error(f"start {executable}: {e.strerror or e}") from e
        self._reader = threading.Thread(target=self._read, name=f"avqa cec-client {self.adapter or 'auto'}", daemon=True)
        self._reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            self.traffic.received(line)
            match = _TRAFFIC.match(line)
            if match and match.group(1) == ">>":
                self.received.append(match.group(2).lower())
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, deadline: float, what: str) -> str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self.error(f"{what}: no answer from cec-client within {self.timeout_s:g} s")
        try:
            line = self._lines.get(timeout=remaining)
        except queue.Empty:
            raise self.error(f"{what}: no answer from cec-client within {self.timeout_s:g} s") from None
        if line is None:
            self._lines.put(None)
            code = self._proc.wait(1.0)
            raise self.error(f"{what}: cec-client exited with code {code}")
        return line

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            line = self._next_line(deadline, "open adapter")
            if any(text in line for text in _START_FAILURES):
                raise self.error(f"open adapter {self.adapter or '(autodetect)'}: {line.strip()}")
            match = _REGISTERED.search(line)
            if match:
                self.source = int(match.group(1))
            if line.strip() == "waiting for input":
                return

    def _transact(self, command: str, frame: str, what: str) -> None:
        """Write ``command`` and wait for ``frame`` (hex, ``4f:82:...``) to be logged as transmitted."""
        with self._lock:
            while not self._lines.empty():  # forget what came before this command
                if self._lines.get_nowait() is None:
                    self._lines.put(None)
                    break
            if self._proc.poll() is not None or self._proc.stdin is None:
                raise self.error(f"{what}: cec-client exited with code {self._proc.returncode}")
            self.traffic.sent(command)
            try:
                self._proc.stdin.write(command + "\n")
                self._proc.stdin.flush()
            except OSError as e:
                raise self.error(f"{what}: cec-client stdin: {e.strerror or e}") from e
            deadline = time.monotonic() + self.timeout_s
            while True:
                line = self._next_line(deadline, what)
                if line.startswith("ERROR:"):
                    raise self.error(f"{what}: {line.strip()}")
                match = _TRAFFIC.match(line)
                if match and match.group(1) == "<<" and match.group(2).lower().startswith(frame.lower()):
                    return

    def _addr(self) -> str:
        return f"{self.source:x}{self.dest:x}"

    def press(self, name: str) -> None:
        self.keydown(name)
        self.keyup(name)

    def keydown(self, name: str) -> None:
        if not re.fullmatch(r"[0-9a-fA-F]{2}", name):
            raise self.error(f"key {name}: not a CEC UI command code (two hex digits)")
        frame = f"{self._addr()}:44:{name.lower()}"
        self._transact(f"tx {frame}", frame, f"key {name}")

    def keyup(self, name: str) -> None:
        frame = f"{self._addr()}:45"
        self._transact(f"tx {frame}", frame, f"key {name} release")

    def power_on(self) -> None:
        """Image View On to ``dest``, then make us the active source."""
        self._transact(f"on {self.dest:x}", f"{self._addr()}:04", "power on")

    def power_off(self) -> None:
        """Standby to ``dest``."""
        self._transact(f"standby {self.dest:x}", f"{self._addr()}:36", "standby")

    def active_source(self) -> None:
        self._transact("as", f"{self.source:x}f:82", "active source")

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc is None or proc.poll() is not None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write("q\n")
            proc.stdin.flush()
            proc.wait(2.0)
        except (OSError, subprocess.TimeoutExpired, AssertionError):
            proc.kill()
            proc.wait(2.0)
        finally:
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
