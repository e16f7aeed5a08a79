"""Frozen video: runs of pictures that do not change, robust to capture and encoding noise.

Each frame's luma is downscaled (area average over ``downscale_px`` x ``downscale_px``
blocks, which averages away codec and capture noise) and compared with the first frame of
the current run. A frame continues the run when both

* the mean absolute difference is at most ``max_mean_diff_levels`` (global change), and
* at most ``max_changed_ratio`` of the blocks differ by more than ``changed_block_levels``
  (local change: a small moving object such as a spinner or cursor ends a freeze even when
  it hardly moves the mean).

Otherwise it starts a new run. Runs lasting at least ``min_duration_s`` are reported from
the first frame of the run through its last repeat, as FFmpeg's freezedetect does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import (
    FrameClock,
    cached_downscaled_luma,
    downscaled_luma,
    share_downscaled_luma,
    sparse_downscaled_luma,
)

log = logging.getLogger(__name__)


# A picture counts as black as in the black detector's defaults (luma <= 37 on >= 98 % of it).
_BLACK_LUMA = 37
_BLACK_RATIO = 0.98


def _is_black(small_luma: np.ndarray) -> bool:
    return cv2.countNonZero(cv2.compare(small_luma, _BLACK_LUMA, cv2.CMP_LE)) >= _BLACK_RATIO * small_luma.size


def _identical(luma: np.ndarray, other: np.ndarray) -> bool:
    """Return whether two luma planes are bit-identical (every 64th row first: most pairs differ there)."""
    if luma.shape != other.shape:
        return False
    if cv2.norm(luma[::64], other[::64], cv2.NORM_INF) != 0:
        return False
    return cv2.norm(luma, other, cv2.NORM_INF) == 0


class FreezeDetector:
    """Report runs of unchanged pictures lasting at least ``min_duration_s``.

    Per-frame metric: :attr:`last_metric` is the mean absolute difference (luma levels) of
    the last frame against the first frame of its run; :meth:`metrics` also gives the ratio
    of changed blocks. Both are kept apart from the frozen/not-frozen decision. For a frame
    proven changed on every 4th row of blocks (see :meth:`_quick_change`) they are measured
    over those rows.

    Speed: a picture bit-identical to the previous one (a still picture from a decoder or a
    lossless capture repeats its pixels exactly) gets the previous one's result without any
    downscale; inside a freeze, the next picture is tried that way first, then with the quick
    change test, and only then with the full comparison.
    """

    name: ClassVar[str] = "freeze"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "mean_diff_levels", "changed_ratio", "frozen")

    @dataclass(frozen=True)
    class Params:
        """Freeze detection parameters.

        Attributes:
            max_mean_diff_levels: largest mean absolute difference of the downscaled luma
                against the first frame of the run, in 8-bit luma levels, for a frame to
                count as unchanged (> 0). An H.264 re-encode of a still, noisy picture
                across a keyframe measures about 0.4 (crf 18), 0.9 (crf 23) and 1.3 (crf 28);
                real motion is caught by this or by the changed-block test below.
            changed_block_levels: a downscaled block differing by more than this many luma
                levels counts as changed (> 0).
            max_changed_ratio: largest ratio of changed blocks for a frame to count as
                unchanged, in [0, 1).
            downscale_px: side of the square blocks averaged before comparing, in pixels
                (>= 1).
            min_duration_s: shortest freeze reported, in seconds (>= 0).
            region: the part of the picture analysed (clipped to the frame); None for the
                whole picture.
            ignore_black: do not report a run whose picture is black (the black detector
                reports those; FFmpeg's freezedetect would report both). Set False for
                freezedetect parity.
            mask: parts of the picture ignored, in frame pixels (a clock, a spinner, a
                live-channel bug that keeps changing on a frozen picture); the blocks they
                touch are left out of both tests.
        """

        max_mean_diff_levels: float = 1.5
        changed_block_levels: float = 24.0
        max_changed_ratio: float = 0.0005
        downscale_px: int = 4
        min_duration_s: float = 0.5
        region: Region | None = None
        ignore_black: bool = True
        mask: tuple[Region, ...] = ()

        def __post_init__(self) -> None:
            if not self.max_mean_diff_levels > 0.0:
                raise ValueError(f"freeze: max_mean_diff_levels must be > 0, got {self.max_mean_diff_levels}")
            if not self.changed_block_levels > 0.0:
                raise ValueError(f"freeze: changed_block_levels must be > 0, got {self.changed_block_levels}")
            if not 0.0 <= self.max_changed_ratio < 1.0:
                raise ValueError(f"freeze: max_changed_ratio must be in [0, 1), got {self.max_changed_ratio}")
            if not (isinstance(self.downscale_px, int) and self.downscale_px >= 1):
                raise ValueError(f"freeze: downscale_px must be an integer >= 1, got {self.downscale_px!r}")
            if not self.min_duration_s >= 0.0:
                raise ValueError(f"freeze: min_duration_s must be >= 0, got {self.min_duration_s}")
            if self.region is not None and not isinstance(self.region, Region):
                raise ValueError(f"freeze: region must be a Region, got {self.region!r}")
            if not isinstance(self.mask, tuple) or not all(isinstance(m, Region) for m in self.mask):
                raise ValueError(f"freeze: mask must be a tuple of Regions, got {self.mask!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = FrameClock()
        self._ref: Frame | None = None
        self._ref_small: np.ndarray | None = None
        self._last: Frame | None = None
        self._max_diff = 0.0
        self.last_metric: float | None = None
        self._last_changed: float | None = None
        self._last_frozen: bool | None = None
        self._last_index = -1
        self._last_pts_s = 0.0
        self._keep: np.ndarray | None = None
        self._part: tuple[Frame, np.ndarray] | None = None  # sparse plane of the last frame tried
        self._ref_part: tuple[Frame, np.ndarray] | None = None
        self._last_result = (0.0, 0.0)  # (mean, changed ratio) of the last frame against the reference

    def downscaled(self, frame: Frame) -> np.ndarray:
        """Return the analysed luma averaged over ``downscale_px`` square blocks (uint8)."""
        k = self.params.downscale_px
        if self.params.region is None:
            return downscaled_luma(frame, k)  # shared with the other video detectors
        rows, cols = self.params.region.clip(frame.width, frame.height).slices
        luma = frame.luma[rows, cols]
        if k == 1:
            return luma
        h, w = luma.shape
        return cv2.resize(luma, (max(1, w // k), max(1, h // k)), interpolation=cv2.INTER_AREA)

    def compare(self, small: np.ndarray, ref_small: np.ndarray) -> tuple[float, float]:
        """Return (mean absolute difference in levels, ratio of changed blocks) of two downscaled pictures."""
        if small.shape != ref_small.shape:
            return 255.0, 1.0
        diff = cv2.absdiff(small, ref_small)
        size = float(diff.size)
        if self.params.mask:
            keep = self._keep_mask(diff.shape)
            diff = cv2.bitwise_and(diff, keep)
            size = float(max(1, cv2.countNonZero(keep)))
        mean = float(cv2.sumElems(diff)[0]) / size
        _, changed = cv2.threshold(diff, self.params.changed_block_levels, 255, cv2.THRESH_BINARY)
        return mean, cv2.countNonZero(changed) / size

    def _keep_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """Return (cached per plane size) 255 on the downscaled blocks compared, 0 on blocks touching a mask."""
        if self._keep is None or self._keep.shape != shape:
            k = self.params.downscale_px
            ox, oy = (self.params.region.x, self.params.region.y) if self.params.region is not None else (0, 0)
            keep = np.full(shape, 255, np.uint8)
            for m in self.params.mask:
                x0, y0 = max(0, (m.x - ox) // k), max(0, (m.y - oy) // k)
                x1, y1 = -(-(m.x + m.width - ox) // k), -(-(m.y + m.height - oy) // k)  # ceil: every touched block
                if x1 > 0 and y1 > 0:
                    keep[y0:y1, x0:x1] = 0
            self._keep = keep
        return self._keep

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return {
            "index": self._last_index,
            "pts_s": self._last_pts_s,
            "mean_diff_levels": self.last_metric,
            "changed_ratio": self._last_changed,
            "frozen": None if self._last_frozen is None else int(self._last_frozen),
        }

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the freeze that ended just before it, if any."""
        if not isinstance(item, Frame):
            raise TypeError(f"freeze: expected a Frame, got {type(item).__name__}")
        self._clock.tick(item)
        self._last_index, self._last_pts_s = item.index, item.pts_s
        events: list[Event] = []
        small: np.ndarray | None = None
        if self._ref is None or self._last is None:
            mean, changed, frozen = 0.0, 0.0, False
        else:
            # Inside a freeze the next frame is most likely frozen too, often with the very same
            # pixels: try that first. Otherwise (programme) the quick change test decides most
            # frames. When another detector already downscaled the frame, comparing is cheapest.
            ready = self.params.region is None and cached_downscaled_luma(item, self.params.downscale_px) is not None
            inside = bool(self._last_frozen)
            same, quick = False, None
            if inside and not ready:
                same = self._same_as_last(item)
            if not same and not (inside and ready):
                quick = self._quick_change(item)
                if quick is None and not inside and not ready:
                    same = self._same_as_last(item)
            if same:  # same pixels as the last frame: same comparison with the reference
                (mean, changed), frozen = self._last_result, True
            elif quick is not None:
                (mean, changed), frozen = quick, False
            else:
                small = self.downscaled(item)
                if self._ref_small is None:
                    self._ref_small = self.downscaled(self._ref)
                mean, changed = self.compare(small, self._ref_small)
                frozen = mean <= self.params.max_mean_diff_levels and changed <= self.params.max_changed_ratio
        self.last_metric, self._last_changed, self._last_frozen = mean, changed, frozen
        if frozen:
            self._last = item
            self._max_diff = max(self._max_diff, mean)
            self._last_result = (mean, changed)
        else:
            self._last_result = (0.0, 0.0)
            events.extend(self._close(item.pts_s))
            if small is None and not self._sparse_ok(item):
                small = self.downscaled(item)
            if small is not None and self.params.downscale_px == 1:
                small = small.copy()  # a view of the frame's pixels otherwise
            # with the quick test the new reference's full plane is computed only if needed
            self._ref, self._ref_small, self._last, self._max_diff = item, small, item, 0.0
            self._ref_part = self._part if self._part is not None and self._part[0] is item else None
        return events

    def _same_as_last(self, frame: Frame) -> bool:
        """Return whether ``frame`` has exactly the last frame's luma (then it also shares its downscaled planes)."""
        last = self._last
        if last is None or not _identical(frame.luma, last.luma):
            return False
        share_downscaled_luma(frame, last)
        return True

    def _sparse_ok(self, frame: Frame) -> bool:
        k = self.params.downscale_px
        return self.params.region is None and not self.params.mask and k >= 2 and k & (k - 1) == 0 and frame.height >= 4 * k

    def _quick_change(self, frame: Frame) -> tuple[float, float] | None:
        """Prove a change from every 4th row of blocks only; return (mean, changed ratio) over them, or None.

        The sums over a subset of blocks bound those over all blocks from below, so a subset
        whose differences alone exceed either limit (counted against all blocks) decides
        "changed" exactly. Most programme frames are decided here, at about a quarter of the
        cost of the full downscale; the rest (and every frozen frame) get the full comparison.
        """
        ref = self._ref
        if ref is None or not self._sparse_ok(frame) or (frame.width, frame.height) != (ref.width, ref.height):
            return None
        k = self.params.downscale_px
        part = sparse_downscaled_luma(frame, k)
        self._part = (frame, part)  # becomes the reference's if this frame starts a run
        if self._ref_small is not None:
            ref_part = self._ref_small[: part.shape[0] * 4 : 4]
        elif self._ref_part is not None and self._ref_part[0] is ref:
            ref_part = self._ref_part[1]
        else:
            ref_part = sparse_downscaled_luma(ref, k)
        if part.shape != ref_part.shape or part.size == 0:
            return None
        diff = cv2.absdiff(part, ref_part)
        total = float((frame.height // k) * (frame.width // k))
        diff_sum = float(cv2.sumElems(diff)[0])
        n_changed = cv2.countNonZero(cv2.threshold(diff, self.params.changed_block_levels, 255, cv2.THRESH_BINARY)[1])
        if diff_sum / total > self.params.max_mean_diff_levels or n_changed / total > self.params.max_changed_ratio:
            return diff_sum / diff.size, n_changed / float(diff.size)
        return None

    def flush(self) -> list[Event]:
        """Close a freeze still open at the end of the stream."""
        events = self._close(self._clock.end_s())
        self._ref = self._ref_small = self._last = None
        self._part = self._ref_part = None
        self._last_result = (0.0, 0.0)
        return events

    def _close(self, end_s: float) -> list[Event]:
        ref, last = self._ref, self._last
        if ref is None or last is None or last is ref:
            return []
        if end_s - ref.pts_s < self.params.min_duration_s - 1e-6:
            return []
        if self.params.ignore_black:
            if self._ref_small is None:  # a run of identical pictures compares no planes
                self._ref_small = self.downscaled(ref)
            if _is_black(self._ref_small):
                return []
        score = max(0.0, 1.0 - self._max_diff / self.params.max_mean_diff_levels)
        event = Event(
            detector=self.name,
            kind="freeze",
            start_s=ref.pts_s,
            end_s=end_s,
            start_frame=ref.index,
            end_frame=last.index,
            score=score,
            region=self.params.region,
            evidence_frame=ref.index + (last.index - ref.index) // 2,
            details={"max_diff_levels": round(self._max_diff, 4)},
        )
        log.debug("freeze: %s", event.describe())
        return [event]
