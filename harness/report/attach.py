"""What a test's Allure result gets: per-event evidence, the timeline, logs, capture statistics."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import allure

from detectors.media import Event
from harness.errors import CaptureError
from harness.report.attachments import png_bytes, timeline_text
from harness.report.evidence import EventEvidence
from harness.report.plots import metric_plot, timeline_plot
from harness.report.redact import redact_text
from harness.session import DeviceSession

log = logging.getLogger(__name__)


CLIP_MARGIN_S = 2.0  # seconds of context either side of an event in its clip


def attach_event_evidence(session: DeviceSession, events: Sequence[Event], *, frames: bool, clips: bool) -> None:
    """For each event: the frame with the affected region drawn, the metric plot with threshold and
    event, and a browser-playable clip a few seconds either side (cut from the session recording)."""
    for n, event in enumerate(events, 1):
        evidence = session.evidence.get(event)
        label = f"{n}. {event.kind} at t={event.start_s:.3f} s"
        if evidence is None:
            evidence = EventEvidence(event, None, None)
        if frames and evidence.frame is not None:
            allure.attach(png_bytes(evidence.frame, (event,)), name=f"{label}: frame {evidence.frame.index}",
                          attachment_type=allure.attachment_type.PNG)
        if evidence.series is not None:
            allure.attach(metric_plot(evidence.series, event), name=f"{label}: {evidence.series.detector} metric",
                          attachment_type=allure.attachment_type.PNG)
        if clips and session.recorder is not None:
            try:
                with tempfile.TemporaryDirectory(prefix="avqa-clip-") as folder:
                    start_s = max(0.0, event.start_s - CLIP_MARGIN_S)
                    clip = session.clip(start_s, event.end_s + CLIP_MARGIN_S, Path(folder) / "clip.mp4")
                    allure.attach.file(str(clip), name=f"{label}: clip from t={start_s:.1f} s",
                                       attachment_type=allure.attachment_type.MP4)
            except (CaptureError, OSError) as e:
                log.warning("no clip for %s: %s", label, e)


def attach_test_timeline(session: DeviceSession, start_s: float, end_s: float, title: str) -> None:
    """The test's key presses and detector events as a plot and as text."""
    events = [e for e in session.timeline.events(since_s=start_s) if e.start_s <= end_s]
    if not events:
        return
    allure.attach(timeline_plot(events, title), name="timeline plot", attachment_type=allure.attachment_type.PNG)
    allure.attach(timeline_text(events), name="timeline", attachment_type=allure.attachment_type.TEXT)


def attach_logs(session: DeviceSession, *, include_simulator: bool) -> None:
    """Serial console, control traffic, logcat, capture statistics and (for infrastructure failures) the simulator's log; secrets masked."""
    if session.console is not None:
        allure.attach(redact_text(session.console.text()), name="serial console", attachment_type=allure.attachment_type.TEXT)
    if session.capture is not None:
        text = "\n".join(f"{k}: {v}" for k, v in dataclasses.asdict(session.capture.stats()).items())
        allure.attach(text, name="capture statistics", attachment_type=allure.attachment_type.TEXT)
    traffic = session.control_traffic()
    if traffic:
        allure.attach(redact_text(traffic), name="control traffic", attachment_type=allure.attachment_type.TEXT)
    for backend in session.remote.backends if session.remote is not None else ():
        if hasattr(backend, "logcat_text"):
            allure.attach(redact_text(backend.logcat_text()), name=f"logcat {backend.uri}", attachment_type=allure.attachment_type.TEXT)
    if include_simulator and session.simulator is not None:
        allure.attach(redact_text(session.simulator.log_text()[-20000:]), name="simulator log", attachment_type=allure.attachment_type.TEXT)
