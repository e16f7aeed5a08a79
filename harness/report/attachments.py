"""Evidence attached to Allure results: frames, console logs, timelines."""

from __future__ import annotations

import cv2
import numpy as np

from detectors.media import Event, Frame


def png_bytes(frame: Frame, events: tuple[Event, ...] = ()) -> bytes:
    """The frame as PNG, with each event's region outlined when it has one."""
    image: np.ndarray = frame.bgr.copy()
    for event in events:
        if event.region is not None:
            r = event.region
            cv2.rectangle(image, (r.x, r.y), (r.x + r.width - 1, r.y + r.height - 1), (0, 0, 255), 3)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"cannot encode {frame!r} as PNG")
    return encoded.tobytes()


def timeline_text(events: list[Event]) -> str:
    """The session timeline as text, one event per line."""
    lines = []
    for e in events:
        extra = " ".join(f"{k}={v}" for k, v in e.details.items())
        lines.append(f"{e.start_s:10.3f} s  {e.end_s - e.start_s:7.3f} s  {e.detector:<10} {e.kind:<14} {extra}")
    return "\n".join(lines)
