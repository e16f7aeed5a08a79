"""The device / remote / av fixtures (registered by harness.plugin)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import allure
import pytest

from harness.av import AVView
from harness.config import DeviceConfig
from harness.control.remote import Remote
from harness.detector_params import coerce
from harness.errors import ConfigError, InfrastructureError, ProductFailure
from harness.plugin import STATE_KEY, TEST_START_KEY, AvqaState
from harness.report.allure_results import results_dir
from harness.report.attach import attach_event_evidence, attach_logs, attach_test_timeline
from harness.report.attachments import png_bytes
from harness.report.environment import environment, write_run_files
from harness.report.gate import KPI_PREFIX
from harness.session import DeviceSession

log = logging.getLogger(__name__)


def _state(config: pytest.Config) -> AvqaState:
    return config.stash[STATE_KEY]


@pytest.fixture(scope="session")
def device_config(request: pytest.FixtureRequest) -> DeviceConfig:
    """The selected device's validated configuration (--device, default sim)."""
    config = _state(request.config).device_config
    if config is None:  # collected without the plugin's collection hook (for example --collect-only)
        pytest.skip("no device selected: pass --device NAME (a file under devices/) or --device path/to/device.yaml")
    return config


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest, device_config: DeviceConfig) -> Iterator[DeviceSession]:
    """The opened device for the whole run: capture, remote, console and timeline.

    A simulated device's process is started here and stopped at the end of the run.
    """
    state = _state(request.config)
    record_to = None
    if state.video != "off":
        stamp = time.strftime("%Y%m%d-%H%M%S")
        record_to = results_dir(state.reports_dir, device_config.name, state.build or "unknown").parent / "recordings" / f"{stamp}.mp4"
    session = DeviceSession.open(device_config, step=allure.step, record_to=record_to)
    state.device_session = session
    if session.build != state.build and state.build_option is None:
        state.notes.append(f"device reported build {session.build} (results filed under {state.build})")
    if state.results_dir is not None:
        write_run_files(state.results_dir, environment(device_config, session.build, session.uris))
    try:
        yield session
    finally:
        state.device_session = None
        session.close()


@pytest.fixture(autouse=True)
def _avqa_labels(request: pytest.FixtureRequest) -> None:
    """Device and build as Allure parameters and labels, so each device keeps its own history."""
    if "device" not in request.fixturenames:
        return
    state = _state(request.config)
    if state.device_config is None:
        return
    session = request.getfixturevalue("device")
    if isinstance(session, DeviceSession) and session.capture is not None:  # (a test may shadow `device`)
        request.node.stash[TEST_START_KEY] = session.capture.now_s()
    allure.dynamic.parameter("device", state.device_config.name)
    allure.dynamic.label("device", state.device_config.name)
    allure.dynamic.label("build", state.build or "unknown")
    allure.dynamic.label("platform", state.device_config.platform)


@pytest.fixture
def remote(request: pytest.FixtureRequest, device: DeviceSession) -> Remote:
    """The device's remote; each key press is an Allure step and a timeline event."""
    device.check_alive()
    assert device.remote is not None
    for mark in request.node.iter_markers("requires_keys"):
        missing = [k for k in mark.args if not device.remote.supports(k)]
        if missing:
            pytest.skip(f"device {device.name}: control channel cannot send {', '.join(map(str, missing))}")
    return device.remote


@pytest.fixture
def kpi(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """Record a key performance indicator (``kpi("boot_time_s", 3.2)``): shown in the report, checked by ``avqa gate``."""

    def record(name: str, value: float) -> None:
        if not name.isidentifier():
            raise ValueError(f"KPI name must be an identifier with its unit, like boot_time_s; got {name!r}")
        allure.dynamic.parameter(f"{KPI_PREFIX}{name}", round(float(value), 6), excluded=True)
        request.node.user_properties.append((f"{KPI_PREFIX}{name}", float(value)))

    return record


@pytest.fixture
def av(request: pytest.FixtureRequest, device: DeviceSession) -> AVView:
    """A view of the device's live audio/video: waits, detector watches, screenshots.

    ``@pytest.mark.detector_params(freeze={"min_duration_s": 1.0})`` overrides detector
    parameters for one test (over the device YAML's ``detectors`` section).
    """
    device.check_alive()
    overrides: dict[str, dict[str, Any]] = {}
    for mark in reversed(list(request.node.iter_markers("detector_params"))):  # closest marker wins
        for name, params in mark.kwargs.items():
            try:
                overrides.setdefault(name, {}).update(coerce(name, params))
            except (KeyError, ValueError, TypeError) as e:
                raise ConfigError(f"{request.node.nodeid}: detector_params({name}=...): {str(e).strip(chr(39))}") from e
    return AVView(device, overrides)


def attach_evidence(item: pytest.Item, call: pytest.CallInfo[Any], *, failed: bool) -> None:
    """After a device test's call phase: its timeline always; on failure the evidence of each
    defect, the last frame, the console and capture statistics (per the artifact policy)."""
    state = _state(item.config)
    session = state.device_session
    if not isinstance(session, DeviceSession) or session.capture is None:
        return
    error = call.excinfo.value if call.excinfo is not None else None
    try:
        start_s = item.stash.get(TEST_START_KEY, 0.0)
        attach_test_timeline(session, start_s, session.capture.now_s(), item.name)
        shots = state.screenshot == "on" or (failed and state.screenshot == "only-on-failure")
        clips = state.video == "on" or (failed and state.video == "retain-on-failure")
        if isinstance(error, ProductFailure):
            attach_event_evidence(session, error.events, frames=shots, clips=clips)
        if shots:
            frame = error.frame if isinstance(error, ProductFailure) and error.frame is not None else session.capture.video.latest()
            if frame is not None:
                allure.attach(png_bytes(frame), name=f"last frame {frame.index} at t={frame.pts_s:.3f} s",
                              attachment_type=allure.attachment_type.PNG)
        if failed:
            attach_logs(session, include_simulator=isinstance(error, InfrastructureError))
    except Exception:
        log.warning("could not attach evidence for %s", item.nodeid, exc_info=True)
