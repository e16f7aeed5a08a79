"""LIRC backend against an lircd speaking the socket protocol (Unix socket and TCP), error paths included."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from harness.control.keys import Key
from harness.control.lirc import LircProtocolError, LircRemote, LircReplyParser
from harness.control.remote import Remote
from harness.errors import ControlError, UnsupportedKeyError
from tests.fakes.lircd import FakeLircd


@pytest.fixture
def lircd() -> Iterator[FakeLircd]:
    server = FakeLircd(remote="tv")
    server.start()
    yield server
    server.close()


def test_parser_separates_broadcasts_from_replies() -> None:
    parser = LircReplyParser()
    lines = [
        "0000000000f40bf0 00 KEY_POWER ANIMAX",
        "BEGIN", "SIGHUP", "END",
        "BEGIN", "SEND_ONCE tv KEY_X", "ERROR", "DATA", "1", 'unknown command: "KEY_X"', "END",
    ]
    replies = [r for r in map(parser.feed, lines) if r is not None]
    assert len(replies) == 1
    assert replies[0].command == "SEND_ONCE tv KEY_X" and not replies[0].success
    assert replies[0].data == ['unknown command: "KEY_X"']
    assert parser.broadcasts == ["0000000000f40bf0 00 KEY_POWER ANIMAX", "SIGHUP"]
    with pytest.raises(LircProtocolError):
        parser.feed("HTTP/1.1 200 OK")


@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_press_hold_over_both_sockets_with_interleaved_broadcasts(lircd: FakeLircd, transport: str) -> None:
    lircd.interleave = True
    uri = lircd.url if transport == "unix" else lircd.tcp_url
    remote = Remote(LircRemote(uri, device="tv01"), key_delay_s=0)
    remote.press(Key.OK)
    remote.hold(Key.UP, 0.01)
    remote.sequence(["LEFT", "5"])
    assert lircd.keys == [Key.OK, Key.UP, Key.LEFT, Key.DIGIT_5]
    assert lircd.commands[1:] == [
        "SEND_ONCE tv KEY_OK", "SEND_START tv KEY_UP", "SEND_STOP tv KEY_UP", "SEND_ONCE tv KEY_LEFT", "SEND_ONCE tv KEY_5",
    ]


def test_wrong_remote_name(lircd: FakeLircd) -> None:
    uri = f"lirc://127.0.0.1:{lircd.port}?remote=samsung"
    with pytest.raises(ControlError, match=r"^tv01: lirc .*remote=samsung: unknown remote 'samsung': lircd says unknown remote"):
        LircRemote(uri, device="tv01")


def test_unknown_key_names_device_channel_uri_and_key(lircd: FakeLircd) -> None:
    backend = LircRemote(lircd.tcp_url, device="tv01", keymap={"OK": "KEY_ENTER"})
    remote = Remote(backend)
    assert not remote.supports(Key.OK)  # the remote's LIST has no KEY_ENTER
    with pytest.raises(UnsupportedKeyError, match="key OK is not supported"):
        remote.press(Key.OK)
    with pytest.raises(ControlError) as info:
        backend.press("KEY_ENTER")
    assert str(info.value) == f'tv01: lirc {lircd.tcp_url}: key KEY_ENTER: lircd says unknown command: "KEY_ENTER"'


def test_timeout_and_garbage(lircd: FakeLircd) -> None:
    backend = LircRemote(lircd.url, device="tv01", timeout_s=0.2)
    lircd.silent = True
    with pytest.raises(ControlError, match=r"tv01: lirc .*: key KEY_OK: no answer within 0.2 s"):
        backend.press("KEY_OK")
    lircd.silent = False
    lircd.garbage = True
    with pytest.raises(ControlError, match=r"key KEY_OK: not a lircd reply: unexpected line 'HTTP/1.1 400"):
        backend.press("KEY_OK")
    lircd.garbage = False
    backend.press("KEY_OK")  # reconnects after the failures
    assert lircd.keys[-1] is Key.OK


def test_unreachable_and_bad_uris(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ControlError, match=rf"lirc lirc://127.0.0.1:{port}\?remote=tv: connect: unreachable"):
        LircRemote(f"lirc://127.0.0.1:{port}?remote=tv")
    with pytest.raises(ControlError, match="connect: unreachable"):
        LircRemote(f"lirc://{tmp_path}/nothing?remote=tv")
    with pytest.raises(ControlError, match="missing remote=NAME"):
        LircRemote("lirc:///var/run/lirc/lircd")
    with pytest.raises(ControlError, match="unknown option 'remot'"):
        LircRemote("lirc:///var/run/lirc/lircd?remot=tv")
