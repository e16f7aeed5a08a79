"""``avqa report``: Allure results -> the static HTML report, with history per device."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from harness.errors import InfrastructureError
from harness.report import allure_cli
from harness.report.results import find_results_dirs


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("report", help="turn Allure results into the HTML report (keeps history per device)")
    p.add_argument("--reports-dir", type=Path, default=Path("reports"), help="where pytest wrote results (default: reports)")
    p.add_argument("--device", help="only this device")
    p.add_argument("--build", help="only this build")
    p.add_argument("--open", action="store_true", help="serve the report and open it in a browser (allure open)")


def previous_report(results_dir: Path) -> Path | None:
    """The newest earlier report of the same device (this build's own report first, if regenerated)."""
    device_dir = results_dir.parent.parent
    own = results_dir.parent / "allure-report"
    candidates = [p for p in device_dir.glob("*/allure-report") if (p / "history").is_dir()]
    if own in candidates:
        return own
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)


def run(args: argparse.Namespace) -> int:
    dirs = find_results_dirs(args.reports_dir, args.device, args.build)
    if not dirs:
        where = f"{args.reports_dir}/{args.device or '*'}/{args.build or '*'}/allure-results"
        print(f"avqa report: no results in {where} (run pytest scenarios/ first)", file=sys.stderr)
        return 2
    latest = {}
    for results in dirs:  # oldest first, so each build takes the history of the one before
        try:
            index = allure_cli.generate(results, results.parent / "allure-report", previous_report(results))
        except InfrastructureError as e:
            print(f"avqa report: {e}", file=sys.stderr)
            return 2
        print(f"{results.parent.parent.name} {results.parent.name}: {index}")
        latest[results.parent.parent.name] = index
    if args.open:
        report = next(reversed(latest.values())).parent
        subprocess.run([str(allure_cli.find_allure()), "open", str(report)], check=False)
    return 0
