"""Block corruption (learned): decoder garbage from lost or damaged bitstream data, per frame with a region map.

Every frame is resized to the model's analysis size (640x360, Y/U/V planes, see
:func:`detectors.ml.features.video_input`) and run through the shipped ONNX model
``block_corruption``. A model that takes six planes (a temporal model, see the ``temporal``
option of :mod:`detectors.training.video_train`) also gets the difference from the frame fed
just before (:func:`detectors.ml.features.video_temporal_input`); frames are then expected in
stream order, and the first frame, any frame whose index does not follow the previous one (a
capture gap, a seek) or whose size changed, and the first frame after :meth:`flush` or
:meth:`BlockCorruptionDetector.reset` are analysed without a previous frame (difference zero).
The shipped model takes three planes (one frame): the temporal variant scored lower on the
validation sources. The model is built on a ResNet-style fully convolutional network whose 1x1-conv
head gives the probability of corruption for every 16x16 analysis cell (a 23x40 map; a 1080p frame
maps 48x48 pixels to a cell); the shipped model averages that map over six such networks
(:class:`detectors.training.video_train.AveragedNet`; the fifth sees each plane minus its Gaussian blur, the sixth
that divided by its local RMS), and gives
the averaged map, the corrupted-area ratio (share of cells above 0.5) and a
learned frame decision on statistics of the map (mean, largest local mean, share of cells
above 0.5 and 0.8, how unevenly its rows are flagged and whether the flagged share steps up from
some row down, as where a decoder conceals the rest of a slice; see
:func:`detectors.training.video_train.frame_stats`). A cell is trained as corrupted when the damage is visible (mean |dY| or
|dU| + |dV| over the cell, or the change of its luma detail, above 12 levels against the
undamaged decode, see :func:`detectors.training.video_sim.cell_scores`), and the decision's 0.5 point
is set on clean frames of validation sources for a false-positive rate of about 0.2 %. A frame can be
judged on the median of its decision and its stream neighbours' instead (``median_frames``; by default
the model's ``median_frames`` metadata, else 1, its own decision, as for the shipped model; with three a
frame is decided one frame late, when the next one comes or at :meth:`flush`; :func:`median_decisions`):
damage lasts from a loss to the next intra refresh, so a single frame the maps miss inside a run, or a
single clean frame they flag, is noise a median removes, while a run of two frames or more keeps its
first and last frame (session 29, rule AV: not shipped, see :data:`HOLD_DECISION`). A frame is corrupted
when its decision (or median) reaches ``min_decision``, or when it directly follows a corrupted frame,
that decision still reaches ``hold_decision`` and its logit has not fallen by more than ``hold_fall``
below the previous frame's (:func:`corrupted_frames`): decoder damage persists until the
next intra refresh while the picture it spoils changes, so once a run has started a weaker score keeps
it going, and the refresh that ends the damage shows as a sharp fall of the decision. The hold is off
by default since the five-map model (session 27), and for the six-map one (session 30): every hold flagged more
clean frames of the validation sources than no hold (``validate-video``). For the four-map model before it, a floor of decision logit
-1.5 with a stop at a fall of 1 flagged none more there, and on the first draw of the evaluation sources
it raised the frame F1 from 0.769 to 0.788 (recall 0.631 to 0.662) and the clean-frame false-positive
rate from 0.29 % to 0.45 %; it is ``hold_decision=0.182426, hold_fall=1.0``. Looser holds found
more on the validation sources but flagged far more clean frames on the evaluation ones: a floor alone
(session 4) 2.6 % against 0.85 %, on the frames just after a refresh; a floor of -2 with a stop at a
fall of 1.5 (session 22) 0.84 %, 30 of its 40 added clean frames on one UI source whose decision
hovers under the threshold (see :func:`detectors.training.video_train.validate_video`). ``hold_decision=None``
(the default) turns the hold off. Runs of corrupted frames
lasting at least ``min_duration_s`` become
``block_corruption`` events whose region is the bounding box of the corrupted cells of the
evidence frame (the frame of the run with the largest area), with every connected corrupted
area listed in ``details["regions"]`` so a report can draw them on the evidence frame
(:func:`draw_regions`).

Runs with onnxruntime only (the ``ml`` extra); no torch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from detectors.media import AudioChunk, Event, Frame, Medium, Region
from detectors.ml import ModelSession, session
from detectors.ml.features import (
    VIDEO_HEIGHT_PX,
    VIDEO_TEMPORAL_CHANNELS,
    VIDEO_WIDTH_PX,
    video_input,
    video_temporal_input,
)
from detectors.video import RunTracker

log = logging.getLogger(__name__)

# The default hold (see the module docstring): the best validation recall among the holds that flag no more clean
# validation frames than no hold does (``python -m detectors.training validate-video``). Session 22 (rule AG,
# reports/training/s22_rules.md) chose 0.182426 (sigmoid(-1.5)) and 1.0 for the four-map model; for the five-map
# model every hold adds clean validation frames (session 27, reports/training/s27_rules.md): none; so for the six-map
# model (session 30, reports/training/s30_rules.md, rule AY). Session 29 (rule AV,
# reports/training/s29_rules.md): with the five maps' threshold set on medians of three, validate-video chose a floor
# of logit -1.0 (0.268941) with a stop at a fall of 0.5 (validation recall 0.777 -> 0.804 at an unchanged 0.18 % clean
# FPR); that model and hold, evaluated once, scored frame F1 0.846 against 0.830 but 0.632 % clean-frame false
# positives against 0.604 %, and the rule asked for both: not shipped, so neither the median nor a hold is the default.
HOLD_DECISION: float | None = None
HOLD_FALL: float | None = None


@dataclass(frozen=True, slots=True)
class CorruptionResult:
    """The model's view of one frame: cell probability map, area ratio, decision probability."""

    cell_map: np.ndarray  # (rows, cols) float32 probabilities
    area_ratio: float
    decision: float

    def regions(self, width: int, height: int, cell_threshold: float = 0.5) -> list[Region]:
        """Return the bounding boxes (frame pixels) of connected areas of corrupted cells."""
        mask = (self.cell_map >= cell_threshold).astype(np.uint8)
        if not mask.any():
            return []
        rows, cols = mask.shape
        sy, sx = height / rows, width / cols
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        out = []
        for x, y, w, h, _ in stats[1:n]:
            out.append(Region(int(x * sx), int(y * sy), max(1, math.ceil(w * sx)), max(1, math.ceil(h * sy))).clip(width, height))
        return out


