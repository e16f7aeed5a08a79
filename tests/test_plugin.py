"""The pytest plugin, black-box through pytester (no device needed for these)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USES_DEVICE = """
def test_uses_device(device):
    pass
"""


def test_unknown_device_is_a_usage_error_naming_the_file(pytester: pytest.Pytester) -> None:
    pytester.mkdir("devices")
    pytester.makepyfile(USES_DEVICE)
    result = pytester.runpytest("--device=tv99")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: devices/tv99.yaml: unknown device 'tv99' (known in devices: none)*"])


def test_bad_device_yaml_is_a_usage_error_naming_file_and_field(pytester: pytest.Pytester) -> None:
    devices = pytester.mkdir("devices")
    (devices / "tv01.yaml").write_text("capture: {video: 'udp://239.0.0.1:5000'}\ncontrol: {uri: 'lric://x'}\n")
    pytester.makepyfile(USES_DEVICE)
    result = pytester.runpytest("--device=tv01")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: devices/tv01.yaml: control.uri: unknown scheme 'lric' (expected one of: adb, cec, irserial, itach, lirc, roku)"])


def test_unreachable_capture_uri_is_broken_naming_the_uri(pytester: pytest.Pytester, tmp_path: Path) -> None:
    devices = pytester.mkdir("devices")
    (devices / "tv01.yaml").write_text(
        "capture: {video: 'tcp://127.0.0.1:9', open_timeout_s: 2}\ncontrol: {uri: 'roku://127.0.0.1:9'}\nbuild: {version: '1.0'}\n"
    )
    pytester.makepyfile(USES_DEVICE)
    result = pytester.runpytest("--device=tv01")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*CaptureError: tcp://127.0.0.1:9: cannot open capture source*"])
    results = list((pytester.path / "reports" / "tv01" / "1.0" / "allure-results").glob("*-result.json"))
    assert len(results) == 1 and '"status": "broken"' in results[0].read_text()


def test_runs_without_device_fixtures_make_no_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


def test_options_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["avqa device testing:", "*--device=NAME|PATH*", "*--build=BUILD*", "*--reports-dir=DIR*"])
