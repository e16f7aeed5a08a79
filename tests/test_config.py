"""Device inventory: YAML -> validated DeviceConfig, one-line errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_device, resolve_device
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

REAL = """
model: Example TV
platform: tizen
capture: {video: "udp://239.1.1.1:5000"}
control: {uri: "roku://192.168.1.20", key_delay_s: 0.5, keymap: {ok: Select}}
console: {uri: /dev/ttyUSB0, failure_patterns: ["Kernel panic"]}
build: {source: console, pattern: "version=(\\\\S+)"}
"""


def write(tmp_path: Path, text: str, name: str = "tv01.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_devices_are_valid() -> None:
    for path in sorted((REPO / "devices").glob("*.yaml")):
        config = load_device(path)
        assert config.name == path.stem
    regression = load_device(REPO / "devices" / "sim-regression.yaml")
    assert regression.simulator is not None
    assert {f.kind for f in regression.simulator.faults} == {"black", "freeze", "audio_dropout"}


def test_real_device_parses_with_defaults(tmp_path: Path) -> None:
    config = load_device(write(tmp_path, REAL))
    assert config.name == "tv01" and not config.is_simulated
    assert config.control is not None and config.control.keymap == {"OK": "Select"}
    assert config.capture is not None and config.capture.buffer_s == 10.0
    assert config.declared_build() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REAL.replace("roku://", "lric://"), "tv01.yaml: control.uri: unknown scheme 'lric' (expected one of: adb, cec, irserial, itach, lirc, roku)"),
        (REAL.replace("udp://", "ftp://"), "tv01.yaml: capture.video: unknown scheme 'ftp'"),
        (REAL + "colour: red\n", "tv01.yaml: colour: unknown key"),
        (REAL.replace("key_delay_s: 0.5", "key_delay_s: soon"), "tv01.yaml: control.key_delay_s: Input should be a valid number"),
        (REAL.replace("keymap: {ok: Select}", "keymap: {JUMP: Select}"), "tv01.yaml: control.keymap: unknown key 'JUMP'"),
        (REAL.replace('"Kernel panic"', '"(unclosed"'), "tv01.yaml: console.failure_patterns: invalid regex '(unclosed'"),
        ("model: x\n", "tv01.yaml: (top level): a real device needs capture and control"),
        ("simulator: {fps: 25}\n", "tv01.yaml: simulator.fps: Input should be 30 or 60"),
        ("simulator: {faults: [{kind: smoke, at_s: 1, duration_s: 1}]}\n", "tv01.yaml: simulator.faults.0.kind:"),
        ("- a\n- b\n", "tv01.yaml: expected a mapping of device settings, got list"),
        ("model: [unclosed\n", "tv01.yaml: line 2: invalid YAML"),
    ],
)
def test_bad_yaml_gives_one_line_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_device(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    assert expected in message, message


def test_missing_file_and_unknown_device(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothere\.yaml: no such device file"):
        load_device(tmp_path / "nothere.yaml")
    write(tmp_path, REAL)
    with pytest.raises(ConfigError, match=r"unknown device 'tv99' \(known in .*: tv01\)"):
        resolve_device("tv99", tmp_path)


def test_resolve_by_name_path_and_default(tmp_path: Path) -> None:
    path = write(tmp_path, REAL)
    assert resolve_device("tv01", tmp_path).name == "tv01"
    assert resolve_device(str(path), "elsewhere").name == "tv01"
    assert resolve_device(None, REPO / "devices").name == "sim"


def test_detector_overrides_are_validated_and_coerced(tmp_path: Path) -> None:
    from detectors.media import Region

    good = REAL + "detectors:\n  freeze: {min_duration_s: 1.0, region: [0, 100, 1280, 520]}\n  black: {picture_black_ratio: 0.95}\n"
    config = load_device(write(tmp_path, good))
    assert config.detectors["freeze"] == {"min_duration_s": 1.0, "region": Region(0, 100, 1280, 520)}
    for bad, expected in (
        ("detectors: {froze: {}}", "tv01.yaml: detectors: unknown detector 'froze' (expected one of: "),
        ("detectors: {freeze: {min_duration: 1}}", "tv01.yaml: detectors: detector 'freeze': unknown parameter(s) min_duration"),
        ("detectors: {freeze: {min_duration_s: -1}}", "tv01.yaml: detectors: freeze: min_duration_s must be >= 0, got -1"),
    ):
        with pytest.raises(ConfigError) as info:
            load_device(write(tmp_path, REAL + bad + "\n"))
        assert expected in str(info.value), str(info.value)
