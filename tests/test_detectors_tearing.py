"""TearingDetector: torn frames (stale and early bands) found frame-exactly; partial motion and cuts as negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pytest

from detectors.base import create
from detectors.media import Event, Frame, Region
from detectors.video.tearing import TearingDetector
from tests.media_factory import ClipSpec, frames, high_motion_luma, i420, moving_luma, ui_grid_luma, with_grain

FPS = 60
Pic = Callable[[], np.ndarray]


def run(detector: TearingDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def torn(top_src: int, bottom_src: int, row: int, make: Callable[[int], np.ndarray] = moving_luma) -> np.ndarray:
    luma = make(bottom_src).copy()
    luma[:row] = make(top_src)[:row]
    return luma


def stream(pictures: Sequence[np.ndarray]) -> list[Frame]:
    return [Frame(j, j / FPS, i420(p)) for j, p in enumerate(pictures)]


def spans(events: list[Event]) -> list[tuple[int | None, int | None]]:
    return [(e.start_frame, e.end_frame) for e in events]


def test_stale_top_band_is_frame_exact() -> None:
    pics = [moving_luma(i) for i in range(40)]
    pics[20] = torn(19, 20, row=100)  # the top 100 rows still show the previous picture
    events = run(TearingDetector(), stream(pics))
    assert spans(events) == [(20, 20)]
    e = events[0]
    assert e.kind == "tearing" and e.detector == "tearing" and e.evidence_frame == 20
    assert e.region == Region(0, 0, 320, 100) and e.details["tear_row_px"] == 100
    assert (e.start_s, e.end_s) == pytest.approx((20 / FPS, 21 / FPS))


def test_stale_bottom_band_and_catch_up_frame() -> None:
    # the torn frame is followed by the full new picture: it matches its neighbours on both sides
    pics = [moving_luma(i) for i in range(30)]
    pics.insert(15, torn(15, 14, row=160))  # top already new (picture 15), bottom still picture 14
    events = run(TearingDetector(), stream(pics))
    assert spans(events) == [(15, 15)]
    assert events[0].region == Region(0, 160, 320, 80) and events[0].details["stale_band"] == "bottom"


def test_band_showing_the_next_picture_early() -> None:
    pics = [moving_luma(i) for i in range(40)]
    pics[20] = torn(21, 20, row=120)  # the top already shows picture 21, shown in full next
    events = run(TearingDetector(), stream(pics))
    assert spans(events) == [(20, 20)]


def test_several_tears_in_high_motion() -> None:
    pics = [high_motion_luma(i) for i in range(60)]
    for j, row in ((10, 60), (30, 180), (45, 120)):
        pics[j] = torn(j - 1, j, row, high_motion_luma)
    assert spans(run(TearingDetector(), stream(pics))) == [(10, 10), (30, 30), (45, 45)]


def spinner(i: int) -> np.ndarray:
    luma = moving_luma(0).copy()
    x, y = int(160 + 12 * np.cos(i * 0.4)), int(120 + 12 * np.sin(i * 0.4))
    luma[y - 3 : y + 3, x - 3 : x + 3] = 235
    return luma


def ticker(i: int) -> np.ndarray:
    luma = moving_luma(0).copy()
    luma[180:] = moving_luma(i)[180:]  # only a bottom strip moves
    return luma


def partial_stop(i: int) -> np.ndarray:
    luma = moving_luma(i).copy()
    if i >= 20:
        luma[:120] = moving_luma(20)[:120]  # the top half stops moving for good
    return luma


def letterboxed(i: int) -> np.ndarray:
    luma = np.full((240, 320), 16, np.uint8)
    luma[40:200] = moving_luma(i)[40:200]
    return luma


@pytest.mark.parametrize(
    "name",
    ["moving", "high_motion", "grain", "spinner", "ticker", "partial_stop", "letterboxed", "repeats", "cuts", "ui_grid", "dark"],
)
def test_hard_negatives(name: str) -> None:
    makers: dict[str, Callable[[int], np.ndarray]] = {
        "moving": moving_luma,
        "high_motion": high_motion_luma,
        "grain": lambda i: with_grain(moving_luma(i), i),
        "spinner": spinner,
        "ticker": ticker,
        "partial_stop": partial_stop,
        "letterboxed": letterboxed,
        "repeats": lambda i: moving_luma(i - i % 3),
        "cuts": lambda i: moving_luma(i) if (i // 10) % 2 else high_motion_luma(i),
        "ui_grid": ui_grid_luma,
    }
    if name == "dark":
        items = frames(ClipSpec(frames=60, content="dark"))
    else:
        items = stream([makers[name](i) for i in range(60)])
    assert run(TearingDetector(), items) == []


def test_registry_and_metrics() -> None:
    det = create("tearing")
    pics = [moving_luma(0), moving_luma(1), torn(1, 2, row=120)]
    for f in stream(pics):
        det.feed(f)
    m = det.metrics()
    assert set(m) == set(TearingDetector.metric_names)
    assert det.last_metric == m["split_ratio"] == pytest.approx(0.5)
    assert m["mean_diff_levels"] > 1


@pytest.mark.parametrize(
    "kwargs",
    [{"still_max_levels": 0}, {"motion_min_levels": 0.5}, {"min_band_ratio": 0.5}, {"stale_ratio": 0.9}],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="tearing"):
        TearingDetector.Params(**kwargs)  # type: ignore[arg-type]
