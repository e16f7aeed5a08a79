"""Report building blocks: redaction, categories, environment and executor files, plots."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.media import Event
from harness.config import load_device
from harness.report.categories import CATEGORIES, categorise
from harness.report.environment import ci_executor, environment, write_run_files
from harness.report.plots import MetricSeries, metric_plot, timeline_plot
from harness.report.redact import MASK, redact_text, redact_uri

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", f"rtsp://admin:{MASK}@10.0.0.5:554/stream1"),
        ("https://encoder.lab/api?token=abc123&channel=2", f"https://encoder.lab/api?token={MASK}&channel=2"),
        ("udp://239.1.1.1:5000", "udp://239.1.1.1:5000"),
        ("srt://host:9000?passphrase=s3cr3t", f"srt://host:9000?passphrase={MASK}"),
    ],
)
def test_uri_secrets_are_masked(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_text_secrets_are_masked() -> None:
    text = "login ok\napi_key=XYZ987 user=bob\nfetch rtsp://u:pw123@cam/live\nPassword: 'p@ss word'\n"
    out = redact_text(text)
    for secret in ("XYZ987", "pw123", "p@ss word"):
        assert secret not in out
    assert "user=bob" in out and "login ok" in out


@pytest.mark.parametrize(
    ("status", "message", "category"),
    [
        ("failed", "2 defect(s) in 20.0 s watched:\n- freeze at 8.000 s into playback", "Video: freeze"),
        # several defects: the first category in the table wins, as in Allure
        ("failed", "2 defect(s) in 20.0 s watched:\n- freeze at 8.000 s into playback\n- black at 9.0 s", "Video: black screen"),
        ("failed", "1 defect(s):\n- silence at 13.001 s into playback (t=20.5 s)", "Audio: silence or dropout"),
        ("failed", "timed out after 5 s waiting for screen 'home' (last frame 3)", "Timing: screen or response not seen in time"),
        ("broken", "device sim: simulator killed by SIGKILL (capture lost)", "Infrastructure: simulator died"),
        ("broken", "capture lost: tcp://127.0.0.1:5: no data for 3 s", "Infrastructure: no signal"),
        ("broken", "tv01: roku-ecp roku://10.0.0.9:8060: key Select: unreachable: Connection refused",
         "Infrastructure: control channel unreachable"),
        ("broken", "devices/tv01.yaml: control.uri: unknown scheme 'lric'", "Infrastructure: configuration error"),
        ("failed", "assert 1 == 2", "Product defect: other"),
        ("broken", "ZeroDivisionError", "Infrastructure: other"),
        ("passed", "", None),
    ],
)
def test_categories(status: str, message: str, category: str | None) -> None:
    found = categorise(status, message)
    assert (found.name if found else None) == category
    if found is not None:
        assert found.infrastructure == (status == "broken")


def test_every_category_is_valid_allure_json() -> None:
    for c in CATEGORIES:
        assert set(c.to_allure()) == {"name", "matchedStatuses", "messageRegex"}


def test_environment_and_executor_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_device(REPO / "devices" / "sim.yaml")
    env = environment(config, "b1", {"capture.video": "rtsp://admin:pw@cam/1", "control": "roku://10.0.0.2"})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "lab/avqa")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_RUN_NUMBER", "12")
    write_run_files(tmp_path, env)
    props = (tmp_path / "environment.properties").read_text()
    assert "device=sim\n" in props and "build=b1\n" in props and "pw" not in props.replace("python", "")
    assert f"capture.video.uri=rtsp\\://admin\\:{MASK}@cam/1" in props
    executor = json.loads((tmp_path / "executor.json").read_text())
    assert executor["buildOrder"] == 12 and executor["buildUrl"].endswith("/lab/avqa/actions/runs/77")
    assert json.loads((tmp_path / "categories.json").read_text())[0]["name"].startswith("Infrastructure")
    assert ci_executor({}) is None


def test_plots_are_pngs() -> None:
    event = Event("freeze", "freeze", 2.0, 3.0, 60, 89)
    series = MetricSeries("freeze", "mean_diff_levels", "levels", tuple(i / 30 for i in range(150)), tuple([10.0] * 150), 1.5)
    for png in (metric_plot(series, event), timeline_plot([event, Event("remote", "key", 1.0, 1.01, details={"key": "OK"})], "t")):
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 100
