"""Video detectors (one module per detector) and the small helpers they share."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

import cv2
import numpy as np

from detectors.media import Event, Frame, Region

__all__ = [
    "FrameClock",
    "Run",
    "RunTracker",
    "cached_downscaled_luma",
    "downscaled_luma",
    "region_of",
    "share_downscaled_luma",
    "sparse_downscaled_luma",
]


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


# --------------------------------------------------------------------------- shared downscaled luma
#
# Most video detectors look at the luma averaged over 4 x 4 blocks. Computing it once per
# frame (not once per detector) is what keeps the full suite fast: the planes of the last few
# frames are cached, keyed by the Frame object (held by the cache, so its id stays unique;
# this keeps at most _CACHE_FRAMES frames alive). Several devices in one process share the
# cache harmlessly: a Pipeline feeds one frame to all its detectors in a row.

_CACHE_FRAMES = 8
_cache: dict[int, tuple[Frame, dict[int, np.ndarray]]] = {}
_cache_lock = threading.Lock()


def _halve(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    # INTER_AREA at exactly 1/2 is OpenCV's fast 2x2 average path (10x faster than 1/4).
    return cv2.resize(plane, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)


def downscaled_luma(frame: Frame, factor: int = 4) -> np.ndarray:
    """Return the frame's luma averaged over ``factor`` x ``factor`` blocks (uint8), cached per frame.

    Powers of two are computed by successive 2x2 averages (each result cached, so the 2x
    plane comes free with the 4x one); other factors by one area resize. ``factor`` 1 returns
    the luma itself (a view of the frame's pixels). Callers must not modify the result.
    """
    if factor < 1:
        raise ValueError(f"downscale factor must be >= 1, got {factor}")
    if factor == 1:
        return frame.luma
    key = id(frame)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is None or entry[0] is not frame:
            entry = (frame, {})
            _cache[key] = entry
            while len(_cache) > _CACHE_FRAMES:
                del _cache[next(iter(_cache))]
    planes = entry[1]
    plane = planes.get(factor)
    if plane is not None:
        return plane
    if factor & (factor - 1) == 0:
        src_factor = factor // 2
        if src_factor == 1:
            src = frame.luma
            # OpenCV's 2x area average reads two rows at a time, which the hardware prefetcher
            # follows badly: on a picture not in the CPU caches (1080p, AMD EPYC) it takes about
            # 300 us, against about 70 us for one sequential pass that brings it into the cache
            # and 66 us for the average then. In cache, the pass costs about 20 us.
            cv2.sumElems(src)
        else:
            src = downscaled_luma(frame, src_factor)
        plane = _halve(src)
    else:
        h, w = frame.height, frame.width
        plane = cv2.resize(frame.luma, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    planes[factor] = plane
    return plane


def cached_downscaled_luma(frame: Frame, factor: int = 4) -> np.ndarray | None:
    """Return the frame's luma averaged over ``factor`` x ``factor`` blocks if it is already computed, else None."""
    entry = _cache.get(id(frame))
    if entry is None or entry[0] is not frame:
        return None
    return entry[1].get(factor)


def share_downscaled_luma(frame: Frame, twin: Frame) -> None:
    """Record that ``frame`` has exactly the luma of ``twin``: both then share their downscaled planes.

    A plane computed (or already cached) for either serves both, so a run of repeated
    pictures is downscaled once whichever detector asks first. The caller guarantees the
    pixels are identical (see ``np.array_equal``); nothing is checked here.
    """
    with _cache_lock:
        twin_entry = _cache.get(id(twin))
        if twin_entry is None or twin_entry[0] is not twin:
            twin_entry = (twin, {})
            _cache[id(twin)] = twin_entry
        entry = _cache.get(id(frame))
        planes = twin_entry[1]
        if entry is not None and entry[0] is frame:
            planes.update(entry[1])  # keep what was computed for frame already
        _cache.pop(id(frame), None)  # re-inserted as the newest entry
        _cache[id(frame)] = (frame, planes)
        while len(_cache) > _CACHE_FRAMES:
            del _cache[next(iter(_cache))]


def sparse_downscaled_luma(frame: Frame, factor: int = 4, every: int = 4) -> np.ndarray:
    """Return rows 0, ``every``, 2 * ``every``... of :func:`downscaled_luma` (same values), cheaply.

    When the full plane is cached (or the picture size is not a multiple of ``factor``) this
    is a view of the full plane; otherwise only the full-resolution rows those downscaled rows
    average are read (about 1/``every`` of the work). ``factor`` must be a power of two >= 2.
    """
    if factor < 2 or factor & (factor - 1):
        raise ValueError(f"sparse downscale factor must be a power of two >= 2, got {factor}")
    entry = _cache.get(id(frame))
    cached = entry is not None and entry[0] is frame and factor in entry[1]
    if cached or frame.height % factor or frame.width % factor:
        # odd intermediate sizes make OpenCV's area resize mix rows: only the full plane is exact
        full = downscaled_luma(frame, factor)
        return full[: (frame.height // (factor * every)) * every : every]
    period = factor * every
    n = frame.height // period
    width = frame.width
    bands = frame.luma[: n * period].reshape(n, period, width)[:, :factor]
    plane = np.ascontiguousarray(bands).reshape(n * factor, width)
    while factor > 1:
        plane = _halve(plane)
        factor //= 2
    return plane


def region_of(plane: np.ndarray, region: Region | None, factor: int) -> np.ndarray:
    """Return the part of a plane downscaled by ``factor`` that covers ``region`` (frame pixels)."""
    if region is None:
        return plane
    h, w = plane.shape
    x0, y0 = region.x // factor, region.y // factor
    x1 = max(x0 + 1, (region.x + region.width) // factor)
    y1 = max(y0 + 1, (region.y + region.height) // factor)
    return plane[min(y0, h - 1) : min(y1, h), min(x0, w - 1) : min(x1, w)]


# --------------------------------------------------------------------------- runs of flagged frames


@dataclass(frozen=True, slots=True)
class Run:
    """A closed run of consecutive frames flagged with the same key."""

    key: Hashable
    start: Frame
    last: Frame
    end_s: float
    frames: int
    min_score: float
    max_score: float
    mean_score: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start.pts_s

    def event(
        self, detector: str, kind: str, score: float, region: Region | None = None, details: dict[str, object] | None = None
    ) -> Event:
        """Return the frame-exact event of this run (evidence: its middle frame)."""
        return Event(
            detector=detector,
            kind=kind,
            start_s=self.start.pts_s,
            end_s=self.end_s,
            start_frame=self.start.index,
            end_frame=self.last.index,
            score=score,
            region=region,
            evidence_frame=self.start.index + (self.last.index - self.start.index) // 2,
            details=dict(details or {}),
        )


class RunTracker:
    """Group consecutive frames carrying the same (non-None) key into runs of at least ``min_duration_s``.

    A run ends at the first frame with another key (its ``end_s`` is that frame's pts) or at
    :meth:`flush` (the last frame's pts plus one frame duration).
    """

    __slots__ = ("_clock", "_count", "_key", "_last", "_max", "_min", "_start", "_sum", "min_duration_s")

    def __init__(self, min_duration_s: float) -> None:
        self.min_duration_s = min_duration_s
        self._clock = FrameClock()
        self._key: Hashable | None = None
        self._start: Frame | None = None
        self._last: Frame | None = None
        self._count = 0
        self._min = self._max = self._sum = 0.0

    @property
    def key(self) -> Hashable | None:
        """The key of the open run (None when no run is open)."""
        return self._key

    def update(self, frame: Frame, key: Hashable | None, score: float = 1.0) -> Run | None:
        """Record ``frame`` with ``key`` (None: not flagged); return the run it closed, if long enough."""
        self._clock.tick(frame)
        closed = None
        if key != self._key and self._key is not None:
            closed = self._close(frame.pts_s)
        if key is not None:
            if self._key is None:
                self._key, self._start, self._count = key, frame, 0
                self._min, self._max, self._sum = score, score, 0.0
            self._last = frame
            self._count += 1
            self._min, self._max, self._sum = min(self._min, score), max(self._max, score), self._sum + score
        return closed

    def flush(self) -> Run | None:
        """Close the open run at the end of the stream; return it if long enough."""
        if self._key is None:
            return None
        return self._close(self._clock.end_s())

    def _close(self, end_s: float) -> Run | None:
        assert self._start is not None and self._last is not None
        run = Run(self._key, self._start, self._last, end_s, self._count, self._min, self._max, self._sum / self._count)
        self._key = self._start = self._last = None
        if run.duration_s < self.min_duration_s - 1e-6:
            return None
        return run
