"""What every control backend provides."""

from __future__ import annotations

from typing import Protocol

from harness.control.keys import Key


class ControlBackend(Protocol):
    """One control channel to one device, connected at construction (fail fast, URI in the message).

    ``press``/``keydown``/``keyup`` take the channel's own key name (after the key map);
    failures raise :class:`~harness.errors.ControlError` naming the URI and key.
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
