"""Reading Allure results back: the latest result per test of one device build."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TestResult:
    name: str
    full_name: str
    status: str  # passed, failed, broken, skipped, unknown
    message: str
    start_ms: int
    stop_ms: int
    labels: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return max(0, self.stop_ms - self.start_ms) / 1000.0


@dataclass(frozen=True)
class BuildResults:
    device: str
    build: str
    results_dir: Path
    tests: tuple[TestResult, ...]


def find_results_dirs(reports_dir: Path, device: str | None = None, build: str | None = None) -> list[Path]:
    """``<reports_dir>/<device>/<build>/allure-results`` folders matching the filters, oldest first."""
    found = [
        path for path in reports_dir.glob("*/*/allure-results")
        if path.is_dir() and (device is None or path.parent.parent.name == device) and (build is None or path.parent.name == build)
    ]
    return sorted(found, key=lambda p: (max((f.stat().st_mtime for f in p.glob("*-result.json")), default=p.stat().st_mtime), str(p)))


def load_results(results_dir: Path) -> BuildResults:
    """The latest result of each test in ``results_dir`` (reruns of the same build add results)."""
    latest: dict[str, TestResult] = {}
    for path in results_dir.glob("*-result.json"):
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("%s: unreadable Allure result: %s", path, e)
            continue
        result = TestResult(
            name=data.get("name", path.stem),
            full_name=data.get("fullName", data.get("name", path.stem)),
            status=data.get("status", "unknown"),
            message=(data.get("statusDetails") or {}).get("message", "") or "",
            start_ms=int(data.get("start", 0)),
            stop_ms=int(data.get("stop", 0)),
            labels={label["name"]: label["value"] for label in data.get("labels", [])},
            parameters={p["name"]: p["value"] for p in data.get("parameters", [])},
        )
        key = data.get("historyId") or result.full_name
        if key not in latest or latest[key].stop_ms <= result.stop_ms:
            latest[key] = result
    device, build = results_dir.parent.parent.name, results_dir.parent.name
    tests = tuple(sorted(latest.values(), key=lambda r: r.full_name))
    return BuildResults(device, build, results_dir, tests)
