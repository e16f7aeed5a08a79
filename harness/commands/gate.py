"""``avqa gate``: a release verdict for one device build, for CI pipelines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import ConfigError
from harness.report.gate import GatePolicy, evaluate, junit_xml
from harness.report.results import find_results_dirs, load_results


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("gate", help="apply a release policy to a device build's results; exit 1 if it fails")
    p.add_argument("--reports-dir", type=Path, default=Path("reports"))
    p.add_argument("--device", help="device (default: the one with the newest results)")
    p.add_argument("--build", help="build (default: the newest results of the device)")
    p.add_argument("--policy", type=Path, help="gate policy YAML (default: the shipped one)")
    p.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML")


def run(args: argparse.Namespace) -> int:
    dirs = find_results_dirs(args.reports_dir, args.device, args.build)
    if not dirs:
        print(f"avqa gate: no results in {args.reports_dir}/{args.device or '*'}/{args.build or '*'}/allure-results", file=sys.stderr)
        return 2
    try:
        policy = GatePolicy.load(args.policy)
    except ConfigError as e:
        print(f"avqa gate: {e}", file=sys.stderr)
        return 2
    results = load_results(dirs[-1])
    verdict = evaluate(results, policy)
    print(verdict.table())
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_bytes(junit_xml(results))
    return 0 if verdict.passed else 1
