"""End to end: the real scenarios against the simulator as its own process, run by pytest itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
FRAME_S = 1 / 30


@dataclass(frozen=True)
class Run:
    """One `pytest scenarios/` run: its exit code, output and where its reports went."""

    ret: int
    output: str
    reports: Path

    def outcomes(self) -> dict[str, int]:
        last = self.output.strip().splitlines()[-1]
        return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", last)}


def run_scenarios(reports: Path, device: str, *extra: str) -> Run:
    """Run the real scenarios in a child pytest against ``devices/<device>.yaml``."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "scenarios"), f"--device={REPO / 'devices' / device}.yaml",
         f"--reports-dir={reports}", "-p", "no:cacheprovider", *extra],
        cwd=reports.parent, capture_output=True, text=True, timeout=300, check=False,
    )
    return Run(done.returncode, done.stdout + done.stderr, reports)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_scenarios(tmp_path_factory.mktemp("good") / "reports", "sim")


@pytest.fixture(scope="module")
def regression_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """The faulty build run twice under two build names, as two builds of one device would be."""
    reports = tmp_path_factory.mktemp("regression") / "reports"
    return run_scenarios(reports, "sim-regression", "--build=rc1"), run_scenarios(reports, "sim-regression", "--build=rc2")


def allure_results(reports: Path, build: str = "*") -> dict[str, dict]:
    by_name = {}
    for path in reports.glob(f"*/{build}/allure-results/*-result.json"):
        data = json.loads(path.read_text())
        by_name[data["name"]] = data
    return by_name


def steps(result: dict) -> list[str]:
    return [s["name"] for s in result.get("steps", [])]


def test_good_build_passes_and_files_results_per_device_build(good_run: Run) -> None:
    assert good_run.ret == 0 and good_run.outcomes() == {"passed": 4}, good_run.output
    reports = good_run.reports
    assert "device sim, build sim-2026.11.0" in good_run.output
    assert f"Allure results: {reports}/sim/sim-2026.11.0/allure-results" in good_run.output
    results = allure_results(reports)
    assert set(results) == {
        "test_power_on_reaches_home", "test_focus_moves_and_details_open", "test_settings_open_and_close", "test_playback_is_clean",
    }
    assert {r["status"] for r in results.values()} == {"passed"}
    boot = results["test_power_on_reaches_home"]
    assert [re.sub(r" at t=\d+\.\d{3} s$", "", name) for name in steps(boot)] == ["press POWER", "press POWER"]  # with capture time
    labels = {(label["name"], label["value"]) for label in boot["labels"]}
    assert {("device", "sim"), ("build", "sim-2026.11.0")} <= labels
    assert {"name": "device", "value": "'sim'"} in boot["parameters"]  # allure-pytest shows repr()


def test_faulty_build_fails_playback_naming_each_fault_within_one_frame(regression_runs: tuple[Run, Run]) -> None:
    run = regression_runs[1]
    assert run.outcomes() == {"passed": 3, "failed": 1}, run.output
    output, reports = run.output, run.reports
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
    playback = allure_results(reports, "rc2")["test_playback_is_clean"]
    assert playback["status"] == "failed"  # a product defect, not an infrastructure problem
    attachments = {a["name"]: a for a in playback.get("attachments", [])}
    names = sorted(attachments)
    for n, kind, detector in ((1, "black", "black"), (2, "freeze", "freeze"), (3, "silence", "silence")):
        event = [a for name, a in attachments.items() if name.startswith(f"{n}. {kind} at t=")]
        metric = [a for a in event if a["name"].endswith(f": {detector} metric")]
        clip = [a for a in event if ": clip from t=" in a["name"]]
        assert metric and all(a["type"] == "image/png" for a in event if a not in clip), names
        assert len(clip) == 1 and clip[0]["type"] == "video/mp4", names
        if kind != "silence":  # video events carry their frame with the region drawn
            assert any(": frame " in a["name"] for a in event), names
    assert {"timeline", "timeline plot", "serial console", "capture statistics"} <= set(names), names
    assert any(name.startswith("last frame ") for name in names), names
    results_dir = reports / "sim-regression" / "rc2" / "allure-results"
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


