"""A misbehaving lircd: the simulator's lircd server plus interleaved broadcasts, delays, garbage and silence."""

from __future__ import annotations

import time

from harness.control.keys import Key
from harness.sim.lirc_server import LircServer


class FakeLircd(LircServer):
    """lircd on a Unix socket and TCP; ``keys`` collects what the "TV" received.

    Knobs: ``interleave`` (before each reply: a decoded-IR broadcast line and a SIGHUP block, as
    lircd sends to every client), ``delay_s`` (before each reply), ``garbage`` (answer with a
    non-lircd line), ``silent`` (never answer).
    """

    def __init__(self, remote: str = "tv") -> None:
        self.keys: list[Key] = []
        self.commands: list[str] = []
        self.interleave = False
        self.delay_s = 0.0
        self.garbage = False
        self.silent = False
        super().__init__(self.keys.append, remote=remote)

    def handle(self, command: str) -> list[str]:
        self.commands.append(command)
        if self.silent:
            return []
        time.sleep(self.delay_s)
        if self.garbage:
            return ["HTTP/1.1 400 Bad Request"]
        reply = super().handle(command)
        if self.interleave:
            return ["0000000000f40bf0 00 KEY_POWER ANIMAX", "BEGIN", "SIGHUP", "END", "0000000000f40bf0 01 KEY_POWER ANIMAX", *reply]
        return reply
