"""DeviceSession: one device's capture, control and console, tied together on one timeline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from detectors.media import Event
from harness.capture.capture import Capture
from harness.capture.recorder import Recorder
from harness.config import CaptureConfig, DeviceConfig, RecordingConfig
from harness.control.backend import PowerControl
from harness.control.factory import open_power_control, open_remote, traffic_text
from harness.control.power import open_power, power_cycle
from harness.control.remote import KeyPress, Remote, _no_step
from harness.control.serial_console import ConsoleFailure, ConsoleLine, SerialConsole
from harness.errors import CaptureError, ConfigError, ControlError, InfrastructureError, ProductFailure, SimulatorError
from harness.report.evidence import EvidenceStore
from harness.sim.launcher import SimulatorProcess
from harness.timeline import Timeline

log = logging.getLogger(__name__)


class DeviceSession:
    """An opened device: use :meth:`open`, then ``capture``, ``remote``, ``console``, ``timeline``.

    For a simulated device the simulator process is started first and its endpoints are used
    exactly as a real device's URIs would be.
    """

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config
        self.name = config.name
        self.timeline = Timeline()
        self.evidence = EvidenceStore()
        self.uris: dict[str, str] = {}
        self.simulator: SimulatorProcess | None = None
        self.capture: Capture | None = None
        self.remote: Remote | None = None  # type: ignore[assignment]
        self.console: SerialConsole | None = None
        self.power: PowerControl | None = None
        self.recorder: Recorder | None = None
        self.build: str = config.declared_build() or "unknown"

    @classmethod
    def open(
        cls,
        config: DeviceConfig,
        *,
        step: Callable[[str], AbstractContextManager[None]] = _no_step,
        start_timeout_s: float = 20.0,
        record_to: Path | None = None,
    ) -> DeviceSession:
        """Start (for a simulator), connect capture, control and console; wait for the first frame.

        With ``record_to``, the whole session is recorded there (fragmented MP4) so that evidence
        clips can be cut around events.
        """
        session = cls(config)
        try:
            session._open(step, start_timeout_s, record_to)
        except BaseException:
            session.close()
            raise
        return session

    def _open(self, step: Callable[[str], AbstractContextManager[None]], start_timeout_s: float, record_to: Path | None) -> None:
        config = self.config
        capture_cfg = config.capture
        if config.simulator is not None:
            assert config.source_path is not None
            self.simulator = SimulatorProcess(config.source_path, start_timeout_s=start_timeout_s)
            ends = self.simulator.endpoints
            video_uri, control_uri, console_uri = ends.video, ends.control, ends.console
            power_uri = ends.power or None
            self.build = ends.build
        else:
            assert capture_cfg is not None and config.control is not None
            video_uri, control_uri = capture_cfg.video, config.control.uri
            console_uri = config.console.uri if config.console else None
            power_uri = None
        self.uris = {"capture.video": video_uri, "control": control_uri} | ({"console": console_uri} if console_uri else {})
        defaults = CaptureConfig(video=video_uri) if capture_cfg is None else capture_cfg  # a simulator: the defaults
        self.capture = Capture(
            video_uri, buffer_s=defaults.buffer_s, no_signal_s=defaults.no_signal_s, open_timeout_s=defaults.open_timeout_s,
            reconnect_s=defaults.reconnect_s if capture_cfg is not None else 0.0,  # a simulator that died does not come back
            audio_uri=defaults.audio, on_event=self.timeline.add, name=self.name,
        ).start()
        open_timeout_s = defaults.open_timeout_s
        recording: RecordingConfig = defaults.recording
        if record_to is not None and recording.enabled:
            self.recorder = Recorder(self.capture, record_to, recording.settings()).start()
        if console_uri:
            baud = config.console.baud if config.console else 115200
            self.console = SerialConsole(
                console_uri,
                baud=baud,
                device=self.name,
                on_line=self._on_console_line,
                failure_patterns=config.console.failure_patterns if config.console else (),
                on_failure=self._on_console_failure,
            )
        # every configured channel (control.uri first, then control.channels); a simulator's ready line gives the first URI
        capture = self.capture

        def timed_step(title: str) -> AbstractContextManager[None]:  # key presses named with their capture-clock time
            return step(f"{title} at t={capture.now_s():.3f} s")

        self.remote = open_remote(config.control, uri=control_uri, device=self.name, on_key=self._on_key, step=timed_step)
        for backend in self.remote.backends:
            if hasattr(backend, "start_logcat"):  # Android devices: logcat for the report
                backend.start_logcat()
        if config.power is not None:
            self.power = open_power_control(config.power, device=self.name)
        elif power_uri:
            self.power = open_power(power_uri, device=self.name)
        self.capture.wait_started(open_timeout_s)
        if config.build is not None and config.build.source == "console":
            self.build = self._read_build_from_console(config.build.pattern)
        log.info("device %s (build %s) open: capture %s, control %s", self.name, self.build, video_uri, control_uri)

    def _read_build_from_console(self, pattern: str) -> str:
        if self.console is None:
            raise ConfigError(f"{self.config.source_path}: build.source: 'console' needs a 'console' section")
        return self.console.read_build(pattern, timeout_s=5.0)

    def _on_key(self, press: KeyPress) -> None:
        assert self.capture is not None
        t = self.capture.to_capture_time(press.monotonic_s)
        self.timeline.add(
            Event(
                "remote", "key", t, t + press.took_s,
                details={"key": press.key.value, "action": press.action, "channel": press.channel, "sent_as": press.channel_key, "attempt": press.attempt},
            )
        )

    def _on_console_failure(self, failure: ConsoleFailure) -> None:
        t = self.capture.to_capture_time(failure.line.monotonic_s) if self.capture is not None else 0.0
        self.timeline.add(Event("console", "failure", t, t, details={"pattern": failure.pattern, "line": failure.line.text}))

    def console_failures_since(self, index: int) -> list[ConsoleFailure]:
        """Console failure-pattern matches after the first ``index`` ones (fixtures remember len() before a test)."""
        return list(self.console.failures[index:]) if self.console is not None else []

    def check_console(self, since: int) -> None:
        """Raise ProductFailure (Allure: failed) if the console matched a failure pattern since ``since``."""
        failures = self.console_failures_since(since)
        if failures:
            events = tuple(e for e in self.timeline.events() if e.detector == "console")[-len(failures):]
            raise ProductFailure(f"device {self.name}: " + "; ".join(map(str, failures)), events=events)

    def reboot(self, off_s: float | None = None) -> None:
        """Power-cycle the device through its power control (ControlError when it has none)."""
        if self.power is None:
            raise ControlError(f"device {self.name}: no power control configured (power.uri in the device file)")
        power_cycle(self.power, self.config.power.off_s if off_s is None and self.config.power else (off_s or 2.0))

    def control_traffic(self) -> str:
        """Every control channel's traffic, merged and on the capture clock, for the report."""
        if self.remote is None:
            return ""
        origin_s = -self.capture.to_capture_time(0.0) if self.capture is not None else 0.0  # monotonic -> capture clock
        return traffic_text(self.remote, origin_s=origin_s)

    def _on_console_line(self, line: ConsoleLine) -> None:
        pass  # lines are kept by the console; failure patterns become events (control issue)

    def clip(self, start_s: float, end_s: float, out: Path) -> Path:
        """An evidence clip of capture-clock ``start_s``..``end_s``, cut from the recording without decoding it."""
        from harness.capture.clips import cut_clip

        if self.recorder is None:
            raise CaptureError(f"device {self.name}: the session is not recorded (recording.enabled is false)")
        self.recorder.wait_written(end_s, timeout_s=self.recorder.settings.fragment_s + 5)
        return cut_clip(self.recorder.path, start_s, end_s, out).path

    def check_alive(self) -> None:
        """Raise an infrastructure error if the simulated device process died."""
        if self.simulator is not None and self.simulator.exit_code() is not None:
            raise SimulatorError(f"device {self.name}: simulator {self.simulator.describe_exit()}")

    def explain(self, error: InfrastructureError) -> InfrastructureError:
        """Return ``error`` or, when the simulator died, an error that says so (the root cause).

        A dying process closes its sockets before the kernel reports its exit, so the stream can
        end a moment before the exit is visible: give it up to a second to show.
        """
        if self.simulator is not None and self.simulator.wait_exit(1.0) is not None:
            return SimulatorError(f"device {self.name}: simulator {self.simulator.describe_exit()} ({error})")
        return error

    def close(self) -> None:
        """Release everything; safe to call twice and after a failed open."""
        if self.capture is not None:
            self.capture.close()  # first, while the source still sends: the grabber exits at once
        if self.recorder is not None:
            try:
                log.info("recording %s: %s", self.recorder.path, self.recorder.close())  # writes what the ring still holds
            except CaptureError:
                log.warning("recording %s failed", self.recorder.path, exc_info=True)
        for closer in (self.remote, self.power, self.console):
            if closer is not None:
                try:
                    closer.close()
                except ControlError:
                    log.debug("closing failed", exc_info=True)
        if self.simulator is not None:
            self.simulator.stop()
