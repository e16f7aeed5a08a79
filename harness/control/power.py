"""Power control: a network power switch / smart plug, or a channel's own soft power.

* ``tasmota://HOST[:80]?relay=1&user=NAME&password=SECRET``: a Tasmota smart plug or power
  strip over its HTTP command API: ``GET /cm?cmnd=Power<relay>%20On|Off`` answers JSON
  ``{"POWER<relay>": "ON"}`` (``{"POWER": "ON"}`` on single-relay plugs); ``cmnd=Power<relay>``
  alone reads the state. This cuts mains power: a real cold boot.
* ``roku://HOST[:8060]`` (ECP ``PowerOn``/``PowerOff``; what the simulator offers), ``cec:...``
  (Image View On / Standby) and ``adb://...`` (``KEYCODE_WAKEUP``/``KEYCODE_SLEEP``): soft power
  through the control backend of that scheme.

:func:`power_cycle` switches off, waits, and switches on again (a reboot for boot-time tests).
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from harness.control.backend import PowerControl, TrafficLog, parse_options
from harness.errors import ControlError

log = logging.getLogger(__name__)

POWER_BACKENDS: dict[str, str] = {
    "tasmota": "harness.control.power:TasmotaPower",
    "roku": "harness.control.roku_ecp:RokuECPRemote",
    "cec": "harness.control.cec:CecRemote",
    "adb": "harness.control.adb:AdbRemote",
}
TASMOTA_FORM = "tasmota://HOST[:80]?relay=N&user=NAME&password=SECRET"


def check_power_uri(uri: str) -> None:
    """Raise ValueError naming the known schemes if ``uri`` has none of them."""
    scheme = urlsplit(uri).scheme.lower()
    if scheme not in POWER_BACKENDS:
        raise ValueError(f"unknown power scheme {scheme!r} (expected one of: {', '.join(sorted(POWER_BACKENDS))})")


def open_power(uri: str, *, timeout_s: float = 5.0, device: str = "") -> PowerControl:
    """Construct (and so connect) the power control for ``uri``."""
    check_power_uri(uri)
    module, _, attr = POWER_BACKENDS[urlsplit(uri).scheme.lower()].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(uri, timeout_s=timeout_s, device=device)  # type: ignore[no-any-return]


def power_cycle(power: PowerControl, off_s: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> None:
    """Switch off, wait ``off_s`` seconds, switch on."""
    power.power_off()
    sleep(off_s)
    power.power_on()


class TasmotaPower:
    """One relay of a Tasmota device; the state is read at construction (fail fast)."""

    channel = "tasmota"

    def __init__(self, uri: str, *, timeout_s: float = 5.0, device: str = "", keymap: dict[str, str] | None = None) -> None:
        parts = urlsplit(uri)
        if parts.scheme != "tasmota" or not parts.hostname or parts.path not in ("", "/"):
            raise ControlError(f"{uri}: expected {TASMOTA_FORM}")
        options = parse_options(uri, parts.query, {"relay": "1", "user": "", "password": ""}, TASMOTA_FORM)
        if not options["relay"].isdigit() or not 1 <= int(options["relay"]) <= 32:
            raise ControlError(f"{uri}: relay {options['relay']!r} is not 1..32")
        self.uri = uri
        self.device = device
        self.host = parts.hostname
        self.port = parts.port or 80
        self.relay = int(options["relay"])
        self.user, self.password = options["user"], options["password"]
        self.timeout_s = timeout_s
        self.traffic = TrafficLog(self.channel, uri)
        self.is_on()

    def _where(self, what: str) -> str:
        return f"{self.device + ': ' if self.device else ''}{self.channel} {self.uri}: {what}"

    def _command(self, command: str, what: str) -> bool:
        path = f"/cm?cmnd={quote(command)}"
        if self.user or self.password:  # Tasmota's web user is always "admin" unless told otherwise
            path += f"&user={quote(self.user or 'admin')}&password={quote(self.password)}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        self.traffic.sent(f"GET /cm?cmnd={quote(command)}")
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        except TimeoutError as e:
            raise ControlError(self._where(f"{what}: no answer within {self.timeout_s:g} s")) from e
        except http.client.HTTPException as e:
            raise ControlError(self._where(f"{what}: not an HTTP reply: {e}")) from e
        except OSError as e:
            raise ControlError(self._where(f"{what}: unreachable: {e.strerror or e}")) from e
        finally:
            conn.close()
        self.traffic.received(f"{response.status} {body[:200].decode('utf-8', 'replace')}")
        if response.status == 401:
            raise ControlError(self._where(f"{what}: HTTP 401 (wrong user/password)"))
        if response.status != 200:
            raise ControlError(self._where(f"{what}: HTTP {response.status} {response.reason}"))
        try:
            data = json.loads(body)
        except ValueError as e:
            raise ControlError(self._where(f"{what}: not a Tasmota JSON reply: {body[:80]!r}")) from e
        if isinstance(data, dict) and "WARNING" in data:
            raise ControlError(self._where(f"{what}: Tasmota says {data['WARNING']!r}"))
        for key in (f"POWER{self.relay}", "POWER") if self.relay == 1 else (f"POWER{self.relay}",):
            if isinstance(data, dict) and key in data:
                state = str(data[key]).upper()
                if state not in ("ON", "OFF"):
                    break
                return state == "ON"
        raise ControlError(self._where(f"{what}: no POWER{self.relay} state in reply {body[:80]!r}"))

    def is_on(self) -> bool:
        return self._command(f"Power{self.relay}", "read state")

    def power_on(self) -> None:
        if not self._command(f"Power{self.relay} On", "power on"):
            raise ControlError(self._where("power on: the relay still reports OFF"))

    def power_off(self) -> None:
        if self._command(f"Power{self.relay} Off", "power off"):
            raise ControlError(self._where("power off: the relay still reports ON"))

    def close(self) -> None:
        pass
