"""Tearing: a frame made of two source pictures split at a row (a buffer swap during scan-out).

Judged on the shared 4x-downscaled luma from row profiles of frame differences: for each
frame ``n`` the mean absolute difference against frame ``n - 1`` per row. In moving
content a torn frame matches its predecessor (or successor) on one side of the tear row and
not on the other: the profile is *still* (at most ``still_max_levels``) over a band touching
the top or the bottom of the picture and *moving* (at least ``motion_min_levels``) over at
least 90 % of the other rows. That band must be moving in the differences just before and
just after too (content that really stopped there, or a static part of the picture such as
a menu or letterbox bars, is not a tear).

Which frame is torn is decided from the motion around the still band: a frame holding an
old picture there is followed by a double step, a frame already showing the next picture
there is preceded by one. The decision on frame ``n`` is made when frame ``n + 1`` arrives.
Each torn frame is a one-frame ``tearing`` event whose region is the stale band (full width)
and whose details give the tear row.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import downscaled_luma

log = logging.getLogger(__name__)

_FACTOR = 4


@dataclass(frozen=True, slots=True)
class _Split:
    top: bool  # the still band is at the top
    rows: int  # its height in downscaled rows


class TearingDetector:
    """Report torn frames (one event per frame).

    Per-frame metric: :attr:`last_metric` is the height ratio of the still band of the
    last frame's difference profile when the rest of the picture moves (0 when it has no
    such split); :meth:`metrics` also gives the mean difference and the moving-row ratio.
    """

    name: ClassVar[str] = "tearing"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "split_ratio", "mean_diff_levels", "moving_ratio")

    @dataclass(frozen=True)
    class Params:
        """Tearing parameters.

        Attributes:
            still_max_levels: largest row mean difference of a still row, in 8-bit luma
                levels (4x downscaled; > 0).
            motion_min_levels: smallest row mean difference of a moving row, in levels
                (> still_max_levels).
            min_band_ratio: smallest height of either side of the tear, as a ratio of the
                picture height, in (0, 0.5).
            stale_ratio: how much larger the motion after the still band must be than before
                it (or the reverse) to attribute the tear to one frame or the other (>= 1).
        """

        still_max_levels: float = 1.0
        motion_min_levels: float = 3.0
        min_band_ratio: float = 0.05
        stale_ratio: float = 1.5

        def __post_init__(self) -> None:
            if not self.still_max_levels > 0:
                raise ValueError(f"tearing: still_max_levels must be > 0, got {self.still_max_levels}")
            if not self.motion_min_levels > self.still_max_levels:
                raise ValueError(
                    f"tearing: motion_min_levels must be > still_max_levels ({self.still_max_levels}), got {self.motion_min_levels}"
                )
            if not 0.0 < self.min_band_ratio < 0.5:
                raise ValueError(f"tearing: min_band_ratio must be in (0, 0.5), got {self.min_band_ratio}")
            if not self.stale_ratio >= 1.0:
                raise ValueError(f"tearing: stale_ratio must be >= 1, got {self.stale_ratio}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._prev_small: np.ndarray | None = None
        self._prev_frame: Frame | None = None
        # (frame, previous frame, profile of frame vs previous, split of that profile)
        self._history: deque[tuple[Frame, Frame, np.ndarray, _Split | None]] = deque(maxlen=3)
        self._last_torn: tuple[int, _Split] | None = None
        self.last_metric: float | None = None
        self._last: dict[str, float | int | None] = dict.fromkeys(self.metric_names)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    def split(self, profile: np.ndarray) -> tuple[_Split | None, float]:
        """Return (the still band of a difference profile if the rest moves, ratio of moving rows)."""
        p = self.params
        n = profile.size
        still = profile <= p.still_max_levels
        moving = profile >= p.motion_min_levels
        moving_ratio = float(moving.mean())
        min_rows = max(1, int(np.ceil(p.min_band_ratio * n)))
        for top in (True, False):
            s = still if top else still[::-1]
            m = moving if top else moving[::-1]
            idx = np.flatnonzero(~s)
            k = int(idx[0]) if idx.size else n
            if k < min_rows or n - k < min_rows:
                continue
            rest = m[k + 1 :] if n - k > 2 else m[k:]  # one row of transition allowed
            if rest.size and rest.mean() >= 0.9:
                return _Split(top, k), moving_ratio
        return None, moving_ratio

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the torn frame decided with it, if any."""
        if not isinstance(item, Frame):
            raise TypeError(f"tearing: expected a Frame, got {type(item).__name__}")
        small = downscaled_luma(item, _FACTOR)
        events: list[Event] = []
        prev_small, prev_frame = self._prev_small, self._prev_frame
        self._prev_small, self._prev_frame = small, item
        if prev_small is None or prev_frame is None or prev_small.shape != small.shape:
            self._history.clear()
            self._last = {
                "index": item.index,
                "pts_s": item.pts_s,
                "split_ratio": None,
                "mean_diff_levels": None,
                "moving_ratio": None,
            }
            self.last_metric = None
            return events
        profile = cv2.reduce(cv2.absdiff(small, prev_small), 1, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
        split, moving_ratio = self.split(profile)
        self._history.append((item, prev_frame, profile, split))
        if len(self._history) == 3:
            events.extend(self._decide())
        ratio = 0.0 if split is None else split.rows / profile.size
        self.last_metric = ratio
        self._last = {
            "index": item.index,
            "pts_s": item.pts_s,
            "split_ratio": ratio,
            "mean_diff_levels": float(profile.mean()),
            "moving_ratio": moving_ratio,
        }
        return events

    def flush(self) -> list[Event]:
        """Forget the stream (the last difference has nothing after it to confirm a tear)."""
        self._history.clear()
        self._prev_small = self._prev_frame = None
        self._last_torn = None
        return []

    def _decide(self) -> list[Event]:
        (_, _, before, _), (frame, prev, profile, split), (nxt, _, after, _) = self._history
        if split is None:
            return []
        n = profile.size
        band = slice(0, split.rows) if split.top else slice(n - split.rows, n)
        motion_before, motion_after = float(before[band].mean()), float(after[band].mean())
        p = self.params
        if min(motion_before, motion_after) < p.motion_min_levels:
            return []  # that band is not moving content: a static part of the picture
        if self._last_torn is not None:
            index, last = self._last_torn
            if index == prev.index and last.top != split.top and abs((n - last.rows) - split.rows) <= 2:
                return []  # the other side of the tear already reported on the previous frame
        if motion_before > p.stale_ratio * motion_after:
            torn, torn_next = prev, frame  # the previous frame already showed the next picture there
        else:
            torn, torn_next = frame, nxt
        if self._last_torn is not None and self._last_torn[0] == torn.index:
            return []
        self._last_torn = (torn.index, split)
        height = torn.height
        rows_px = min(height, split.rows * _FACTOR)
        y = 0 if split.top else height - rows_px
        tear_row = rows_px if split.top else height - rows_px
        event = Event(
            detector=self.name,
            kind="tearing",
            start_s=torn.pts_s,
            end_s=torn_next.pts_s,
            start_frame=torn.index,
            end_frame=torn.index,
            score=min(1.0, float(np.mean(np.delete(profile, band))) / (4 * p.motion_min_levels)),
            region=Region(0, y, torn.width, max(1, rows_px)),
            evidence_frame=torn.index,
            details={"tear_row_px": tear_row, "stale_band": "top" if split.top else "bottom"},
        )
        log.debug("tearing: %s", event.describe())
        return [event]
