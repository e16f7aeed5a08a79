"""Start and stop the simulated device as its own process (``avqa sim serve``)."""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SimulatorError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimEndpoints:
    """Where the running simulator can be reached (its ready line)."""

    video: str
    control: str
    console: str
    build: str
    pid: int
    width: int
    height: int
    fps: float
    power: str = ""  # soft power (the simulator's ECP URI)


class SimulatorProcess:
    """One ``python -m harness.sim.server DEVICE.yaml`` child process."""

    def __init__(self, config_path: str | Path, *, start_timeout_s: float = 20.0) -> None:
        self.config_path = Path(config_path)
        self._log = tempfile.NamedTemporaryFile(prefix="avqa-sim-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        cmd = [sys.executable, "-m", "harness.sim.server", str(self.config_path)]
        log.info("starting simulator: %s", " ".join(cmd))
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            self.endpoints = self._read_ready(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _read_ready(self, timeout_s: float) -> SimEndpoints:
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise SimulatorError(f"simulator {self.config_path}: not ready within {timeout_s:g} s{self._tail()}")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                code = self.process.wait(5)
                raise SimulatorError(f"simulator {self.config_path}: exited with code {code} before it was ready{self._tail()}")
            line += chunk
        try:
            ready = json.loads(line)
            return SimEndpoints(
                video=ready["video"], control=ready["control"], console=ready["console"], build=ready["build"],
                pid=int(ready["pid"]), width=int(ready["width"]), height=int(ready["height"]), fps=float(ready["fps"]),
                power=str(ready.get("power", "")),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise SimulatorError(f"simulator {self.config_path}: bad ready line {line[:200]!r}: {e}") from e

    def _tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return (": " + " | ".join(text)) if text else ""

    def exit_code(self) -> int | None:
        """None while running, else the exit code (negative: killed by that signal)."""
        return self.process.poll()

    def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code if the process ends within ``timeout_s``, else None (still running)."""
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def describe_exit(self) -> str:
        code = self.exit_code()
        if code is None:
            return "running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in ``timeout_s``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("simulator %s did not stop on SIGTERM; killing it", self.config_path)
                self.process.kill()
                self.process.wait(timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
