"""``avqa remote``: keys sent over a control URI, one latency line per key."""

from __future__ import annotations

import socket

import pytest

from harness.commands.remote import main
from harness.control.keys import Key
from tests.fakes.lircd import FakeLircd


def test_remote_prints_latency_per_key(capsys: pytest.CaptureFixture[str]) -> None:
    lircd = FakeLircd(remote="tv")
    lircd.start()
    try:
        assert main(["--control", lircd.tcp_url, "--delay", "0", "OK", "down", "KEY_5"]) == 0
    finally:
        lircd.close()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["key", "channel", "sent", "as", "latency"]
    assert [line.split()[:3] for line in lines[1:]] == [["OK", "lirc", "KEY_OK"], ["DOWN", "lirc", "KEY_DOWN"], ["DIGIT_5", "lirc", "KEY_5"]]
    assert all(line.endswith(" ms") for line in lines[1:])
    assert lircd.keys == [Key.OK, Key.DOWN, Key.DIGIT_5]


def test_remote_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--control", "lirc:///x?remote=tv", "JUMP"]) == 2
    assert "unknown key 'JUMP'" in capsys.readouterr().err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["--control", f"lirc://127.0.0.1:{port}?remote=tv", "OK"]) == 1
    assert "connect: unreachable" in capsys.readouterr().err
    assert main(["no-such-device", "OK"]) == 2
    assert "unknown device 'no-such-device'" in capsys.readouterr().err
