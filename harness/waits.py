"""wait_for_* helpers over any frame iterator (live capture or a file), time taken from frame pts.

Each helper returns a truthy :class:`WaitResult` or raises :class:`~harness.errors.WaitTimeout`
(a product failure) carrying the last frame seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.media import Frame, Region
from detectors.video.black import BlackDetector
from harness.errors import WaitTimeout

DEFAULT_MOTION_THRESHOLD = 3.0  # mean absolute luma difference (levels, 0-255) between frames, 1/4-scale
CHANGED_BLOCK_LEVELS = 24  # a 4x4 block whose mean luma moved by more than this has changed
DEFAULT_CHANGED_RATIO = 0.0005  # ... and this share of changed blocks is a change (a focus ring, a spinner)


@dataclass(frozen=True)
class WaitResult:
    """What a wait found: the first matching frame and how long it took on the capture clock."""

    what: str
    frame: Frame
    started_s: float
    score: float

    @property
    def at_s(self) -> float:
        return self.frame.pts_s

    @property
    def elapsed_s(self) -> float:
        return self.frame.pts_s - self.started_s

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"{self.what} at t={self.at_s:.3f} s after {self.elapsed_s:.3f} s (frame {self.frame.index}, score {self.score:.3g})"


def small_luma(frame: Frame, region: Region | None = None) -> np.ndarray:
    """Luma of ``region`` (or the whole frame) averaged over 4x4 blocks, for noise-robust comparisons."""
    luma = frame.luma
    if region is not None:
        luma = luma[region.clip(frame.width, frame.height).slices]
    h, w = luma.shape
    return cv2.resize(luma, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)


def difference(a: np.ndarray, b: np.ndarray, threshold: float) -> float | None:
    """How much two downscaled lumas differ: the mean difference when it exceeds ``threshold``,
    else the share of changed blocks when it exceeds DEFAULT_CHANGED_RATIO (a small local change),
    else None (the same picture, give or take capture noise)."""
    diff = cv2.absdiff(a, b)
    mean = float(cv2.mean(diff)[0])
    if mean > threshold:
        return mean
    changed = cv2.countNonZero(cv2.compare(diff, CHANGED_BLOCK_LEVELS, cv2.CMP_GT)) / diff.size
    return changed if changed > DEFAULT_CHANGED_RATIO else None


def wait_for(
    frames: Iterable[Frame],
    score: Callable[[Frame], float | None],
    *,
    timeout_s: float,
    what: str,
    consecutive: int = 1,
    since_s: float | None = None,
) -> WaitResult:
    """Wait until ``score(frame)`` is truthy (not None/0) on ``consecutive`` frames in a row.

    Returns the first frame of that run. Time is measured on frame presentation times from
    ``since_s`` (default: the first frame seen), so results do not depend on machine speed.
    """
    __tracebackhide__ = True
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    run_start: tuple[Frame, float] | None = None
    run = 0
    last: Frame | None = None
    start = since_s
    for frame in frames:
        last = frame
        if start is None:
            start = frame.pts_s
        value = score(frame)
        if value:
            if run == 0:
                run_start = (frame, float(value))
            run += 1
            if run >= consecutive:
                assert run_start is not None
                return WaitResult(what, run_start[0], start, run_start[1])
        else:
            run = 0
        if frame.pts_s - start > timeout_s:
            break
    where = f" (last frame {last.index} at t={last.pts_s:.3f} s)" if last is not None else ""
    raise WaitTimeout(f"timed out after {timeout_s:g} s waiting for {what}{where}", frame=last)


def motion_score(region: Region | None = None, threshold: float = DEFAULT_MOTION_THRESHOLD) -> Callable[[Frame], float | None]:
    """A scorer that is truthy when a frame differs from the previous one (see :func:`difference`)."""
    previous: list[np.ndarray] = []

    def score(frame: Frame) -> float | None:
        small = small_luma(frame, region)
        diff = difference(small, previous[0], threshold) if previous else None
        previous[:] = [small]
        return diff

    return score


def change_score(reference: Frame, region: Region | None = None, threshold: float = DEFAULT_MOTION_THRESHOLD) -> Callable[[Frame], float | None]:
    """Truthy when ``region`` differs from ``reference`` (see :func:`difference`)."""
    ref = small_luma(reference, region)

    def score(frame: Frame) -> float | None:
        return difference(small_luma(frame, region), ref, threshold)

    return score


def not_black_score() -> Callable[[Frame], float | None]:
    """Truthy when a frame is not black, by the black detector's definition and defaults."""
    detector = BlackDetector()
    limit = detector.params.picture_black_ratio

    def score(frame: Frame) -> float | None:
        ratio = detector.black_ratio(frame)
        return (1.0 - ratio) if ratio < limit else None

    return score


def black_score() -> Callable[[Frame], float | None]:
    """Truthy when a frame is black (the black detector's definition)."""
    not_black = not_black_score()
    return lambda frame: None if not_black(frame) else 1.0


def match_score(template_bgr: np.ndarray, region: Region, threshold: float) -> Callable[[Frame], float | None]:
    """Truthy when ``region`` of a frame matches ``template_bgr`` (normalised correlation >= threshold)."""
    template = cv2.cvtColor(template_bgr, cv2.COLOR_BGR2GRAY) if template_bgr.ndim == 3 else template_bgr

    def score(frame: Frame) -> float | None:
        r = region.clip(frame.width, frame.height)
        # match on the luma plane: grey template vs video-range luma, normalised correlation ignores the offset
        patch = frame.luma[r.slices]
        if patch.shape[0] < template.shape[0] or patch.shape[1] < template.shape[1]:
            return None
        value = float(cv2.matchTemplate(patch, template, cv2.TM_CCOEFF_NORMED).max())
        return value if value >= threshold else None

    return score
