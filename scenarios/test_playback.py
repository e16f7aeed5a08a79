"""Playback: content starts, and 20 s of it show no black, no freeze and no silence."""

from __future__ import annotations

from collections.abc import Callable

import allure
import pytest

from harness import AVView, Key, ProductFailure, Remote

WATCH_S = 20.0
START_TIMEOUT_S = 8.0
DETECTORS = ("black", "freeze", "silence")


@allure.feature("playback")
@pytest.mark.requires_screens("home", "details")
def test_playback_is_clean(remote: Remote, av: AVView, kpi: Callable[[str, float], None]) -> None:
    remote.press(Key.HOME)
    av.wait_for_screen("home", timeout_s=5.0)
    remote.press(Key.OK)
    av.wait_for_screen("details", timeout_s=5.0)

    press = remote.press(Key.OK)
    started = av.wait_for_motion(timeout_s=START_TIMEOUT_S, since_s=av.capture.to_capture_time(press.monotonic_s))
    kpi("play_to_motion_s", started.elapsed_s)

    with allure.step(f"watch {WATCH_S:g} s of playback with {', '.join(DETECTORS)}"):
        result = av.watch(DETECTORS, duration_s=WATCH_S, start_s=started.at_s)
    if result.audio_s < 0.9 * WATCH_S:
        raise ProductFailure(f"audio missing: only {result.audio_s:.2f} s of audio in {WATCH_S:g} s of playback", result.last_frame)
    result.assert_no_events(origin_s=started.at_s, origin_name="playback")
