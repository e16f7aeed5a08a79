"""The remote a scenario holds: keys by avqa name, routed over one or more channels, paced and measured."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    channel: str = ""
    attempt: int = 1


@dataclass(frozen=True)
class Route:
    """A channel of a multi-channel remote; ``keys`` limits it to those keys (None: every key it knows)."""

    backend: ControlBackend
    keys: frozenset[Key] | None = None

    def handles(self, key: Key, hold: bool = False) -> bool:
        if self.keys is not None and key not in self.keys:
            return False
        if hold and not getattr(self.backend, "can_hold", True):
            return False
        return self.backend.key_name(key) is not None


@dataclass(frozen=True)
class PressResult:
    """What :meth:`Remote.press_and_wait` saw; truthy when the screen changed.

    ``first_change_s``/``stable_s`` are seconds from the (last) press to the first changed frame
    and to the screen settling, None when that was not seen within the time-out.
    """

    press: KeyPress
    first_change_s: float | None
    stable_s: float | None
    attempts: int

    def __bool__(self) -> bool:
        return self.first_change_s is not None

    def __str__(self) -> str:
        if self.first_change_s is None:
            return f"{self.press.key.value}: no visible change after {self.attempts} press(es)"
        stable = f", stable after {self.stable_s * 1000:.0f} ms" if self.stable_s is not None else ""
        return f"{self.press.key.value}: first change after {self.first_change_s * 1000:.0f} ms{stable}"


# ``(since_monotonic_s, timeout_s) -> monotonic time of the event, or None``: the video side of
# press_and_wait, supplied by whoever can see the screen (the session / AVView).
Waiter = Callable[[float, float], "float | None"]


def _no_step(title: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


class Remote:
    """Send keys to a device through one or more control backends.

    With several channels (``backend`` a sequence of backends or :class:`Route`), each key goes
    to the first channel that supports it (and, for a hold, can hold it). ``on_key`` is called
    with every :class:`KeyPress` (the session turns them into timeline events); ``step`` wraps
    each key in a reporting step (Allure, when running under pytest).
    """

    def __init__(
        self,
        backend: ControlBackend | Sequence[ControlBackend | Route],
        *,
        key_delay_s: float = 0.3,
        device: str = "",
        on_key: Callable[[KeyPress], None] | None = None,
        step: Callable[[str], AbstractContextManager[None]] = _no_step,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        items = list(backend) if isinstance(backend, Sequence) else [backend]
        if not items:
            raise ValueError("a remote needs at least one control backend")
        self.routes: list[Route] = [item if isinstance(item, Route) else Route(item) for item in items]
        self.backend = self.routes[0].backend  # the primary channel
        self.key_delay_s = key_delay_s
        self.device = device
        self.on_key = on_key
        self.step = step
        self._clock = clock
        self._sleep = sleep
        self._last_s: float | None = None

    @property
    def backends(self) -> list[ControlBackend]:
        return [route.backend for route in self.routes]

    def supports(self, key: Key | str, *, hold: bool = False) -> bool:
        """Whether some channel can send ``key`` (and hold it, with ``hold``)."""
        k = Key.parse(key)
        return any(route.handles(k, hold) for route in self.routes)

    def channel_for(self, key: Key | str, *, hold: bool = False) -> ControlBackend:
        """The backend that sends ``key``; UnsupportedKeyError naming every channel otherwise."""
        k = Key.parse(key)
        for route in self.routes:
            if route.handles(k, hold):
                return route.backend
        channels = ", ".join(f"{b.channel} {b.uri}" for b in self.backends)
        if hold and any(route.handles(k) for route in self.routes):
            problem = "cannot be held by this channel (no keydown/keyup)"
        else:
            problem = "is not supported by this channel"
        raise UnsupportedKeyError(f"{self.device or 'device'}: {channels}: key {k.value} {problem}")

    def _pace(self) -> None:
        if self._last_s is not None:
            wait = self._last_s + self.key_delay_s - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _send(self, key: Key, action: str, attempt: int = 1) -> KeyPress:
        backend = self.channel_for(key, hold=action != "press")
        name = backend.key_name(key)
        assert name is not None
        send = {"press": backend.press, "keydown": backend.keydown, "keyup": backend.keyup}[action]
        self._pace()
        with self.step(f"{action} {key.value}" if action != "press" else f"press {key.value}"):
            start = self._clock()
            send(name)
            took = self._clock() - start
        self._last_s = start
        event = KeyPress(key, action, name, start, took, backend.channel, attempt)
        log.debug("%s %s (%s via %s) took %.1f ms", action, key.value, name, backend.channel, took * 1000)
        if self.on_key is not None:
            self.on_key(event)
        return event

    def press(self, key: Key | str) -> KeyPress:
        """Press and release ``key`` once; returns when the device acknowledged it."""
        return self._send(Key.parse(key), "press")

    def keydown(self, key: Key | str) -> KeyPress:
        return self._send(Key.parse(key), "keydown")

    def keyup(self, key: Key | str) -> KeyPress:
        return self._send(Key.parse(key), "keyup")

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

    def press_and_wait(
        self,
        key: Key | str,
        *,
        changed: Waiter,
        stable: Waiter | None = None,
        timeout_s: float = 5.0,
        retries: int = 0,
    ) -> PressResult:
        """Press ``key`` and measure its effect on the screen, pressing again if nothing changed.

        Args:
            changed: ``(since_monotonic_s, timeout_s)`` -> monotonic time of the first frame after
                ``since`` that differs from the screen before it, or None (video-agnostic hook).
            stable: same shape, -> monotonic time the screen settled after ``since``; optional.
            timeout_s: how long to wait for a change after each press.
            retries: extra presses when a press had no visible effect (flaky IR line of sight...).

        Returns:
            A :class:`PressResult` (falsy if no press changed the screen).
        """
        k = Key.parse(key)
        attempts = 0
        while True:
            attempts += 1
            press = self._send(k, "press", attempts)
            changed_at = changed(press.monotonic_s, timeout_s)
            if changed_at is not None:
                stable_at = stable(changed_at, timeout_s) if stable is not None else None
                return PressResult(
                    press,
                    changed_at - press.monotonic_s,
                    None if stable_at is None else stable_at - press.monotonic_s,
                    attempts,
                )
            if attempts > retries:
                return PressResult(press, None, None, attempts)
            log.warning("%s: %s had no visible effect within %.1f s; pressing again", self.device or "device", k.value, timeout_s)

    def close(self) -> None:
        """Close every channel (the first error is raised after all were tried)."""
        first: BaseException | None = None
        for backend in self.backends:
            try:
                backend.close()
            except Exception as e:  # noqa: BLE001 - close the others first
                first = first or e
        if first is not None:
            raise first
