"""Power: a Tasmota plug over its HTTP command API, soft power through ECP, and power cycling."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from harness.control.power import TasmotaPower, check_power_uri, open_power, power_cycle
from harness.errors import ControlError
from tests.fakes.tasmota import FakeTasmota


@pytest.fixture
def plug() -> Iterator[FakeTasmota]:
    server = FakeTasmota(relays=2, password="s3cret")
    yield server
    server.close()


def test_switch_and_cycle_a_relay(plug: FakeTasmota) -> None:
    power = open_power(plug.uri("relay=2&user=admin&password=s3cret"), device="tv01")
    assert isinstance(power, TasmotaPower) and power.is_on()
    slept: list[float] = []
    power_cycle(power, off_s=3.0, sleep=slept.append)
    assert plug.commands == ["Power2", "Power2", "Power2 Off", "Power2 On"]  # state read at open, then asked
    assert slept == [3.0] and plug.state == {1: True, 2: True}
    assert "GET /cm?cmnd=Power2%20Off" in power.traffic.text()


def test_errors(plug: FakeTasmota) -> None:
    with pytest.raises(ControlError, match=r"^tv01: tasmota .*: read state: HTTP 401 \(wrong user/password\)"):
        TasmotaPower(plug.uri("relay=1"), device="tv01")
    with pytest.raises(ControlError, match="read state: no POWER3 state"):
        TasmotaPower(plug.uri("relay=3&password=s3cret"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ControlError, match="read state: unreachable"):
        TasmotaPower(f"tasmota://127.0.0.1:{port}")
    with pytest.raises(ControlError, match="unknown option 'relais'"):
        TasmotaPower(plug.uri("relais=1"))
    with pytest.raises(ValueError, match="unknown power scheme 'shelly'"):
        check_power_uri("shelly://10.0.0.2")


def test_simulator_soft_power_over_ecp() -> None:
    from harness.sim.app import PowerCommand
    from harness.sim.ecp_server import DeviceInfo, EcpServer

    inputs: list[object] = []
    ecp = EcpServer(inputs.append, lambda: DeviceInfo("sim", "SimTV", "1.0", True, 1.0, "1280x720"))
    ecp.start()
    try:
        power = open_power(ecp.url, device="sim")
        power_cycle(power, off_s=0, sleep=lambda s: None)
        power.close()
    finally:
        ecp.close()
    assert inputs == [PowerCommand(False), PowerCommand(True)]
