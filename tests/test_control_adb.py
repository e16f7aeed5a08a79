"""ADB backend against a fake adb server speaking the host protocol over TCP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from harness.control.adb import AdbRemote
from harness.control.keys import Key
from harness.control.remote import Remote
from harness.errors import ControlError
from tests.fakes.adb_server import FakeAdbServer


@pytest.fixture
def adb() -> Iterator[FakeAdbServer]:
    server = FakeAdbServer()
    yield server
    server.close()


def test_keys_launch_props_and_logcat_over_usb_serial(adb: FakeAdbServer) -> None:
    backend = AdbRemote(f"adb://SERIAL123?server={adb.server}", device="atv")
    remote = Remote(backend, key_delay_s=0)
    remote.sequence([Key.OK, Key.HOME, "9"])
    assert adb.shell == ["input keyevent KEYCODE_DPAD_CENTER", "input keyevent KEYCODE_HOME", "input keyevent KEYCODE_9"]
    assert "transport" in adb.requests[1] and adb.requests[1] == "host:transport:SERIAL123"
    assert backend.build().startswith("google/atv/atv:14")
    backend.launch("com.example.tv/.MainActivity")
    lines: list[str] = []
    backend.start_logcat(lines.append)
    deadline = time.monotonic() + 2
    while len(lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    backend.close()
    assert "FATAL EXCEPTION" in backend.logcat_text()


def test_network_device_is_connected_first(adb: FakeAdbServer) -> None:
    AdbRemote(f"adb://192.168.1.50?server={adb.server}").press("KEYCODE_HOME")
    assert adb.requests[0] == "host:connect:192.168.1.50:5555"
    with pytest.raises(ControlError, match=r"connect: adb server says \"failed to connect to '10.0.0.9:5555'"):
        AdbRemote(f"adb://10.0.0.9:5555?server={adb.server}")


def test_errors_name_device_channel_uri_and_key(adb: FakeAdbServer) -> None:
    uri = f"adb://SERIAL123?server={adb.server}"
    backend = AdbRemote(uri, device="atv", timeout_s=0.3)
    with pytest.raises(ControlError) as info:
        backend.press("KEYCODE_BOGUS")
    assert str(info.value) == f"atv: adb {uri}: key KEYCODE_BOGUS: Error: Unknown keycode: KEYCODE_BOGUS"
    with pytest.raises(ControlError, match=r"launch com.missing/.Main: Error: Activity class"):
        backend.launch("com.missing/.Main")
    adb.delay_s = 0.6
    with pytest.raises(ControlError, match="key KEYCODE_HOME: no end of output within 0.3 s"):
        backend.press("KEYCODE_HOME")
    adb.delay_s = 0
    adb.garbage = True
    with pytest.raises(ControlError, match=r"key KEYCODE_HOME: not an adb server reply: b'HTTP'"):
        backend.press("KEYCODE_HOME")
    with pytest.raises(ControlError, match="cannot hold"):
        backend.keydown("KEYCODE_HOME")


def test_unknown_device_and_unreachable_server(adb: FakeAdbServer) -> None:
    with pytest.raises(ControlError, match=r"get-state: adb server says \"device 'NOPE' not found\""):
        AdbRemote(f"adb://NOPE?server={adb.server}")
    adb.devices["UNAUTH"] = "unauthorized"
    with pytest.raises(ControlError, match="device UNAUTH is 'unauthorized'"):
        AdbRemote(f"adb://UNAUTH?server={adb.server}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ControlError, match=rf"adb server 127.0.0.1:{port} unreachable"):
        AdbRemote(f"adb://SERIAL123?server=127.0.0.1:{port}")
