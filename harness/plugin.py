"""avqa's pytest plugin: options, markers and hooks (fixtures live in harness.fixtures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.config import DeviceConfig, resolve_device
from harness.errors import ConfigError
from harness.report.allure_results import enable_allure, results_dir

DEVICE_FIXTURES = frozenset({"device", "remote", "av", "device_config", "kpi"})


@dataclass
class AvqaState:
    """Per-run plugin state, kept in ``config.stash``."""

    device_option: str | None
    devices_dir: Path
    reports_dir: Path
    build_option: str | None
    device_config: DeviceConfig | None = None
    build: str | None = None
    results_dir: Path | None = None
    device_session: object | None = None  # the open DeviceSession, set by the device fixture
    screenshot: str = "only-on-failure"
    video: str = "retain-on-failure"
    used: bool = False
    notes: list[str] = field(default_factory=list)


STATE_KEY = pytest.StashKey[AvqaState]()
PHASE_REPORTS_KEY = pytest.StashKey[dict[str, pytest.TestReport]]()
TEST_START_KEY = pytest.StashKey[float]()  # capture-clock time at which a device test started


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("avqa", "avqa device testing")
    group.addoption(
        "--device", dest="avqa_device", default=None, metavar="NAME|PATH",
        help="device to test: a name under --devices-dir (devices/NAME.yaml) or a path to a device YAML (default: sim)",
    )
    group.addoption("--devices-dir", dest="avqa_devices_dir", default="devices", metavar="DIR", help="device inventory folder (default: devices)")
    group.addoption(
        "--build", dest="avqa_build", default=None, metavar="BUILD",
        help="build/firmware version to report under (default: read from the device)",
    )
    group.addoption(
        "--reports-dir", dest="avqa_reports_dir", default="reports", metavar="DIR",
        help="where reports go: DIR/<device>/<build>/allure-results (default: reports)",
    )
    group.addoption(
        "--screenshot", dest="avqa_screenshot", default="only-on-failure", choices=("off", "on", "only-on-failure"),
        help="attach event frames and the last frame: never, always, or only for failed tests (default)",
    )
    group.addoption(
        "--video", dest="avqa_video", default="retain-on-failure", choices=("off", "on", "retain-on-failure"),
        help="attach clips around detector events: never, always, or only for failed tests (default)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_screens(*names): skip unless the device YAML defines these screens")
    config.addinivalue_line("markers", "requires_keys(*keys): skip unless the device's remote can send these keys")
    config.addinivalue_line(
        "markers", "detector_params(**by_detector): detector parameter overrides, e.g. detector_params(freeze={'min_duration_s': 1.0})"
    )
    config.stash[STATE_KEY] = AvqaState(
        device_option=config.getoption("avqa_device"),
        devices_dir=Path(config.getoption("avqa_devices_dir")),
        reports_dir=Path(config.getoption("avqa_reports_dir")),
        build_option=config.getoption("avqa_build"),
        screenshot=config.getoption("avqa_screenshot"),
        video=config.getoption("avqa_video"),
    )
    from harness import fixtures

    config.pluginmanager.register(fixtures, "avqa-fixtures")


def _uses_device(item: pytest.Item) -> bool:
    return bool(DEVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once tests that use a device are collected: resolve the device and where its report goes."""
    state = session.config.stash[STATE_KEY]
    if not any(_uses_device(item) for item in session.items) or session.config.option.collectonly:
        return
    state.used = True
    try:
        state.device_config = resolve_device(state.device_option, state.devices_dir)
    except ConfigError as e:
        raise pytest.UsageError(str(e)) from e
    state.build = state.build_option or state.device_config.declared_build() or "unknown"
    state.results_dir = results_dir(state.reports_dir, state.device_config.name, state.build)
    if not enable_allure(session.config, state.results_dir):
        state.results_dir = Path(session.config.option.allure_report_dir)


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE_KEY]
    config = state.device_config
    if config is None:
        return
    for mark in item.iter_markers("requires_screens"):
        missing = [name for name in mark.args if name not in config.screens]
        if missing:
            pytest.skip(f"device {config.name} defines no screen(s) {', '.join(missing)} (add them under 'screens:' in {config.source_path})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """Fail a device test whose serial console printed a failure pattern (a product failure)."""
    session = item.config.stash[STATE_KEY].device_session if _uses_device(item) else None
    console = getattr(session, "console", None)
    before = len(console.failures) if console is not None else 0
    result = yield
    if session is not None and console is not None:
        session.check_console(before)  # type: ignore[attr-defined]
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    item.stash.setdefault(PHASE_REPORTS_KEY, {})[report.when] = report
    if report.when == "call" and _uses_device(item):
        from harness.fixtures import attach_evidence

        attach_evidence(item, call, failed=report.failed)
    return report


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or state.device_option is None:
        return None
    return f"avqa device: {state.device_option}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.used or state.device_config is None:
        return
    terminalreporter.section("avqa")
    terminalreporter.write_line(f"device {state.device_config.name}, build {state.build}")
    terminalreporter.write_line(f"Allure results: {state.results_dir}")
    if state.results_dir is not None and state.results_dir.parent.parent.parent == state.reports_dir:
        terminalreporter.write_line(
            f"HTML report:    avqa report --reports-dir {state.reports_dir} --device {state.device_config.name} --build {state.build}"
        )
    for note in state.notes:
        terminalreporter.write_line(note)