def avqa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=300, check=False)


def test_gate_passes_the_good_build_and_fails_the_faulty_one(good_run: Run, regression_runs: tuple[Run, Run], tmp_path: Path) -> None:
    good = avqa("gate", "--reports-dir", str(good_run.reports))
    assert good.returncode == 0 and "GATE PASSED" in good.stdout, good.stdout + good.stderr
    assert re.search(r"kpi: boot_time_s\s+<= 10\s+[\d.]+\s+PASS", good.stdout), good.stdout
    junit = tmp_path / "junit.xml"
    bad = avqa("gate", "--reports-dir", str(regression_runs[1].reports), "--device", "sim-regression", "--build", "rc2",
               "--junit", str(junit))
    assert bad.returncode == 1 and "GATE FAILED" in bad.stdout, bad.stdout + bad.stderr
    assert re.search(r"failures: product\s+<= 0\s+1\s+FAIL", bad.stdout), bad.stdout
    assert re.search(r"failures: Video: black screen\s+\(counted above\)\s+1", bad.stdout), bad.stdout
    assert re.search(r"required: test_playback_is_clean\s+passed\s+failed\s+FAIL", bad.stdout), bad.stdout
    import xml.etree.ElementTree as ET

    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "0")
    failure = suite.find("testcase[@name='test_playback_is_clean']/failure")
    assert failure is not None and "black at 4.000 s into playback" in (failure.text or "")


