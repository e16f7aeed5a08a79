"""A Roku External Control Protocol server (HTTP/1.1) for the simulated device.

``POST /keypress|keydown|keyup/<Key>`` queue remote inputs (200, empty body); ``GET
/query/device-info``, ``/query/active-app`` and ``/query/apps`` answer XML shaped like a real
Roku's. Unknown keys get 400, unknown paths 404. Key names are case-insensitive, as on a Roku.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote
from xml.sax.saxutils import escape

from harness.control.keys import ROKU_ECP_KEYS, Key
from harness.sim.app import Input, PowerCommand, TextInput

log = logging.getLogger(__name__)

SERVER_HEADER = "Roku/12.5.0 UPnP/1.0 Roku/12.5.0 avqa-sim"
APP_ID = "avqa"
APP_NAME = "avqa TV"

# ECP names of keys that exist on a Roku but do nothing on this app.
_IGNORED_ROKU_KEYS = frozenset(
    name.lower()
    for name in (
        "InstantReplay",
        "Backspace",
        "FindRemote",
        "InputTuner",
        "InputHDMI1",
        "InputHDMI2",
        "InputHDMI3",
        "InputHDMI4",
        "InputAV1",
    )
)


def _ecp_names() -> dict[str, Key]:
    names: dict[str, Key] = {}
    for key, name in ROKU_ECP_KEYS.items():
        names.setdefault(name.lower(), key)  # first wins: Info -> INFO, Play -> PLAY_PAUSE
    names.setdefault("enter", Key.OK)
    return names


_KEYS_BY_NAME = _ecp_names()


def parse_ecp_key(name: str) -> Input | None:
    """The app input for ECP key ``name``; None for a known Roku key this app ignores.

    Raises:
        KeyError: ``name`` is not a Roku key.
    """
    if name[:4].lower() == "lit_" and len(name) > 4:
        text = unquote(name[4:])
        if len(text) != 1:
            raise KeyError(name)
        return TextInput(text)
    lowered = name.lower()
    if lowered == "poweron":
        return PowerCommand(True)
    if lowered == "poweroff":
        return PowerCommand(False)
    if lowered in _KEYS_BY_NAME:
        return _KEYS_BY_NAME[lowered]
    if lowered in _IGNORED_ROKU_KEYS:
        return None
    raise KeyError(name)


@dataclass(frozen=True)
class DeviceInfo:
    """What ``/query/device-info`` reports."""

    name: str
    model: str
    build: str
    powered: bool
    uptime_s: float
    resolution: str
    serial: str = "AVQASIM0001"

    def xml(self) -> bytes:
        height = self.resolution.split("x")[-1]
        fields = [
            ("udn", f"29380000-0800-1025-80a4-{self.serial.lower().encode().hex()[:12]}"),
            ("serial-number", self.serial),
            ("device-id", self.serial),
            ("vendor-name", "avqa"),
            ("model-name", self.model),
            ("model-number", "SIM" + height),
            ("model-region", "US"),
            ("is-tv", "true"),
            ("is-stick", "false"),
            ("ui-resolution", f"{height}p"),
            ("friendly-device-name", self.name),
            ("friendly-model-name", self.model),
            ("default-device-name", f"{self.model} - {self.serial}"),
            ("user-device-name", self.name),
            ("software-version", self.build),
            ("software-build", self.build.rsplit(".", 1)[-1]),
            ("power-mode", "PowerOn" if self.powered else "DisplayOff"),
            ("supports-find-remote", "false"),
            ("supports-ecs-textedit", "true"),
            ("developer-enabled", "true"),
            ("uptime", str(int(self.uptime_s))),
        ]
        body = "".join(f"\t<{tag}>{escape(value)}</{tag}>\n" for tag, value in fields)
        return f'<?xml version="1.0" encoding="UTF-8" ?>\n<device-info>\n{body}</device-info>\n'.encode()


class EcpServer:
    """Serve ECP on ``host`` (ephemeral port by default) on a background thread."""

    def __init__(
        self,
        on_input: Callable[[Input], None],
        device_info: Callable[[], DeviceInfo],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.on_input = on_input
        self.device_info = device_info
        handler = _make_handler(self)
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="avqa-sim ecp", daemon=True
        )

    @property
    def url(self) -> str:
        return f"roku://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()


def _make_handler(server: EcpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = SERVER_HEADER
        sys_version = ""

        def log_message(self, format: str, *args: object) -> None:
            log.debug("ecp %s: %s", self.address_string(), format % args)

        def _reply(self, status: int, body: bytes = b"", content_type: str = 'text/xml; charset="utf-8"') -> None:
            self.send_response(status)
            self.send_header("Server", SERVER_HEADER)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", content_type)
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def _drain_body(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)

        def do_POST(self) -> None:
            self._drain_body()
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if len(parts) == 2 and parts[0] in ("keypress", "keydown", "keyup"):
                try:
                    item = parse_ecp_key(parts[1])
                except KeyError:
                    log.info("ecp: unknown key %r", parts[1])
                    self._reply(400)
                    return
                if item is not None and parts[0] != "keyup":
                    server.on_input(item)
                self._reply(200)
                return
            if len(parts) == 2 and parts[0] == "launch" and parts[1] == APP_ID:
                server.on_input(Key.HOME)
                self._reply(200)
                return
            self._reply(404)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/query/device-info":
                self._reply(200, server.device_info().xml())
            elif path == "/query/active-app":
                info = server.device_info()
                app = f'<app id="{APP_ID}" type="appl" version="1.0.0">{APP_NAME}</app>' if info.powered else "<app>Roku</app>"
                self._reply(200, f'<?xml version="1.0" encoding="UTF-8" ?>\n<active-app>\n\t{app}\n</active-app>\n'.encode())
            elif path == "/query/apps":
                body = f'<?xml version="1.0" encoding="UTF-8" ?>\n<apps>\n\t<app id="{APP_ID}" type="appl" version="1.0.0">{APP_NAME}</app>\n</apps>\n'
                self._reply(200, body.encode())
            else:
                self._reply(404)

        do_HEAD = do_GET

    return Handler
