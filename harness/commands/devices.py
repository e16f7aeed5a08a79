"""``avqa devices list|show|check``: the device inventory, and what works on a device right now."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.config import DeviceConfig, load_device, resolve_device
from harness.errors import ConfigError, HarnessError


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    devices = subparsers.add_parser("devices", help="the device inventory")
    devices.add_argument("--devices-dir", default="devices")
    sub = devices.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="list and validate every device file")
    show = sub.add_parser("show", help="validate and print one device's configuration")
    show.add_argument("name", help="device name or YAML path")
    check = sub.add_parser("check", help="open the device's capture, control channels, console and power; report what works")
    check.add_argument("name", help="device name or YAML path")
    check.add_argument("--seconds", type=float, default=2.0, help="how long to watch the capture (default 2)")


@dataclass(frozen=True)
class CheckLine:
    part: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"  {self.part:<12} {'OK  ' if self.ok else 'FAIL'} {self.detail}"


def _attempt(part: str, action: Callable[[], str]) -> CheckLine:
    try:
        return CheckLine(part, True, action())
    except (HarnessError, OSError, ValueError) as e:
        return CheckLine(part, False, str(e))


def check_device(config: DeviceConfig, seconds: float, report: Callable[[CheckLine], None]) -> bool:
    """Open each part of ``config`` on its own (one failure does not hide the others); True if all work."""
    from harness.capture.capture import Capture
    from harness.control.factory import open_backend, open_power_control
    from harness.control.power import open_power
    from harness.control.serial_console import SerialConsole
    from harness.sim.launcher import SimulatorProcess

    lines: list[CheckLine] = []

    def note(line: CheckLine) -> None:
        lines.append(line)
        report(line)

    simulator = None
    capture_uri = config.capture.video if config.capture else None
    control_uris = ([config.control.uri] + [c.uri for c in config.control.channels]) if config.control else []
    console_uri = config.console.uri if config.console else None
    power_uri = config.power.uri if config.power else None
    try:
        if config.simulator is not None:
            assert config.source_path is not None
            try:
                simulator = SimulatorProcess(config.source_path)
            except HarnessError as e:
                note(CheckLine("simulator", False, str(e)))
                return False
            ends = simulator.endpoints
            note(CheckLine("simulator", True, f"pid {ends.pid}, build {ends.build}, {ends.width}x{ends.height}@{ends.fps:g}"))
            capture_uri, control_uris, console_uri = ends.video, [ends.control], ends.console
            power_uri = power_uri or ends.power or None

        def capture() -> str:
            assert capture_uri is not None
            cap = Capture(capture_uri, no_signal_s=3.0).start()
            try:
                cap.wait_started(10.0)
                first = cap.video.latest()
                time.sleep(seconds)
                stats = cap.stats()
                latest = cap.video.latest()
                assert first is not None and latest is not None
                span_s = latest.pts_s - first.pts_s
                rate = (latest.index - first.index) / span_s if span_s > 0 else 0.0
                audio = f"audio {stats.audio_chunks} chunks" if cap.has_audio else "no audio"
                return (f"{capture_uri}: {latest.width}x{latest.height}, {rate:.2f} fps over {span_s:.1f} s "
                        f"({cap.fps:g} nominal), {audio}, "
                        f"dropped {stats.dropped_frames}, decode errors {stats.decode_errors}")
            finally:
                cap.close()

        if capture_uri is None:
            note(CheckLine("capture", False, "no capture.video in the device file"))
        else:
            note(_attempt("capture", capture))
        timeout = config.control.timeout_s if config.control else 3.0
        for n, uri in enumerate(control_uris):

            def control(uri: str = uri) -> str:
                backend = open_backend(uri, timeout_s=timeout, device=config.name)
                try:
                    return f"{backend.channel} {uri}: connected"
                finally:
                    backend.close()

            note(_attempt("control" if n == 0 else f"control[{n}]", control))
        if console_uri:

            def console() -> str:
                port = SerialConsole(console_uri, device=config.name)
                try:
                    port.send("version")
                    time.sleep(min(1.0, seconds))
                    return f"{console_uri}: {len(port.lines)} line(s) in {min(1.0, seconds):g} s"
                finally:
                    port.close()

            note(_attempt("console", console))
        if power_uri:

            def power() -> str:
                control = open_power_control(config.power, device=config.name) if config.power else open_power(power_uri, device=config.name)
                try:
                    return f"{power_uri}: reachable"
                finally:
                    control.close()

            note(_attempt("power", power))
    finally:
        if simulator is not None:
            simulator.stop()
    return all(line.ok for line in lines)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        status = 0
        for path in sorted(Path(args.devices_dir).glob("*.yaml")):
            try:
                config = load_device(path)
            except ConfigError as e:
                print(f"{path.stem:<20} INVALID  {e}")
                status = 1
                continue
            kind = "simulated" if config.is_simulated else "real"
            print(f"{config.name:<20} {kind:<9} {config.model} ({config.platform})")
        return status
    try:
        config = resolve_device(args.name, args.devices_dir)
    except ConfigError as e:
        print(f"avqa: {e}", file=sys.stderr)
        return 2
    if args.action == "show":
        print(config.model_dump_json(indent=2, exclude_none=True))
        return 0
    print(f"device {config.name} ({config.model}, {config.platform})")
    ok = check_device(config, args.seconds, lambda line: print(line, flush=True))
    print("all channels work" if ok else "some channels FAILED")
    return 0 if ok else 1
