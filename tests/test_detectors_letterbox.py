"""LetterboxDetector: bars found to the pixel, kinds, aspect ratio events, dark-scene negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pytest

from detectors.base import create
from detectors.media import Event, Frame, Region
from detectors.video.letterbox import LetterboxDetector
from tests.media_factory import ClipSpec, frames, high_motion_luma, i420, moving_luma, ui_grid_luma, with_grain

FPS = 25
W, H = 320, 240


def run(detector: LetterboxDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def boxed(luma: np.ndarray, top: int, bottom: int, left: int, right: int, grain: bool = False) -> np.ndarray:
    """Put ``luma`` (scaled into the active area) inside black bars (luma 16, +-2 noise)."""
    import cv2

    out = np.full((H, W), 16, np.uint8)
    if grain:
        out = (16 + np.random.default_rng(0).integers(0, 3, (H, W))).astype(np.uint8)
    aw, ah = W - left - right, H - top - bottom
    out[top : top + ah, left : left + aw] = cv2.resize(luma, (aw, ah), interpolation=cv2.INTER_AREA)
    return out


def clip(make: Callable[[int], np.ndarray], n: int, start: int = 0) -> list[Frame]:
    return [Frame(start + i, (start + i) / FPS, i420(make(start + i))) for i in range(n)]


def test_letterbox_is_pixel_and_frame_exact() -> None:
    # 2.39:1 film in a 4:3 frame: 320 x 134 active, bars 53 px on top, 53 px at the bottom.
    items = (
        clip(moving_luma, 20)
        + clip(lambda i: boxed(moving_luma(i), 53, 53, 0, 0, grain=True), 40, 20)
        + clip(moving_luma, 20, 60)
    )
    events = run(LetterboxDetector(), items)
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("letterbox", 20, 59)]
    e = events[0]
    assert e.region == Region(0, 53, 320, 134)
    assert (e.details["top_px"], e.details["bottom_px"]) == (53, 53)
    assert e.details["active_aspect"] == pytest.approx(320 / 134, abs=1e-3)
    assert (e.start_s, e.end_s) == pytest.approx((20 / FPS, 60 / FPS))
    assert e.detector == "letterbox" and 20 <= (e.evidence_frame or 0) <= 59


@pytest.mark.parametrize(
    ("bars", "kind"),
    [((0, 0, 40, 40), "pillarbox"), ((0, 0, 37, 43), "pillarbox"), ((30, 30, 40, 40), "windowbox"), ((0, 22, 0, 0), "letterbox")],
)
def test_kinds_and_odd_bars(bars: tuple[int, int, int, int], kind: str) -> None:
    events = run(LetterboxDetector(), clip(lambda i: boxed(high_motion_luma(i), *bars), 40))
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [(kind, 0, 39)]
    d = events[0].details
    assert (d["top_px"], d["bottom_px"], d["left_px"], d["right_px"]) == bars


def test_dark_content_inside_bars_keeps_the_run() -> None:
    def make(i: int) -> np.ndarray:
        inner = moving_luma(i) if i % 10 else (moving_luma(i) // 3 + 24).astype(np.uint8)  # a darker frame now and then
        return boxed(inner, 30, 30, 0, 0)

    events = run(LetterboxDetector(), clip(make, 50))
    assert [(e.start_frame, e.end_frame) for e in events] == [(0, 49)]


def test_aspect_ratio_events() -> None:
    # 4:3 picture pillarboxed in a 16:9 frame while 16:9 is expected.
    global W, H
    saved = W, H
    W, H = 320, 180
    try:

        def make(i: int) -> np.ndarray:
            return boxed(moving_luma(i, 240, 180), 0, 0, 40, 40)

        params = LetterboxDetector.Params(expected_aspects=(16 / 9,))
        events = run(LetterboxDetector(params), clip(make, 30) + clip(lambda i: moving_luma(i, 320, 180), 30, 30))
    finally:
        W, H = saved
    kinds = sorted((e.kind, e.start_frame, e.end_frame) for e in events)
    assert kinds == [("aspect_ratio", 0, 29), ("pillarbox", 0, 29)]
    aspect = next(e for e in events if e.kind == "aspect_ratio")
    assert aspect.details["active_aspect"] == pytest.approx(4 / 3, abs=0.01)


@pytest.mark.parametrize("name", ["dark", "ui_grid", "high_motion", "grain", "short_bars"])
def test_hard_negatives(name: str) -> None:
    if name == "dark":
        items = frames(ClipSpec(frames=75, content="dark"))  # a dark scene with a moving object
    elif name == "ui_grid":
        items = clip(ui_grid_luma, 60)
    elif name == "high_motion":
        items = clip(high_motion_luma, 60)
    elif name == "grain":
        items = clip(lambda i: with_grain(moving_luma(i), i, sigma=8), 60)
    else:  # bars for 0.8 s only (a dark transition)
        items = clip(moving_luma, 10) + clip(lambda i: boxed(moving_luma(i), 40, 40, 0, 0), 20, 10) + clip(moving_luma, 10, 30)
    assert run(LetterboxDetector(), items) == []


def test_black_frames_are_not_bars_and_metrics() -> None:
    det = create("letterbox")
    assert LetterboxDetector.run_by_default is False  # avqa analyze runs it only when named
    black = Frame(0, 0.0, i420(np.full((H, W), 16, np.uint8)))
    assert det.feed(black) == [] and det.metrics()["bar_ratio"] is None
    det.feed(Frame(1, 0.04, i420(boxed(moving_luma(1), 20, 20, 0, 0))))
    m = det.metrics()
    assert set(m) == set(LetterboxDetector.metric_names)
    assert (m["top_px"], m["bottom_px"]) == (20, 20) and det.last_metric == pytest.approx(40 / 240)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bar_max_luma": 10},
        {"bar_peak_luma": 20},
        {"min_bar_ratio": 0.0},
        {"tolerance_px": -1},
        {"min_duration_s": -1},
        {"expected_aspects": [1.78]},
        {"expected_aspects": (0.0,)},
        {"aspect_tolerance": 1.0},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="letterbox"):
        LetterboxDetector.Params(**kwargs)  # type: ignore[arg-type]
