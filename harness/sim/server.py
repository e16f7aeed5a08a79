"""Run the simulated device as its own process: ``python -m harness.sim.server devices/sim.yaml``.

Starts the A/V stream (TCP or UDP MPEG-TS on 127.0.0.1), the Roku ECP server (always: it also
serves device-info and soft power), the key receiver chosen by ``simulator.control`` (an lircd
socket or an iTach, when not ECP) and the serial console, prints one JSON ready line on stdout
(``control`` is the URI of the chosen key channel, ``power`` the ECP URI), then renders and streams in real time until
SIGTERM/SIGINT (exit 0). A bad device file exits 2 with the ConfigError message on stderr.
Everything else is logged on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from typing import TextIO

from harness.config import DeviceConfig, load_device
from harness.errors import ConfigError
from harness.sim.app import Input, SimApp
from harness.sim.audio import AudioSynth
from harness.sim.console import PtyConsole
from harness.sim.ecp_server import DeviceInfo, EcpServer
from harness.sim.itach_server import ITachServer
from harness.sim.lirc_server import LircServer
from harness.sim.render import Renderer
from harness.sim.streamer import TcpBroadcaster, TsEncoder, UdpSender

log = logging.getLogger("harness.sim.server" if __name__ == "__main__" else __name__)

_MAX_BEHIND_S = 5.0  # further behind than this (a suspended process): re-anchor the clock
_SLOW_REPORT_S = 10.0

_HELP = "commands: help, version, uptime, status"


class SimDevice:
    """The simulated device: app, renderer, audio, encoder, stream, ECP server and console wired together."""

    def __init__(self, config: DeviceConfig) -> None:
        if config.simulator is None:
            raise ConfigError(f"{config.source_path}: simulator: missing (this device file describes real hardware)")
        sim = config.simulator
        self.config = config
        self.sim = sim
        self.width, self.height = sim.size
        self.fps = sim.fps
        self.app = SimApp(sim, model=config.model)
        self.renderer = Renderer(self.width, self.height, self.fps, build=sim.build, model=config.model)
        self.renderer.warm_up()
        self.synth = AudioSynth(sim.audio)
        self.encoder = TsEncoder(self.width, self.height, self.fps)
        self.inputs: queue.SimpleQueue[Input] = queue.SimpleQueue()
        self.transport: TcpBroadcaster | UdpSender
        if sim.transport == "tcp":
            self.transport = TcpBroadcaster(max_queued_chunks=2 * self.fps)
        else:
            self.transport = UdpSender()
        self.ecp = EcpServer(self.inputs.put, self._device_info)
        self.keys_server: LircServer | ITachServer | None = None
        if sim.control == "lirc":
            self.keys_server = LircServer(self.inputs.put)
        elif sim.control == "itach":
            self.keys_server = ITachServer(self.inputs.put)
        self.console = PtyConsole(
            {
                "help": lambda: _HELP,
                "version": lambda: f"build: {sim.build}",
                "uptime": lambda: f"up {self.app.uptime_s():.3f} s (device {self.app.frame_index / self.fps:.3f} s)",
                "status": lambda: f"screen: {self.app.screen.value}",
            }
        )
        self.slow_frames = 0
        self.late_frames = 0

    def _device_info(self) -> DeviceInfo:
        return DeviceInfo(
            name=self.config.name,
            model=self.config.model,
            build=self.sim.build,
            powered=self.app.powered,
            uptime_s=self.app.uptime_s(),
            resolution=self.sim.resolution,
        )

    def ready_event(self) -> dict[str, object]:
        return {
            "event": "ready",
            "video": self.transport.url,
            "control": self.control_url,
            "power": self.ecp.url,
            "console": self.console.path,
            "build": self.sim.build,
            "pid": os.getpid(),
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
        }

    @property
    def control_url(self) -> str:
        return self.keys_server.url if self.keys_server is not None else self.ecp.url

    def start(self) -> None:
        self.ecp.start()
        if self.keys_server is not None:
            self.keys_server.start()
        self.console.start()

    def step(self) -> None:
        """Render, encode and send one frame (inputs queued so far take effect on it)."""
        while True:
            try:
                self.app.press(self.inputs.get_nowait())
            except queue.Empty:
                break
        tick = self.app.tick()
        for line in tick.log:
            log.info("console: %s", line)
            self.console.write_line(line)
        picture = self.renderer.render(tick.view)
        plan = tick.audio
        audio = self.synth.render(plan.mode, plan.start, plan.count, mute=plan.mute, click_age=plan.click_age)
        self.transport.send(self.encoder.encode(picture, audio))

    def run(self, stop: threading.Event, stop_after_s: float | None = None, *, watch_parent: bool = False) -> None:
        """Produce frames in real time until ``stop`` is set (or ``stop_after_s`` has passed).

        With ``watch_parent``, also stop when the process that started this one goes away (we get re-parented),
        so a killed test run never leaves a simulator behind.
        """
        period_s = 1.0 / self.fps
        start_s = time.monotonic()
        parent_pid = os.getppid()
        anchor_s, anchor_frame = start_s, 0
        frame = 0
        window_slow, window_frames, window_max_s = 0, 0, 0.0
        next_report_s = start_s + _SLOW_REPORT_S
        while not stop.is_set():
            due_s = anchor_s + (frame - anchor_frame) * period_s
            now_s = time.monotonic()
            if stop_after_s is not None and now_s - start_s >= stop_after_s:
                break
            if due_s > now_s:
                if stop.wait(due_s - now_s):
                    break
            elif now_s - due_s > _MAX_BEHIND_S:
                log.warning("%.1f s behind real time (suspended?): re-anchoring the frame clock", now_s - due_s)
                anchor_s, anchor_frame = now_s, frame
            elif now_s - due_s > period_s:
                self.late_frames += 1
            began_s = time.monotonic()
            self.step()
            took_s = time.monotonic() - began_s
            frame += 1
            window_frames += 1
            window_max_s = max(window_max_s, took_s)
            if took_s > period_s:
                self.slow_frames += 1
                window_slow += 1
            if watch_parent and frame % self.fps == 0 and os.getppid() != parent_pid:
                log.warning("parent process %d is gone: stopping", parent_pid)
                break
            if began_s >= next_report_s:
                if window_slow > 1:
                    log.warning(
                        "%d of the last %d frames took longer than the frame period (%.1f ms, worst %.1f ms); %d late in total",
                        window_slow,
                        window_frames,
                        period_s * 1000,
                        window_max_s * 1000,
                        self.late_frames,
                    )
                window_slow, window_frames, window_max_s = 0, 0, 0.0
                next_report_s = began_s + _SLOW_REPORT_S

    def close(self) -> None:
        for name, closer in (
            ("ecp", self.ecp.close),
            ("keys", self.keys_server.close if self.keys_server is not None else lambda: None),
            ("console", self.console.close),
            ("encoder", self._close_encoder),
            ("transport", self.transport.close),
        ):
            try:
                closer()
            except Exception:  # keep closing the rest
                log.exception("closing %s failed", name)

    def _close_encoder(self) -> None:
        self.transport.send(self.encoder.close())


def serve(
    config_path: str, *, stop_after_s: float | None = None, ready_out: TextIO | None = None, watch_parent: bool = True
) -> int:
    """Run the simulated device described by ``config_path``; return the process exit status.

    Args:
        config_path: a device YAML file with a ``simulator`` section.
        stop_after_s: stop by itself after this many seconds (None: run until SIGTERM/SIGINT).
        ready_out: where the one JSON ready line goes (default: stdout).
        watch_parent: stop when the parent process exits (the launcher starts us in a new session, so a
            killed test run would otherwise leave the simulator running).

    Returns:
        0 after a clean stop, 2 for a bad device file, 1 if the simulator failed.
    """
    try:
        config = load_device(config_path)
        device = SimDevice(config)
    except ConfigError as e:
        log.error("%s", e)
        return 2
    except Exception:
        log.exception("%s: the simulator could not start", config_path)
        return 1
    stop = threading.Event()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda signum, frame: stop.set())
    try:
        device.start()
        out = ready_out if ready_out is not None else sys.stdout
        out.write(json.dumps(device.ready_event()) + "\n")
        out.flush()
        log.info(
            "avqa-sim %s: %dx%d@%d video %s, control %s, console %s",
            device.sim.build,
            device.width,
            device.height,
            device.fps,
            device.transport.url,
            device.control_url,
            device.console.path,
        )
        device.run(stop, stop_after_s, watch_parent=watch_parent)
    except Exception:
        log.exception("simulator failed")
        return 1
    finally:
        device.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        if device.console.dropped_lines:
            log.info("console: %d line(s) dropped while nobody was reading", device.console.dropped_lines)
    log.info("avqa-sim stopped after %d frames (%d slow)", device.encoder.frames_encoded, device.slow_frames)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``avqa sim serve PATH`` lands here)."""
    parser = argparse.ArgumentParser(prog="avqa sim serve", description="Run the simulated device.")
    parser.add_argument("config", help="device YAML file with a 'simulator' section, e.g. devices/sim.yaml")
    parser.add_argument("--stop-after", type=float, default=None, metavar="S", help="exit by itself after S seconds")
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument("--no-parent-watch", action="store_true", help="keep running when the parent process exits (daemon use)")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return serve(args.config, stop_after_s=args.stop_after, watch_parent=not args.no_parent_watch)


if __name__ == "__main__":
    sys.exit(main())
