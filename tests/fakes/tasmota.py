"""A Tasmota smart plug's HTTP command API (``/cm?cmnd=Power1%20On`` -> ``{"POWER1":"ON"}``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeTasmota(ThreadingHTTPServer):
    """Relays ``relays`` (1-based, all on); ``password`` set: 401 unless it matches; ``commands`` records each."""

    daemon_threads = True

    def __init__(self, relays: int = 1, password: str = "") -> None:
        self.state = {n: True for n in range(1, relays + 1)}
        self.password = password
        self.commands: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def uri(self, query: str = "") -> str:
        return f"tasmota://127.0.0.1:{self.server_address[1]}" + (f"?{query}" if query else "")

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeTasmota

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path != "/cm" or "cmnd" not in query:
            self._json(404, {"WARNING": "not found"})
            return
        if self.server.password and query.get("password", [""])[0] != self.server.password:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        command = query["cmnd"][0]
        self.server.commands.append(command)
        word, _, arg = command.partition(" ")
        if not word.lower().startswith("power"):
            self._json(200, {"Command": "Unknown"})
            return
        relay = int(word[5:] or 1)
        if relay not in self.server.state:
            self._json(200, {"Command": "Unknown"})
            return
        if arg.lower() in ("on", "1"):
            self.server.state[relay] = True
        elif arg.lower() in ("off", "0"):
            self.server.state[relay] = False
        key = "POWER" if len(self.server.state) == 1 else f"POWER{relay}"
        self._json(200, {key: "ON" if self.server.state[relay] else "OFF"})