def decision_logit(decision: float) -> float:
    """Return the logit of a decision probability (clipped to +-16.1, where float32 probabilities saturate)."""
    p = min(max(decision, 1e-7), 1.0 - 1e-7)
    return math.log(p / (1.0 - p))


def holds(decision: float, previous: float, hold_decision: float, hold_fall: float | None) -> bool:
    """True when a frame whose decision is ``decision`` keeps going the run of the corrupted frame before it, whose
    decision was ``previous``: it reaches ``hold_decision`` and, with ``hold_fall``, its logit is at most that far
    below the previous frame's (a sharper fall is the intra refresh that ended the damage)."""
    if decision < hold_decision:
        return False
    return hold_fall is None or decision_logit(decision) >= decision_logit(previous) - hold_fall


def median_decisions(decisions: np.ndarray, follows: np.ndarray, frames: int = 1) -> np.ndarray:
    """Return each frame's decision as the median of the ``frames`` (odd) decisions centred on it, in stream order.

    ``follows[i]`` is True when frame ``i`` directly follows frame ``i - 1`` of the same stream. A neighbour the
    stream does not have (before its first frame, after its last) counts as the frame itself, so a stream's first
    and last frames keep their decision with three frames. The decision is monotonic in its logit, so this is also
    the median of the logits; with three frames a frame reaches a threshold when two of the three do.
    """
    if frames < 1 or frames % 2 == 0:
        raise ValueError(f"block_corruption: median_frames must be an odd number >= 1, got {frames}")
    d = np.asarray(decisions, np.float64)
    lag = frames // 2
    if lag == 0 or len(d) == 0:
        return d.copy()
    stream = np.cumsum(~np.asarray(follows, bool))
    idx = np.arange(len(d))
    window = []
    for k in range(-lag, lag + 1):
        j = np.clip(idx + k, 0, len(d) - 1)
        window.append(np.where(stream[j] == stream, d[j], d))
    return np.median(np.stack(window), axis=0)


