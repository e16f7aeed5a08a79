"""Scene cuts: the first frame of a new shot, for the AV-sync and caption detectors (a measurement).

Each frame's luma, averaged over 8 x 8 blocks, is compared with the previous frame's in two
ways: the mean absolute difference (in 8-bit levels) and the distance between their 32-bin
luma histograms (half the L1 distance of the normalised histograms, in [0, 1]). Motion, even
fast motion that changes every block, keeps the histogram; a new shot changes it. Frame
``n`` starts a new shot when

* its mean difference is at least ``min_cut_levels`` (an absolute floor that ignores dark,
  quiet pictures), and
* its histogram distance is at least ``min_hist_distance`` and at least ``adaptive_ratio``
  times the mean distance over the ``window_frames`` frames before it, and
* the frame after it is still at least half ``min_hist_distance`` away from the frame before
  it (a one-frame flash returns to the old picture; a new shot stays). The frame after a
  flash is not a cut either.

So the decision on frame ``n`` is made when frame ``n + 1`` arrives. Cuts closer than
``min_scene_frames`` to the previous cut are dropped. Gradual transitions (fades,
dissolves) are not cuts.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import downscaled_luma, region_of

log = logging.getLogger(__name__)

_FACTOR = 8


class SceneCutDetector:
    """Report hard cuts as one-frame events (start_frame = end_frame = first frame of the new shot).

    Per-frame metric: :attr:`last_metric` is the histogram distance to the previous frame;
    :meth:`metrics` also gives the mean absolute difference (8x-downscaled luma, levels) and
    the adaptive baseline the distance is compared with.
    """

    name: ClassVar[str] = "scenecut"
    medium: ClassVar[Medium] = "video"
    # A measurement, not a defect: `avqa analyze` runs it only when named.
    run_by_default: ClassVar[bool] = False
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "diff_levels", "hist_distance", "baseline")

    @dataclass(frozen=True)
    class Params:
        """Scene-cut parameters.

        Attributes:
            min_cut_levels: smallest mean absolute difference of a cut, in 8-bit luma
                levels (> 0).
            min_hist_distance: smallest histogram distance of a cut, in (0, 1).
            adaptive_ratio: how many times the surrounding histogram distances a cut must
                exceed (> 1).
            window_frames: frames before a candidate averaged for its baseline (>= 1).
            min_scene_frames: fewest frames between two cuts (>= 1).
            region: the part of the picture analysed; None for the whole picture.
        """

        min_cut_levels: float = 12.0
        min_hist_distance: float = 0.25
        adaptive_ratio: float = 3.0
        window_frames: int = 8
        min_scene_frames: int = 8
        region: Region | None = None

        def __post_init__(self) -> None:
            if not self.min_cut_levels > 0:
                raise ValueError(f"scenecut: min_cut_levels must be > 0, got {self.min_cut_levels}")
            if not 0.0 < self.min_hist_distance < 1.0:
                raise ValueError(f"scenecut: min_hist_distance must be in (0, 1), got {self.min_hist_distance}")
            if not self.adaptive_ratio > 1:
                raise ValueError(f"scenecut: adaptive_ratio must be > 1, got {self.adaptive_ratio}")
            if not (isinstance(self.window_frames, int) and self.window_frames >= 1):
                raise ValueError(f"scenecut: window_frames must be an integer >= 1, got {self.window_frames!r}")
            if not (isinstance(self.min_scene_frames, int) and self.min_scene_frames >= 1):
                raise ValueError(f"scenecut: min_scene_frames must be an integer >= 1, got {self.min_scene_frames!r}")
            if self.region is not None and not isinstance(self.region, Region):
                raise ValueError(f"scenecut: region must be a Region, got {self.region!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._history: deque[float] = deque(maxlen=self.params.window_frames)
        # frame, distance, baseline, diff, histogram of the frame before it
        self._candidate: tuple[Frame, float, float, float, np.ndarray] | None = None
        self._last_cut_index: int | None = None
        self._after_flash = False
        self.last_metric: float | None = None
        self._last: dict[str, float | int | None] = dict.fromkeys(self.metric_names)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the cut at the previous frame, if it was one."""
        if not isinstance(item, Frame):
            raise TypeError(f"scenecut: expected a Frame, got {type(item).__name__}")
        p = self.params
        small = region_of(downscaled_luma(item, _FACTOR), p.region, _FACTOR)
        hist = cv2.calcHist([small], [0], None, [32], [0, 256]).ravel() / float(small.size)
        diff: float | None = None
        dist: float | None = None
        if self._prev is not None and self._prev_hist is not None:
            if small.shape != self._prev.shape:
                diff, dist = 255.0, 1.0
            else:
                diff = float(cv2.mean(cv2.absdiff(small, self._prev))[0])
                dist = 0.5 * float(np.abs(hist - self._prev_hist).sum())
        prev_hist = self._prev_hist
        self._prev, self._prev_hist = small, hist
        events: list[Event] = []
        self._after_flash = False
        if self._candidate is not None and dist is not None:
            events.extend(self._decide(item, hist))
        baseline = sum(self._history) / len(self._history) if self._history else None
        self._candidate = None
        if diff is not None and dist is not None:
            if (
                baseline is not None
                and not self._after_flash
                and diff >= p.min_cut_levels
                and dist >= p.min_hist_distance
                and dist >= p.adaptive_ratio * baseline
            ):
                assert prev_hist is not None
                self._candidate = (item, dist, baseline, diff, prev_hist)
            self._history.append(dist)
        self.last_metric = dist
        self._last = {"index": item.index, "pts_s": item.pts_s, "diff_levels": diff, "hist_distance": dist, "baseline": baseline}
        return events

    def flush(self) -> list[Event]:
        """Forget the stream; a candidate on the very last frame has no frame after it and is dropped."""
        self._prev, self._prev_hist, self._candidate = None, None, None
        self._history.clear()
        return []

    def _decide(self, nxt: Frame, next_hist: np.ndarray) -> list[Event]:
        assert self._candidate is not None
        frame, dist, _baseline, diff, before_hist = self._candidate
        if 0.5 * float(np.abs(next_hist - before_hist).sum()) < 0.5 * self.params.min_hist_distance:
            self._after_flash = True
            return []  # the next frame is back to the old picture: a flash
        if self._last_cut_index is not None and frame.index - self._last_cut_index < self.params.min_scene_frames:
            return []
        self._last_cut_index = frame.index
        event = Event(
            detector=self.name,
            kind="cut",
            start_s=frame.pts_s,
            end_s=nxt.pts_s,
            start_frame=frame.index,
            end_frame=frame.index,
            score=dist,
            region=self.params.region,
            evidence_frame=frame.index,
            details={"diff_levels": round(diff, 3), "hist_distance": round(dist, 4)},
        )
        log.debug("scenecut: %s", event.describe())
        return [event]
