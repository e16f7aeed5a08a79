"""No signal, colour bars and test cards: what a capture shows when there is no programme.

Two picture tests on the shared 4x-downscaled luma (chroma read only to confirm):

* ``no_signal``: a flat picture (the blue/grey "No signal" screen of a TV, capture card or
  switch): at least ``min_flat_ratio`` of the picture within ``flat_tolerance_levels`` of
  its most common luma, the rest being room for an on-screen message. A flat *black*
  picture (luma at most 37 with neutral chroma) is left to the black detector.
* ``colour_bars``: vertical bars (EBU/SMPTE bars, and test cards built on them such as SMPTE
  RP 219): over the top ``bars_band_ratio`` of the picture at least 90 % of the columns
  are constant (luma range at most ``column_range_levels``), their luma profile makes at
  least ``min_bars`` flat segments, each at least 4 % of the width, and at least half of
  them are coloured (chroma away from grey).

A picture passing either test for ``min_duration_s`` makes one event of that kind.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium
from detectors.video import Run, RunTracker, downscaled_luma

log = logging.getLogger(__name__)

_FACTOR = 4
_BLACK_LUMA = 37  # as the black detector's default threshold
_NEUTRAL_CHROMA = 12  # |U-128| + |V-128| at most this: grey
_COLOURED_CHROMA = 24


class NoSignalDetector:
    """Report "no signal" screens and colour bars lasting at least ``min_duration_s``.

    Per-frame metric: :attr:`last_metric` is the flat ratio (share of the picture at its
    most common luma); :meth:`metrics` also gives the ratio of constant columns and the
    number of bars found.
    """

    name: ClassVar[str] = "nosignal"
    medium: ClassVar[Medium] = "video"
    metric_names: ClassVar[tuple[str, ...]] = ("index", "pts_s", "flat_ratio", "constant_columns", "bars", "state")

    @dataclass(frozen=True)
    class Params:
        """No-signal / colour-bars parameters.

        Attributes:
            min_flat_ratio: smallest share of a flat picture at its most common luma, in
                (0, 1]; the rest is room for an on-screen message.
            flat_tolerance_levels: largest luma difference from the most common level still
                counted as flat, in 8-bit levels (>= 0).
            bars_band_ratio: the top part of the picture searched for bars, as a ratio of
                the height, in (0, 1].
            column_range_levels: largest luma range down a bar column, in levels (>= 0).
            min_bars: fewest bars, in [3, 16].
            min_duration_s: shortest event, in seconds (>= 0).
        """

        min_flat_ratio: float = 0.97
        flat_tolerance_levels: int = 4
        bars_band_ratio: float = 0.6
        column_range_levels: int = 8
        min_bars: int = 6
        min_duration_s: float = 1.0

        def __post_init__(self) -> None:
            if not 0.0 < self.min_flat_ratio <= 1.0:
                raise ValueError(f"nosignal: min_flat_ratio must be in (0, 1], got {self.min_flat_ratio}")
            if not (isinstance(self.flat_tolerance_levels, int) and 0 <= self.flat_tolerance_levels <= 64):
                raise ValueError(
                    f"nosignal: flat_tolerance_levels must be an integer in [0, 64], got {self.flat_tolerance_levels!r}"
                )
            if not 0.0 < self.bars_band_ratio <= 1.0:
                raise ValueError(f"nosignal: bars_band_ratio must be in (0, 1], got {self.bars_band_ratio}")
            if not (isinstance(self.column_range_levels, int) and 0 <= self.column_range_levels <= 64):
                raise ValueError(f"nosignal: column_range_levels must be an integer in [0, 64], got {self.column_range_levels!r}")
            if not (isinstance(self.min_bars, int) and 3 <= self.min_bars <= 16):
                raise ValueError(f"nosignal: min_bars must be an integer in [3, 16], got {self.min_bars!r}")
            if not self.min_duration_s >= 0:
                raise ValueError(f"nosignal: min_duration_s must be >= 0, got {self.min_duration_s}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._runs = RunTracker(self.params.min_duration_s)
        self.last_metric: float | None = None
        self._last: dict[str, float | int | str | None] = dict.fromkeys(self.metric_names)

    def metrics(self) -> dict[str, float | int | str | None]:
        """Return the metric record of the last frame fed (see :attr:`metric_names`)."""
        return dict(self._last)

    # ------------------------------------------------------------------ picture tests

    @staticmethod
    def _chroma_at(frame: Frame, row: int, cols: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return the U and V values of chroma row ``row`` (full chroma width)."""
        h, w = frame.height, frame.width
        cw = w // 2
        quarter = h // 4  # rows of width w holding one chroma plane
        u_plane = frame.i420[h : h + quarter].reshape(-1, cw)
        v_plane = frame.i420[h + quarter : h + 2 * quarter].reshape(-1, cw)
        return u_plane[row], v_plane[row]

    def flat_ratio(self, small: np.ndarray) -> tuple[float, int]:
        """Return (share of pixels within tolerance of the most common luma, that luma)."""
        hist = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel()
        mode = int(hist.argmax())
        tol = self.params.flat_tolerance_levels
        return float(hist[max(0, mode - tol) : mode + tol + 1].sum()) / small.size, mode

    def bars(self, frame: Frame, small: np.ndarray) -> tuple[float, int]:
        """Return (ratio of constant columns in the bars band, number of coloured bars found)."""
        p = self.params
        band = small[: max(1, int(small.shape[0] * p.bars_band_ratio))]
        spread = band.max(axis=0).astype(np.int16) - band.min(axis=0)
        constant = spread <= p.column_range_levels
        ratio = float(constant.mean())
        if ratio < 0.9:
            return ratio, 0
        profile = cv2.reduce(band, 0, cv2.REDUCE_AVG, dtype=cv2.CV_32F).ravel()
        # flat segments: runs of columns whose mean moves by at most 2 levels
        breaks = np.flatnonzero(np.abs(np.diff(profile)) > 2.0) + 1
        edges = np.concatenate(([0], breaks, [profile.size]))
        min_width = max(2, int(0.04 * profile.size))
        segments = [(a, b) for a, b in itertools.pairwise(edges) if b - a >= min_width]
        if len(segments) < p.min_bars:
            return ratio, 0
        chroma_row = int(band.shape[0] * _FACTOR / 2 / 2)  # middle of the band, chroma rows
        u, v = self._chroma_at(frame, min(chroma_row, frame.height // 2 - 1))
        scale = frame.width / 2 / profile.size  # chroma columns per small column
        coloured = 0
        for a, b in segments:
            ca, cb = int(a * scale) + 1, max(int(a * scale) + 2, int(b * scale) - 1)
            sat = abs(float(u[ca:cb].mean()) - 128) + abs(float(v[ca:cb].mean()) - 128)
            coloured += sat >= _COLOURED_CHROMA
        return ratio, len(segments) if 2 * coloured >= len(segments) else 0

    def classify(self, frame: Frame) -> tuple[str | None, float, float, int]:
        """Return (kind or None, flat ratio, constant-column ratio, bars) for ``frame``."""
        p = self.params
        small = downscaled_luma(frame, _FACTOR)
        flat, mode = self.flat_ratio(small)
        if flat >= p.min_flat_ratio:
            if mode > _BLACK_LUMA:
                return "no_signal", flat, 0.0, 0
            u, v = self._chroma_at(frame, frame.height // 4)
            sat = abs(float(u.mean()) - 128) + abs(float(v.mean()) - 128)
            return ("no_signal" if sat > _NEUTRAL_CHROMA else None), flat, 0.0, 0
        constant, bars = self.bars(frame, small)
        if bars >= p.min_bars:
            return "colour_bars", flat, constant, bars
        return None, flat, constant, bars

    # ------------------------------------------------------------------ streaming

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; return the no-signal / bars run that ended, if any."""
        if not isinstance(item, Frame):
            raise TypeError(f"nosignal: expected a Frame, got {type(item).__name__}")
        kind, flat, constant, bars = self.classify(item)
        score = flat if kind == "no_signal" else constant
        run = self._runs.update(item, kind, score)
        self.last_metric = flat
        self._last = {
            "index": item.index,
            "pts_s": item.pts_s,
            "flat_ratio": flat,
            "constant_columns": constant,
            "bars": bars,
            "state": kind,
        }
        return [] if run is None else [self._event(run)]

    def flush(self) -> list[Event]:
        """Close a run still open at the end of the stream."""
        run = self._runs.flush()
        return [] if run is None else [self._event(run)]

    def _event(self, run: Run) -> Event:
        event = run.event(self.name, str(run.key), score=run.min_score)
        log.debug("nosignal: %s", event.describe())
        return event
