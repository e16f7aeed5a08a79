"""Boot: from standby, POWER brings the app's home screen within the boot budget."""

from __future__ import annotations

from collections.abc import Callable

import allure
import pytest

from harness import AVView, Key, Remote

BOOT_BUDGET_S = 10.0  # power key to usable home screen


@allure.feature("boot")
@pytest.mark.requires_screens("home")
def test_power_on_reaches_home(remote: Remote, av: AVView, kpi: Callable[[str, float], None]) -> None:
    remote.press(Key.POWER)
    av.wait_for_black(timeout_s=5.0)  # standby: the panel goes dark

    press = remote.press(Key.POWER)
    pressed_s = av.capture.to_capture_time(press.monotonic_s)
    lit = av.wait_for_black_end(timeout_s=BOOT_BUDGET_S, since_s=pressed_s)
    home = av.wait_for_screen("home", timeout_s=BOOT_BUDGET_S, since_s=lit.at_s)
    boot_s = home.at_s - pressed_s
    kpi("boot_time_s", boot_s)
    assert boot_s <= BOOT_BUDGET_S, f"boot took {boot_s:.3f} s (budget {BOOT_BUDGET_S} s)"
