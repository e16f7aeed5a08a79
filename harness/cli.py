"""The ``avqa`` command: analyze files, run the simulated device, inspect the device inventory."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommands that live in their own module: each has add_parser(subparsers) and run(args) -> int.
COMMAND_MODULES = (
    "harness.commands.capture",
    "harness.commands.devices",
    "harness.commands.gate",
    "harness.commands.remote",
    "harness.commands.report",
)


def main(argv: list[str] | None = None) -> int:
    """Run the ``avqa`` command line; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="avqa", description="Device-capture A/V test harness.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("analyze", help="run detectors over media files (avqa analyze --help)", add_help=False)
    sim = sub.add_parser("sim", help="the simulated device")
    sim_sub = sim.add_subparsers(dest="action", required=True)
    sim_sub.add_parser("serve", help="run a simulated device from its YAML (avqa sim serve devices/sim.yaml)", add_help=False)
    sub.add_parser("version", help="print the avqa version")
    runners = {}
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        before = set(sub.choices)
        module.add_parser(sub)
        for name in set(sub.choices) - before:
            runners[name] = module.run

    if argv[:1] == ["analyze"]:
        from detectors.analyze import main as analyze_main

        return analyze_main(argv[1:])
    if argv[:2] == ["sim", "serve"]:
        from harness.sim.server import main as sim_main

        return sim_main(argv[2:])
    args = parser.parse_args(argv)
    if args.command in runners:
        return int(runners[args.command](args))
    if args.command == "version":
        from importlib.metadata import version

        print(f"avqa {version('avqa')}")
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
