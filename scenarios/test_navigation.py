"""Navigation: the focus moves with the arrow keys, OK opens details, BACK returns home."""

from __future__ import annotations

import allure
import pytest

from harness import AVView, Key, Remote

SCREEN_TIMEOUT_S = 5.0


def go_home(remote: Remote, av: AVView) -> None:
    remote.press(Key.HOME)
    av.wait_for_screen("home", timeout_s=SCREEN_TIMEOUT_S)


@allure.feature("navigation")
@pytest.mark.requires_screens("home", "details")
def test_focus_moves_and_details_open(remote: Remote, av: AVView) -> None:
    go_home(remote, av)
    for key in (Key.RIGHT, Key.DOWN, Key.LEFT, Key.UP):
        before = av.screenshot()
        remote.press(key)
        av.wait_for_change(timeout_s=SCREEN_TIMEOUT_S, reference=before)  # the focus ring moved
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
