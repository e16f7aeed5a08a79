"""`avqa devices list|show|check` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def avqa(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_list_and_show() -> None:
    done = avqa("devices", "list")
    assert done.returncode == 0
    assert {line.split()[0] for line in done.stdout.splitlines()} >= {"sim", "sim-regression", "sim-lirc", "sim-itach"}
    shown = avqa("devices", "show", "sim-regression")
    assert shown.returncode == 0 and '"kind": "freeze"' in shown.stdout


def test_list_flags_an_invalid_file(tmp_path: Path) -> None:
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "tv01.yaml").write_text("control: {uri: 'lric://x'}\n")
    done = avqa("devices", "list", cwd=tmp_path)
    assert done.returncode == 1
    assert "tv01                 INVALID  devices/tv01.yaml: control.uri: unknown scheme 'lric'" in done.stdout


def test_check_the_simulator_reports_every_channel() -> None:
    done = avqa("devices", "check", "sim", "--seconds", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    for part in ("simulator", "capture", "control", "console", "power"):
        assert any(line.split()[:2] == [part, "OK"] for line in done.stdout.splitlines()), done.stdout
    assert "1280x720" in done.stdout and "all channels work" in done.stdout


def test_check_names_each_failing_channel(tmp_path: Path) -> None:
    device = tmp_path / "tv01.yaml"
    device.write_text("capture: {video: 'tcp://127.0.0.1:9', open_timeout_s: 1}\ncontrol: {uri: 'roku://127.0.0.1:9', timeout_s: 1}\n")
    done = avqa("devices", "check", str(device))
    assert done.returncode == 1
    assert "capture      FAIL tcp://127.0.0.1:9: cannot open capture source" in done.stdout
    assert "control      FAIL tv01: roku-ecp roku://127.0.0.1:9: device-info: unreachable" in done.stdout
    missing = avqa("devices", "check", "nope")
    assert missing.returncode == 2 and "unknown device 'nope'" in missing.stderr
