"""A fake ADB server speaking the host protocol (``<4 hex length><request>`` -> ``OKAY``/``FAIL``) on TCP."""

from __future__ import annotations

import socket
import socketserver
import threading
import time


class FakeAdbServer:
    """Knows ``devices`` (serial -> state); network devices appear after ``host:connect``.

    ``shell`` records each shell command; ``outputs`` maps a command prefix to its output;
    ``logcat_lines`` are streamed for ``logcat``; ``delay_s`` delays every shell answer.
    """

    def __init__(self) -> None:
        self.devices: dict[str, str] = {"SERIAL123": "device"}
        self.reachable: set[str] = {"192.168.1.50:5555"}
        self.shell: list[str] = []
        self.requests: list[str] = []
        self.outputs: dict[str, str] = {
            "input keyevent KEYCODE_BOGUS": "Error: Unknown keycode: KEYCODE_BOGUS\n",
            "getprop ro.build.fingerprint": "google/atv/atv:14/UTT3.240625/123:user/release-keys\n",
            "am start -W -n com.missing/.Main": "Starting: Intent { cmp=com.missing/.Main }\nError type 3\nError: Activity class {com.missing/com.missing.Main} does not exist.\n",
        }
        self.logcat_lines = [
            "11-28 06:00:00.000  1000  1000 I ActivityManager: Start proc com.example.tv",
            "11-28 06:00:01.000  1000  1000 E AndroidRuntime: FATAL EXCEPTION: main",
        ]
        self.delay_s = 0.0
        self.garbage = False
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server._serve(self.request)

        self._tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._tcp.daemon_threads = True
        self.port = int(self._tcp.server_address[1])
        self._thread = threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._tcp.shutdown()
        self._tcp.server_close()

    @staticmethod
    def _text(text: str) -> bytes:
        data = text.encode()
        return f"{len(data):04x}".encode() + data

    def _read_request(self, conn: socket.socket) -> str | None:
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        length = int(head, 16)
        body = b""
        while len(body) < length:
            body += conn.recv(length - len(body))
        return body.decode()

    def _serve(self, conn: socket.socket) -> None:
        transport: str | None = None
        while True:
            request = self._read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            if self.garbage:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                return
            if request.startswith("host:connect:"):
                target = request.removeprefix("host:connect:")
                if target in self.reachable:
                    already = target in self.devices
                    self.devices[target] = "device"
                    conn.sendall(b"OKAY" + self._text(f"{'already connected' if already else 'connected'} to {target}"))
                else:
                    conn.sendall(b"OKAY" + self._text(f"failed to connect to '{target}': Connection refused"))
                return
            if request.startswith("host-serial:") and request.endswith(":get-state"):
                serial = request.removeprefix("host-serial:").removesuffix(":get-state")
                if serial in self.devices:
                    conn.sendall(b"OKAY" + self._text(self.devices[serial]))
                else:
                    conn.sendall(b"FAIL" + self._text(f"device '{serial}' not found"))
                return
            if request.startswith("host:transport:"):
                serial = request.removeprefix("host:transport:")
                if self.devices.get(serial) != "device":
                    conn.sendall(b"FAIL" + self._text(f"device '{serial}' not found"))
                    return
                transport = serial
                conn.sendall(b"OKAY")
                continue
            if request.startswith("shell:"):
                if transport is None:
                    conn.sendall(b"FAIL" + self._text("no device selected: host:transport first"))
                    return
                command = request.removeprefix("shell:")
                self.shell.append(command)
                conn.sendall(b"OKAY")
                time.sleep(self.delay_s)
                if command.startswith("logcat"):
                    for line in self.logcat_lines:
                        conn.sendall(line.encode() + b"\n")
                    try:
                        while conn.recv(1024):
                            pass
                    except OSError:
                        pass
                    return
                for prefix, output in self.outputs.items():
                    if command.startswith(prefix):
                        conn.sendall(output.encode())
                        break
                return
            conn.sendall(b"FAIL" + self._text(f"unknown host service '{request}'"))
            return
