"""Failure categories: product defects by detector kind apart from infrastructure problems.

One table serves both Allure (``categories.json``) and the release gate, so a failure is
counted under the same category in the report and in the verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    statuses: tuple[str, ...]  # Allure statuses this category applies to: failed (product) or broken (infrastructure)
    message_regex: str
    infrastructure: bool

    def matches(self, status: str, message: str) -> bool:
        return status in self.statuses and re.fullmatch(self.message_regex, message, re.DOTALL) is not None

    def to_allure(self) -> dict[str, object]:
        return {"name": self.name, "matchedStatuses": list(self.statuses), "messageRegex": self.message_regex}


def _defect(name: str, *kinds: str) -> Category:
    alternatives = "|".join(re.escape(k) for k in kinds)
    return Category(name, ("failed",), rf".*(?:^|\n)- (?:{alternatives}) at .*", False)


def _infra(name: str, regex: str) -> Category:
    return Category(name, ("broken",), regex, True)


# First match wins, as in Allure: the most specific categories come first.
CATEGORIES: tuple[Category, ...] = (
    _infra("Infrastructure: configuration error", r".*\.ya?ml(?::| line).*"),
    _infra("Infrastructure: simulator died", r".*simulator (?:killed|exited|did not|not ready).*"),
    _infra("Infrastructure: no signal", r".*(?:no signal|no frames|no data for|stream ended|no video frame|capture lost|cannot open capture).*"),
    _infra(
        "Infrastructure: control channel unreachable",
        r".*(?:roku-ecp|lirc|itach|irserial|cec|adb|serial|power)\b.*(?:unreachable|no answer|connection dropped|cannot open|not an HTTP reply|HTTP \d{3}).*",
    ),
    _defect("Video: black screen", "black"),
    _defect("Video: freeze", "freeze"),
    _defect("Video: stutter", "stutter", "repeated_frames", "dropped_frames", "judder"),
    _defect("Video: corruption", "block_corruption", "corruption", "blockiness", "tearing"),
    _defect("Audio: silence or dropout", "silence", "dropout", "audio_dropout"),
    _defect("Audio: artifacts", "clipping", "distortion", "clicks", "click", "hum", "hiss", "audio_artifact"),
    _defect("AV sync", "av_sync", "av_offset"),
    Category("Timing: screen or response not seen in time", ("failed",), r".*timed out after .* waiting for .*", False),
    Category("Product defect: other", ("failed",), r".*", False),
    Category("Infrastructure: other", ("broken",), r".*", True),
)


def categorise(status: str, message: str) -> Category | None:
    """The category of a result with ``status`` (Allure) and failure ``message``; None when it passed."""
    for category in CATEGORIES:
        if category.matches(status, message):
            return category
    return None


def allure_categories() -> list[dict[str, object]]:
    """The ``categories.json`` content."""
    return [c.to_allure() for c in CATEGORIES]
