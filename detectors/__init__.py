"""avqa detector library: streaming A/V defect detectors usable on their own over files.

This package knows nothing of devices, pytest, capture hardware or reports.
"""

from __future__ import annotations

from detectors.base import Detector, DetectorRegistry, available, create
from detectors.media import AudioChunk, Event, Frame, Region

__all__ = [
    "AudioChunk",
    "Detector",
    "DetectorRegistry",
    "Event",
    "Frame",
    "Region",
    "available",
    "create",
]
