"""Android TV / Fire TV through the ADB server's host protocol (what the ``adb`` command does).

URI: ``adb://SERIAL`` (a USB device) or ``adb://HOST[:5555]`` (network ADB; an IP address or a
name with a dot is a host, ``host:connect`` is asked first). Option ``server=HOST:PORT`` (default
``127.0.0.1:5037``: the local adb server).

The host protocol: each request is 4 hex digits of length + the request; the server answers
``OKAY`` or ``FAIL`` + 4 hex digits of length + message. ``host:connect:H:P`` answers OKAY + a
length-prefixed text (``connected to``, ``already connected to`` or ``failed to connect``);
``host-serial:S:get-state`` answers OKAY + ``device``/``offline``/``unauthorized``;
``host:transport:S`` binds the connection to the device, then ``shell:CMD`` answers OKAY and
streams the output until the connection closes. A key is ``shell:input keyevent KEYCODE_...``;
an activity starts with ``am start -n PKG/ACTIVITY``; ``logcat -v threadtime`` is read on a
thread for the report.
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import shlex
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from harness.control.backend import BackendBase, parse_options
from harness.control.keys import ANDROID_KEYCODES
from harness.errors import ControlError

log = logging.getLogger(__name__)

DEFAULT_PORT = 5555
DEFAULT_SERVER = "127.0.0.1:5037"
FORM = "adb://SERIAL or adb://HOST[:5555][?server=HOST:PORT]"


class AdbRemote(BackendBase):
    """Keys as ``input keyevent``, app launch, properties and logcat over the adb server."""

    channel = "adb"
    can_hold = False

    def __init__(self, uri: str, *, timeout_s: float = 5.0, keymap: dict[str, str] | None = None, device: str = "") -> None:
        parts = urlsplit(uri)
        if parts.scheme != "adb" or not parts.hostname or parts.path not in ("", "/"):
            raise ControlError(f"{uri}: expected {FORM}")
        options = parse_options(uri, parts.query, {"server": DEFAULT_SERVER}, FORM)
        host, _, port = options["server"].rpartition(":")
        if not host or not port.isdigit():
            raise ControlError(f"{uri}: server {options['server']!r} is not HOST:PORT")
        super().__init__(uri, device=device, default_keys=ANDROID_KEYCODES, keymap=keymap)
        self.server = (host, int(port))
        self.timeout_s = timeout_s
        name = parts.netloc.rsplit("@", 1)[-1]
        self.network = parts.port is not None or _looks_like_host(parts.hostname)
        self.serial = f"{parts.hostname}:{parts.port or DEFAULT_PORT}" if self.network else name
        self._logcat: collections.deque[str] = collections.deque(maxlen=20000)
        self._logcat_sock: socket.socket | None = None
        self._logcat_thread: threading.Thread | None = None
        if self.network:
            text = self._host_query(f"host:connect:{self.serial}", "connect")
            if "connected to" not in text or text.startswith("failed"):
                raise self.error(f"connect: adb server says {text!r}")
        state = self._host_query(f"host-serial:{self.serial}:get-state", "get-state")
        if state != "device":
            raise self.error(f"device {self.serial} is {state!r} (expected 'device': authorise this host on the device?)")

    # -- the host protocol ----------------------------------------------------------------------

    def _open(self, what: str) -> socket.socket:
        try:
            sock = socket.create_connection(self.server, timeout=self.timeout_s)
        except OSError as e:
            raise self.error(f"{what}: adb server {self.server[0]}:{self.server[1]} unreachable: {e.strerror or e}") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _recv_exact(self, sock: socket.socket, count: int, what: str) -> bytes:
        data = b""
        while len(data) < count:
            try:
                chunk = sock.recv(count - len(data))
            except TimeoutError as e:
                raise self.error(f"{what}: no answer within {self.timeout_s:g} s") from e
            except OSError as e:
                raise self.error(f"{what}: connection dropped: {e.strerror or e}") from e
            if not chunk:
                raise self.error(f"{what}: adb server closed the connection (got {data!r})")
            data += chunk
        return data

    def _request(self, sock: socket.socket, request: str, what: str) -> None:
        payload = request.encode()
        self.traffic.sent(request)
        try:
            sock.sendall(f"{len(payload):04x}".encode() + payload)
        except OSError as e:
            raise self.error(f"{what}: send failed: {e.strerror or e}") from e
        status = self._recv_exact(sock, 4, what)
        if status == b"OKAY":
            return
        if status == b"FAIL":
            message = self._read_text(sock, what)
            self.traffic.received(f"FAIL {message}")
            raise self.error(f"{what}: adb server says {message!r}")
        raise self.error(f"{what}: not an adb server reply: {status!r}")

    def _read_text(self, sock: socket.socket, what: str) -> str:
        raw = self._recv_exact(sock, 4, what)
        try:
            length = int(raw, 16)
        except ValueError:
            raise self.error(f"{what}: not an adb server reply: bad length {raw!r}") from None
        return self._recv_exact(sock, length, what).decode("utf-8", "replace")

    def _host_query(self, request: str, what: str) -> str:
        with self._open(what) as sock:
            self._request(sock, request, what)
            text = self._read_text(sock, what)
        self.traffic.received(text)
        return text

    def _shell_socket(self, command: str, what: str) -> socket.socket:
        sock = self._open(what)
        try:
            self._request(sock, f"host:transport:{self.serial}", what)
            self._request(sock, f"shell:{command}", what)
        except BaseException:
            sock.close()
            raise
        return sock

    def shell(self, command: str, what: str = "") -> str:
        """Run ``command`` on the device; its output (stdout and stderr together)."""
        what = what or f"shell {command}"
        with self._shell_socket(command, what) as sock:
            chunks = []
            deadline = time.monotonic() + self.timeout_s
            while True:
                if time.monotonic() > deadline:
                    raise self.error(f"{what}: no end of output within {self.timeout_s:g} s")
                try:
                    chunk = sock.recv(65536)
                except TimeoutError as e:
                    raise self.error(f"{what}: no end of output within {self.timeout_s:g} s") from e
                except OSError as e:
                    raise self.error(f"{what}: connection dropped: {e.strerror or e}") from e
                if not chunk:
                    break
                chunks.append(chunk)
        output = b"".join(chunks).decode("utf-8", "replace")
        if output:
            self.traffic.received(output.rstrip("\n"))
        return output

    # -- keys, apps, properties -----------------------------------------------------------------

    def press(self, name: str) -> None:
        what = f"key {name}"
        output = self.shell(f"input keyevent {shlex.quote(name)}", what)
        if "Exception" in output or "Error" in output or "Unknown" in output:
            raise self.error(f"{what}: {output.strip().splitlines()[0][:200]}")

    def keydown(self, name: str) -> None:
        raise self.no_hold(name)

    def keyup(self, name: str) -> None:
        raise self.no_hold(name)

    def text(self, text: str) -> None:
        """Type ``text`` (``input text``; spaces as ``%s``)."""
        self.shell(f"input text {shlex.quote(text.replace(' ', '%s'))}", f"text {text!r}")

    def launch(self, component: str) -> None:
        """Start ``PKG/ACTIVITY`` (``am start -n``); ControlError if Android refuses."""
        what = f"launch {component}"
        output = self.shell(f"am start -W -n {shlex.quote(component)}", what)
        if "Error" in output or "Exception" in output:
            raise self.error(f"{what}: {output.strip().splitlines()[-1][:200]}")

    def getprop(self, name: str) -> str:
        return self.shell(f"getprop {shlex.quote(name)}", f"getprop {name}").strip()

    def build(self) -> str:
        """The device's build fingerprint."""
        return self.getprop("ro.build.fingerprint")

    def power_on(self) -> None:
        self.press("KEYCODE_WAKEUP")

    def power_off(self) -> None:
        self.press("KEYCODE_SLEEP")

    # -- logcat ---------------------------------------------------------------------------------

    def start_logcat(self, on_line: Callable[[str], None] | None = None) -> None:
        """Read ``logcat -v threadtime`` on a thread until :meth:`close` (lines in :meth:`logcat_text`)."""
        if self._logcat_thread is not None:
            return
        sock = self._shell_socket("logcat -v threadtime", "logcat")
        sock.settimeout(None)
        self._logcat_sock = sock

        def read() -> None:
            pending = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    self._logcat.append(line)
                    if on_line is not None:
                        on_line(line)

        self._logcat_thread = threading.Thread(target=read, name=f"avqa logcat {self.serial}", daemon=True)
        self._logcat_thread.start()

    def logcat_text(self) -> str:
        return "\n".join(list(self._logcat))

    def close(self) -> None:
        if self._logcat_sock is not None:
            try:
                self._logcat_sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._logcat_sock.close()
            self._logcat_sock = None
        if self._logcat_thread is not None:
            self._logcat_thread.join(1.0)
            self._logcat_thread = None


def _looks_like_host(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "." in name
    return True