def test_no_secret_reaches_any_report_file(tmp_path: Path) -> None:
    device = tmp_path / "secret-sim.yaml"
    device.write_text((REPO / "devices" / "sim.yaml").read_text().replace("image: sim/", f"image: {REPO}/devices/sim/"))
    # the secret appears in a URI the run records (console text is masked the same way: test_report_parts)
    reports = tmp_path / "reports"
    kill = tmp_path / "test_secret.py"
    kill.write_text(
        "import os\n"
        "def test_secret(device, av):\n"
        "    secret = os.environ['LAB_PASSWORD']\n"
        "    device.uris['capture.video'] = device.uris['capture.video'].replace('tcp://', f'tcp://admin:{secret}@')\n"
        "    from harness.report.environment import environment, write_run_files\n"
        "    import pathlib\n"
        "    write_run_files(pathlib.Path(r'%s'), environment(device.config, device.build, device.uris))\n"
        "    assert False, 'fail on purpose to attach the logs'\n" % (reports / "secret-sim" / "sim-2026.11.0" / "allure-results")
    )
    done = subprocess.run([sys.executable, "-m", "pytest", str(kill), f"--device={device}", f"--reports-dir={reports}",
                           "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "LAB_PASSWORD": "hunter2"})
    assert "1 failed" in done.stdout, done.stdout + done.stderr
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert any(p.name == "environment.properties" for p in files)
    (result,) = allure_results(reports).values()
    assert {"serial console", "capture statistics"} <= {a["name"] for a in result["attachments"]}
    leaked = [p for p in files if b"hunter2" in p.read_bytes()]
    assert not leaked, leaked


CHROMIUM = Path("/usr/bin/chromium")


def test_html_report_keeps_history_and_shows_evidence_in_a_real_browser(regression_runs: tuple[Run, Run], tmp_path: Path) -> None:
    reports = regression_runs[1].reports
    done = avqa("report", "--reports-dir", str(reports), "--device", "sim-regression")
    assert done.returncode == 0, done.stdout + done.stderr
    rc1, rc2 = (reports / "sim-regression" / build / "allure-report" for build in ("rc1", "rc2"))
    assert f"sim-regression rc2: {rc2 / 'index.html'}" in done.stdout
    trend = json.loads((rc2 / "history" / "history-trend.json").read_text())
    assert len(trend) == 2 and [t["data"]["failed"] for t in trend] == [1, 1]  # rc1 shows up as history in rc2
    categories = json.loads((rc2 / "data" / "categories.json").read_text())
    assert [c["name"] for c in categories["children"]] == ["Video: black screen"]

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(rc2))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    group = categories["children"][0]["children"][0]  # category -> failure message -> test
    (failed,) = group["children"]
    assert failed["name"] == "test_playback_is_clean" and failed["status"] == "failed"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/index.html#categories/{group['uid']}/{failed['uid']}")
            page.wait_for_selector("text=test_playback_is_clean", timeout=20000)
            page.wait_for_selector("text=1. black at t=", timeout=20000)
            page.screenshot(path=str(tmp_path / "report.png"))
            assert (tmp_path / "report.png").stat().st_size > 10000
            # open the black event's clip in Allure's attachment viewer: the <video> must load and play
            page.click("text=/1\\. black at t=.*: clip/")
            video = page.wait_for_selector("video", timeout=20000)
            page.evaluate("v => { v.muted = true; return v.play(); }", video)
            page.wait_for_function("v => v.currentTime > 0.5 && v.readyState >= 3", arg=video, timeout=20000)
            width, error = page.evaluate("v => [v.videoWidth, v.error && v.error.code]", video)
            assert (width, error) == (1280, None)
            page.screenshot(path=str(tmp_path / "clip.png"))
            browser.close()
    finally:
        server.shutdown()


OVERRIDES = """
import pytest
from harness import Key

def play(remote, av):
    remote.press(Key.HOME)
    av.wait_for_screen("home", timeout_s=5)
    remote.press(Key.OK)
    av.wait_for_screen("details", timeout_s=5)
    press = remote.press(Key.OK)
    return av.wait_for_motion(timeout_s=8, since_s=av.capture.to_capture_time(press.monotonic_s)).at_s

def test_device_yaml_threshold_hides_the_2s_freeze(remote, av):
    start = play(remote, av)
    assert not av.watch(["freeze"], duration_s=4.0, start_s=start + 7.0)  # device YAML: min_duration_s 5

@pytest.mark.detector_params(freeze={"min_duration_s": 1.0})
def test_marker_overrides_the_device_yaml(remote, av):
    start = play(remote, av)
    result = av.watch(["freeze"], duration_s=4.0, start_s=start + 7.0)
    assert [round(e.start_s - start, 2) for e in result.events] == [8.0]

@pytest.mark.detector_params(freeze={"min_duration": 1.0})
def test_bad_marker_is_a_configuration_error(av):
    pass
"""


def test_detector_thresholds_from_device_yaml_and_marker(tmp_path: Path) -> None:
    device = tmp_path / "sim-regression-lenient.yaml"
    text = (REPO / "devices" / "sim-regression.yaml").read_text().replace("image: sim/", f"image: {REPO}/devices/sim/")
    device.write_text(text + "detectors:\n  freeze: {min_duration_s: 5.0}\n")
    (tmp_path / "test_overrides.py").write_text(OVERRIDES)
    done = subprocess.run([sys.executable, "-m", "pytest", "test_overrides.py", f"--device={device}", "-p", "no:cacheprovider",
                           f"--reports-dir={tmp_path / 'reports'}"], cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False)
    assert re.search(r"2 passed, 1 error", done.stdout), done.stdout
    assert "test_overrides.py::test_bad_marker_is_a_configuration_error: detector_params(freeze=...): " \
           "detector 'freeze': unknown parameter(s) min_duration" in done.stdout, done.stdout


@pytest.mark.parametrize("device_file", ["sim-lirc", "sim-itach"])
def test_scenarios_pass_with_keys_over_lirc_and_itach(device_file: str, tmp_path: Path) -> None:
    run = run_scenarios(tmp_path / "reports", device_file)
    assert run.ret == 0 and run.outcomes() == {"passed": 4}, run.output
    boot = allure_results(run.reports)["test_power_on_reaches_home"]
    assert boot["status"] == "passed" and len(steps(boot)) == 2
