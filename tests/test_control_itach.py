"""iTach backend against an IP2IR speaking sendir/completeir, busyIR and ERR codes over TCP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.control.itach import ITachRemote
from harness.control.keys import Key
from harness.control.remote import Remote
from harness.errors import ControlError
from tests.fakes.itach import FakeITach


@pytest.fixture
def itach() -> Iterator[FakeITach]:
    server = FakeITach()
    server.start()
    yield server
    server.close()


def test_press_sends_the_pronto_code_as_sendir_and_the_tv_decodes_it(itach: FakeITach) -> None:
    remote = Remote(ITachRemote(itach.url, device="tv01"), key_delay_s=0)
    remote.sequence([Key.OK, Key.RIGHT, "7"])
    assert itach.keys == [Key.OK, Key.RIGHT, Key.DIGIT_7]
    sendir = [line for line in itach.lines if line.startswith("sendir")]
    assert sendir[0].startswith("sendir,1:1,1,38029,1,69,342,171,")
    assert not remote.supports(Key.SEARCH) or "KEY_SEARCH" in ITachRemote(itach.url).codes


def test_busy_connector_is_retried_then_reported(itach: FakeITach) -> None:
    backend = ITachRemote(itach.url, device="tv01", timeout_s=0.3)
    itach.busy = 2
    backend.press("KEY_OK")
    assert itach.keys == [Key.OK]
    assert sum(line.startswith("sendir") for line in itach.lines) == 3
    itach.busy = 10_000
    with pytest.raises(ControlError, match=r"^tv01: itach itach://.*: key KEY_OK: connector 1:1 busy \(busyIR\) for 0.3 s"):
        backend.press("KEY_OK")


def test_err_codes_are_explained(itach: FakeITach) -> None:
    backend = ITachRemote(itach.url, device="tv01")
    itach.error = "008"
    with pytest.raises(ControlError) as info:
        backend.press("KEY_UP")
    assert str(info.value) == f"tv01: itach {itach.url}: key KEY_UP: iTach refused the code: ERR_1:1,008 (invalid pulse count)"


def test_timeout_garbage_and_unreachable(itach: FakeITach) -> None:
    backend = ITachRemote(itach.url, timeout_s=0.2)
    itach.silent = True
    with pytest.raises(ControlError, match="key KEY_OK: no answer within 0.2 s"):
        backend.press("KEY_OK")
    itach.silent = False
    itach.garbage = True
    with pytest.raises(ControlError, match="key KEY_OK: not an iTach reply"):
        backend.press("KEY_OK")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ControlError, match="connect: unreachable"):
        ITachRemote(f"itach://127.0.0.1:{port}?codes={itach.codes_path}")


def test_bad_connector_codes_file_and_uri(itach: FakeITach, tmp_path: Path) -> None:
    with pytest.raises(ControlError, match=r"connector 1:4: no such IR connector \(the iTach has: device,0,0 ETHERNET; device,1,3 IR\)"):
        ITachRemote(itach.url.replace("connector=1:1", "connector=1:4"))
    with pytest.raises(ControlError, match=r"codes file .*missing.codes: No such file"):
        ITachRemote(f"itach://127.0.0.1:{itach.port}?codes={tmp_path}/missing.codes")
    bad = tmp_path / "bad.codes"
    bad.write_text("KEY_OK: 0000 006D 0005 0000 0001\n")
    with pytest.raises(ControlError, match="line 1 \\(KEY_OK\\): Pronto code too short"):
        ITachRemote(f"itach://127.0.0.1:{itach.port}?codes={bad}")
    with pytest.raises(ControlError, match="missing codes=FILE"):
        ITachRemote("itach://127.0.0.1")


def test_hold_is_sendir_with_repeats_stopped_by_stopir() -> None:
    itach = FakeITach(play_signals=True)
    itach.start()
    try:
        remote = Remote(ITachRemote(itach.url), key_delay_s=0)
        started = time.monotonic()
        remote.hold(Key.UP, 0.3)
        assert time.monotonic() - started < 1.5  # stopped early, not after 50 repeats (5.4 s)
        assert itach.keys == [Key.UP]
        assert itach.lines[-1] == "stopir,1:1"
        assert itach.lines[-2].startswith("sendir,1:1,1,38029,50,69,")
    finally:
        itach.close()
