"""Letterbox / pillarbox bars and the aspect ratio of the active picture (a measurement).

Black bars are found on the shared 4x-downscaled luma (rows/columns whose every block is at
most ``bar_max_luma``), then their edges are refined on full-resolution rows and columns (a
full row or column belongs to a bar when its mean is at most ``bar_max_luma`` and its
brightest pixel at most ``bar_peak_luma``). Bars thinner than ``min_bar_ratio`` of the
picture (overscan edges) are ignored. A geometry held for ``min_duration_s`` (edges within
``tolerance_px``) is reported as ``letterbox`` (top/bottom bars), ``pillarbox`` (left/right)
or ``windowbox`` (both), with the active picture as the event region. Pictures that are
entirely dark (nothing but "bar") end a run: they are the black detector's business.

When ``expected_aspects`` is given, an active picture whose width/height ratio is within
``aspect_tolerance`` of none of them for ``min_duration_s`` is reported as ``aspect_ratio``
(for example 4:3 content pillarboxed in a 16:9 app that should fill the screen).

A still dark scene framed by a bright object (a lit window in a dark room) looks the same as
bars; such scenes rarely hold a geometry for long, which is what ``min_duration_s`` relies on.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.video import Run, RunTracker, downscaled_luma

log = logging.getLogger(__name__)

_FACTOR = 4

Bars = tuple[int, int, int, int]  # top, bottom, left, right in full-resolution pixels


def _leading(black: np.ndarray) -> int:
    """Number of leading True values."""
    idx = np.flatnonzero(~black)
    return int(idx[0]) if idx.size else int(black.size)


class LetterboxDetector:
    """Report black bars around the picture and unexpected active-picture aspect ratios.

    Per-frame metric: :attr:`last_metric` is the ratio of the picture covered by bars;
    :meth:`metrics` also gives each bar in pixels and the active aspect ratio.
    """

    name: ClassVar[str] = "letterbox"
    medium: ClassVar[Medium] = "video"
    # A measurement, not a defect: `avqa analyze` runs it only when named.
    run_by_default: ClassVar[bool] = False
    metric_names: ClassVar[tuple[str, ...]] = (
        "index",
        "pts_s",
        "bar_ratio",
        "top_px",
        "bottom_px",
        "left_px",
        "right_px",
        "active_aspect",
    )

    @dataclass(frozen=True)
    class Params:
        """Letterbox parameters.

        Attributes:
            bar_max_luma: highest mean luma of a bar row/column and of every 4x4 block in
                it, in 8-bit video-range levels (16-235; default 24: black plus noise).
            bar_peak_luma: highest single pixel in a bar row/column, in levels (>= bar_max_luma).
            min_bar_ratio: thinnest bar reported, as a ratio of the picture height (top/
                bottom) or width (left/right), in (0, 0.5).
            tolerance_px: largest change of a bar edge within one run, in pixels (>= 0).
            min_duration_s: shortest run reported, in seconds (>= 0).
            expected_aspects: allowed width/height ratios of the active picture (each > 0);
                empty: no aspect-ratio events.
            aspect_tolerance: largest relative difference from an expected aspect, in (0, 1).
        """

        bar_max_luma: int = 24
        bar_peak_luma: int = 64
        min_bar_ratio: float = 0.02
        tolerance_px: int = 2
        min_duration_s: float = 1.0
        expected_aspects: tuple[float, ...] = ()
        aspect_tolerance: float = 0.03

        def __post_init__(self) -> None:
            if not 16 <= self.bar_max_luma <= 235:
                raise ValueError(f"letterbox: bar_max_luma must be in [16, 235], got {self.bar_max_luma}")
            if not self.bar_max_luma <= self.bar_peak_luma <= 255:
                raise ValueError(f"letterbox: bar_peak_luma must be in [bar_max_luma, 255], got {self.bar_peak_luma}")
            if not 0.0 < self.min_bar_ratio < 0.5:
                raise ValueError(f"letterbox: min_bar_ratio must be in (0, 0.5), got {self.min_bar_ratio}")
            if not (isinstance(self.tolerance_px, int) and self.tolerance_px >= 0):
                raise ValueError(f"letterbox: tolerance_px must be an integer >= 0, got {self.tolerance_px!r}")
            if not self.min_duration_s >= 0:
                raise ValueError(f"letterbox: min_duration_s must be >= 0, got {self.min_duration_s}")
            if not isinstance(self.expected_aspects, tuple) or not all(
                isinstance(a, (int, float)) and math.isfinite(a) and a > 0 for a in self.expected_aspects
            ):
                raise ValueError(f"letterbox: expected_aspects must be a tuple of ratios > 0, got {self.expected_aspects!r}")
            if not 0.0 < self.aspect_tolerance < 1.0:
                raise ValueError(f"letterbox: aspect_tolerance must be in (0, 1), got {self.aspect_tolerance}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._bars = RunTracker(self.params.min_duration_s)
        self._aspect = RunTracker(self.params.min_duration_s)
        self._frame_size: tuple[int, int] = (0, 0)
        self.last_metric: float | None = None
        self._last: dict[str, float | int | None] = dict.fromkeys(self.metric_names)

    def metrics(self) -> dict[str, float | int | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    # ------------------------------------------------------------------ measurement

    def measure(self, frame: Frame) -> Bars | None:
        """Return the bars (top, bottom, left, right) of ``frame`` in pixels; None when it is all dark."""
        p = self.params
        small = downscaled_luma(frame, _FACTOR)
        # numpy's max along an axis is much faster than cv2.reduce(REDUCE_MAX) here
        row_dark = small.max(axis=1) <= p.bar_max_luma
        if row_dark.all():
            return None
        col_dark = small.max(axis=0) <= p.bar_max_luma
        top, bottom = _leading(row_dark), _leading(row_dark[::-1])
        left, right = _leading(col_dark), _leading(col_dark[::-1])
        luma = frame.luma
        h, w = luma.shape
        top = self._refine(luma, top * _FACTOR, +1, axis=0)
        bottom = h - self._refine(luma, h - bottom * _FACTOR - 1, -1, axis=0) - 1
        left = self._refine(luma, left * _FACTOR, +1, axis=1)
        right = w - self._refine(luma, w - right * _FACTOR - 1, -1, axis=1) - 1
        min_v, min_h = p.min_bar_ratio * h, p.min_bar_ratio * w
        return (
            top if top >= min_v else 0,
            bottom if bottom >= min_v else 0,
            left if left >= min_h else 0,
            right if right >= min_h else 0,
        )

    def _is_bar(self, line: np.ndarray) -> bool:
        return bool(line.mean() <= self.params.bar_max_luma and line.max() <= self.params.bar_peak_luma)

    def _refine(self, luma: np.ndarray, start: int, step: int, axis: int) -> int:
        """Return the first picture row/column at or after ``start`` going ``step`` (coarse edge +- 4 px)."""
        n = luma.shape[axis]
        pos = min(max(start - step * _FACTOR, 0), n - 1)  # a little inside the coarse bar
        for _ in range(3 * _FACTOR):
            line = luma[pos] if axis == 0 else luma[:, pos]
            if not self._is_bar(line) or not 0 <= pos + step < n:
                return pos
            pos += step
        return pos

    # ------------------------------------------------------------------ streaming

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return bar and aspect runs that ended."""
        if not isinstance(item, Frame):
            raise TypeError(f"letterbox: expected a Frame, got {type(item).__name__}")
        p = self.params
        bars = self.measure(item)
        self._frame_size = (item.width, item.height)
        key: Bars | None = None
        aspect_key: float | None = None
        ratio: float | None = None
        aspect: float | None = None
        if bars is not None:
            current = self._bars.key
            if isinstance(current, tuple) and all(abs(a - b) <= p.tolerance_px for a, b in zip(current, bars, strict=True)):
                bars = current  # type: ignore[assignment]  # the same geometry give or take noise
            top, bottom, left, right = bars
            aw, ah = item.width - left - right, item.height - top - bottom
            ratio = 1.0 - (aw * ah) / float(item.width * item.height)
            aspect = aw / ah if ah > 0 else None
            if any(bars):
                key = bars
            expected = p.expected_aspects
            if expected and aspect is not None and not any(abs(aspect / a - 1.0) <= p.aspect_tolerance for a in expected):
                aspect_key = round(aspect, 4)
        events: list[Event] = []
        run = self._bars.update(item, key, ratio if ratio is not None else 0.0)
        if run is not None:
            events.append(self._bars_event(run))
        arun = self._aspect.update(item, aspect_key)
        if arun is not None:
            events.append(self._aspect_event(arun))
        self.last_metric = ratio
        self._last = {
            "index": item.index,
            "pts_s": item.pts_s,
            "bar_ratio": ratio,
            "top_px": None if bars is None else bars[0],
            "bottom_px": None if bars is None else bars[1],
            "left_px": None if bars is None else bars[2],
            "right_px": None if bars is None else bars[3],
            "active_aspect": aspect,
        }
        return events

    def flush(self) -> list[Event]:
        """Close runs still open at the end of the stream."""
        events = []
        run = self._bars.flush()
        if run is not None:
            events.append(self._bars_event(run))
        arun = self._aspect.flush()
        if arun is not None:
            events.append(self._aspect_event(arun))
        return events

    def _active(self, bars: Bars) -> Region:
        w, h = self._frame_size
        top, bottom, left, right = bars
        return Region(left, top, max(1, w - left - right), max(1, h - top - bottom))

    def _bars_event(self, run: Run) -> Event:
        top, bottom, left, right = run.key  # type: ignore[misc]
        vertical, horizontal = bool(top or bottom), bool(left or right)
        kind = "windowbox" if vertical and horizontal else "letterbox" if vertical else "pillarbox"
        active = self._active(run.key)  # type: ignore[arg-type]
        event = run.event(
            self.name,
            kind,
            score=run.mean_score,
            region=active,
            details={
                "top_px": top,
                "bottom_px": bottom,
                "left_px": left,
                "right_px": right,
                "active_aspect": round(active.width / active.height, 4),
            },
        )
        log.debug("letterbox: %s", event.describe())
        return event

    def _aspect_event(self, run: Run) -> Event:
        aspect = float(run.key)  # type: ignore[arg-type]
        nearest = min(self.params.expected_aspects, key=lambda a: abs(aspect / a - 1.0))
        event = run.event(
            self.name,
            "aspect_ratio",
            score=min(1.0, abs(aspect / nearest - 1.0)),
            details={"active_aspect": aspect, "expected_aspects": [round(a, 4) for a in self.params.expected_aspects]},
        )
        log.debug("letterbox: %s", event.describe())
        return event
