"""Masks for the black and freeze detectors: "near black with a logo", clocks on frozen pictures; the fast black path."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from detectors.media import Event, Frame, Region
from detectors.video.black import BlackDetector
from detectors.video.freeze import FreezeDetector
from tests.media_factory import ClipSpec, frames, i420, moving_luma

FPS = 25
LOGO = Region(250, 10, 60, 30)  # a channel logo, top right
CLOCK = Region(10, 200, 80, 30)


def run(detector: BlackDetector | FreezeDetector, items: Iterable[Frame]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def with_logo(luma: np.ndarray) -> np.ndarray:
    out = luma.copy()
    rows, cols = LOGO.slices
    out[rows, cols] = 200  # 2.3 % of the picture: more than black's 2 % allowance
    return out


def test_near_black_with_a_logo_needs_the_mask() -> None:
    black = np.full((240, 320), 16, np.uint8)
    items = [Frame(i, i / FPS, i420(with_logo(black if 10 <= i <= 29 else moving_luma(i)))) for i in range(40)]
    assert run(BlackDetector(), items) == []
    events = run(BlackDetector(BlackDetector.Params(mask=(LOGO,))), items)
    assert [(e.start_frame, e.end_frame) for e in events] == [(10, 29)]
    assert events[0].score == 1.0


def test_mask_with_region_and_dark_content_stays_not_black() -> None:
    assert run(BlackDetector(BlackDetector.Params(mask=(LOGO,))), frames(ClipSpec(frames=30, content="dark"))) == []
    # with a region: the logo is outside the left half, which is black only while frames 20-29 are
    black = np.full((240, 320), 16, np.uint8)
    items = [Frame(i, i / FPS, i420(with_logo(black if i >= 20 else moving_luma(i)))) for i in range(30)]
    params = BlackDetector.Params(mask=(LOGO,), region=Region(0, 0, 160, 240))
    assert [(e.start_frame, e.end_frame) for e in run(BlackDetector(params), items)] == [(20, 29)]


def test_fast_path_gives_the_same_decisions_as_a_full_count() -> None:
    # the quick test on every 16th row must never call a black frame bright: compare with a
    # plain full count on pictures around the 98 % boundary
    rng = np.random.default_rng(3)
    det = BlackDetector()
    for k in range(200):
        luma = np.full((240, 320), 16, np.uint8)
        n = int(rng.integers(0, 6000))
        luma.flat[rng.choice(luma.size, n, replace=False)] = 200
        if k % 3 == 0:
            luma[::16] = 200  # bright sampled rows
        full = float((luma <= det.params.luma_threshold).mean())
        fast = det.black_ratio(Frame(k, 0.0, i420(luma)))
        assert (fast >= 0.98) == (full >= 0.98)


def test_freeze_mask_ignores_a_running_clock() -> None:
    def pic(i: int) -> np.ndarray:
        luma = moving_luma(20 if 20 <= i <= 49 else i).copy()
        rows, cols = CLOCK.slices
        luma[rows, cols] = 40 + (i * 37) % 180  # the clock changes every frame
        return luma

    items = [Frame(i, i / FPS, i420(pic(i))) for i in range(70)]
    assert run(FreezeDetector(), items) == []
    events = run(FreezeDetector(FreezeDetector.Params(mask=(CLOCK,))), items)
    assert [(e.start_frame, e.end_frame) for e in events] == [(20, 49)]


@pytest.mark.parametrize("cls", [BlackDetector, FreezeDetector])
def test_mask_is_validated(cls: type) -> None:
    with pytest.raises(ValueError, match=cls.name):
        cls.Params(mask=[LOGO])
    with pytest.raises(ValueError, match=cls.name):
        cls.Params(mask=("top",))
