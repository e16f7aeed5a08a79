"""A serial IR blaster: the Dangerous Prototypes USB Infrared Toy (v2, firmware 20+) and the IrDroid,
which speak the same "sample mode" protocol (the one Linux's ``ir_toy`` driver and LIRC's
``irtoy`` plugin use).

URI: ``irserial:PORT_URL?codes=FILE`` where PORT_URL is anything pyserial's ``serial_for_url``
opens (``/dev/ttyACM0``, ``socket://host:port``, ``rfc2217://host:port``); ``codes`` is a code
file as for iTach (:mod:`harness.control.ir`), key names as in ``LIRC_KEYS`` by default.

The protocol (bytes; durations are big-endian 16-bit counts of 21.3333 us):

* set-up: ``FF FF 00 00 00 00 00`` (end any transfer, reset), ``v`` -> ``Vhff`` (hardware h,
  firmware ff, e.g. ``V222``), ``s`` -> ``S01`` (sample mode, protocol 1);
* transmit: ``00`` (leave sample mode, no answer), ``s`` -> ``S01``, then ``26 24 25 03``
  (handshake on, byte count on, notify on complete, transmit); the Toy answers one byte N
  (free buffer, at most 64) each time it can take N more bytes; the host sends the pulse/space
  durations, pulse first, ended by ``FF FF``; the Toy then answers ``t`` + 16-bit count of bytes
  it received, and ``C`` (complete) or ``F`` (buffer under-run: the signal was broken).

The Toy modulates at its fixed carrier (36 kHz), which 36-40 kHz receivers accept; the
carrier of the code file is therefore only used to convert durations. Holding a key is not
possible (no repeat on the device): ``keydown``/``keyup`` raise UnsupportedKeyError.
"""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness.control.backend import BackendBase, parse_options
from harness.control.ir import IrCode, load_code_file
from harness.control.keys import LIRC_KEYS, Key
from harness.errors import ControlError

log = logging.getLogger(__name__)

UNIT_US = 64 / 3  # 21.3333 us
RESET = bytes([0xFF, 0xFF, 0, 0, 0, 0, 0])
TX_START = bytes([0x26, 0x24, 0x25, 0x03])
MIN_FIRMWARE = 20
FORM = "irserial:PORT_URL?codes=FILE (PORT_URL: /dev/ttyACM0, socket://host:port, rfc2217://host:port)"


def irtoy_payload(code: IrCode) -> bytes:
    """The transmit payload of ``code`` (once part only): 16-bit big-endian units, then ``FF FF``."""
    durations = code.durations_us(0)
    units = [min(0xFFFE, max(1, round(d / UNIT_US))) for d in durations]
    return struct.pack(f">{len(units)}H", *units) + b"\xff\xff"


