"""What a test's Allure result gets: per-event evidence, the timeline, logs, capture statistics."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import allure

from detectors.media import Event
from harness.report.attachments import png_bytes, timeline_text
from harness.report.plots import metric_plot, timeline_plot
from harness.report.redact import redact_text
from harness.session import DeviceSession

log = logging.getLogger(__name__)


def attach_event_evidence(session: DeviceSession, events: Sequence[Event], *, frames: bool) -> None:
    """For each event: the frame with the affected region drawn, and the metric plot with threshold and event."""
    for n, event in enumerate(events, 1):
        evidence = session.evidence.get(event)
        label = f"{n}. {event.kind} at t={event.start_s:.3f} s"
        if evidence is None:
            continue
        if frames and evidence.frame is not None:
            allure.attach(png_bytes(evidence.frame, (event,)), name=f"{label}: frame {evidence.frame.index}",
                          attachment_type=allure.attachment_type.PNG)
        if evidence.series is not None:
            allure.attach(metric_plot(evidence.series, event), name=f"{label}: {evidence.series.detector} metric",
                          attachment_type=allure.attachment_type.PNG)


def attach_test_timeline(session: DeviceSession, start_s: float, end_s: float, title: str) -> None:
    """The test's key presses and detector events as a plot and as text."""
    events = [e for e in session.timeline.events(since_s=start_s) if e.start_s <= end_s]
    if not events:
        return
    allure.attach(timeline_plot(events, title), name="timeline plot", attachment_type=allure.attachment_type.PNG)
    allure.attach(timeline_text(events), name="timeline", attachment_type=allure.attachment_type.TEXT)


def attach_logs(session: DeviceSession, *, include_simulator: bool) -> None:
    """Serial console, capture statistics and (for infrastructure failures) the simulator's log; secrets masked."""
    if session.console is not None:
        allure.attach(redact_text(session.console.text()), name="serial console", attachment_type=allure.attachment_type.TEXT)
    if session.capture is not None:
        text = "\n".join(f"{k}: {v}" for k, v in dataclasses.asdict(session.capture.stats()).items())
        allure.attach(text, name="capture statistics", attachment_type=allure.attachment_type.TEXT)
    if include_simulator and session.simulator is not None:
        allure.attach(redact_text(session.simulator.log_text()[-20000:]), name="simulator log", attachment_type=allure.attachment_type.TEXT)
