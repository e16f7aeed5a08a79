"""wait_for_* helpers over synthetic frame iterators: deterministic, time from frame pts."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from detectors.media import Frame, Region
from harness import waits
from harness.errors import ProductFailure, WaitTimeout

FPS = 30


def frames(pictures: list[np.ndarray]) -> Iterator[Frame]:
    for i, bgr in enumerate(pictures):
        yield Frame.from_bgr(bgr, i, i / FPS)


def solid(level: int, size: tuple[int, int] = (64, 96)) -> np.ndarray:
    return np.full((*size, 3), level, np.uint8)


def test_motion_found_at_the_first_changed_frame() -> None:
    pics = [solid(100)] * 10 + [solid(160)] + [solid(160)] * 5
    result = waits.wait_for(frames(pics), waits.motion_score(), timeout_s=5, what="motion")
    assert result and result.frame.index == 10
    assert result.elapsed_s == pytest.approx(10 / FPS)


def test_timeout_is_a_product_failure_carrying_the_last_frame() -> None:
    pics = [solid(100)] * 40
    with pytest.raises(WaitTimeout) as info:
        waits.wait_for(frames(pics), waits.motion_score(), timeout_s=0.5, what="motion")
    assert isinstance(info.value, ProductFailure) and isinstance(info.value, AssertionError)
    assert info.value.frame is not None and info.value.frame.index == 16  # first frame past 0.5 s
    assert "timed out after 0.5 s waiting for motion" in str(info.value)


def test_consecutive_debounce_and_black_end() -> None:
    pics = [solid(0)] * 5 + [solid(200)] + [solid(0)] * 3 + [solid(200)] * 4
    black_end = waits.wait_for(frames(pics), waits.not_black_score(), timeout_s=5, what="black end", consecutive=2)
    assert black_end.frame.index == 9  # the single bright frame at 5 is a glitch, not the end of black
    black = waits.wait_for(frames(pics), waits.black_score(), timeout_s=5, what="black")
    assert black.frame.index == 0


def test_region_change_ignores_changes_elsewhere() -> None:
    base = solid(80)
    elsewhere = base.copy()
    elsewhere[:, 60:] = 200
    inside = elsewhere.copy()
    inside[:20, :20] = 200
    reference = Frame.from_bgr(base, 0, 0.0)
    region = Region(0, 0, 32, 32)
    result = waits.wait_for(frames([elsewhere] * 5 + [inside]), waits.change_score(reference, region), timeout_s=5, what="change")
    assert result.frame.index == 5


def test_match_finds_the_template_only_where_it_is() -> None:
    rng = np.random.default_rng(1)
    template = rng.integers(0, 255, (16, 32), dtype=np.uint8)
    with_logo = solid(90).copy()
    with_logo[8:24, 8:40] = template[:, :, None]
    score = waits.match_score(template, Region(0, 0, 48, 32), threshold=0.9)
    assert score(Frame.from_bgr(with_logo, 0, 0.0))
    assert not score(Frame.from_bgr(solid(90), 1, 0.03))


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        waits.wait_for(iter(()), waits.motion_score(), timeout_s=0, what="x")


def test_small_local_change_counts_as_motion() -> None:
    base = solid(80, (240, 320))
    focus = base.copy()
    focus[100:140, 100:104] = 235  # a thin focus ring edge: tiny in the mean, clear locally
    result = waits.wait_for(frames([base] * 3 + [focus]), waits.motion_score(), timeout_s=5, what="motion")
    assert result.frame.index == 3
