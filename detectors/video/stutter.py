"""Stutter: repeated and dropped pictures against the steady cadence, and judder (uneven cadence).

Judged from the pictures only, never from timestamps (a timestamp gap is a capture drop,
which ``avqa analyze`` reports as ``dropped_frames``). Each frame is compared with the one
before it on the shared 4x-downscaled luma: it *repeats* it when the mean absolute
difference is at most ``repeat_max_mean_levels`` and at most ``repeat_max_changed_ratio``
of the blocks changed by more than ``changed_block_levels`` (a small moving element is a
change). Consecutive repeats make a *hold*: the number of output frames one picture stayed
on screen. Native-rate content has holds of 1, 30p on a 60 Hz output holds of 2, and 24p on
60 Hz alternates 3 and 2 (3:2 pulldown).

* ``repeated_frame``: one hold longer than the steady cadence (by at most
  ``max_repeat_frames``) between ``confirm_holds`` steady holds on each side; the event
  covers the repeated frames (the first is the first frame that should have been new).
* ``dropped_frame``: one hold shorter than a steady cadence of 2 or more (a source picture
  shown too briefly); the event covers the frames of the short hold.
* ``judder``: at least ``min_judder_s`` of holds alternating between two adjacent lengths
  (3:2, 2:3:2:2...), each at least ``min_judder_share`` of the holds; the event spans the
  frames of those holds. Set ``report_judder=False`` where such a cadence is expected.

Longer holds are static pictures or freezes (the freeze detector's business) and break the
cadence, so menus, pauses and still scenes produce no stutter events.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import FrameClock, downscaled_luma, region_of

log = logging.getLogger(__name__)

_FACTOR = 4
_KEEP_FRAMES = 16
# A picture counts as black as in the black detector's defaults (luma <= 37 on >= 98 % of it).
_BLACK_LUMA = 37
_BLACK_RATIO = 0.98


def _is_black(small: np.ndarray) -> bool:
    return cv2.countNonZero(cv2.compare(small, _BLACK_LUMA, cv2.CMP_LE)) >= _BLACK_RATIO * small.size


@dataclass(frozen=True, slots=True)
class _Hold:
    first_index: int  # frame numbers and times only: holding Frames would keep their pixels alive
    first_pts_s: float
    last_index: int
    length: int
    end_s: float  # pts of the next picture
    frames: tuple[tuple[int, float], ...]  # (index, pts_s) of its first frames
    black: bool  # a black picture: the black detector's business, breaks the cadence


class StutterDetector:
    """Report repeated frames, dropped frames and judder against the steady picture cadence.

    Per-frame metric: :attr:`last_metric` is the mean absolute difference (luma levels, 4x
    downscaled) against the previous frame; :meth:`metrics` also gives the ratio of changed
    blocks, whether the frame repeats the previous one and the current hold length.
    """

    name: ClassVar[str] = "stutter"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "mean_diff_levels", "changed_ratio", "repeat", "hold_frames")

    @dataclass(frozen=True)
    class Params:
        """Stutter parameters.

        Attributes:
            repeat_max_mean_levels: largest mean absolute difference to the previous frame
                (4x downscaled luma, 8-bit levels) for a repeat (> 0); covers capture and
                codec noise on an identical picture.
            changed_block_levels: a downscaled block differing by more than this many
                levels counts as changed (> 0).
            repeat_max_changed_ratio: largest ratio of changed blocks for a repeat, in [0, 1);
                0: any changed block (a spinner, a cursor) makes a new picture.
            max_repeat_frames: most extra frames a hold may last beyond the cadence and still
                be a stutter (>= 1); longer holds are stills or freezes.
            confirm_holds: steady holds needed on each side of a repeat or drop (>= 2).
            report_judder: report uneven cadences such as 3:2 pulldown.
            min_judder_s: shortest judder reported, in seconds (> 0).
            min_judder_share: smallest share of the rarer hold length in a judder, in (0, 0.5].
            region: the part of the picture analysed; None for the whole picture.
        """

        repeat_max_mean_levels: float = 1.5
        changed_block_levels: float = 24.0
        repeat_max_changed_ratio: float = 0.0
        max_repeat_frames: int = 4
        confirm_holds: int = 4
        report_judder: bool = True
        min_judder_s: float = 1.0
        min_judder_share: float = 0.2
        region: Region | None = None

        def __post_init__(self) -> None:
            if not self.repeat_max_mean_levels > 0:
                raise ValueError(f"stutter: repeat_max_mean_levels must be > 0, got {self.repeat_max_mean_levels}")
            if not self.changed_block_levels > 0:
                raise ValueError(f"stutter: changed_block_levels must be > 0, got {self.changed_block_levels}")
            if not 0.0 <= self.repeat_max_changed_ratio < 1.0:
                raise ValueError(f"stutter: repeat_max_changed_ratio must be in [0, 1), got {self.repeat_max_changed_ratio}")
            if not (isinstance(self.max_repeat_frames, int) and self.max_repeat_frames >= 1):
                raise ValueError(f"stutter: max_repeat_frames must be an integer >= 1, got {self.max_repeat_frames!r}")
            if not (isinstance(self.confirm_holds, int) and self.confirm_holds >= 2):
                raise ValueError(f"stutter: confirm_holds must be an integer >= 2, got {self.confirm_holds!r}")
            if not self.min_judder_s > 0:
                raise ValueError(f"stutter: min_judder_s must be > 0, got {self.min_judder_s}")
            if not 0.0 < self.min_judder_share <= 0.5:
                raise ValueError(f"stutter: min_judder_share must be in (0, 0.5], got {self.min_judder_share}")
            if self.region is not None and not isinstance(self.region, Region):
                raise ValueError(f"stutter: region must be a Region, got {self.region!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._clock = FrameClock()
        self._prev_small: np.ndarray | None = None
        self._hold_first: Frame | None = None
        self._hold_last: Frame | None = None
        self._hold_len = 0
        self._hold_frames: list[tuple[int, float]] = []
        self._hold_black = False
        n = self.params.confirm_holds
        self._holds: deque[_Hold] = deque(maxlen=2 * n + 1)  # candidate in the middle
        self._judder: list[_Hold] = []
        self.last_metric: float | None = None
        self._last: dict[str, float | int | None] = dict.fromkeys(self.metric_names)

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    def compare(self, small: np.ndarray, prev: np.ndarray) -> tuple[float, float]:
        """Return (mean absolute difference in levels, ratio of changed blocks) of two downscaled pictures."""
        if small.shape != prev.shape:
            return 255.0, 1.0
        diff = cv2.absdiff(small, prev)
        _, changed = cv2.threshold(diff, self.params.changed_block_levels, 255, cv2.THRESH_BINARY)
        return float(cv2.mean(diff)[0]), cv2.countNonZero(changed) / float(diff.size)

    # ------------------------------------------------------------------ streaming

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return stutter events decided with it."""
        if not isinstance(item, Frame):
            raise TypeError(f"stutter: expected a Frame, got {type(item).__name__}")
        small = region_of(downscaled_luma(item, _FACTOR), self.params.region, _FACTOR)
        self._clock.tick(item)
        repeat = False
        mean = changed = None
        if self._prev_small is not None:
            mean, changed = self.compare(small, self._prev_small)
            repeat = mean <= self.params.repeat_max_mean_levels and changed <= self.params.repeat_max_changed_ratio
        if not repeat:
            # keep the picture of the hold's first frame: repeats are compared with it
            self._prev_small = small
        events: list[Event] = []
        if repeat:
            self._hold_last = item
            self._hold_len += 1
            if len(self._hold_frames) < _KEEP_FRAMES:
                self._hold_frames.append((item.index, item.pts_s))
        else:
            if self._hold_first is not None and self._hold_last is not None:
                hold = self._hold(item.pts_s, self._hold_black)
                events.extend(self._hold_done(hold))
            self._hold_first, self._hold_last, self._hold_len = item, item, 1
            self._hold_frames = [(item.index, item.pts_s)]
            self._hold_black = _is_black(small)
        self.last_metric = mean
        self._last = {
            "index": item.index,
            "pts_s": item.pts_s,
            "mean_diff_levels": mean,
            "changed_ratio": changed,
            "repeat": int(repeat),
            "hold_frames": self._hold_len,
        }
        return events

    def flush(self) -> list[Event]:
        """Close the judder still open at the end of the stream (repeats need holds after them)."""
        events: list[Event] = []
        if self._hold_first is not None and self._hold_last is not None and self._judder:
            # the last hold may be cut short by the end of the stream: kept only if it fits the run
            lengths = [h.length for h in self._judder]
            if min(lengths) <= self._hold_len <= max(lengths) and not self._hold_black:
                end_s = self._clock.end_s()
                self._judder.append(self._hold(end_s, False))
        events.extend(self._close_judder())
        self._holds.clear()
        self._prev_small = self._hold_first = self._hold_last = None
        self._hold_len = 0
        return events

    # ------------------------------------------------------------------ cadence

    def _hold(self, end_s: float, black: bool) -> _Hold:
        assert self._hold_first is not None and self._hold_last is not None
        first, last = self._hold_first, self._hold_last
        return _Hold(first.index, first.pts_s, last.index, self._hold_len, end_s, tuple(self._hold_frames), black)

    def _hold_done(self, hold: _Hold) -> list[Event]:
        events = self._judder_step(hold)
        self._holds.append(hold)
        n = self.params.confirm_holds
        if len(self._holds) == 2 * n + 1:
            holds = list(self._holds)
            cand = holds[n]
            around = [h.length for h in holds[:n] + holds[n + 1 :]]
            base = around[0]
            steady = all(length == base for length in around) and not any(h.black for h in holds)
            if steady and cand.length != base:
                events.extend(self._deviation(cand, base))
        return events

    def _deviation(self, hold: _Hold, base: int) -> list[Event]:
        extra = hold.length - base
        if 0 < extra <= self.params.max_repeat_frames and base < len(hold.frames):
            # the repeated frames are the last `extra` frames of the hold
            kind, score = "repeated_frame", extra / (extra + base)
            start = hold.frames[base]
        elif extra < 0 and base >= 2:
            kind, score = "dropped_frame", -extra / base
            start = (hold.first_index, hold.first_pts_s)
        else:
            return []
        event = Event(
            detector=self.name,
            kind=kind,
            start_s=start[1],
            end_s=hold.end_s,
            start_frame=start[0],
            end_frame=hold.last_index,
            score=min(1.0, score),
            region=self.params.region,
            evidence_frame=start[0],
            details={"hold_frames": hold.length, "cadence_frames": base},
        )
        log.debug("stutter: %s", event.describe())
        return [event]

    def _judder_step(self, hold: _Hold) -> list[Event]:
        if not self.params.report_judder:
            return []
        run = self._judder
        lengths = [h.length for h in run] + [hold.length]
        too_long = hold.length > 1 + self.params.max_repeat_frames or hold.black
        if run and (max(lengths) - min(lengths) > 1 or too_long):
            events = self._close_judder()
            if not too_long:
                self._judder = [hold]
            return events
        if not too_long:
            run.append(hold)
        return []

    def _close_judder(self) -> list[Event]:
        run, self._judder = self._judder, []
        if len(run) < 4:
            return []
        # Trim the run to the stretch where both lengths alternate: drop leading/trailing
        # holds of the majority length beyond one (a steady cadence next to the judder).
        counts = Counter(h.length for h in run)
        if len(counts) < 2:
            return []
        _, (minor, n_minor) = counts.most_common(2)
        minor_idx = [i for i, h in enumerate(run) if h.length == minor]
        lo, hi = max(0, minor_idx[0] - 1), min(len(run) - 1, minor_idx[-1] + 1)
        run = run[lo : hi + 1]
        share = n_minor / len(run)
        duration = run[-1].end_s - run[0].first_pts_s
        if share < self.params.min_judder_share or n_minor < 2 or duration < self.params.min_judder_s - 1e-6:
            return []
        frames = sum(h.length for h in run)
        pattern = ":".join(str(h.length) for h in run[:4])
        fps = frames / duration if duration > 0 else 0.0
        event = Event(
            detector=self.name,
            kind="judder",
            start_s=run[0].first_pts_s,
            end_s=run[-1].end_s,
            start_frame=run[0].first_index,
            end_frame=run[-1].last_index,
            score=min(1.0, 2 * share),
            region=self.params.region,
            evidence_frame=run[0].first_index,
            details={
                "pattern": pattern,
                "pictures": len(run),
                "frames": frames,
                "content_fps": round(fps * len(run) / frames, 3) if frames else 0.0,
            },
        )
        log.debug("stutter: %s", event.describe())
        return [event]