def corrupted_frames(
    decisions: np.ndarray,
    follows: np.ndarray,
    min_decision: float,
    hold_decision: float,
    hold_fall: float | None = None,
    median_frames: int = 1,
) -> np.ndarray:
    """Return which frames are corrupted under the detector's rule, from their decision probabilities in stream order.

    ``follows[i]`` is True when frame ``i`` directly follows frame ``i - 1`` of the same stream. Each decision is
    first the median of ``median_frames`` centred on it (:func:`median_decisions`). A frame is corrupted when that
    decision reaches ``min_decision``, or when it follows a corrupted frame and :func:`holds` (its decision reaches
    ``hold_decision``, at most ``min_decision``, and its logit has not fallen by more than ``hold_fall``, if given).
    """
    decisions = median_decisions(decisions, follows, median_frames)
    hold = min(hold_decision, min_decision)
    out = np.zeros(len(decisions), bool)
    on = False
    previous = 0.0
    for i, (d, f) in enumerate(zip(decisions, follows, strict=True)):
        d = float(d)
        on = d >= min_decision or bool(on and f and holds(d, previous, hold, hold_fall))
        out[i] = on
        previous = d
    return out


def _continues(last: tuple[int, tuple[int, ...]] | None, frame: Frame) -> bool:
    """True when ``frame`` directly follows the frame keyed ``last`` (index, I420 shape) in the same stream."""
    return last is not None and last[0] + 1 == frame.index and last[1] == frame.i420.shape


def _channels(model: ModelSession) -> int:
    """Return the number of input planes the model takes (3: one frame; 6: with the previous frame)."""
    shape = model.session.get_inputs()[0].shape
    return int(shape[1]) if len(shape) > 1 and isinstance(shape[1], int) else 3


def draw_regions(
    bgr: np.ndarray, regions: list[Region] | list[dict[str, int]], color: tuple[int, int, int] = (0, 0, 255)
) -> np.ndarray:
    """Return a copy of ``bgr`` with ``regions`` (Regions or their dicts) outlined."""
    out = bgr.copy()
    for r in regions:
        d = r.to_dict() if isinstance(r, Region) else r
        cv2.rectangle(out, (d["x"], d["y"]), (d["x"] + d["width"] - 1, d["y"] + d["height"] - 1), color, 2)
    return out


