"""Video detectors (one module per detector) and the small helpers they share."""

from __future__ import annotations

from collections import deque

from detectors.media import Frame

__all__ = ["FrameClock"]


class FrameClock:
    """Track frame presentation times to know the duration of the last frame seen.

    The duration is the median of the last few frame intervals, which is the nominal frame
    duration for constant-rate video even when a frame was dropped now and then.
    """

    __slots__ = ("_deltas", "last")

    def __init__(self, history: int = 15) -> None:
        self._deltas: deque[float] = deque(maxlen=history)
        self.last: Frame | None = None

    def tick(self, frame: Frame) -> None:
        """Record ``frame`` as the latest frame."""
        if self.last is not None:
            delta = frame.pts_s - self.last.pts_s
            if delta > 0:
                self._deltas.append(delta)
        self.last = frame

    @property
    def frame_duration_s(self) -> float:
        """The estimated duration of one frame in seconds (0.0 before two frames were seen)."""
        if not self._deltas:
            return 0.0
        ordered = sorted(self._deltas)
        return ordered[len(ordered) // 2]

    def end_s(self) -> float:
        """Return the time at which the latest frame stops being shown (its pts + one frame)."""
        if self.last is None:
            return 0.0
        return self.last.pts_s + self.frame_duration_s
