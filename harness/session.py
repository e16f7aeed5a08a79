"""DeviceSession: one device's capture, control and console, tied together on one timeline."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager

from detectors.media import Event
from harness.capture.capture import Capture
from harness.config import DeviceConfig
from harness.control import registry as control_registry
from harness.control.remote import KeyPress, Remote, _no_step
from harness.control.serial_console import ConsoleLine, SerialConsole
from harness.errors import ConfigError, ControlError, InfrastructureError, SimulatorError
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
        self.build: str = config.declared_build() or "unknown"

    @classmethod
    def open(
        cls,
        config: DeviceConfig,
        *,
        step: Callable[[str], AbstractContextManager[None]] = _no_step,
        start_timeout_s: float = 20.0,
    ) -> DeviceSession:
        """Start (for a simulator), connect capture, control and console; wait for the first frame."""
        session = cls(config)
        try:
            session._open(step, start_timeout_s)
        except BaseException:
            session.close()
            raise
        return session

    def _open(self, step: Callable[[str], AbstractContextManager[None]], start_timeout_s: float) -> None:
        config = self.config
        capture_cfg = config.capture
        if config.simulator is not None:
            assert config.source_path is not None
            self.simulator = SimulatorProcess(config.source_path, start_timeout_s=start_timeout_s)
            ends = self.simulator.endpoints
            video_uri, control_uri, console_uri = ends.video, ends.control, ends.console
            self.build = ends.build
        else:
            assert capture_cfg is not None and config.control is not None
            video_uri, control_uri = capture_cfg.video, config.control.uri
            console_uri = config.console.uri if config.console else None
        self.uris = {"capture.video": video_uri, "control": control_uri} | ({"console": console_uri} if console_uri else {})
        buffer_s = capture_cfg.buffer_s if capture_cfg else 30.0
        no_signal_s = capture_cfg.no_signal_s if capture_cfg else 3.0
        open_timeout_s = capture_cfg.open_timeout_s if capture_cfg else 10.0
        self.capture = Capture(video_uri, buffer_s=buffer_s, no_signal_s=no_signal_s, open_timeout_s=open_timeout_s, name=self.name).start()
        if console_uri:
            baud = config.console.baud if config.console else 115200
            self.console = SerialConsole(console_uri, baud=baud, device=self.name, on_line=self._on_console_line)
        control = config.control
        backend_cls = control_registry.backend_class(control_uri)
        backend = backend_cls(
            control_uri,
            timeout_s=control.timeout_s if control else 3.0,
            keymap=control.keymap if control else None,
            device=self.name,
        )
        self.remote = Remote(
            backend, key_delay_s=control.key_delay_s if control else 0.3, device=self.name, on_key=self._on_key, step=step
        )
        self.capture.wait_started(open_timeout_s)
        if config.build is not None and config.build.source == "console":
            self.build = self._read_build_from_console(config.build.pattern)
        log.info("device %s (build %s) open: capture %s, control %s", self.name, self.build, video_uri, control_uri)

    def _read_build_from_console(self, pattern: str) -> str:
        if self.console is None:
            raise ConfigError(f"{self.config.source_path}: build.source: 'console' needs a 'console' section")
        regex = re.compile(pattern)
        for line in list(self.console.lines):
            match = regex.search(line.text)
            if match:
                return match.group(1)
        self.console.send("version")
        return self.console.expect(pattern, timeout_s=5.0).group(1)

    def _on_key(self, press: KeyPress) -> None:
        assert self.capture is not None
        t = self.capture.to_capture_time(press.monotonic_s)
        self.timeline.add(
            Event("remote", "key", t, t + press.took_s, details={"key": press.key.value, "action": press.action})
        )

    def _on_console_line(self, line: ConsoleLine) -> None:
        pass  # lines are kept by the console; failure patterns become events (control issue)

    def check_alive(self) -> None:
        """Raise an infrastructure error if the simulated device process died."""
        if self.simulator is not None and self.simulator.exit_code() is not None:
            raise SimulatorError(f"device {self.name}: simulator {self.simulator.describe_exit()}")

    def explain(self, error: InfrastructureError) -> InfrastructureError:
        """Return ``error`` or, when the simulator died, an error that says so (the root cause)."""
        if self.simulator is not None and self.simulator.exit_code() is not None:
            return SimulatorError(f"device {self.name}: simulator {self.simulator.describe_exit()} ({error})")
        return error

    def close(self) -> None:
        """Release everything; safe to call twice and after a failed open."""
        if self.capture is not None:
            self.capture.close()  # first, while the source still sends: the grabber exits at once
        for closer in (self.remote, self.console):
            if closer is not None:
                try:
                    closer.close()
                except ControlError:
                    log.debug("closing failed", exc_info=True)
        if self.simulator is not None:
            self.simulator.stop()
