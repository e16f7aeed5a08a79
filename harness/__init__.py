"""avqa harness: device sessions, capture, control, pytest plugin and reports.

The public facade; everything else is an implementation module.
"""

from __future__ import annotations

from harness.av import AVView, WatchResult
from harness.config import DeviceConfig, load_device, resolve_device
from harness.control.keys import Key
from harness.control.remote import PressResult, Remote
from harness.errors import (
    CaptureError,
    ConfigError,
    ControlError,
    HarnessError,
    InfrastructureError,
    NoSignalError,
    ProductFailure,
    SimulatorError,
    UnsupportedKeyError,
    WaitTimeout,
)
from harness.session import DeviceSession
from harness.waits import WaitResult

__all__ = [
    "AVView",
    "CaptureError",
    "ConfigError",
    "ControlError",
    "DeviceConfig",
    "DeviceSession",
    "HarnessError",
    "InfrastructureError",
    "Key",
    "NoSignalError",
    "PressResult",
    "ProductFailure",
    "Remote",
    "SimulatorError",
    "UnsupportedKeyError",
    "WaitResult",
    "WaitTimeout",
    "WatchResult",
    "load_device",
    "resolve_device",
]
