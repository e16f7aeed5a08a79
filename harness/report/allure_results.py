"""Where a run's Allure results go, and the Allure listener registered for device runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def _safe(part: str) -> str:
    """A path component from a device or build name (no separators, no surprises)."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", part).strip("._") or "unknown"


def results_dir(reports_dir: str | Path, device: str, build: str) -> Path:
    """``<reports_dir>/<device>/<build>/allure-results``."""
    return Path(reports_dir) / _safe(device) / _safe(build) / "allure-results"


def enable_allure(config: pytest.Config, report_dir: Path) -> bool:
    """Register allure-pytest's listener writing to ``report_dir``, unless --alluredir already did.

    Returns False when the user chose their own --alluredir (it is left as they set it).
    """
    if config.option.allure_report_dir:
        return False
    import allure_commons
    from allure_commons.logger import AllureFileLogger
    from allure_pytest.listener import AllureListener

    report_dir.mkdir(parents=True, exist_ok=True)
    config.option.allure_report_dir = str(report_dir)
    listener = AllureListener(config)
    config.pluginmanager.register(listener, "allure_listener")
    allure_commons.plugin_manager.register(listener)
    logger = AllureFileLogger(str(report_dir.resolve()), False)
    allure_commons.plugin_manager.register(logger)

    def unregister() -> None:
        for plugin in (listener, logger):
            name = allure_commons.plugin_manager.get_name(plugin)
            if name is not None:
                allure_commons.plugin_manager.unregister(name=name)

    config.add_cleanup(unregister)
    return True