class BlockCorruptionDetector:
    """Report runs of frames with decoder block corruption (learned model).

    A frame is decided once the frames its median needs have come (``median_frames``: the model's
    ``median_frames`` metadata, else 1): with three, one frame late, and a stream's last frame at
    :meth:`flush` or when a frame that does not follow it comes. Per-frame metrics:
    :meth:`metric_records` gives the records of the frames the last feed or flush decided, each with
    its own ``index`` and ``pts_s`` (raw decision, median decision, area ratio, corrupted, held);
    :meth:`metrics` the last of them; :attr:`last_metric` is the median decision of the last frame
    decided.
    """

    name: ClassVar[str] = "block_corruption"
    medium: ClassVar[Medium] = "video"
    # Needs onnxruntime (the ``ml`` extra): runs in ``avqa analyze`` when named (-d NAME), not by default.
    run_by_default: ClassVar[bool] = False
    # decision_score: the model's decision for the frame; median_decision: the median the rule uses (the same with
    # median_frames 1); held: 1 when the frame is corrupted only through the hold (its median under min_decision)
    metric_names: ClassVar[tuple[str, ...]] = (
        "index", "pts_s", "decision_score", "median_decision", "area_ratio", "corrupted", "held",
    )  # fmt: skip

    @dataclass(frozen=True)
    class Params:
        """Block corruption parameters.

        Attributes:
            min_decision: smallest decision probability of a corrupted frame, in (0, 1].
            hold_decision: smallest decision probability of a frame that directly follows a
                corrupted one to stay corrupted, in (0, 1] (used up to ``min_decision``); None:
                no hold (every frame needs ``min_decision``).
            hold_fall: the hold also ends when the decision logit falls by more than this
                below the previous frame's (> 0; None: no such stop).
            median_frames: the decision a frame is judged on is the median of this many (odd)
                decisions centred on it in its stream (:func:`median_decisions`); 1: its own;
                None: the model's ``median_frames`` metadata (its threshold was set for it), else 1.
            cell_threshold: probability at which a map cell counts as corrupted, in (0, 1).
            min_duration_s: shortest run reported, in seconds (>= 0; 0 reports single frames).
            threads: onnxruntime intra-op threads (>= 1).
            model: name of the shipped ONNX model.
        """

        min_decision: float = 0.5
        hold_decision: float | None = HOLD_DECISION
        hold_fall: float | None = HOLD_FALL
        median_frames: int | None = None
        cell_threshold: float = 0.5
        min_duration_s: float = 0.0
        threads: int = 2
        model: str = "block_corruption"

        def __post_init__(self) -> None:
            if not 0.0 < self.min_decision <= 1.0:
                raise ValueError(f"block_corruption: min_decision must be in (0, 1], got {self.min_decision}")
            if self.hold_decision is not None and not 0.0 < self.hold_decision <= 1.0:
                raise ValueError(f"block_corruption: hold_decision must be in (0, 1], got {self.hold_decision}")
            if self.hold_fall is not None and not (math.isfinite(self.hold_fall) and self.hold_fall > 0.0):
                raise ValueError(f"block_corruption: hold_fall must be > 0, got {self.hold_fall}")
            if self.median_frames is not None and not (
                isinstance(self.median_frames, int) and self.median_frames >= 1 and self.median_frames % 2 == 1
            ):
                raise ValueError(f"block_corruption: median_frames must be an odd number >= 1, got {self.median_frames!r}")
            if not 0.0 < self.cell_threshold < 1.0:
                raise ValueError(f"block_corruption: cell_threshold must be in (0, 1), got {self.cell_threshold}")
            if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0.0):
                raise ValueError(f"block_corruption: min_duration_s must be >= 0, got {self.min_duration_s}")
            if not (isinstance(self.threads, int) and self.threads >= 1):
                raise ValueError(f"block_corruption: threads must be an integer >= 1, got {self.threads!r}")

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self._model: ModelSession | None = None
        self._median: int | None = self.params.median_frames
        self._runs = RunTracker(self.params.min_duration_s)
        self._best: tuple[float, Frame, CorruptionResult] | None = None
        self.last_metric: float | None = None
        self._last: dict[str, Any] = dict.fromkeys(self.metric_names)
        self._records: list[dict[str, Any]] = []  # records of the frames the last feed() or flush() decided
        self._prev: tuple[int, tuple[int, ...], np.ndarray] | None = None  # (index, I420 shape, model input) of the last frame
        self._channels: int | None = None
        # the current stream's frames (and their results) the median still needs: up to median_frames // 2 decided
        # ones before the first undecided frame, then the undecided ones
        self._window: deque[tuple[Frame, CorruptionResult]] = deque()
        self._undecided = 0
        self._held: tuple[int, tuple[int, ...]] | None = None  # (index, I420 shape) of the last frame judged corrupted
        self._last_decision = 0.0  # median decision of the frame decided before: a hold's fall is measured from it

    def _session(self) -> ModelSession:
        if self._model is None:
            self._model = session(self.params.model, self.params.threads)
        return self._model

    @property
    def median_frames(self) -> int:
        """The median in use: the ``median_frames`` parameter, else the model's metadata, else 1 (loads the model)."""
        if self._median is None:
            metadata = getattr(self._session(), "metadata", {})
            self._median = int(metadata.get("median_frames", "1"))
            if self._median < 1 or self._median % 2 == 0:
                raise ValueError(f"block_corruption: model {self.params.model!r} has median_frames {self._median}, not odd >= 1")
        return self._median

    @property
    def hold_decision(self) -> float:
        """The hold in use: the ``hold_decision`` parameter up to ``min_decision``, else ``min_decision`` (no hold)."""
        hold = self.params.hold_decision
        return self.params.min_decision if hold is None else min(hold, self.params.min_decision)

    def reset(self) -> None:
        """Forget the previous frame: the next frame is analysed as the first of a stream (frames still waiting for
        their median are decided when it comes, as the last of theirs)."""
        self._prev = None

    def analyse(self, frame: Frame) -> CorruptionResult:
        """Run the model on one frame (and, for a temporal model, the frame analysed before it); return its map,
        area ratio and decision.

        Frames must come in stream order; without a directly preceding frame (first frame, index
        gap, size change) a temporal model sees the frame alone.
        """
        model = self._session()
        x = video_input(frame.i420, VIDEO_WIDTH_PX, VIDEO_HEIGHT_PX)
        prev = self._prev
        follows = prev is not None and _continues(prev[:2], frame)
        self._prev = (frame.index, frame.i420.shape, x)
        if self._channels is None:
            self._channels = _channels(model)
        if self._channels == VIDEO_TEMPORAL_CHANNELS:
            x = video_temporal_input(x, prev[2] if follows and prev is not None else None)
        cells, _ratio, decision = model.run(x)
        cmap = np.asarray(cells[0, 0], np.float32)
        area = float((cmap >= self.params.cell_threshold).mean())
        return CorruptionResult(cmap, area, float(decision[0]))

    def metrics(self) -> dict[str, Any]:
        """Return the metric record of the last frame decided (see :attr:`metric_names`)."""
        return dict(self._last)

    def metric_records(self) -> list[dict[str, Any]]:
        """Return the metric records of the frames the last :meth:`feed` or :meth:`flush` decided, in stream order, each
        with its own ``index`` and ``pts_s`` (none before the median has the frames it needs; the last ones at
        :meth:`flush`); each record is returned once, so call it after every feed and flush to see every frame."""
        out, self._records = self._records, []
        return out

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Analyse the next frame; decide the frames whose median it completes; return the corruption events that
        ended before them."""
        if not isinstance(item, Frame):
            raise TypeError(f"block_corruption: expected a Frame, got {type(item).__name__}")
        self._records = []  # kept for one feed only: a caller that never asks holds nothing over a long stream
        follows = self._prev is not None and _continues(self._prev[:2], item)
        events = [] if follows else self._decide(stream_ended=True)
        self._window.append((item, self.analyse(item)))
        self._undecided += 1
        return events + self._decide(stream_ended=False)

    def flush(self) -> list[Event]:
        """Decide the frames still waiting for their median and close a corruption run still open at the end of the
        stream (the next frame starts a new stream)."""
        self._records = []
        events = self._decide(stream_ended=True)
        events += self._event(self._runs.flush())
        self._best = None
        self._prev = None
        self._held = None
        return events

    def _decide(self, stream_ended: bool) -> list[Event]:
        """Decide each undecided frame that has the half of its median after it in the window (every one when the
        stream ended); keep the decided frames the next median needs."""
        events: list[Event] = []
        half = self.median_frames // 2
        while self._undecided and (stream_ended or self._undecided > half):
            at = len(self._window) - self._undecided
            frame, result = self._window[at]
            own = result.decision
            window = [self._window[j][1].decision if 0 <= j < len(self._window) else own for j in range(at - half, at + half + 1)]
            self._undecided -= 1
            events += self._judge(frame, result, float(np.median(window)))
        keep = 0 if stream_ended else half
        while len(self._window) > keep + self._undecided:
            self._window.popleft()
        if stream_ended:
            self._held = None  # no hold into the next stream, even where its first index follows
        return events

    def _judge(self, item: Frame, result: CorruptionResult, decision: float) -> list[Event]:
        """Judge a frame on its median ``decision``: its record, the run it extends or ends, the event it closes."""
        corrupted = decision >= self.params.min_decision or (
            _continues(self._held, item) and holds(decision, self._last_decision, self.hold_decision, self.params.hold_fall)
        )
        self._held = (item.index, item.i420.shape) if corrupted else None
        self._last_decision = decision
        self.last_metric = decision
        self._last = {
            "index": item.index,
            "pts_s": item.pts_s,
            "decision_score": round(result.decision, 6),
            "median_decision": round(decision, 6),
            "area_ratio": round(result.area_ratio, 6),
            "corrupted": int(corrupted),
            "held": int(corrupted and decision < self.params.min_decision),
        }
        self._records.append(dict(self._last))
        was_open = self._runs.key is not None
        closed = self._runs.update(item, "corrupted" if corrupted else None, decision)
        events: list[Event] = []
        if was_open and not corrupted:
            events = self._event(closed)
            self._best = None
        if corrupted and (self._best is None or result.area_ratio > self._best[0]):
            self._best = (result.area_ratio, item, result)
        return events

    def _event(self, run: Any) -> list[Event]:
        if run is None:
            return []
        best = self._best
        details: dict[str, Any] = {"max_decision": round(run.max_score, 6)}
        region = None
        evidence = None
        if best is not None:
            frame, result = best[1], best[2]
            evidence = frame.index
            regions = result.regions(frame.width, frame.height, self.params.cell_threshold)
            details["max_area_ratio"] = round(best[0], 6)
            details["regions"] = [r.to_dict() for r in regions]
            if regions:
                x0, y0 = min(r.x for r in regions), min(r.y for r in regions)
                x1, y1 = max(r.x + r.width for r in regions), max(r.y + r.height for r in regions)
                region = Region(x0, y0, x1 - x0, y1 - y0)
        event = run.event(self.name, "block_corruption", run.mean_score, region, details)
        if evidence is not None:
            event = dataclasses.replace(event, evidence_frame=evidence)
        log.debug("block_corruption: %s", event.describe())
        return [event]
