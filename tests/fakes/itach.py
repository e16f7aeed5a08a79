"""A misbehaving iTach: the simulator's IP2IR plus busyIR, ERR codes, garbage and silence."""

from __future__ import annotations

from harness.control.keys import Key
from harness.sim.itach_server import ITachServer


class FakeITach(ITachServer):
    """An IP2IR on TCP; ``keys`` collects the decoded NEC keys, ``lines`` every command.

    Knobs: ``busy`` (answer that many sendir with ``busyIR`` first), ``error`` (answer every
    sendir with ``ERR_1:1,<error>``), ``garbage``, ``silent``; ``play_signals`` false by default
    (answers at once instead of after the IR signal's duration).
    """

    def __init__(self, play_signals: bool = False) -> None:
        self.keys: list[Key] = []
        self.lines: list[str] = []
        self.busy = 0
        self.error: str | None = None
        self.garbage = False
        self.silent = False
        super().__init__(self.keys.append, play_signals=play_signals)

    def handle(self, line: str, owner: object) -> list[str]:
        self.lines.append(line)
        if self.silent:
            return []
        if self.garbage:
            return ["\x00\xffSSH-2.0-OpenSSH_9.2"]
        if line.startswith("sendir"):
            fields = line.split(",")
            if self.busy:
                self.busy -= 1
                return [f"busyIR,{fields[1]},{fields[2]}"]
            if self.error:
                return [f"ERR_{fields[1]},{self.error}"]
        return super().handle(line, owner)
