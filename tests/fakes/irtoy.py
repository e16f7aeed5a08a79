"""A USB Infrared Toy on a pseudo-terminal: sample-mode protocol, transmit handshake, byte count, completion."""

from __future__ import annotations

import os
import struct
import threading
import tty

from harness.control.irserial import UNIT_US


class FakeIrToy:
    """The Toy's side of the pty is read here; ``path`` is what the backend opens.

    ``transmitted`` holds each transmit's durations in microseconds. Knobs: ``underrun`` (answer
    ``F``), ``short_count`` (report one byte less), ``firmware`` (e.g. 12 to be too old),
    ``silent`` (never answer), ``chunk`` (free bytes announced per handshake).
    """

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self.slave)
        self.transmitted: list[list[float]] = []
        self.received = bytearray()
        self.underrun = False
        self.short_count = False
        self.firmware = 22
        self.silent = False
        self.chunk = 62
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self, data: bytes) -> None:
        if not self.silent:
            os.write(self.master, data)

    def _read(self) -> int:
        while True:
            data = os.read(self.master, 1)
            if data:
                self.received += data
                return data[0]

    def _run(self) -> None:
        try:
            while not self._closed:
                byte = self._read()
                if byte == ord("v"):
                    self._write(f"V2{self.firmware:02d}".encode())
                elif byte == ord("s"):
                    self._write(b"S01")
                elif byte == 0x03:
                    self._transmit()
                # 0x00, 0xFF (reset), 0x24-0x26 (transmit options): no answer
        except OSError:
            return

    def _transmit(self) -> None:
        payload = bytearray()
        while True:
            self._write(bytes([self.chunk]))
            for _ in range(self.chunk):
                payload.append(self._read())
                if len(payload) % 2 == 0 and payload[-2:] == b"\xff\xff":
                    break
            if payload[-2:] == b"\xff\xff" and len(payload) % 2 == 0:
                break
        units = struct.unpack(f">{len(payload) // 2}H", bytes(payload))
        self.transmitted.append([u * UNIT_US for u in units[:-1]])
        count = len(payload) - (1 if self.short_count else 0)
        self._write(b"t" + struct.pack(">H", count))
        self._write(b"F" if self.underrun else b"C")

    def close(self) -> None:
        self._closed = True
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
