"""Navigation: the focus moves with the arrow keys, OK opens details, BACK returns home."""

from __future__ import annotations

from collections.abc import Callable

import allure
import pytest

from harness import AVView, Key, Remote

SCREEN_TIMEOUT_S = 5.0


def go_home(remote: Remote, av: AVView) -> None:
    remote.press(Key.HOME)
    av.wait_for_screen("home", timeout_s=SCREEN_TIMEOUT_S)


@allure.feature("navigation")
@pytest.mark.requires_screens("home", "details")
def test_focus_moves_and_details_open(remote: Remote, av: AVView, kpi: Callable[[str, float], None]) -> None:
    go_home(remote, av)
    responses = []
    for key in (Key.RIGHT, Key.DOWN, Key.LEFT, Key.UP):
        moved = av.press_and_wait(key, timeout_s=SCREEN_TIMEOUT_S)  # the focus ring moves
        assert moved, str(moved)
        assert moved.first_change_s is not None
        responses.append(moved.first_change_s)
    kpi("key_response_max_s", max(responses))
    remote.press(Key.OK)
    av.wait_for_screen("details", timeout_s=SCREEN_TIMEOUT_S)
    remote.press(Key.BACK)
    av.wait_for_screen("home", timeout_s=SCREEN_TIMEOUT_S)


@allure.feature("navigation")
@pytest.mark.requires_screens("home", "settings")
def test_settings_open_and_close(remote: Remote, av: AVView) -> None:
    go_home(remote, av)
    remote.press(Key.MENU)
    av.wait_for_screen("settings", timeout_s=SCREEN_TIMEOUT_S)
    remote.press(Key.BACK)
    av.wait_for_screen("home", timeout_s=SCREEN_TIMEOUT_S)
