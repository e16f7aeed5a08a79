"""Build a device's :class:`Remote` (every configured channel) and power control from its config."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from harness.control import registry
from harness.control.backend import ControlBackend, PowerControl
from harness.control.keys import Key
from harness.control.remote import KeyPress, Remote, Route, _no_step

if TYPE_CHECKING:
    from harness.config import ControlConfig, PowerConfig

log = logging.getLogger(__name__)


def open_backend(uri: str, *, timeout_s: float = 3.0, keymap: dict[str, str] | None = None, device: str = "") -> ControlBackend:
    """Construct (and so connect) the backend for ``uri``."""
    cls = registry.backend_class(uri)
    return cls(uri, timeout_s=timeout_s, keymap=keymap, device=device)  # type: ignore[no-any-return]


def open_remote(
    control: ControlConfig | None,
    *,
    uri: str | None = None,
    device: str = "",
    on_key: Callable[[KeyPress], None] | None = None,
    step: Callable[[str], AbstractContextManager[None]] = _no_step,
) -> Remote:
    """A remote over ``control.uri`` (or ``uri``, e.g. a simulator's ready line) and ``control.channels``.

    Channels are opened in order; if one fails, those already open are closed and the error raised.
    """
    primary = uri or (control.uri if control else None)
    if primary is None:
        raise ValueError("no control URI: pass uri= or a ControlConfig")
    specs: list[tuple[str, float, dict[str, str] | None, list[str] | None]] = [
        (primary, control.timeout_s if control else 3.0, control.keymap if control else None, control.keys if control else None)
    ]
    for channel in control.channels if control else []:
        specs.append((channel.uri, channel.timeout_s, channel.keymap, channel.keys))
    routes: list[Route] = []
    try:
        for spec_uri, timeout_s, keymap, keys in specs:
            backend = open_backend(spec_uri, timeout_s=timeout_s, keymap=keymap, device=device)
            routes.append(Route(backend, None if keys is None else frozenset(Key.parse(k) for k in keys)))
    except BaseException:
        for route in routes:
            try:
                route.backend.close()
            except Exception:
                log.debug("closing %s failed", route.backend.uri, exc_info=True)
        raise
    return Remote(routes, key_delay_s=control.key_delay_s if control else 0.3, device=device, on_key=on_key, step=step)


def open_power_control(power: PowerConfig, *, device: str = "") -> PowerControl:
    """The configured power control, connected."""
    from harness.control.power import open_power

    return open_power(power.uri, timeout_s=power.timeout_s, device=device)


def traffic_text(remote: Remote, origin_s: float = 0.0) -> str:
    """Every channel's traffic log, merged in time order (for the report)."""
    lines = []
    for backend in remote.backends:
        traffic = getattr(backend, "traffic", None)
        if traffic is not None:
            lines.extend(traffic.lines())
    lines.sort(key=lambda line: line.monotonic_s)
    return "\n".join(line.format(origin_s) for line in lines)
