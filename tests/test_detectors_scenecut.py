"""SceneCutDetector: cuts at known frames, no cuts on motion, flashes, fades, dark scenes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pytest

from detectors.base import create
from detectors.media import Event, Frame
from detectors.video.scenecut import SceneCutDetector
from tests.media_factory import high_motion_luma, i420, moving_luma, ui_grid_luma, with_grain

FPS = 25


def run(detector: SceneCutDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def clip(make: Callable[[int], np.ndarray], n: int) -> list[Frame]:
    return [Frame(i, i / FPS, i420(make(i))) for i in range(n)]


def shots(i: int) -> np.ndarray:
    """Three shots: moving content, high-motion content from frame 30, a UI from frame 61."""
    if i < 30:
        return moving_luma(i)
    if i < 61:
        return high_motion_luma(i)
    return ui_grid_luma(i)


def test_cuts_are_frame_exact() -> None:
    events = run(SceneCutDetector(), clip(shots, 90))
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("cut", 30, 30), ("cut", 61, 61)]
    e = events[0]
    assert e.detector == "scenecut" and e.evidence_frame == 30
    assert (e.start_s, e.end_s) == pytest.approx((30 / FPS, 31 / FPS))
    assert 0.25 <= e.score <= 1 and e.details["diff_levels"] >= 12


def test_cut_between_two_dark_shots_needs_the_floor() -> None:
    def dark(i: int) -> np.ndarray:
        luma = np.full((240, 320), 18 if i < 20 else 30, np.uint8)
        luma[100:140, (i * 3) % 200 : (i * 3) % 200 + 40] = 60
        return luma

    assert run(SceneCutDetector(), clip(dark, 40)) == []  # a 12-level jump over the picture: just not a cut
    events = run(SceneCutDetector(SceneCutDetector.Params(min_cut_levels=6)), clip(dark, 40))
    assert [e.start_frame for e in events] == [20]


@pytest.mark.parametrize("name", ["high_motion", "flash", "fade", "grain", "ui_grid", "dark_moving"])
def test_hard_negatives(name: str) -> None:
    if name == "high_motion":
        make = high_motion_luma
    elif name == "flash":

        def make(i: int) -> np.ndarray:
            return np.full((240, 320), 235, np.uint8) if i == 25 else moving_luma(i)

    elif name == "fade":

        def make(i: int) -> np.ndarray:  # a 1 s cross-fade from one shot to the other
            a = min(1.0, max(0.0, (i - 20) / 25))
            return ((1 - a) * moving_luma(i) + a * high_motion_luma(i)).astype(np.uint8)

    elif name == "grain":

        def make(i: int) -> np.ndarray:
            return with_grain(moving_luma(i), i, sigma=10)

    elif name == "ui_grid":
        make = ui_grid_luma
    else:

        def make(i: int) -> np.ndarray:
            luma = np.full((240, 320), 18, np.uint8)
            luma[80:160, (i * 9) % 240 : (i * 9) % 240 + 80] = 70
            return luma

    assert run(SceneCutDetector(), clip(make, 60)) == []


def test_min_scene_frames() -> None:
    def make(i: int) -> np.ndarray:
        if 20 <= i < 26:  # a short dark shot
            luma = np.full((240, 320), 20, np.uint8)
            luma[60:120, i * 4 : i * 4 + 60] = 90
            return luma
        return moving_luma(i) if i < 20 else ui_grid_luma(i)

    # two cuts 6 frames apart: the second is dropped by default
    assert [e.start_frame for e in run(SceneCutDetector(), clip(make, 40))] == [20]
    params = SceneCutDetector.Params(min_scene_frames=2)
    assert [e.start_frame for e in run(SceneCutDetector(params), clip(make, 40))] == [20, 26]


def test_is_a_measurement_and_metrics() -> None:
    assert SceneCutDetector.run_by_default is False  # avqa analyze runs it only when named
    det = create("scenecut")
    for f in clip(shots, 32):
        det.feed(f)
    m = det.metrics()
    assert set(m) == set(SceneCutDetector.metric_names) and m["index"] == 31
    assert det.last_metric == m["hist_distance"] and m["baseline"] is not None and m["diff_levels"] > 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_cut_levels": 0},
        {"min_hist_distance": 1.0},
        {"adaptive_ratio": 1.0},
        {"window_frames": 0},
        {"min_scene_frames": 0},
        {"region": "x"},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="scenecut"):
        SceneCutDetector.Params(**kwargs)  # type: ignore[arg-type]
