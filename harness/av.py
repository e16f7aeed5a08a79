"""AVView: what a scenario sees of the live stream (waits, detector watches, screenshots)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2

from detectors.base import Pipeline, create
from detectors.media import AudioChunk, Event, Frame, Region
from detectors.metrics import finished_records, flushed_records
from harness import waits
from harness.capture.capture import Capture
from harness.control.keys import Key
from harness.control.remote import PressResult
from harness.detector_params import coerce, merge
from harness.errors import CaptureError, ConfigError, ControlError, ProductFailure, WaitTimeout
from harness.report.plots import series_for
from harness.session import DeviceSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchResult:
    """Detector events over a window of the stream; falsy when nothing was found."""

    start_s: float
    end_s: float
    frames: int
    audio_s: float
    events: tuple[Event, ...]
    last_frame: Frame | None = field(default=None, repr=False, compare=False)
    missed_frames: int = 0

    def __bool__(self) -> bool:
        return bool(self.events)

    def of(self, detector: str) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.detector == detector)

    def describe(self, origin_s: float | None = None, origin_name: str = "") -> str:
        """One line per event, times relative to ``origin_s`` when given."""
        if not self.events:
            return "no events"
        return "\n".join(
            "- " + (e.describe(origin_s, origin_name) if origin_s is not None else e.describe()) for e in self.events
        )

    def assert_no_events(self, origin_s: float | None = None, origin_name: str = "") -> None:
        """Raise a ProductFailure naming every event (kind, start, duration) if there is any."""
        __tracebackhide__ = True
        if self.events:
            window = f"t={self.start_s:.3f}-{self.end_s:.3f} s"
            raise ProductFailure(
                f"{len(self.events)} defect(s) in {self.end_s - self.start_s:.1f} s watched ({window}):\n"
                + self.describe(origin_s, origin_name),
                frame=self.last_frame,
                events=self.events,
            )


class AVView:
    """A view of one device's live audio/video for scenario code."""

    def __init__(self, session: DeviceSession, detector_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """``detector_params`` (a test's marker) override the device YAML's ``detectors`` section."""
        if session.capture is None:
            raise CaptureError(f"device {session.name}: capture is not open")
        self.session = session
        self.capture: Capture = session.capture
        self.detector_params = merge(session.config.detectors, detector_params)

    # -- frames ---------------------------------------------------------------------------
    def frames(self, since_s: float | None = None) -> Iterator[Frame]:
        """Live frames from ``since_s`` (default: the next frame to arrive); CaptureError on signal loss."""
        cursor = self.capture.video_cursor() if since_s is None else self.capture.video_cursor_at(since_s)
        while True:
            try:
                yield self.capture.next_frame(cursor)
            except CaptureError as e:
                raise self.session.explain(e) from e

    def screenshot(self) -> Frame:
        """The newest frame (waits for one if none arrived yet)."""
        latest = self.capture.video.latest()
        if latest is not None:
            return latest
        return next(self.frames())

    def now_s(self) -> float:
        return self.capture.now_s()

    # -- waits ----------------------------------------------------------------------------
    def wait_for(
        self, score: Callable[[Frame], float | None], timeout_s: float = 10.0, *, what: str = "condition",
        since_s: float | None = None, consecutive: int = 1,
    ) -> waits.WaitResult:
        """Wait until ``score(frame)`` is truthy on ``consecutive`` live frames (see :func:`harness.waits.wait_for`)."""
        return waits.wait_for(self.frames(since_s), score, timeout_s=timeout_s, what=what, consecutive=consecutive)

    def wait_for_motion(
        self, timeout_s: float = 10.0, *, region: Region | None = None, since_s: float | None = None,
        threshold: float = waits.DEFAULT_MOTION_THRESHOLD, consecutive: int = 1,
    ) -> waits.WaitResult:
        """Wait for the picture (or ``region``) to change between consecutive frames."""
        return waits.wait_for(
            self.frames(since_s), waits.motion_score(region, threshold), timeout_s=timeout_s,
            what="motion" + (f" in {region}" if region else ""), consecutive=consecutive,
        )

    def wait_for_black_end(self, timeout_s: float = 10.0, *, since_s: float | None = None) -> waits.WaitResult:
        """Wait for the first frame that is not black."""
        return waits.wait_for(self.frames(since_s), waits.not_black_score(), timeout_s=timeout_s, what="black to end")

    def wait_for_black(self, timeout_s: float = 10.0, *, since_s: float | None = None, consecutive: int = 3) -> waits.WaitResult:
        """Wait for ``consecutive`` black frames in a row (the first one is returned)."""
        return waits.wait_for(
            self.frames(since_s), waits.black_score(), timeout_s=timeout_s, what="black", consecutive=consecutive
        )

    def wait_for_change(
        self, region: Region | None = None, timeout_s: float = 10.0, *, threshold: float = waits.DEFAULT_MOTION_THRESHOLD,
        reference: Frame | None = None,
    ) -> waits.WaitResult:
        """Wait for ``region`` to differ from ``reference`` (default: the current frame)."""
        frames = self.frames()
        ref = reference if reference is not None else next(frames)
        return waits.wait_for(
            frames, waits.change_score(ref, region, threshold), timeout_s=timeout_s,
            what="change" + (f" in {region}" if region else ""),
        )

    def wait_for_screen(self, screen: str, timeout_s: float = 10.0, *, since_s: float | None = None) -> waits.WaitResult:
        """Wait for the device's reference image of ``screen`` (device YAML ``screens``) to match."""
        config = self.session.config
        path = config.screen_image_path(screen)
        template = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if template is None:
            raise ConfigError(f"{config.source_path}: screens.{screen}.image: cannot read {path}")
        spec = config.screens[screen]
        region = Region(*spec.region)
        return waits.wait_for(
            self.frames(since_s), waits.match_score(template, region, spec.threshold), timeout_s=timeout_s,
            what=f"screen {screen!r}",
        )

    def is_screen(self, screen: str) -> bool:
        """Whether the newest frame shows ``screen``."""
        try:
            self.wait_for_screen(screen, timeout_s=1e-6, since_s=self.screenshot().pts_s)
        except ProductFailure:
            return False
        return True

    def press_and_wait(
        self, key: Key | str, *, timeout_s: float = 5.0, retries: int | None = None, still_frames: int = 5,
    ) -> PressResult:
        """Press ``key`` and measure the time to the first screen change and to a stable screen.

        Presses again (up to ``retries``, default the device's ``control.retries``) when the
        screen did not change within ``timeout_s``. The result is falsy when nothing changed.
        """
        remote = self.session.remote
        if remote is None:
            raise ControlError(f"device {self.session.name}: no remote")
        control = self.session.config.control
        retries = (control.retries if control is not None else 0) if retries is None else retries
        before = self.screenshot()

        def changed(since_m: float, wait_s: float) -> float | None:
            t0 = self.capture.to_capture_time(since_m)
            try:
                found = waits.wait_for(self.frames(since_s=t0), waits.change_score(before), timeout_s=wait_s, what="change")
            except WaitTimeout:
                return None
            return since_m + (found.at_s - t0)

        def stable(since_m: float, wait_s: float) -> float | None:
            t0 = self.capture.to_capture_time(since_m)
            moving = waits.motion_score()
            try:
                found = waits.wait_for(self.frames(since_s=t0), lambda f: None if moving(f) else 1.0, timeout_s=wait_s,
                                       what="stable screen", consecutive=still_frames)
            except WaitTimeout:
                return None
            return since_m + (found.at_s - t0)

        return remote.press_and_wait(key, changed=changed, stable=stable, timeout_s=timeout_s, retries=retries)

    # -- detectors ------------------------------------------------------------------------
    def watch(
        self, detectors: Sequence[str], duration_s: float, *, start_s: float | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> WatchResult:
        """Run ``detectors`` over ``duration_s`` of the live stream from ``start_s`` (default: now).

        Parameters come from the device YAML's ``detectors`` section, then the test's
        ``detector_params`` marker, then ``params``. Blocks until the window has been captured;
        every event also goes on the session timeline. Frames that were overwritten before they
        could be analysed are counted in ``missed_frames``.
        """
        if duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {duration_s}")
        overrides = merge(self.detector_params, {n: coerce(n, p) for n, p in (params or {}).items()})
        pipeline = Pipeline([create(name, overrides.get(name)) for name in detectors])
        metrics: dict[str, list[dict[str, Any]]] = {d.name: [] for d in pipeline.detectors}
        start = self.capture.now_s() if start_s is None else start_s
        end = start + duration_s
        video = self.capture.video_cursor_at(start)
        audio = self.capture.audio_cursor_at(start)
        frames = 0
        audio_s = 0.0
        last: Frame | None = None
        evidence: dict[int, Frame] = {}  # id(event) -> frame shown in the report
        try:
            while True:
                frame = self.capture.next_frame(video)
                if frame.pts_s >= end:
                    break
                last = frame
                frames += 1
                self._collect(pipeline.feed(frame), frame, evidence)
                self._record_metrics(pipeline, "video", metrics)
                audio_s += self._feed_audio(pipeline, audio, metrics, until_s=frame.pts_s, end_s=end)
            if self.capture.has_audio:  # audio for the window's end may trail the video a little
                audio_s += self._feed_audio(pipeline, audio, metrics, until_s=end, end_s=end, wait_s=2.0)
        except CaptureError as e:
            raise self.session.explain(e) from e
        if last is not None:
            self._collect(pipeline.flush(), last, evidence)
        else:
            pipeline.flush()
        for detector in pipeline.detectors:  # frames a detector decides late: the last ones are decided at flush
            metrics[detector.name].extend(flushed_records(detector))
        events = tuple(e for e in pipeline.sorted_events() if e.start_s < end)
        self.session.timeline.extend(list(events))
        for detector in pipeline.detectors:
            series = series_for(detector.name, metrics[detector.name], getattr(detector, "params", None))
            for event in events:
                if event.detector == detector.name:
                    self.session.evidence.add(event, evidence.get(id(event)), series)
        log.info("watched %s for %.2f s from t=%.3f: %d frames, %d events", ",".join(detectors), duration_s, start, frames, len(events))
        return WatchResult(start, end, frames, audio_s, events, last, video.missed)

    def _collect(self, new_events: list[Event], current: Frame, evidence: dict[int, Frame]) -> None:
        """Keep a frame for each new video event: its evidence frame if still buffered, else the newest one in it."""
        for event in new_events:
            if event.start_frame is None:
                continue
            wanted = event.evidence_frame if event.evidence_frame is not None else event.start_frame
            frame = self._frame_by_index(wanted)
            if frame is None:
                frame = self._frame_by_index(event.end_frame) if event.end_frame is not None else None
            evidence[id(event)] = frame if frame is not None else current

    def _frame_by_index(self, index: int) -> Frame | None:
        """The frame with ``index`` if the capture still holds it."""
        ring = self.capture.video
        _, frame = ring.get(ring.find(lambda f: f.index >= index), 0)
        return frame if frame is not None and frame.index == index else None

    @staticmethod
    def _record_metrics(pipeline: Pipeline, medium: str, metrics: dict[str, list[dict[str, Any]]]) -> None:
        for detector in pipeline.detectors:
            if detector.medium == medium:
                metrics[detector.name].extend(finished_records(detector))

    def _feed_audio(
        self, pipeline: Pipeline, cursor: Any, metrics: dict[str, list[dict[str, Any]]], *, until_s: float, end_s: float,
        wait_s: float = 0.0,
    ) -> float:
        """Feed audio chunks that start before ``until_s`` (and before the window end)."""
        fed = 0.0
        while True:
            _, chunk = cursor.ring.get(cursor.seq, wait_s)
            if chunk is None:
                return fed
            chunk_end = chunk.pts_s + chunk.duration_s
            if chunk.pts_s >= min(until_s, end_s):
                return fed
            cursor.next(0)
            if chunk_end > end_s:  # cut the last chunk at the window end
                keep = max(0, round((end_s - chunk.pts_s) * chunk.sample_rate_hz))
                chunk = AudioChunk(chunk.pts_s, chunk.sample_rate_hz, chunk.samples[:keep], chunk.start_sample)
            if chunk.samples.shape[0]:
                pipeline.feed(chunk)
                self._record_metrics(pipeline, "audio", metrics)
                fed += chunk.duration_s
