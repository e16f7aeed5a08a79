"""CEC backend against a cec-client stand-in that prints cec-client's start-up lines and TRAFFIC log."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.control.cec import CecRemote
from harness.control.keys import Key
from harness.control.remote import Remote
from harness.errors import ControlError

FAKE = Path(__file__).parent / "fakes" / "cec-client"


def uri(query: str = "") -> str:
    return f"cec:/dev/ttyACM0?client={FAKE}" + (f"&{query}" if query else "")


def test_keys_and_power_are_cec_frames_through_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "commands"
    monkeypatch.setenv("FAKE_CEC_LOG", str(log))
    backend = CecRemote(uri(), device="tv01")
    try:
        assert backend.source == 4  # "logical address(es) = Playback Device 1 (4)"
        remote = Remote(backend, key_delay_s=0)
        remote.sequence([Key.UP, Key.OK, "3"])
        remote.hold(Key.VOL_UP, 0.01)
        backend.power_off()
        backend.power_on()
        backend.active_source()
        pid = backend._proc.pid
    finally:
        backend.close()
    assert log.read_text().splitlines() == [
        "tx 40:44:01", "tx 40:45", "tx 40:44:00", "tx 40:45", "tx 40:44:23", "tx 40:45",
        "tx 40:44:41", "tx 40:45", "standby 0", "on 0", "as", "q",
    ]
    assert pid > 0
    assert "0f:87:00:00:f0" in backend.received  # frames from other devices are kept, not confused with replies


def test_no_adapter_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CEC_MODE", "no-adapter")
    with pytest.raises(ControlError, match=r"^tv01: cec cec:/dev/ttyACM0.*: open adapter /dev/ttyACM0: autodetect FAILED"):
        CecRemote(uri(), device="tv01")


def test_nack_and_timeout_name_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CEC_MODE", "nack")
    backend = CecRemote(uri(), device="tv01")
    try:
        with pytest.raises(ControlError, match=r"tv01: cec .*: key 01: ERROR: .*failed to transmit 40:44:01: not acked"):
            backend.press("01")
    finally:
        backend.close()
    monkeypatch.setenv("FAKE_CEC_MODE", "silent")
    backend = CecRemote(uri(), device="tv01", timeout_s=0.3)
    try:
        with pytest.raises(ControlError, match="key 01: no answer from cec-client within 0.3 s"):
            backend.press("01")
    finally:
        backend.close()


def test_garbage_output_is_skipped_and_bad_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CEC_MODE", "garbage")
    backend = CecRemote(uri("type=r&dest=5"))
    try:
        assert backend.source == 1
        backend.press("41")
    finally:
        backend.close()
    with pytest.raises(ControlError, match="'no-such-cec-client' not found"):
        CecRemote("cec:?client=no-such-cec-client")
    with pytest.raises(ControlError, match="type 'x' is not one of"):
        CecRemote(uri("type=x"))
    backend = CecRemote(uri())
    try:
        with pytest.raises(ControlError, match="key zz: not a CEC UI command code"):
            backend.press("zz")
    finally:
        backend.close()