class IrToyRemote(BackendBase):
    """An IR Toy on a serial port; one transmit per press, checked by byte count and completion."""

    channel = "irserial"
    can_hold = False

    def __init__(self, uri: str, *, timeout_s: float = 3.0, keymap: dict[str, str] | None = None, device: str = "") -> None:
        import serial  # pyserial

        parts = urlsplit(uri)
        port_url = parts.path
        if parts.scheme != "irserial" or not port_url or parts.netloc:
            raise ControlError(f"{uri}: expected {FORM}")
        options = parse_options(uri, parts.query, {"codes": ""}, FORM)
        if not options["codes"]:
            raise ControlError(f"{uri}: missing codes=FILE (expected {FORM})")
        super().__init__(uri, device=device, default_keys=LIRC_KEYS, keymap=keymap)
        self.codes_path = Path(options["codes"])
        try:
            self.codes: dict[str, IrCode] = load_code_file(self.codes_path)
        except OSError as e:
            raise self.error(f"codes file {self.codes_path}: {e.strerror or e}") from e
        except ValueError as e:
            raise self.error(f"codes file {self.codes_path}: {e}") from e
        self.port_url = port_url
        self.timeout_s = timeout_s
        try:
            self._port = serial.serial_for_url(port_url, baudrate=115200, timeout=timeout_s, write_timeout=timeout_s)
        except (serial.SerialException, ValueError) as e:
            raise self.error(f"cannot open {port_url}: {e}") from e
        try:
            self._write(RESET, "reset")
            time.sleep(0.01)
            self._port.reset_input_buffer()
            reply = self._write_read(b"v", 4, "version")
            if reply[:1] != b"V" or not reply[1:].isdigit():
                raise self.error(f"version: not an IR Toy (answered {reply!r}, expected V + 3 digits)")
            self.hardware, self.firmware = int(reply[1:2]), int(reply[2:4])
            if self.firmware < MIN_FIRMWARE:
                raise self.error(f"version: firmware {self.firmware} is too old (need {MIN_FIRMWARE} or newer)")
            self._enter_sample_mode()
        except BaseException:
            self._port.close()
            raise

    # -- transport ------------------------------------------------------------------------------

    def _write(self, data: bytes, what: str) -> None:
        self.traffic.sent(data.hex(" "))
        try:
            self._port.write(data)
            self._port.flush()
        except Exception as e:
            raise self.error(f"{what}: write failed: {e}") from e

    def _read(self, count: int, what: str, deadline: float | None = None) -> bytes:
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout_s
        data = b""
        while len(data) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.error(f"{what}: no answer within {self.timeout_s:g} s (got {data!r})")
            self._port.timeout = remaining
            try:
                chunk = self._port.read(count - len(data))
            except Exception as e:
                raise self.error(f"{what}: read failed: {e}") from e
            data += chunk
        self.traffic.received(data.hex(" "))
        return data

    def _write_read(self, data: bytes, count: int, what: str) -> bytes:
        self._write(data, what)
        return self._read(count, what)

    def _enter_sample_mode(self, what: str = "open") -> None:
        reply = self._write_read(b"s", 3, f"{what}: sample mode")
        if reply != b"S01":
            raise self.error(f"{what}: sample mode: answered {reply!r}, expected b'S01'")

    # -- keys -----------------------------------------------------------------------------------

    def key_name(self, key: Key) -> str | None:
        name = super().key_name(key)
        return name if name in self.codes else None

    def transmit(self, code: IrCode, what: str) -> None:
        """Send one IR code and wait until the Toy reports it complete."""
        payload = irtoy_payload(code)
        self._write(b"\x00", what)  # leave sample mode (the Toy may hang if it receives IR during TX start)
        self._enter_sample_mode(what)
        self._write(TX_START, what)
        deadline = time.monotonic() + self.timeout_s
        sent = 0
        while sent < len(payload):
            space = self._read(1, f"{what}: handshake", deadline)[0]
            if space == 0 or space > 64:
                raise self.error(f"{what}: bad handshake byte {space:#04x} (expected 1..64 free bytes)")
            chunk = payload[sent : sent + space]
            self._write(chunk, what)
            sent += len(chunk)
        reply = self._read(1, f"{what}: byte count", deadline)
        while 0 < reply[0] <= 64:  # a last free-space byte may come before the count ('t', 'C', 'F' are > 64)
            reply = self._read(1, f"{what}: byte count", deadline)
        if reply != b"t":
            raise self.error(f"{what}: expected transmit count 't', got {reply!r}")
        (count,) = struct.unpack(">H", self._read(2, f"{what}: byte count", deadline))
        status = self._read(1, f"{what}: completion", deadline)
        if count != len(payload):
            raise self.error(f"{what}: the Toy received {count} of {len(payload)} bytes")
        if status == b"F":
            raise self.error(f"{what}: transmit failed (buffer under-run)")
        if status != b"C":
            raise self.error(f"{what}: expected completion 'C', got {status!r}")

    def press(self, name: str) -> None:
        try:
            code = self.codes[name]
        except KeyError:
            raise self.error(f"key {name}: not in codes file {self.codes_path}") from None
        self.transmit(code, f"key {name}")

    def keydown(self, name: str) -> None:
        raise self.no_hold(name)

    def keyup(self, name: str) -> None:
        raise self.no_hold(name)

    def close(self) -> None:
        try:
            self._port.write(RESET)
            self._port.close()
        except Exception:
            log.debug("closing %s failed", self.port_url, exc_info=True)
