"""The files Allure reads beside the results: environment.properties, executor.json, categories.json."""

from __future__ import annotations

import json
import os
import platform
import socket
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from harness.config import DeviceConfig
from harness.report.categories import allure_categories
from harness.report.redact import redact_uri


def avqa_version() -> str:
    try:
        return version("avqa")
    except PackageNotFoundError:
        return "unknown"


def environment(config: DeviceConfig, build: str, uris: dict[str, str]) -> dict[str, str]:
    """What a triager needs to know about where the run happened (secrets masked)."""
    env = {
        "device": config.name,
        "model": config.model,
        "platform": config.platform,
        "build": build,
        "simulated": str(config.is_simulated).lower(),
        "lab.host": socket.gethostname(),
        "avqa.version": avqa_version(),
        "python": platform.python_version(),
    }
    for name, uri in sorted(uris.items()):
        env[f"{name}.uri"] = redact_uri(uri)
    return env


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=").replace(":", "\\:")


def write_environment(results_dir: Path, env: dict[str, str]) -> Path:
    path = results_dir / "environment.properties"
    path.write_text("".join(f"{_escape(k)}={_escape(v)}\n" for k, v in env.items()), encoding="utf-8")
    return path


def ci_executor(environ: dict[str, str] | None = None) -> dict[str, object] | None:
    """executor.json content from the CI system's environment, or None outside CI."""
    e = dict(os.environ if environ is None else environ)
    if e.get("GITHUB_ACTIONS") == "true":
        server = e.get("GITHUB_SERVER_URL", "https://github.com")
        url = f"{server}/{e.get('GITHUB_REPOSITORY', '')}/actions/runs/{e.get('GITHUB_RUN_ID', '')}"
        return {"name": "GitHub Actions", "type": "github", "buildName": e.get("GITHUB_WORKFLOW", "workflow"),
                "buildOrder": int(e.get("GITHUB_RUN_NUMBER", "0") or 0), "buildUrl": url, "reportName": "avqa"}
    if e.get("GITLAB_CI") == "true":
        return {"name": "GitLab CI", "type": "gitlab", "buildName": e.get("CI_JOB_NAME", "job"),
                "buildOrder": int(e.get("CI_PIPELINE_IID", "0") or 0), "buildUrl": e.get("CI_JOB_URL", ""), "reportName": "avqa"}
    if e.get("JENKINS_URL"):
        return {"name": "Jenkins", "type": "jenkins", "buildName": e.get("JOB_NAME", "job"),
                "buildOrder": int(e.get("BUILD_NUMBER", "0") or 0), "buildUrl": e.get("BUILD_URL", ""), "reportName": "avqa"}
    if e.get("CI"):
        return {"name": e.get("CI_NAME", "CI"), "type": "ci", "buildName": e.get("CI_BUILD_NAME", "build"),
                "buildOrder": int(e.get("CI_BUILD_NUMBER", "0") or 0), "buildUrl": e.get("CI_BUILD_URL", ""), "reportName": "avqa"}
    return None


def write_run_files(results_dir: Path, env: dict[str, str]) -> None:
    """Write environment.properties, categories.json and (in CI) executor.json into ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    write_environment(results_dir, env)
    (results_dir / "categories.json").write_text(json.dumps(allure_categories(), indent=2), encoding="utf-8")
    executor = ci_executor()
    if executor is not None:
        (results_dir / "executor.json").write_text(json.dumps(executor, indent=2), encoding="utf-8")
