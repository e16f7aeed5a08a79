"""NoSignalDetector: blue/grey "No signal" screens and colour bars, frame-exact; dark, UI and flat-ish negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np
import pytest

from detectors.base import create
from detectors.media import Event, Frame
from detectors.video.nosignal import NoSignalDetector
from tests.media_factory import ClipSpec, colour_bars_bgr, frames, high_motion_luma, i420, moving_luma, ui_grid_luma

FPS = 25
W, H = 320, 240


def run(detector: NoSignalDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def bgr_clip(make: Callable[[int], np.ndarray], n: int, start: int = 0) -> list[Frame]:
    return [Frame.from_bgr(make(start + i), start + i, (start + i) / FPS) for i in range(n)]


def luma_clip(make: Callable[[int], np.ndarray], n: int, start: int = 0) -> list[Frame]:
    return [Frame(start + i, (start + i) / FPS, i420(make(start + i))) for i in range(n)]


def no_signal_screen(i: int, bgr: tuple[int, int, int] = (160, 40, 0)) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[:] = bgr
    cv2.putText(img, "NO SIGNAL", (100 + (i // 25) % 3, 125), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return img


def test_blue_no_signal_screen_is_frame_exact() -> None:
    items = luma_clip(moving_luma, 30) + bgr_clip(no_signal_screen, 50, 30) + luma_clip(moving_luma, 20, 80)
    events = run(NoSignalDetector(), items)
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("no_signal", 30, 79)]
    e = events[0]
    assert (e.start_s, e.end_s) == pytest.approx((30 / FPS, 80 / FPS))
    assert e.detector == "nosignal" and e.score >= 0.97


def test_grey_screen_and_end_of_stream() -> None:
    events = run(
        NoSignalDetector(), luma_clip(moving_luma, 10) + bgr_clip(lambda i: no_signal_screen(i, (128, 128, 128)), 40, 10)
    )
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("no_signal", 10, 49)]
    assert events[0].end_s == pytest.approx(50 / FPS)


def test_colour_bars() -> None:
    bars = colour_bars_bgr(W, H)
    items = luma_clip(moving_luma, 25) + bgr_clip(lambda i: bars, 30, 25) + luma_clip(moving_luma, 25, 55)
    events = run(NoSignalDetector(), items)
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("colour_bars", 25, 54)]
    det = NoSignalDetector()
    det.feed(Frame.from_bgr(bars, 0, 0.0))
    assert det.metrics()["bars"] >= 7 and det.metrics()["state"] == "colour_bars"


def test_neutral_black_is_left_to_the_black_detector() -> None:
    assert run(NoSignalDetector(), bgr_clip(lambda i: no_signal_screen(i, (0, 0, 0)), 50)) == []


@pytest.mark.parametrize("name", ["dark", "ui_grid", "grey_stripes", "high_motion", "short"])
def test_hard_negatives(name: str) -> None:
    if name == "dark":
        items = frames(ClipSpec(frames=60, content="dark"))
    elif name == "ui_grid":
        items = luma_clip(ui_grid_luma, 60)
    elif name == "grey_stripes":  # vertical grey stripes (a UI background): constant columns, but no colours

        def stripes(i: int) -> np.ndarray:
            luma = np.zeros((H, W), np.uint8)
            for k in range(8):
                luma[:, k * 40 : (k + 1) * 40] = 40 + 20 * k
            return luma

        items = luma_clip(stripes, 60)
    elif name == "high_motion":
        items = luma_clip(high_motion_luma, 60)
    else:  # a flat blue picture for 0.8 s
        items = luma_clip(moving_luma, 10) + bgr_clip(no_signal_screen, 20, 10) + luma_clip(moving_luma, 10, 30)
    assert run(NoSignalDetector(), items) == []


def test_registry_and_metrics() -> None:
    det = create("nosignal")
    det.feed(Frame.from_bgr(no_signal_screen(0), 0, 0.0))
    m = det.metrics()
    assert set(m) == set(NoSignalDetector.metric_names) and m["state"] == "no_signal"
    assert det.last_metric == m["flat_ratio"] >= 0.97


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_flat_ratio": 0.0},
        {"flat_tolerance_levels": -1},
        {"bars_band_ratio": 1.5},
        {"column_range_levels": 100},
        {"min_bars": 2},
        {"min_duration_s": -1.0},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="nosignal"):
        NoSignalDetector.Params(**kwargs)  # type: ignore[arg-type]
