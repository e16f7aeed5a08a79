"""FreezeDetector: whole runs of unchanged pictures, noise robustness, local motion, parameters."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from detectors.base import Pipeline, create
from detectors.decode import iter_media
from detectors.media import Event, Frame, Region
from detectors.video.freeze import FreezeDetector
from tests.media_factory import ClipSpec, frames, write_clip


def run(detector: FreezeDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def spans(events: list[Event]) -> list[tuple[int | None, int | None]]:
    return [(e.start_frame, e.end_frame) for e in events]


def test_freeze_spans_the_whole_run_of_identical_pictures() -> None:
    spec = ClipSpec(frames=60, freeze=[(20, 39)])
    events = run(FreezeDetector(), frames(spec))
    assert spans(events) == [(20, 39)]
    (e,) = events
    assert e.kind == "freeze" and e.detector == "freeze"
    assert e.start_s == pytest.approx(20 / 25) and e.end_s == pytest.approx(40 / 25)
    assert e.score == 1.0 and e.evidence_frame is not None and 20 <= e.evidence_frame <= 39


def test_event_is_returned_by_the_first_changed_frame() -> None:
    det = FreezeDetector()
    returned = {f.index: det.feed(f) for f in frames(ClipSpec(frames=60, freeze=[(20, 39)]))}
    assert [i for i, ev in returned.items() if ev] == [40]


def test_moving_content_has_no_freeze() -> None:
    for content in ("moving", "dark", "slow"):
        det = FreezeDetector()
        assert run(det, frames(ClipSpec(frames=40, content=content))) == [], content  # type: ignore[arg-type]


def test_min_duration() -> None:
    # 25 fps, min 0.5 s: a run of 12 pictures lasts 0.48 s, 13 pictures 0.52 s.
    spec = ClipSpec(frames=80, freeze=[(10, 21), (40, 52)])
    assert spans(run(FreezeDetector(), frames(spec))) == [(40, 52)]
    short = FreezeDetector(FreezeDetector.Params(min_duration_s=0.2))
    assert spans(run(short, frames(spec))) == [(10, 21), (40, 52)]


def test_freeze_until_the_end_is_flushed() -> None:
    spec = ClipSpec(frames=50, freeze=[(30, 49)])
    det = FreezeDetector()
    assert all(det.feed(f) == [] for f in frames(spec))
    (e,) = det.flush()
    assert (e.start_frame, e.end_frame) == (30, 49)
    assert e.end_s == pytest.approx(50 / 25)
    assert det.flush() == []


def test_small_noise_is_still_frozen() -> None:
    spec = ClipSpec(frames=40, freeze=[(5, 34)])
    rng = np.random.default_rng(3)
    noisy = []
    for f in frames(spec):
        pic = f.i420.copy()
        if 5 < f.index <= 34:  # +-2 levels of noise on the repeats
            pic[: spec.height] = np.clip(
                pic[: spec.height].astype(np.int16) + rng.integers(-2, 3, pic[: spec.height].shape), 0, 255
            )
        noisy.append(Frame(f.index, f.pts_s, pic.astype(np.uint8)))
    (e,) = run(FreezeDetector(), noisy)
    assert (e.start_frame, e.end_frame) == (5, 34)
    assert 0.0 < e.score < 1.0


def test_small_moving_object_breaks_the_freeze() -> None:
    # A still picture with a 16x16 "spinner" that changes every frame: hardly moves the mean.
    base = frames(ClipSpec(frames=1))[0].i420
    items = []
    for i in range(40):
        pic = base.copy()
        pic[100:116, 100:116] = 30 if i % 2 else 230
        items.append(Frame(i, i / 25, pic))
    det = FreezeDetector()
    assert run(det, items) == []
    assert det.last_metric is not None and det.last_metric < det.params.max_mean_diff_levels
    # Outside the analysed region the spinner is ignored.
    det = FreezeDetector(FreezeDetector.Params(region=Region(0, 0, 80, 80)))
    assert spans(run(det, items)) == [(0, 39)]


def test_slow_drift_is_compared_with_the_first_frame_of_the_run() -> None:
    # Brightness creeping up 0.5 level a frame: each step is under the threshold, the run is not.
    base = frames(ClipSpec(frames=1))[0].i420.astype(np.float64)
    items = []
    for i in range(50):
        pic = base.copy()
        pic[:240] = np.clip(pic[:240] + 0.5 * i, 0, 255)
        items.append(Frame(i, i / 25, np.round(pic).astype(np.uint8)))
    assert run(FreezeDetector(), items) == []


def test_metrics_record() -> None:
    det = FreezeDetector()
    assert det.metrics()["mean_diff_levels"] is None
    fs = frames(ClipSpec(frames=3, freeze=[(0, 1)]))
    det.feed(fs[0])
    det.feed(fs[1])
    assert det.metrics() == {"index": 1, "pts_s": 1 / 25, "mean_diff_levels": 0.0, "changed_ratio": 0.0, "frozen": 1}
    det.feed(fs[2])
    m = det.metrics()
    assert m["frozen"] == 0 and det.last_metric == m["mean_diff_levels"] and m["mean_diff_levels"] > 1.0
    assert set(m) == set(FreezeDetector.metric_names)


def test_downscale_one_and_resolution_change() -> None:
    spec = ClipSpec(frames=30, freeze=[(0, 29)])
    det = FreezeDetector(FreezeDetector.Params(downscale_px=1))
    assert spans(run(det, frames(spec))) == [(0, 29)]
    # A change of resolution is a change of picture.
    small = frames(ClipSpec(width=160, height=120, frames=20, freeze=[(0, 19)]))
    big = [Frame(20 + f.index, (20 + f.index) / 25, f.i420) for f in frames(ClipSpec(frames=20, freeze=[(0, 19)]))]
    assert spans(run(FreezeDetector(), small + big)) == [(0, 19), (20, 39)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_mean_diff_levels": 0.0},
        {"changed_block_levels": -1.0},
        {"max_changed_ratio": 1.0},
        {"max_changed_ratio": -0.1},
        {"downscale_px": 0},
        {"downscale_px": 2.5},
        {"min_duration_s": -0.1},
        {"region": "top"},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="freeze"):
        FreezeDetector.Params(**kwargs)  # type: ignore[arg-type]


def test_h264_freeze_across_a_keyframe_is_one_event(tmp_path: Path) -> None:
    spec = ClipSpec(frames=75, freeze=[(30, 54)], keyframes=[42], crf=23)
    path = write_clip(tmp_path / "freeze_kf.mp4", spec)
    import av

    with av.open(str(path)) as c:
        keys = [i for i, f in enumerate(c.decode(video=0)) if f.key_frame]
    assert 42 in keys  # the freeze really crosses an IDR frame
    pipeline = Pipeline([create("freeze")])
    for item in iter_media(path):
        pipeline.feed(item)
    pipeline.flush()
    (e,) = pipeline.sorted_events()
    assert (e.start_frame, e.end_frame) == (30, 54)
    assert (e.start_s, e.end_s) == pytest.approx((30 / 25, 55 / 25))
    assert e.details["max_diff_levels"] > 0.0  # the re-encoded keyframe is not bit-identical


@pytest.mark.parametrize("content", ["dark", "slow"])
def test_h264_hard_negatives(tmp_path: Path, content: str) -> None:
    path = write_clip(tmp_path / f"{content}.mp4", ClipSpec(frames=40, content=content, keyframes=[20]))  # type: ignore[arg-type]
    det = FreezeDetector()
    assert run(det, (f for f in iter_media(path) if isinstance(f, Frame))) == []


def test_black_runs_are_left_to_the_black_detector_unless_asked() -> None:
    import numpy as np

    from detectors.media import Frame
    from detectors.video.freeze import FreezeDetector

    black = np.zeros((64, 64, 3), np.uint8)
    frames = [Frame.from_bgr(black, i, i / 25) for i in range(30)]
    default = FreezeDetector()
    parity = FreezeDetector(FreezeDetector.Params(ignore_black=False))
    for detector in (default, parity):
        for frame in frames:
            detector.feed(frame)
    assert default.flush() == []
    (event,) = parity.flush()
    assert (event.start_frame, event.end_frame) == (0, 29)
