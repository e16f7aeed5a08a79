"""StutterDetector: repeated frames, dropped frames in a 2:2 cadence, 3:2 judder, hard negatives."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from detectors.base import create
from detectors.decode import iter_media
from detectors.media import Event, Frame
from detectors.video.stutter import StutterDetector
from tests.media_factory import ClipSpec, high_motion_luma, i420, moving_luma, ui_grid_luma, with_grain, write_clip

FPS = 60


def run(detector: StutterDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def shown(source: Sequence[int], make: Callable[[int], np.ndarray] = moving_luma, fps: int = FPS) -> list[Frame]:
    """Output frame j shows source picture ``source[j]`` (identical pixels for the same source)."""
    cache: dict[int, np.ndarray] = {}
    out = []
    for j, s in enumerate(source):
        if s not in cache:
            cache[s] = i420(make(s))
        out.append(Frame(j, j / fps, cache[s]))
    return out


def spans(events: list[Event]) -> list[tuple[str, int | None, int | None]]:
    return [(e.kind, e.start_frame, e.end_frame) for e in events]


def test_repeated_frames_are_frame_exact() -> None:
    # 1:1 cadence; frames 20-21 repeat picture 19 (hold of 3), frame 50 repeats 49.
    source = list(range(80))
    source[20] = source[21] = 19
    source[50] = 49
    events = run(StutterDetector(), shown(source))
    assert spans(events) == [("repeated_frame", 20, 21), ("repeated_frame", 50, 50)]
    e = events[0]
    assert e.detector == "stutter" and e.details == {"hold_frames": 3, "cadence_frames": 1}
    assert (e.start_s, e.end_s) == pytest.approx((20 / FPS, 22 / FPS))
    assert e.evidence_frame == 20 and 0 < e.score <= 1


def test_dropped_frame_in_a_2_2_cadence() -> None:
    # 30p content on a 60 Hz output (each picture twice); picture 20 is shown only once.
    source = [j // 2 for j in range(80)]
    first = source.index(20)
    del source[first]
    events = run(StutterDetector(), shown(source))
    assert spans(events) == [("dropped_frame", first, first)]
    assert events[0].details == {"hold_frames": 1, "cadence_frames": 2}


def test_repeat_in_a_2_2_cadence() -> None:
    source = [j // 2 for j in range(80)]
    k = source.index(30)
    source.insert(k, 29)  # picture 29 held for 3 frames
    events = run(StutterDetector(), shown(source))
    assert spans(events) == [("repeated_frame", k, k)]


def test_judder_3_2_pulldown_after_native_rate() -> None:
    # 60p content for 40 frames, then 24p content in 3:2 pulldown for 120 frames (2 s).
    native = list(range(40))
    pulldown = [100 + (j * 24) // 60 for j in range(120)]
    events = run(StutterDetector(), shown(native + pulldown))
    assert spans(events) == [("judder", 40, 159)]
    e = events[0]
    assert e.details["content_fps"] == pytest.approx(24.0, abs=0.1)
    assert e.details["pattern"] in ("3:2:3:2", "2:3:2:3")
    assert run(StutterDetector(StutterDetector.Params(report_judder=False)), shown(native + pulldown)) == []


@pytest.mark.parametrize(
    "name",
    ["native", "30p_on_60", "high_motion", "grain", "ui_grid", "static_with_spinner", "freeze_and_still"],
)
def test_hard_negatives(name: str) -> None:
    n = 150
    if name == "native":
        frames = shown(range(n))
    elif name == "30p_on_60":
        frames = shown([j // 2 for j in range(n)])
    elif name == "high_motion":
        frames = shown(range(n), high_motion_luma)
    elif name == "grain":
        frames = shown(range(n), lambda i: with_grain(moving_luma(0), i))  # a still picture under new grain every frame
    elif name == "ui_grid":
        frames = shown(range(n), ui_grid_luma)  # still for 10 frames, then a focus move
    elif name == "static_with_spinner":

        def spinner(i: int) -> np.ndarray:
            luma = moving_luma(0).copy()
            angle = i * 0.4
            x, y = int(160 + 12 * np.cos(angle)), int(120 + 12 * np.sin(angle))
            luma[y - 3 : y + 3, x - 3 : x + 3] = 235
            return luma

        frames = shown(range(n), spinner)
    else:
        frames = shown([j if j < 50 or j >= 90 else 50 for j in range(n)])  # a 40-frame freeze
    det = StutterDetector()
    assert run(det, frames) == []


def test_black_run_is_not_a_repeat() -> None:
    def pic(s: int) -> np.ndarray:
        return np.full((240, 320), 16, np.uint8) if s < 0 else moving_luma(s)

    source = list(range(60))
    source[30:33] = [-1, -1, -1]
    assert run(StutterDetector(), shown(source, pic)) == []


def test_metrics_and_registry() -> None:
    det = create("stutter")
    assert isinstance(det, StutterDetector) and det.medium == "video"
    for f in shown([0, 0, 1]):
        det.feed(f)
    m = det.metrics()
    assert set(m) == set(StutterDetector.metric_names)
    assert m["repeat"] == 0 and m["hold_frames"] == 1 and det.last_metric == m["mean_diff_levels"] > 1.0
    det.feed(shown([0, 0, 1, 1])[3])
    assert det.metrics()["repeat"] == 1 and det.metrics()["hold_frames"] == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"repeat_max_mean_levels": 0},
        {"changed_block_levels": 0},
        {"repeat_max_changed_ratio": 1.0},
        {"max_repeat_frames": 0},
        {"confirm_holds": 1},
        {"min_judder_s": 0},
        {"min_judder_share": 0.6},
        {"region": (0, 0, 1, 1)},
    ],
)
def test_params_are_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="stutter"):
        StutterDetector.Params(**kwargs)  # type: ignore[arg-type]


def test_h264_repeats_and_timestamp_gaps(tmp_path: Path) -> None:
    # a 2-frame repeat survives H.264 (crf 23); a dropped timestamp (frame 40 never written) is not
    # a stutter: analyze reports it as dropped_frames
    spec = ClipSpec(frames=60, freeze=[(19, 21)], drop=[40], crf=23)
    path = write_clip(tmp_path / "rep.mkv", spec)
    items = [f for f in iter_media(path) if isinstance(f, Frame)]
    events = run(StutterDetector(), items)
    assert spans(events) == [("repeated_frame", 20, 21)]
    assert (events[0].start_s, events[0].end_s) == pytest.approx((20 / 25, 22 / 25))
