"""BlackDetector: frame-exact black runs, thresholds, region, parameters, metrics."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from detectors.base import Pipeline, create
from detectors.decode import iter_media
from detectors.media import Event, Frame, Region
from detectors.video.black import BlackDetector
from tests.media_factory import ClipSpec, frames, write_clip


def run(detector: BlackDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def uniform(index: int, luma: int, fps: int = 25, size: tuple[int, int] = (64, 48)) -> Frame:
    w, h = size
    pic = np.full((h * 3 // 2, w), 128, np.uint8)
    pic[:h] = luma
    return Frame(index, index / fps, pic)


def test_black_run_is_frame_exact() -> None:
    spec = ClipSpec(frames=40, black=[(10, 14)])
    events = run(BlackDetector(), frames(spec))
    assert len(events) == 1
    e = events[0]
    assert (e.kind, e.detector, e.start_frame, e.end_frame) == ("black", "black", 10, 14)
    assert e.start_s == pytest.approx(10 / 25) and e.end_s == pytest.approx(15 / 25)
    assert e.score == 1.0 and 10 <= (e.evidence_frame or -1) <= 14


def test_event_is_returned_by_the_first_non_black_frame() -> None:
    det = BlackDetector()
    spec = ClipSpec(frames=20, black=[(3, 7)])
    returned = {f.index: det.feed(f) for f in frames(spec)}
    assert [i for i, ev in returned.items() if ev] == [8]


def test_min_duration() -> None:
    # 25 fps: 2 frames last 0.08 s (< 0.1 s), 3 frames 0.12 s.
    spec = ClipSpec(frames=40, black=[(5, 6), (20, 22)])
    events = run(BlackDetector(), frames(spec))
    assert [(e.start_frame, e.end_frame) for e in events] == [(20, 22)]
    events = run(BlackDetector(BlackDetector.Params(min_duration_s=0.0)), frames(spec))
    assert [(e.start_frame, e.end_frame) for e in events] == [(5, 6), (20, 22)]


def test_exact_min_duration_at_30_fps_counts() -> None:
    items = [uniform(i, 16 if 3 <= i <= 5 else 120, fps=30) for i in range(10)]
    events = run(BlackDetector(), items)
    assert [(e.start_frame, e.end_frame) for e in events] == [(3, 5)]


def test_black_until_the_end_is_flushed_with_one_frame_duration() -> None:
    spec = ClipSpec(frames=30, black=[(25, 29)])
    det = BlackDetector()
    assert all(det.feed(f) == [] for f in frames(spec))
    (e,) = det.flush()
    assert (e.start_frame, e.end_frame) == (25, 29)
    assert e.end_s == pytest.approx(30 / 25)
    assert det.flush() == []


def test_pixel_threshold_boundary() -> None:
    assert BlackDetector.Params().luma_threshold == 37
    items = [uniform(i, 37) for i in range(5)]
    assert len(run(BlackDetector(), items)) == 1
    items = [uniform(i, 38) for i in range(5)]
    assert run(BlackDetector(), items) == []


def test_dark_content_is_not_black() -> None:
    spec = ClipSpec(frames=50, content="dark")
    det = BlackDetector()
    events = run(det, frames(spec))
    assert events == []
    assert det.last_metric is not None and 0.9 < det.last_metric < 0.98


def test_picture_black_ratio_param() -> None:
    spec = ClipSpec(frames=20, content="dark")
    events = run(BlackDetector(BlackDetector.Params(picture_black_ratio=0.9)), frames(spec))
    assert [(e.start_frame, e.end_frame) for e in events] == [(0, 19)]


def test_region_limits_analysis() -> None:
    # Left half black, right half bright: black only when looking at the left half.
    def half(i: int) -> Frame:
        f = uniform(i, 200)
        f.luma[:, :32] = 16
        return f

    items = [half(i) for i in range(10)]
    assert run(BlackDetector(), items) == []
    region = Region(0, 0, 32, 48)
    (e,) = run(BlackDetector(BlackDetector.Params(region=region)), [half(i) for i in range(10)])
    assert e.region == region and e.to_dict()["region"] == {"x": 0, "y": 0, "width": 32, "height": 48}
    # A region larger than the frame is clipped.
    assert len(run(BlackDetector(BlackDetector.Params(region=Region(0, 0, 32, 4000))), items)) == 1


def test_metrics_record() -> None:
    det = BlackDetector()
    assert det.metrics()["black_ratio"] is None
    det.feed(uniform(0, 16))
    assert det.last_metric == 1.0
    assert det.metrics() == {"index": 0, "pts_s": 0.0, "black_ratio": 1.0, "black": 1}
    det.feed(uniform(1, 100))
    assert det.metrics()["black"] == 0 and det.last_metric == 0.0
    assert set(det.metrics()) == set(BlackDetector.metric_names)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pixel_threshold": -0.1},
        {"pixel_threshold": 1.5},
        {"picture_black_ratio": 0.0},
        {"picture_black_ratio": 1.01},
        {"min_duration_s": -1.0},
        {"min_duration_s": float("nan")},
        {"region": (0, 0, 10, 10)},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="black"):
        BlackDetector.Params(**kwargs)  # type: ignore[arg-type]


def test_registry_creates_and_rejects_unknown_params() -> None:
    det = create("black", {"min_duration_s": 0.5})
    assert isinstance(det, BlackDetector) and det.params.min_duration_s == 0.5
    with pytest.raises(ValueError, match="unknown parameter"):
        create("black", {"threshold": 3})


def test_rejects_audio() -> None:
    from detectors.media import AudioChunk

    with pytest.raises(TypeError):
        BlackDetector().feed(AudioChunk(0.0, 48000, np.zeros((10, 1), np.float32)))


def test_h264_file_black_frame_exact(tmp_path: Path) -> None:
    spec = ClipSpec(frames=50, black=[(12, 17), (46, 49)])
    path = write_clip(tmp_path / "black.mp4", spec)
    pipeline = Pipeline([create("black")])
    for item in iter_media(path):
        pipeline.feed(item)
    pipeline.flush()
    events = pipeline.sorted_events()
    assert [(e.start_frame, e.end_frame) for e in events] == [(12, 17), (46, 49)]
    assert [(e.start_s, e.end_s) for e in events] == [
        pytest.approx((12 / 25, 18 / 25)),
        pytest.approx((46 / 25, 50 / 25)),
    ]
