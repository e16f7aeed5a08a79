"""What every control backend provides, plus the pieces they share (messages, traffic log, key maps)."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

from harness.control.keys import Key
from harness.errors import ControlError, UnsupportedKeyError


@runtime_checkable
class ControlBackend(Protocol):
    """One control channel to one device, connected at construction (fail fast, URI in the message).

    ``press``/``keydown``/``keyup`` take the channel's own key name (after the key map);
    failures raise :class:`~harness.errors.ControlError` naming the device, channel, URI and key.
    A channel that cannot hold a key (``can_hold`` false) raises
    :class:`~harness.errors.UnsupportedKeyError` from ``keydown``/``keyup``.
    """

    uri: str
    channel: str  # short channel name for messages and reports, e.g. "roku-ecp"

    def key_name(self, key: Key) -> str | None:
        """The channel's name for ``key``, or None if the channel has no such key."""
        ...

    def press(self, name: str) -> None: ...

    def keydown(self, name: str) -> None: ...

    def keyup(self, name: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class PowerControl(Protocol):
    """A way to switch the device on and off (a power switch, CEC standby, ECP PowerOff)."""

    uri: str
    channel: str

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TrafficLine:
    """One exchange on a channel: ``direction`` is ``">"`` (sent), ``"<"`` (received) or ``"!"`` (note)."""

    monotonic_s: float
    channel: str
    direction: str
    text: str

    def format(self, origin_s: float = 0.0) -> str:
        return f"{self.monotonic_s - origin_s:12.6f} {self.channel} {self.direction} {self.text}"


class TrafficLog:
    """The last ``max_lines`` exchanges of one channel, each also logged at DEBUG (attach ``text()`` to reports)."""

    def __init__(self, channel: str, uri: str, *, max_lines: int = 5000) -> None:
        self.channel = channel
        self.uri = uri
        self._lines: collections.deque[TrafficLine] = collections.deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._log = logging.getLogger(f"harness.control.traffic.{channel}")

    def add(self, direction: str, text: str) -> None:
        line = TrafficLine(time.monotonic(), self.channel, direction, text)
        with self._lock:
            self._lines.append(line)
        self._log.debug("%s %s %s", self.uri, direction, text)

    def sent(self, text: str) -> None:
        self.add(">", text)

    def received(self, text: str) -> None:
        self.add("<", text)

    def lines(self) -> list[TrafficLine]:
        with self._lock:
            return list(self._lines)

    def text(self, origin_s: float = 0.0) -> str:
        """Every kept line, ``seconds channel direction text`` (seconds relative to ``origin_s``)."""
        return "\n".join(line.format(origin_s) for line in self.lines())


class BackendBase:
    """Shared plumbing: ``device: channel URI: what`` messages, traffic log, default + override key map."""

    channel = "control"
    can_hold = True

    def __init__(self, uri: str, *, device: str, default_keys: Mapping[Key, str], keymap: Mapping[str, str] | None) -> None:
        self.uri = uri
        self.device = device
        self.traffic = TrafficLog(self.channel, uri)
        self._names: dict[Key, str] = dict(default_keys)
        for name, value in (keymap or {}).items():
            key = Key.parse(name)
            if value:
                self._names[key] = value
            else:
                self._names.pop(key, None)  # an empty name removes the key from this channel

    def where(self, what: str) -> str:
        device = f"{self.device}: " if self.device else ""
        return f"{device}{self.channel} {self.uri}: {what}"

    def error(self, what: str) -> ControlError:
        return ControlError(self.where(what))

    def key_name(self, key: Key) -> str | None:
        return self._names.get(key)

    def no_hold(self, name: str) -> UnsupportedKeyError:
        return UnsupportedKeyError(self.where(f"key {name}: this channel cannot hold a key (no keydown/keyup)"))


def parse_options(uri: str, query: str, allowed: Mapping[str, str], form: str) -> dict[str, str]:
    """Split ``query`` into options, rejecting unknown or repeated ones (ControlError naming ``form``).

    ``allowed`` maps each option to its default ("" for none).
    """
    options = dict(allowed)
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if name not in allowed:
            raise ControlError(f"{uri}: unknown option {name!r} (expected {form})")
        if name in seen:
            raise ControlError(f"{uri}: option {name!r} given twice")
        seen.add(name)
        options[name] = value
    return options
