"""Remote: routing keys over several channels, press_and_wait with video-agnostic hooks, retries, traffic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.config import ControlConfig
from harness.control.backend import BackendBase
from harness.control.factory import open_remote, traffic_text
from harness.control.keys import LIRC_KEYS, Key
from harness.control.remote import Remote, Route
from harness.errors import UnsupportedKeyError
from tests.fakes.itach import FakeITach
from tests.fakes.lircd import FakeLircd


class Recorder(BackendBase):
    """A backend that records what it was asked to send."""

    def __init__(self, channel: str, keys: dict[Key, str], can_hold: bool = True) -> None:
        self.channel = channel
        self.can_hold = can_hold
        super().__init__(f"test://{channel}", device="tv01", default_keys=keys, keymap=None)
        self.sent: list[tuple[str, str]] = []

    def press(self, name: str) -> None:
        self.sent.append(("press", name))

    def keydown(self, name: str) -> None:
        self.sent.append(("keydown", name))

    def keyup(self, name: str) -> None:
        self.sent.append(("keyup", name))

    def close(self) -> None:
        pass


def test_each_key_goes_to_the_first_channel_that_supports_it() -> None:
    ir = Recorder("ir", {Key.UP: "U", Key.OK: "O"}, can_hold=False)
    cec = Recorder("cec", {Key.POWER: "40", Key.UP: "01"})
    adb = Recorder("adb", {Key.POWER: "KEYCODE_POWER", Key.HOME: "KEYCODE_HOME"})
    remote = Remote([ir, Route(cec, frozenset({Key.POWER, Key.UP})), adb], key_delay_s=0, device="tv01")
    presses = remote.sequence([Key.UP, Key.POWER, Key.HOME])
    remote.hold(Key.UP, 0)  # IR cannot hold: CEC can
    assert ir.sent == [("press", "U")]
    assert cec.sent == [("press", "40"), ("keydown", "01"), ("keyup", "01")]
    assert adb.sent == [("press", "KEYCODE_HOME")]
    assert [p.channel for p in presses] == ["ir", "cec", "adb"]
    assert remote.supports(Key.OK) and not remote.supports(Key.OK, hold=True)
    with pytest.raises(UnsupportedKeyError, match="tv01: ir test://ir, cec test://cec, adb test://adb: key MUTE is not supported"):
        remote.press(Key.MUTE)


def test_press_and_wait_measures_and_retries() -> None:
    clock = [100.0]
    backend = Recorder("ir", {Key.OK: "O"})
    remote = Remote(backend, key_delay_s=0, clock=lambda: clock[0], sleep=lambda s: None)
    answers = iter([None, 100.25])  # the first press is lost (no change), the second works

    def changed(since_s: float, timeout_s: float) -> float | None:
        return next(answers)

    result = remote.press_and_wait(Key.OK, changed=changed, stable=lambda since, t: since + 0.5, retries=1)
    assert result and result.attempts == 2
    assert result.first_change_s == pytest.approx(0.25) and result.stable_s == pytest.approx(0.75)
    assert str(result) == "OK: first change after 250 ms, stable after 750 ms"
    failed = remote.press_and_wait(Key.OK, changed=lambda since, t: None, retries=0)
    assert not failed and str(failed) == "OK: no visible change after 1 press(es)"
    assert backend.sent == [("press", "O")] * 3


@pytest.fixture
def servers() -> Iterator[tuple[FakeLircd, FakeITach]]:
    lircd, itach = FakeLircd(remote="tv"), FakeITach()
    lircd.start()
    itach.start()
    yield lircd, itach
    lircd.close()
    itach.close()


def test_open_remote_from_config_routes_and_logs_traffic(servers: tuple[FakeLircd, FakeITach]) -> None:
    lircd, itach = servers
    config = ControlConfig.model_validate(
        {
            "uri": lircd.url,
            "key_delay_s": 0,
            "keymap": {"HOME": ""},  # this remote's HOME button is broken: send it over the iTach
            "channels": [{"uri": itach.url, "keys": ["HOME", "POWER"]}],
        }
    )
    remote = open_remote(config, device="tv01")
    try:
        remote.sequence([Key.OK, Key.HOME, Key.POWER])
        assert lircd.keys == [Key.OK, Key.POWER] and itach.keys == [Key.HOME]  # first channel that has the key
        text = traffic_text(remote)
        assert "lirc > SEND_ONCE tv KEY_OK" in text and "itach < completeir,1:1,1" in text
    finally:
        remote.close()
    assert set(LIRC_KEYS) <= set(Key)
