"""End to end: the real scenarios against the simulator as its own process, through pytester."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
FRAME_S = 1 / 30


def run_scenarios(pytester: pytest.Pytester, device: str, *extra: str) -> tuple[pytest.RunResult, Path]:
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        str(REPO / "scenarios"), f"--device={REPO / 'devices' / device}.yaml", f"--reports-dir={reports}", "-p", "no:cacheprovider",
        *extra, timeout=240,
    )
    return result, reports


def allure_results(reports: Path) -> dict[str, dict]:
    by_name = {}
    for path in reports.glob("*/*/allure-results/*-result.json"):
        data = json.loads(path.read_text())
        by_name[data["name"]] = data
    return by_name


def steps(result: dict) -> list[str]:
    return [s["name"] for s in result.get("steps", [])]


def test_good_build_passes_and_files_results_per_device_build(pytester: pytest.Pytester) -> None:
    result, reports = run_scenarios(pytester, "sim")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*device sim, build sim-2026.11.0*", f"Allure results: {reports}/sim/sim-2026.11.0/allure-results"])
    results = allure_results(reports)
    assert set(results) == {
        "test_power_on_reaches_home", "test_focus_moves_and_details_open", "test_settings_open_and_close", "test_playback_is_clean",
    }
    assert {r["status"] for r in results.values()} == {"passed"}
    boot = results["test_power_on_reaches_home"]
    assert steps(boot) == ["press POWER", "press POWER"]
    labels = {(label["name"], label["value"]) for label in boot["labels"]}
    assert {("device", "sim"), ("build", "sim-2026.11.0")} <= labels
    assert {"name": "device", "value": "'sim'"} in boot["parameters"]  # allure-pytest shows repr()


def test_faulty_build_fails_playback_naming_each_fault_within_one_frame(pytester: pytest.Pytester) -> None:
    result, reports = run_scenarios(pytester, "sim-regression")
    result.assert_outcomes(passed=3, failed=1)
    output = result.stdout.str()
    faults = yaml.safe_load((REPO / "devices" / "sim-regression.yaml").read_text())["simulator"]["faults"]
    kinds = {"black": "black", "freeze": "freeze", "audio_dropout": "silence"}
    for fault in faults:
        kind = kinds[fault["kind"]]
        match = re.search(rf"- {kind} at ([\d.]+) s into playback \(t=[\d.]+ s\) lasting ([\d.]+) s", output)
        assert match, f"{kind} not reported:\n{output}"
        start_s, duration_s = float(match.group(1)), float(match.group(2))
        assert abs(start_s - fault["at_s"]) <= FRAME_S, (kind, start_s, fault)
        assert abs(duration_s - fault["duration_s"]) <= FRAME_S, (kind, duration_s, fault)
    reported = set(re.findall(r"- \w+ at [\d.]+ s into playback .*", output))  # (CI=true repeats it in the summary)
    assert len(reported) == 3, reported  # nothing else was reported
    playback = allure_results(reports)["test_playback_is_clean"]
    assert playback["status"] == "failed"  # a product defect, not an infrastructure problem
    attachments = {a["name"]: a for a in playback.get("attachments", [])}
    names = sorted(attachments)
    for n, kind, detector in ((1, "black", "black"), (2, "freeze", "freeze"), (3, "silence", "silence")):
        event = [a for name, a in attachments.items() if name.startswith(f"{n}. {kind} at t=")]
        metric = [a for a in event if a["name"].endswith(f": {detector} metric")]
        assert metric and all(a["type"] == "image/png" for a in event), names
        if kind != "silence":  # video events carry their frame with the region drawn
            assert any(": frame " in a["name"] for a in event), names
    assert {"timeline", "timeline plot", "serial console", "capture statistics"} <= set(names), names
    assert any(name.startswith("last frame ") for name in names), names
    results_dir = next(reports.glob("*/*/allure-results"))
    assert (results_dir / "environment.properties").read_text().count("device=sim-regression") == 1
    assert "Video: black screen" in (results_dir / "categories.json").read_text()
    timeline = (results_dir / attachments["timeline"]["source"]).read_text()
    assert re.search(r"remote\s+key\s+key=OK action=press", timeline), timeline  # key presses are on the timeline
    assert re.search(r"freeze\s+freeze", timeline), timeline


KILL_MID_TEST = """
import os, signal, time

def test_simulator_dies(device, av):
    os.kill(device.simulator.process.pid, signal.SIGKILL)
    av.watch(["black", "freeze"], duration_s=60)

def test_next_test_is_broken_too_not_hanging(av):
    av.watch(["black"], duration_s=1)
"""


def test_killing_the_simulator_mid_test_is_broken_not_a_hang(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_kill=KILL_MID_TEST)
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        f"--device={REPO / 'devices' / 'sim.yaml'}", f"--reports-dir={reports}", "-p", "no:cacheprovider", timeout=120
    )
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*SimulatorError: device sim: simulator killed by SIGKILL*"])
    results = allure_results(reports)
    assert results["test_simulator_dies"]["status"] == "broken"
    assert results["test_next_test_is_broken_too_not_hanging"]["status"] == "broken"
    assert "killed by SIGKILL" in results["test_simulator_dies"]["statusDetails"]["message"]
