"""Serial console over a pseudo-terminal: failure patterns become events, expect(), build from the console."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.control.serial_console import ConsoleFailure, SerialConsole
from harness.errors import ControlError
from harness.sim.console import PtyConsole


@pytest.fixture
def pty() -> Iterator[PtyConsole]:
    console = PtyConsole({"version": lambda: "build: fw-7.1.2"})
    console.start()
    yield console
    console.close()


def test_failure_patterns_become_events(pty: PtyConsole) -> None:
    failures: list[ConsoleFailure] = []
    console = SerialConsole(pty.path, device="tv01", failure_patterns=[r"Kernel panic", r"ANR in \S+"], on_failure=failures.append)
    try:
        pty.write_line("init: starting avqa-tv")
        pty.write_line("ANR in com.example.tv (com.example.tv/.Main)")
        pty.write_line("Kernel panic - not syncing: VFS")
        console.expect("Kernel panic", timeout_s=2.0, since=0)
        deadline = time.monotonic() + 2
        while len(failures) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [f.pattern for f in failures] == [r"ANR in \S+", "Kernel panic"]
        assert failures[0].index == 1 and "com.example.tv" in failures[0].line.text
        assert console.failures == failures
    finally:
        console.close()


def test_build_is_read_from_the_console_and_expect_times_out(pty: PtyConsole) -> None:
    console = SerialConsole(pty.path, device="tv01")
    try:
        assert console.read_build(r"build:\s*(\S+)", timeout_s=2.0) == "fw-7.1.2"
        with pytest.raises(ControlError, match=r"^tv01: serial console /dev/pts/\d+: no line matching 'login:' within 0.2 s"):
            console.expect("login:", timeout_s=0.2)
    finally:
        console.close()


def test_unopenable_port() -> None:
    with pytest.raises(ControlError, match="tv01: serial console /dev/nonexistent-tty: cannot open"):
        SerialConsole("/dev/nonexistent-tty", device="tv01")
