"""BlockinessDetector: JPEG-style block grids at known frames; clean codec output, grids and upscales as negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import create
from detectors.decode import iter_media
from detectors.media import Event, Frame
from detectors.video.blockiness import BlockinessDetector
from tests.media_factory import ClipSpec, frames, high_motion_luma, i420, moving_luma, ui_grid_luma, with_grain, write_clip

FPS = 25


def run(detector: BlockinessDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def clip(make: Callable[[int], np.ndarray], n: int) -> list[Frame]:
    return [Frame(i, i / FPS, i420(make(i))) for i in range(n)]


def jpeg(luma: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", luma, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def test_blocky_run_is_frame_exact() -> None:
    def make(i: int) -> np.ndarray:
        return jpeg(moving_luma(i), 15) if 20 <= i <= 44 else moving_luma(i)

    events = run(BlockinessDetector(), clip(make, 60))
    assert [(e.kind, e.start_frame, e.end_frame) for e in events] == [("blockiness", 20, 44)]
    e = events[0]
    assert (e.start_s, e.end_s) == pytest.approx((20 / FPS, 45 / FPS))
    assert e.detector == "blockiness" and e.score > 0.5 and e.details["mean_blockiness"] >= 1.3


def test_grid_offset_and_high_motion_content() -> None:
    # blocks of a picture cropped by 3 px: the grid no longer starts at column 0
    def make(i: int) -> np.ndarray:
        luma = jpeg(high_motion_luma(i, 328, 248), 10)[3:243, 5:325]
        return np.ascontiguousarray(luma)

    events = run(BlockinessDetector(), clip(make, 30))
    assert [(e.start_frame, e.end_frame) for e in events] == [(0, 29)]


@pytest.mark.parametrize("name", ["moving", "dark", "checkerboard", "ui_grid", "upscaled_2x", "grain", "high_motion"])
def test_hard_negatives(name: str) -> None:
    if name == "moving":
        items = clip(moving_luma, 40)
    elif name == "dark":
        items = frames(ClipSpec(frames=40, content="dark"))
    elif name == "checkerboard":  # 16 px squares on the block grid
        items = frames(ClipSpec(frames=40, content="slow"))
    elif name == "ui_grid":
        items = clip(ui_grid_luma, 40)
    elif name == "upscaled_2x":
        items = clip(lambda i: cv2.resize(moving_luma(i, 160, 120), (320, 240), interpolation=cv2.INTER_NEAREST), 40)
    elif name == "grain":
        items = clip(lambda i: with_grain(moving_luma(i), i, sigma=8), 40)
    else:
        items = clip(high_motion_luma, 40)
    assert run(BlockinessDetector(), items) == []


def test_h264_at_normal_quality_is_not_blocky(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clean.mp4", ClipSpec(frames=40, crf=30))
    assert run(BlockinessDetector(), (f for f in iter_media(path) if isinstance(f, Frame))) == []


def test_registry_and_metrics() -> None:
    det = create("blockiness")
    det.feed(clip(lambda i: jpeg(moving_luma(i), 10), 1)[0])
    m = det.metrics()
    assert set(m) == set(BlockinessDetector.metric_names)
    assert det.last_metric == m["blockiness"] >= 1.3 and m["horizontal"] > 1.3 and m["vertical"] > 1.3
    det.feed(clip(moving_luma, 2)[1])
    assert det.metrics()["blockiness"] < 1.1


@pytest.mark.parametrize(
    "kwargs",
    [{"block_px": 2}, {"min_blockiness": 1.0}, {"min_step_levels": 0}, {"row_step": 0}, {"min_duration_s": -1}, {"region": 1}],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="blockiness"):
        BlockinessDetector.Params(**kwargs)  # type: ignore[arg-type]
