"""BlurDetector: soft stretches found frame-exactly, resolution-independent metric, sharp/dark/grainy negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import create
from detectors.decode import iter_media
from detectors.media import Event, Frame, Region
from detectors.video.blur import BlurDetector
from tests.media_factory import ClipSpec, frames, high_motion_luma, i420, moving_luma, ui_grid_luma, with_grain, write_clip

FPS = 25


def run(detector: BlurDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def clip(make: Callable[[int], np.ndarray], n: int) -> list[Frame]:
    return [Frame(i, i / FPS, i420(make(i))) for i in range(n)]


def soft(luma: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return cv2.GaussianBlur(luma, (0, 0), sigma)


def test_blur_run_is_frame_exact() -> None:
    def make(i: int) -> np.ndarray:
        return soft(moving_luma(i)) if 20 <= i <= 49 else moving_luma(i)

    events = run(BlurDetector(), clip(make, 70))
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("blur", 20, 49)]
    e = events[0]
    assert (e.start_s, e.end_s) == pytest.approx((20 / FPS, 50 / FPS))
    assert e.detector == "blur" and 0 < e.score <= 1 and e.details["max_sharpness"] <= 0.35


def test_upscaled_low_resolution_is_blur() -> None:
    # a quarter-resolution picture scaled back up (an ABR ladder's lowest rung)
    def make(i: int) -> np.ndarray:
        luma = moving_luma(i)
        if i >= 15:
            luma = cv2.resize(
                cv2.resize(luma, (80, 60), interpolation=cv2.INTER_AREA), (320, 240), interpolation=cv2.INTER_LINEAR
            )
        return luma

    events = run(BlurDetector(), clip(make, 40))
    assert [(e.start_frame, e.end_frame) for e in events] == [(15, 39)]


def test_metric_is_resolution_independent() -> None:
    # the same content, blurred alike relative to the picture size, measures alike at 240p and 1080p
    small, big = moving_luma(3), cv2.resize(moving_luma(3), (1920, 1440), interpolation=cv2.INTER_NEAREST)
    det = BlurDetector()
    s_small = det.sharpness(Frame(0, 0.0, i420(soft(small, 1.0))))[0]
    s_big = det.sharpness(Frame(0, 0.0, i420(soft(big, 6.0))))[0]
    assert s_small is not None and s_big is not None and s_small < 0.5 and s_big < 0.5


def test_region() -> None:
    def make(i: int) -> np.ndarray:
        luma = moving_luma(i)
        luma[:, 160:] = soft(luma)[:, 160:]  # only the right half is soft (a picture-in-picture)
        return luma

    assert run(BlurDetector(), clip(make, 30)) == []
    params = BlurDetector.Params(region=Region(160, 0, 160, 240))
    events = run(BlurDetector(params), clip(make, 30))
    assert [(e.start_frame, e.end_frame, e.region) for e in events] == [(0, 29, Region(160, 0, 160, 240))]


@pytest.mark.parametrize("name", ["dark", "grain", "high_motion", "ui_grid", "flat", "short"])
def test_hard_negatives(name: str) -> None:
    if name == "dark":
        items = frames(ClipSpec(frames=50, content="dark"))
    elif name == "grain":
        items = clip(lambda i: with_grain(moving_luma(i), i, sigma=8), 50)
    elif name == "high_motion":
        items = clip(high_motion_luma, 50)
    elif name == "ui_grid":
        items = clip(ui_grid_luma, 50)
    elif name == "flat":  # nothing to judge
        items = clip(lambda i: np.full((240, 320), 90 + i % 3, np.uint8), 50)
    else:  # soft for 0.4 s only
        items = clip(lambda i: soft(moving_luma(i)) if 10 <= i < 20 else moving_luma(i), 40)
    assert run(BlurDetector(), items) == []


def test_h264_clean_clip_is_sharp(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clean.mp4", ClipSpec(frames=40, crf=28))
    assert run(BlurDetector(), (f for f in iter_media(path) if isinstance(f, Frame))) == []


def test_registry_and_metrics() -> None:
    det = create("blur")
    det.feed(clip(moving_luma, 1)[0])
    m = det.metrics()
    assert set(m) == set(BlurDetector.metric_names)
    assert det.last_metric == m["sharpness"] and m["sharpness"] is not None and m["sharpness"] > 0.9
    det.feed(Frame(1, 0.04, i420(np.full((240, 320), 100, np.uint8))))
    assert det.metrics()["sharpness"] is None and det.metrics()["edge_ratio"] == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_sharpness": 1.0},
        {"edge_levels": 0},
        {"scale_px": 0},
        {"row_step": 0},
        {"min_edge_ratio": 0.0},
        {"min_duration_s": -1},
        {"region": [0, 0, 2, 2]},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="blur"):
        BlurDetector.Params(**kwargs)  # type: ignore[arg-type]
