"""The avqa exception tree.

Infrastructure problems (bad config, no signal, unreachable control channel, a simulator that
died) derive from :class:`InfrastructureError` and show as *broken* in Allure. Product defects
seen on the device derive from :class:`ProductFailure`, an ``AssertionError``, and show as
*failed*. Never mix the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from detectors.media import Event, Frame


class HarnessError(Exception):
    """Root of every avqa error."""


class InfrastructureError(HarnessError):
    """The test could not run as intended: lab, wiring or configuration trouble (Allure: broken)."""


class ConfigError(InfrastructureError):
    """A device file is missing or invalid; the message names the file and field."""


class CaptureError(InfrastructureError):
    """A capture source could not be opened or stopped delivering; the message names the URI."""


class NoSignalError(CaptureError):
    """No frames arrived for longer than the configured time."""


class ControlError(InfrastructureError):
    """A control channel failed; the message names the device, channel, URI and key."""


class UnsupportedKeyError(ControlError):
    """The channel cannot send this key."""


class SimulatorError(InfrastructureError):
    """The simulated device failed to start or died."""


class ProductFailure(HarnessError, AssertionError):
    """The device under test misbehaved (Allure: failed); carries the evidence.

    ``frame`` is the last frame seen when the failure was decided; ``events`` the detector
    events that caused it.
    """

    def __init__(self, message: str, frame: Frame | None = None, events: tuple[Event, ...] = ()) -> None:
        super().__init__(message)
        self.frame = frame
        self.events = events


class WaitTimeout(ProductFailure):
    """A ``wait_for_*`` helper saw no match within its time-out."""
