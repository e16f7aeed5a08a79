"""The Allure command-line tool: found on PATH or installed with npm into a cache, then run."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from harness.errors import InfrastructureError

log = logging.getLogger(__name__)

ALLURE_NPM_PACKAGE = "allure-commandline@2.46.1"


class ReportToolError(InfrastructureError):
    """The Allure command-line tool (or what it needs) is missing or failed."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "avqa" / ALLURE_NPM_PACKAGE.replace("@", "-")


def find_allure(install: bool = True, announce: bool = True) -> Path:
    """The ``allure`` executable: $AVQA_ALLURE, PATH, the npm cache, or a fresh npm install there."""
    explicit = os.environ.get("AVQA_ALLURE")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("allure")
    if on_path:
        return Path(on_path)
    cached = cache_dir() / "node_modules" / ".bin" / "allure"
    if cached.exists():
        return cached
    if not install:
        raise ReportToolError("the Allure command-line tool is not installed (npm install -g allure-commandline)")
    npm = shutil.which("npm")
    if npm is None:
        raise ReportToolError("avqa report needs the Allure command-line tool: install Node.js and npm (apt-get install npm), "
                              "or put `allure` on PATH, or set AVQA_ALLURE")
    if announce:
        print(f"avqa: installing {ALLURE_NPM_PACKAGE} with npm into {cache_dir()} (once)", flush=True)
    cache_dir().mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache_dir()), ALLURE_NPM_PACKAGE],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not cached.exists():
        raise ReportToolError(f"npm install {ALLURE_NPM_PACKAGE} failed: {done.stderr.strip()[-500:]}")
    return cached


def check_java() -> None:
    if shutil.which("java") is None:
        raise ReportToolError("Allure 2 needs a Java runtime: apt-get install default-jre-headless (or set JAVA_HOME)")


def generate(results_dir: Path, report_dir: Path, history_from: Path | None) -> Path:
    """``allure generate`` into ``report_dir``, carrying trend history from a previous report."""
    allure = find_allure()
    check_java()
    if history_from is not None and (history_from / "history").is_dir():
        target = results_dir / "history"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(history_from / "history", target)
        log.info("history from %s", history_from)
    done = subprocess.run(
        [str(allure), "generate", str(results_dir), "-o", str(report_dir), "--clean"],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise ReportToolError(f"allure generate {results_dir} failed: {(done.stderr or done.stdout).strip()[-800:]}")
    return report_dir / "index.html"
