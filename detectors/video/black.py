"""Black frames: runs of pictures whose luma is (almost) all at black level, like FFmpeg's blackdetect."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import FrameClock

log = logging.getLogger(__name__)

_BLACK_LEVEL = 16
_WHITE_LEVEL = 235
_SAMPLE_ROWS = 16  # the quick exact "not black" test looks at every 16th row


class BlackDetector:
    """Report runs of black frames lasting at least ``min_duration_s``.

    A pixel is black when its luma is at most ``16 + pixel_threshold * (235 - 16)`` (video
    range, truncated to an integer as FFmpeg does: 37 by default); a frame is black when the
    ratio of black pixels in the analysed region is at least ``picture_black_ratio``.

    A black frame with a logo or an on-screen clock ("near black") is found by masking that
    part of the picture out (``mask``): masked pixels are not counted at all.

    Speed: every 16th row is looked at first; when the bright pixels there alone are more
    than ``1 - picture_black_ratio`` of the whole picture, the frame cannot be black and the
    full count is skipped (an exact decision; most programme frames end here).

    Per-frame metric: :attr:`last_metric` is the black-pixel ratio of the last frame fed and
    :meth:`metrics` the record of it, kept apart from the black/not-black decision. For a
    frame decided on the sampled rows it is the ratio over those rows (an estimate).
    """

    name: ClassVar[str] = "black"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "black_ratio", "black")

    @dataclass(frozen=True)
    class Params:
        """Black detection parameters.

        Attributes:
            pixel_threshold: fraction of the video luma range (16-235) above black level
                under which a pixel counts as black, in [0, 1]; FFmpeg's ``pix_th``.
            picture_black_ratio: minimum ratio of black pixels for a black frame, in
                (0, 1]; FFmpeg's ``pic_th``.
            min_duration_s: shortest run of black frames reported, in seconds (>= 0).
            region: the part of the picture analysed (clipped to the frame); None for the
                whole picture.
            mask: parts of the picture ignored (a channel logo, a clock, a "no input" OSD),
                in frame pixels; the ratio is taken over the other pixels of the region.
        """

        pixel_threshold: float = 0.10
        picture_black_ratio: float = 0.98
        min_duration_s: float = 0.1
        region: Region | None = None
        mask: tuple[Region, ...] = ()

        def __post_init__(self) -> None:
            if not 0.0 <= self.pixel_threshold <= 1.0:
                raise ValueError(f"black: pixel_threshold must be in [0, 1], got {self.pixel_threshold}")
            if not 0.0 < self.picture_black_ratio <= 1.0:
                raise ValueError(f"black: picture_black_ratio must be in (0, 1], got {self.picture_black_ratio}")
            if not self.min_duration_s >= 0.0:
                raise ValueError(f"black: min_duration_s must be >= 0, got {self.min_duration_s}")
            if self.region is not None and not isinstance(self.region, Region):
                raise ValueError(f"black: region must be a Region, got {self.region!r}")
            if not isinstance(self.mask, tuple) or not all(isinstance(m, Region) for m in self.mask):
                raise ValueError(f"black: mask must be a tuple of Regions, got {self.mask!r}")

        @property
        def luma_threshold(self) -> int:
            """The highest luma level (8-bit, video range) that counts as black."""
            return int(_BLACK_LEVEL + self.pixel_threshold * (_WHITE_LEVEL - _BLACK_LEVEL))

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._threshold = self.params.luma_threshold
        self._clock = FrameClock()
        self._start: Frame | None = None
        self._last_black: Frame | None = None
        self._min_ratio = 1.0
        self._sum_ratio = 0.0
        self._count = 0
        self.last_metric: float | None = None
        self._last_index = -1
        self._last_pts_s = 0.0
        self._keep: np.ndarray | None = None
        self._keep_size = (0, 0)

    def black_ratio(self, frame: Frame) -> float:
        """Return the ratio of black pixels in the analysed region of ``frame`` (masked parts left out).

        When every 16th row alone proves the frame is not black, that is the ratio over those rows.
        """
        luma = frame.luma
        if self.params.region is not None:
            rows, cols = self.params.region.clip(frame.width, frame.height).slices
            luma = luma[rows, cols]
        if self.params.mask:
            keep = self._keep_mask(frame)
            black = cv2.threshold(luma, self._threshold, 255, cv2.THRESH_BINARY_INV)[1]
            kept = cv2.countNonZero(keep)
            return cv2.countNonZero(cv2.bitwise_and(black, keep)) / float(kept) if kept else 0.0
        sample = luma[::_SAMPLE_ROWS]
        if sample.shape[0] >= 4:
            bright = cv2.countNonZero(cv2.compare(sample, self._threshold, cv2.CMP_GT))
            if bright > (1.0 - self.params.picture_black_ratio) * luma.size:
                return 1.0 - bright / float(sample.size)
        _, mask = cv2.threshold(luma, self._threshold, 255, cv2.THRESH_BINARY_INV)
        return cv2.countNonZero(mask) / float(luma.size)

    def _keep_mask(self, frame: Frame) -> np.ndarray:
        """Return (cached per frame size) 255 where pixels of the analysed region count, 0 where masked."""
        if self._keep is None or self._keep_size != (frame.width, frame.height):
            keep = np.full((frame.height, frame.width), 255, np.uint8)
            for m in self.params.mask:
                rows, cols = m.clip(frame.width, frame.height).slices
                keep[rows, cols] = 0
            if self.params.region is not None:
                rows, cols = self.params.region.clip(frame.width, frame.height).slices
                keep = np.ascontiguousarray(keep[rows, cols])
            self._keep, self._keep_size = keep, (frame.width, frame.height)
        return self._keep

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        ratio = self.last_metric
        return {
            "index": self._last_index,
            "pts_s": self._last_pts_s,
            "black_ratio": ratio,
            "black": None if ratio is None else int(ratio >= self.params.picture_black_ratio),
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the black event that ended just before it, if any."""
        if not isinstance(item, Frame):
            raise TypeError(f"black: expected a Frame, got {type(item).__name__}")
        ratio = self.black_ratio(item)
        self.last_metric = ratio
        self._last_index, self._last_pts_s = item.index, item.pts_s
        self._clock.tick(item)
        events: list[Event] = []
        if ratio >= self.params.picture_black_ratio:
            if self._start is None:
                self._start, self._min_ratio, self._sum_ratio, self._count = item, ratio, 0.0, 0
            self._last_black = item
            self._min_ratio = min(self._min_ratio, ratio)
            self._sum_ratio += ratio
            self._count += 1
        elif self._start is not None:
            events.extend(self._close(item.pts_s))
        return events

    def flush(self) -> list[Event]:
        """Close a black run still open at the end of the stream."""
        if self._start is None:
            return []
        return self._close(self._clock.end_s())

    def _close(self, end_s: float) -> list[Event]:
        start, last = self._start, self._last_black
        self._start = self._last_black = None
        assert start is not None and last is not None
        if end_s - start.pts_s < self.params.min_duration_s - 1e-6:
            return []
        mid = start.index + (last.index - start.index) // 2
        event = Event(
            detector=self.name,
            kind="black",
            start_s=start.pts_s,
            end_s=end_s,
            start_frame=start.index,
            end_frame=last.index,
            score=self._min_ratio,
            region=self.params.region,
            evidence_frame=mid,
            details={"mean_black_ratio": round(self._sum_ratio / self._count, 6)},
        )
        log.debug("black: %s", event.describe())
        return [event]
