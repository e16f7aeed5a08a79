"""Value types that flow from a capture source through detectors: frames, audio, events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

Medium = Literal["video", "audio"]


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle in frame pixels (x, y is the top-left corner)."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.x < 0 or self.y < 0:
            raise ValueError(f"invalid region {self}: width/height must be > 0 and x/y >= 0")

    @property
    def slices(self) -> tuple[slice, slice]:
        """Return (rows, cols) slices to index an image with."""
        return slice(self.y, self.y + self.height), slice(self.x, self.x + self.width)

    def clip(self, width: int, height: int) -> Region:
        """Return this region clipped to a frame of ``width`` x ``height`` pixels."""
        x, y = min(self.x, width - 1), min(self.y, height - 1)
        return Region(x, y, max(1, min(self.width, width - x)), max(1, min(self.height, height - y)))

    def to_dict(self) -> dict[str, int]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


class Frame:
    """One decoded video frame on the capture clock.

    Pixels are stored as planar YUV 4:2:0 (I420, video range 16-235), the native output of
    capture decoders, so that luma-only detectors pay no colour conversion; ``bgr`` is
    converted on first use and cached.
    """

    __slots__ = ("index", "pts_s", "i420", "_bgr")

    def __init__(self, index: int, pts_s: float, i420: np.ndarray) -> None:
        if i420.dtype != np.uint8 or i420.ndim != 2 or i420.shape[0] % 3 != 0:
            raise ValueError(f"frame {index}: expected a (H*3/2, W) uint8 I420 array, got {i420.shape} {i420.dtype}")
        self.index = index
        self.pts_s = pts_s
        self.i420 = i420
        self._bgr: np.ndarray | None = None

    @classmethod
    def from_bgr(cls, bgr: np.ndarray, index: int, pts_s: float) -> Frame:
        """Build a frame from an 8-bit BGR image (even width and height)."""
        frame = cls(index, pts_s, cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420))
        return frame

    @property
    def height(self) -> int:
        return self.i420.shape[0] * 2 // 3

    @property
    def width(self) -> int:
        return self.i420.shape[1]

    @property
    def luma(self) -> np.ndarray:
        """The Y plane (H x W uint8, video range), a view without copy."""
        return self.i420[: self.height]

    @property
    def bgr(self) -> np.ndarray:
        """The picture as 8-bit BGR (H x W x 3), converted once."""
        if self._bgr is None:
            self._bgr = cv2.cvtColor(self.i420, cv2.COLOR_YUV2BGR_I420)
        return self._bgr

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, pts_s={self.pts_s:.3f}, {self.width}x{self.height})"


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """A run of audio samples on the capture clock.

    ``samples`` is float32 in [-1, 1], shape (n_samples, channels); ``start_sample`` counts
    samples since the start of the stream, so chunks can be checked for gaps.
    """

    pts_s: float
    sample_rate_hz: int
    samples: np.ndarray
    start_sample: int = 0

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate_hz

    @property
    def channels(self) -> int:
        return self.samples.shape[1]


@dataclass(frozen=True, slots=True)
class Event:
    """Something seen on the capture timeline: a defect, a key press, a state change.

    Times are seconds on the capture clock. For video, ``start_frame`` is the first affected
    frame and ``end_frame`` the last (inclusive); ``start_s``/``end_s`` are the presentation
    times of ``start_frame`` and of the frame after ``end_frame``.
    """

    detector: str
    kind: str
    start_s: float
    end_s: float
    start_frame: int | None = None
    end_frame: int | None = None
    score: float = 1.0
    region: Region | None = None
    evidence_frame: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def describe(self, origin_s: float = 0.0, origin_name: str = "") -> str:
        """Return one line naming kind, start time and duration (optionally relative to an origin)."""
        where = f"t={self.start_s:.3f} s"
        if origin_name:
            where = f"{self.start_s - origin_s:.3f} s into {origin_name} ({where})"
        frames = ""
        if self.start_frame is not None and self.end_frame is not None:
            frames = f", frames {self.start_frame}-{self.end_frame}"
        return f"{self.kind} at {where} lasting {self.duration_s:.3f} s{frames} [{self.detector}, score {self.score:.3g}]"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used by ``avqa analyze``."""
        out: dict[str, Any] = {
            "detector": self.detector,
            "kind": self.kind,
            "start_s": round(self.start_s, 6),
            "end_s": round(self.end_s, 6),
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "score": round(float(self.score), 6),
            "duration_s": round(self.duration_s, 6),
        }
        if self.region is not None:
            out["region"] = self.region.to_dict()
        if self.evidence_frame is not None:
            out["evidence_frame"] = self.evidence_frame
        out.update(self.details)
        return out
