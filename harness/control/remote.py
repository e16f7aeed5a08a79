"""The remote a scenario holds: keys by avqa name, inter-press delay, hold and sequences."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from harness.control.backend import ControlBackend
from harness.control.keys import Key
from harness.errors import UnsupportedKeyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyPress:
    """A key sent to the device: ``monotonic_s`` when the request was sent, ``took_s`` until it was acknowledged."""

    key: Key
    action: str  # "press", "keydown" or "keyup"
    channel_key: str
    monotonic_s: float
    took_s: float


def _no_step(title: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


class Remote:
    """Send keys to a device through one control backend.

    ``on_key`` is called with every :class:`KeyPress` (the session turns them into timeline
    events); ``step`` wraps each key in a reporting step (Allure, when running under pytest).
    """

    def __init__(
        self,
        backend: ControlBackend,
        *,
        key_delay_s: float = 0.3,
        device: str = "",
        on_key: Callable[[KeyPress], None] | None = None,
        step: Callable[[str], AbstractContextManager[None]] = _no_step,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.backend = backend
        self.key_delay_s = key_delay_s
        self.device = device
        self.on_key = on_key
        self.step = step
        self._clock = clock
        self._sleep = sleep
        self._last_s: float | None = None

    def supports(self, key: Key | str) -> bool:
        return self.backend.key_name(Key.parse(key)) is not None

    def _channel_key(self, key: Key) -> str:
        name = self.backend.key_name(key)
        if name is None:
            raise UnsupportedKeyError(
                f"{self.device or 'device'}: {self.backend.channel} {self.backend.uri}: key {key.value} is not supported by this channel"
            )
        return name

    def _pace(self) -> None:
        if self._last_s is not None:
            wait = self._last_s + self.key_delay_s - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _send(self, key: Key, action: str, send: Callable[[str], None]) -> KeyPress:
        name = self._channel_key(key)
        self._pace()
        with self.step(f"{action} {key.value}" if action != "press" else f"press {key.value}"):
            start = self._clock()
            send(name)
            took = self._clock() - start
        self._last_s = start
        event = KeyPress(key, action, name, start, took)
        log.debug("%s %s (%s) took %.1f ms", action, key.value, name, took * 1000)
        if self.on_key is not None:
            self.on_key(event)
        return event

    def press(self, key: Key | str) -> KeyPress:
        """Press and release ``key`` once; returns when the device acknowledged it."""
        return self._send(Key.parse(key), "press", self.backend.press)

    def keydown(self, key: Key | str) -> KeyPress:
        return self._send(Key.parse(key), "keydown", self.backend.keydown)

    def keyup(self, key: Key | str) -> KeyPress:
        return self._send(Key.parse(key), "keyup", self.backend.keyup)

    @contextlib.contextmanager
    def held(self, key: Key | str) -> Iterator[None]:
        """Hold ``key`` down for the body of the ``with`` block."""
        k = Key.parse(key)
        self.keydown(k)
        try:
            yield
        finally:
            self.keyup(k)

    def hold(self, key: Key | str, seconds: float) -> None:
        """Hold ``key`` down for ``seconds``."""
        with self.held(key):
            self._sleep(seconds)

    def sequence(self, keys: Iterable[Key | str]) -> list[KeyPress]:
        """Press each key in turn, ``key_delay_s`` apart."""
        return [self.press(k) for k in keys]

    def close(self) -> None:
        self.backend.close()
