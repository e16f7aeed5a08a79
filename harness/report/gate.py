"""The release gate: a small YAML policy applied to one device build's results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError
from harness.report.categories import CATEGORIES, categorise
from harness.report.results import BuildResults

KPI_PREFIX = "kpi:"
DEFAULT_POLICY = Path(__file__).with_name("default_gate.yaml")


class KpiLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max: float | None = None
    min: float | None = None


class GatePolicy(BaseModel):
    """What a build must show to be released."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_failures: dict[str, int] = Field(
        default_factory=lambda: {"product": 0, "infrastructure": 0},
        description="category name (or 'product' / 'infrastructure' for all of a kind) -> most failures allowed",
    )
    required: list[str] = Field(default_factory=list, description="tests (name or full name) that must have run and passed")
    kpis: dict[str, KpiLimit] = Field(default_factory=dict, description="KPI name -> limits, checked on every test that reports it")

    @classmethod
    def load(cls, path: Path | None) -> GatePolicy:
        path = path or DEFAULT_POLICY
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(f"{path}: cannot read gate policy: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {e}") from e
        try:
            policy = cls.model_validate(data)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
            raise ConfigError(f"{path}: {problems}") from e
        known = {c.name for c in CATEGORIES} | {"product", "infrastructure"}
        unknown = sorted(set(policy.max_failures) - known)
        if unknown:
            raise ConfigError(f"{path}: max_failures: unknown categories {unknown} (expected one of: {', '.join(sorted(known))})")
        return policy


@dataclass(frozen=True)
class Check:
    rule: str
    limit: str
    actual: str
    ok: bool
    detail: str = ""


@dataclass
class Verdict:
    device: str
    build: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def table(self) -> str:
        rows = [("rule", "limit", "actual", "verdict")] + [(c.rule, c.limit, c.actual, "PASS" if c.ok else "FAIL") for c in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"release gate: device {self.device}, build {self.build}"]
        for n, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * width for width in widths))
        for check in self.checks:
            if not check.ok and check.detail:
                lines.append(f"  {check.rule}: {check.detail}")
        lines.append(f"GATE {'PASSED' if self.passed else 'FAILED'}")
        return "\n".join(lines)


def evaluate(results: BuildResults, policy: GatePolicy) -> Verdict:
    """Apply ``policy`` to ``results``."""
    verdict = Verdict(results.device, results.build)
    by_category: dict[str, list[str]] = {}
    for test in results.tests:
        category = categorise(test.status, test.message)
        if category is not None:
            by_category.setdefault(category.name, []).append(test.name)
            by_category.setdefault("infrastructure" if category.infrastructure else "product", []).append(test.name)
    for name, limit in policy.max_failures.items():
        failing = by_category.get(name, [])
        verdict.checks.append(Check(f"failures: {name}", f"<= {limit}", str(len(failing)), len(failing) <= limit, ", ".join(failing)))
    for name in sorted(policy.max_failures.keys() | by_category.keys()):
        if name not in policy.max_failures and name not in ("product", "infrastructure"):
            verdict.checks.append(Check(f"failures: {name}", "(counted above)", str(len(by_category[name])), True))
    for required in policy.required:
        matches = [t for t in results.tests if required in (t.name, t.full_name)]
        status = matches[0].status if matches else "not run"
        verdict.checks.append(Check(f"required: {required}", "passed", status, status == "passed"))
    for kpi, limit in policy.kpis.items():
        values = [(t.name, _number(t.parameters.get(KPI_PREFIX + kpi))) for t in results.tests]
        values = [(n, v) for n, v in values if v is not None]
        if not values:
            verdict.checks.append(Check(f"kpi: {kpi}", _limit_text(limit), "not reported", False))
            continue
        for test_name, value in values:
            ok = (limit.max is None or value <= limit.max) and (limit.min is None or value >= limit.min)
            verdict.checks.append(Check(f"kpi: {kpi}", _limit_text(limit), f"{value:g}", ok, test_name))
    return verdict


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip("'\""))
    except ValueError:
        return None


def _limit_text(limit: KpiLimit) -> str:
    parts = ([f">= {limit.min:g}"] if limit.min is not None else []) + ([f"<= {limit.max:g}"] if limit.max is not None else [])
    return " and ".join(parts) or "any"


def junit_xml(results: BuildResults) -> bytes:
    """The results as JUnit XML (failed -> <failure>, broken -> <error>, skipped -> <skipped>)."""
    counts: dict[str, Any] = {"passed": 0, "failed": 0, "broken": 0, "skipped": 0}
    suite = ET.Element("testsuite", name=f"avqa {results.device} {results.build}")
    for test in results.tests:
        counts[test.status] = counts.get(test.status, 0) + 1
        classname = test.full_name.rpartition("#")[0] if "#" in test.full_name else "avqa"
        case = ET.SubElement(suite, "testcase", classname=classname, name=test.name, time=f"{test.duration_s:.3f}")
        if test.status == "failed":
            ET.SubElement(case, "failure", message=test.message.splitlines()[0] if test.message else "").text = test.message
        elif test.status == "broken":
            ET.SubElement(case, "error", message=test.message.splitlines()[0] if test.message else "").text = test.message
        elif test.status == "skipped":
            ET.SubElement(case, "skipped", message=test.message)
    suite.set("tests", str(len(results.tests)))
    suite.set("failures", str(counts["failed"]))
    suite.set("errors", str(counts["broken"]))
    suite.set("skipped", str(counts["skipped"]))
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)
