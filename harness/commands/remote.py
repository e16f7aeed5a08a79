"""``avqa remote (NAME | --control URI) KEY...``: send keys and print each one's latency.

A simulated device is started for the command and stopped after it. Latency is the time the
channel took to acknowledge the key (HTTP 200, lircd SUCCESS, iTach completeir...).
"""

from __future__ import annotations

import argparse
import sys

from harness.control.keys import Key
from harness.errors import ConfigError, ControlError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``remote`` on ``subparsers``."""
    parser = subparsers.add_parser(
        "remote",
        help="send keys to a device and print per-key latency",
        description="Send keys to a device (by name) or to a control URI and print how long each took.",
    )
    parser.usage = "avqa remote (NAME | --control URI) KEY... [--delay S] [--timeout S] [--devices-dir DIR]"
    parser.add_argument("--control", metavar="URI", help="a control URI, e.g. lirc:///var/run/lirc/lircd?remote=tv")
    parser.add_argument("words", nargs="+", metavar="NAME KEY", help="device name or YAML path (without --control), then avqa keys")
    parser.add_argument("--devices-dir", default="devices")
    parser.add_argument("--delay", type=float, default=None, metavar="S", help="time between presses (default: the device's key_delay_s)")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="S", help="per-request time-out with --control")
    return parser


def run(args: argparse.Namespace) -> int:
    """Send ``args.keys``; 0 when all were acknowledged, 1 on a control error, 2 on bad input."""
    from harness.config import resolve_device
    from harness.control.factory import open_backend, open_remote
    from harness.control.remote import Remote

    words = list(args.words)
    name = None if args.control else words.pop(0)
    if not words:
        print("avqa remote: no keys given (usage: avqa remote (NAME | --control URI) KEY...)", file=sys.stderr)
        return 2
    try:
        keys = [Key.parse(k) for k in words]
    except ValueError as e:
        print(f"avqa remote: {e}", file=sys.stderr)
        return 2
    simulator = None
    remote: Remote | None = None
    try:
        if args.control:
            backend = open_backend(args.control, timeout_s=args.timeout)
            remote = Remote(backend, key_delay_s=0.3 if args.delay is None else args.delay)
        else:
            config = resolve_device(name, args.devices_dir)
            uri = None
            if config.simulator is not None:
                from harness.sim.launcher import SimulatorProcess

                assert config.source_path is not None
                simulator = SimulatorProcess(config.source_path)
                uri = simulator.endpoints.control
            remote = open_remote(config.control, uri=uri, device=config.name)
            if args.delay is not None:
                remote.key_delay_s = args.delay
        print(f"{'key':<12} {'channel':<10} {'sent as':<26} {'latency':>10}")
        for key in keys:
            press = remote.press(key)
            print(f"{key.value:<12} {press.channel:<10} {press.channel_key:<26} {press.took_s * 1000:>7.1f} ms", flush=True)
        return 0
    except (ConfigError, ValueError) as e:
        print(f"avqa remote: {e}", file=sys.stderr)
        return 2
    except ControlError as e:
        print(f"avqa remote: {e}", file=sys.stderr)
        return 1
    finally:
        if remote is not None:
            try:
                remote.close()
            except ControlError:
                pass
        if simulator is not None:
            simulator.stop()


def main(argv: list[str] | None = None) -> int:
    """Run ``avqa remote`` on its own (``python -m harness.commands.remote``)."""
    parser = argparse.ArgumentParser(prog="avqa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["remote", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
