"""Roku ECP backend and the Remote against a real HTTP/1.1 server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.control.keys import Key
from harness.control.remote import KeyPress, Remote
from harness.control.roku_ecp import RokuECPRemote
from harness.errors import ControlError, UnsupportedKeyError

DEVICE_INFO = b"""<?xml version="1.0" encoding="UTF-8" ?>
<device-info><model-name>Roku Ultra</model-name><software-version>12.5.0</software-version><power-mode>PowerOn</power-mode></device-info>"""


class FakeRoku(ThreadingHTTPServer):
    """Answers ECP like a Roku: 200 for known keys, 404 otherwise; can delay or drop connections."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.delay_s = 0.0
        self.drop_next = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def uri(self) -> str:
        return f"roku://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # connections the tests drop on purpose


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeRoku

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        if self.server.drop_next:
            self.server.drop_next -= 1
            self.close_connection = True
            return
        time.sleep(self.server.delay_s)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(("GET", self.path))
        self._answer(200, DEVICE_INFO) if self.path == "/query/device-info" else self._answer(404)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.server.requests.append(("POST", self.path))
        action, _, key = self.path.strip("/").partition("/")
        known = key in {"Select", "Up", "Down", "Left", "Right", "Home", "Back", "Power", "Info", "Lit_a", "Lit_%20"}
        self._answer(200 if action in {"keypress", "keydown", "keyup"} and known else 404)


@pytest.fixture
def roku() -> Iterator[FakeRoku]:
    server = FakeRoku()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_press_hold_sequence_and_literal(roku: FakeRoku) -> None:
    backend = RokuECPRemote(roku.uri, device="tv01")
    presses: list[KeyPress] = []
    remote = Remote(backend, key_delay_s=0.05, on_key=presses.append)
    remote.press(Key.OK)
    remote.hold("up", 0.01)
    remote.sequence(["LEFT", Key.RIGHT])
    backend.literal("a ")
    assert roku.requests == [
        ("GET", "/query/device-info"),
        ("POST", "/keypress/Select"),
        ("POST", "/keydown/Up"),
        ("POST", "/keyup/Up"),
        ("POST", "/keypress/Left"),
        ("POST", "/keypress/Right"),
        ("POST", "/keypress/Lit_a"),
        ("POST", "/keypress/Lit_%20"),
    ]
    assert [p.action for p in presses] == ["press", "keydown", "keyup", "press", "press"]
    gaps = [b.monotonic_s - a.monotonic_s for a, b in zip(presses, presses[1:])]
    assert min(gaps) >= 0.05 - 1e-3  # the inter-press delay is honoured
    assert backend.device_info()["software-version"] == "12.5.0"


def test_keymap_override_and_supports(roku: FakeRoku) -> None:
    remote = Remote(RokuECPRemote(roku.uri, keymap={"MENU": "Home"}))
    assert remote.supports("MENU") and not remote.supports(Key.DIGIT_5)
    remote.press(Key.MENU)
    assert roku.requests[-1] == ("POST", "/keypress/Home")
    with pytest.raises(UnsupportedKeyError, match="key DIGIT_5 is not supported"):
        remote.press(Key.DIGIT_5)
    with pytest.raises(ValueError, match="unknown key 'JUMP'"):
        remote.press("JUMP")


def test_device_rejecting_a_key_names_device_channel_uri_and_key(roku: FakeRoku) -> None:
    remote = Remote(RokuECPRemote(roku.uri, device="tv01", keymap={"OK": "Enter"}))
    with pytest.raises(ControlError) as info:
        remote.press(Key.OK)
    assert str(info.value) == f"tv01: roku-ecp {roku.uri}: key Enter: HTTP 404 Not Found"


def test_dropped_keepalive_connection_is_retried(roku: FakeRoku) -> None:
    backend = RokuECPRemote(roku.uri)
    roku.drop_next = 1
    backend.press("Select")
    assert roku.requests[-2:] == [("POST", "/keypress/Select"), ("POST", "/keypress/Select")]


def test_timeout(roku: FakeRoku) -> None:
    backend = RokuECPRemote(roku.uri, timeout_s=0.2, device="tv01")
    roku.delay_s = 0.6
    with pytest.raises(ControlError, match=r"tv01: roku-ecp .*: key Select: no answer within 0.2 s"):
        backend.press("Select")


def test_unreachable_host_fails_at_construction() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ControlError, match=rf"roku-ecp roku://127.0.0.1:{port}: device-info: unreachable"):
        RokuECPRemote(f"roku://127.0.0.1:{port}")


def test_garbage_reply() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer() -> None:
            conn, _ = server.accept()
            conn.recv(4096)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(ControlError, match="device-info"):
            RokuECPRemote(f"roku://127.0.0.1:{server.getsockname()[1]}", timeout_s=1.0)


@pytest.mark.parametrize("uri", ["roku://", "roku://host/path", "roku://host?x=1"])
def test_bad_uri(uri: str) -> None:
    with pytest.raises(ControlError, match="expected roku://HOST"):
        RokuECPRemote(uri)
