"""Record a capture to fragmented MP4 (H.264 yuv420p + AAC), written incrementally.

The recorder is one more reader of the capture's rings, on its own thread: it never blocks
the grabber, and frames it could not encode in time are counted (``missed_frames``), never
waited for. Each fragment starts at a keyframe every ``fragment_s`` seconds and is flushed to
the file as soon as it is complete, so a crash or ``kill -9`` keeps everything but at most the
last fragment (plus the frames still inside the encoder). ``empty_moov`` + ``default_base_moof``
make the file playable in browsers (Media Source) and by FFmpeg while it is being written.

File time 0 is the first recorded picture; its capture-clock time is stored in the file's
metadata as ``avqa_origin_s`` (read back by :mod:`harness.capture.clips` and the replay source).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from detectors.media import AudioChunk, Frame
from harness.errors import CaptureError

log = logging.getLogger(__name__)

ORIGIN_KEY = "avqa_origin_s"
_VIDEO_TIME_BASE = Fraction(1, 90000)
_AUDIO_GAP_S = 0.02  # audio further than this from where it should continue is a gap (filled with silence)
_MAX_SILENCE_S = 600.0
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class RecordingSettings:
    """Size and quality of a recording.

    Args:
        fragment_s: seconds per fragment (= keyframe interval); a kill loses at most this much.
        crf: x264 constant rate factor, 0-51 (lower: better quality, bigger file).
        preset: x264 speed preset (``ultrafast`` keeps up with 1080p60 on two cores).
        max_height_px: scale pictures down to this height (None: record as captured).
        audio_bitrate_bps: AAC bit rate.
        threads: encoder threads (0: x264 decides).
        zerolatency: no encoder look-ahead, so frames reach the file within a frame period.
    """

    fragment_s: float = 1.0
    crf: int = 23
    preset: str = "ultrafast"
    max_height_px: int | None = None
    audio_bitrate_bps: int = 128_000
    threads: int = 0
    zerolatency: bool = True

    def __post_init__(self) -> None:
        if not 0.1 <= self.fragment_s <= 10:
            raise ValueError(f"fragment_s must be within 0.1-10 s, got {self.fragment_s}")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be within 0-51, got {self.crf}")
        if self.preset not in _PRESETS:
            raise ValueError(f"preset must be one of {', '.join(_PRESETS)}, got {self.preset!r}")
        if self.max_height_px is not None and self.max_height_px < 16:
            raise ValueError(f"max_height_px must be >= 16, got {self.max_height_px}")
        if self.audio_bitrate_bps < 16_000 or self.threads < 0:
            raise ValueError("audio_bitrate_bps must be >= 16000 and threads >= 0")


@dataclass(frozen=True)
class RecorderStats:
    """What the recorder wrote: frames, frames it never saw (too slow), audio seconds, bytes."""

    frames: int
    missed_frames: int
    audio_s: float
    silence_inserted_s: float
    bytes: int
    written_until_s: float | None  # capture time up to which the file is complete on disk


class Recorder:
    """Records ``capture`` (a :class:`~harness.capture.capture.Capture`) to ``path`` from its oldest held frame.

    Use :meth:`start`, then :meth:`close` to finish the file (safe to call twice). Raises
    :class:`CaptureError` naming the path if the file cannot be created.
    """

    def __init__(self, capture: Any, path: str | os.PathLike[str], settings: RecordingSettings | None = None) -> None:
        self.capture = capture
        self.path = Path(path)
        self.settings = settings or RecordingSettings()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb"):
                pass
        except OSError as e:
            raise CaptureError(f"{self.path}: cannot create recording: {e.strerror}") from e
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._written = threading.Condition()
        self._container: Any = None
        self._video: Any = None
        self._audio: Any = None
        self._size: tuple[int, int] | None = None
        self._origin_s: float | None = None
        self._last_pts = -1
        self._frames = 0
        self._fps = 30.0
        self._next_sample: int | None = None
        self._audio_samples = 0
        self._silence_s = 0.0
        self._written_until_s: float | None = None
        self._video_cursor = capture.video_cursor(from_latest=False, name="recorder")
        self._audio_cursor = capture.audio_cursor_at(-math.inf, name="recorder audio")
        self._thread = threading.Thread(target=self._run, name=f"avqa-recorder {self.path.name}", daemon=True)

    def start(self) -> Recorder:
        self._thread.start()
        return self

    # -- the recording thread -------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                frame = self._video_cursor.next(0.1)
                if frame is None:
                    if self._stop.is_set() or (self.capture.video.closed and self._video_cursor.lag == 0):
                        break
                    continue
                self._write_frame(frame)
                self._write_audio(until_s=frame.pts_s + 1.0 / self._fps)
                if self._stop.is_set() and self._video_cursor.lag == 0:
                    break
            self._write_audio(until_s=math.inf)
        except Exception as e:
            self.error = e
            log.exception("%s: recording failed", self.path)
        finally:
            self._finish()

    def _open(self, frame: Frame) -> None:
        import av

        s = self.settings
        width, height = frame.width, frame.height
        if s.max_height_px is not None and height > s.max_height_px:
            width, height = int(width * s.max_height_px / height) & ~1, s.max_height_px & ~1
        self._size = (width, height)
        self._fps = max(1.0, float(self.capture.fps))
        self._origin_s = frame.pts_s
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags", "flush_packets": "1", "avoid_negative_ts": "disabled"}
        container = av.open(str(self.path), mode="w", format="mp4", options=options)
        container.metadata[ORIGIN_KEY] = repr(self._origin_s)
        container.metadata["comment"] = f"avqa capture of {self.capture.name}"
        video = container.add_stream("libx264", rate=Fraction(round(self._fps * 1000), 1000))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = _VIDEO_TIME_BASE
        ctx = video.codec_context
        ctx.time_base = _VIDEO_TIME_BASE
        ctx.thread_count = s.threads
        keyint = max(1, round(s.fragment_s * self._fps))
        ctx.options = {
            "preset": s.preset,
            "crf": str(s.crf),
            **({"tune": "zerolatency"} if s.zerolatency else {}),
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
        self._video = video
        if self.capture.has_audio:
            first = self._audio_cursor.ring.latest()
            rate = first.sample_rate_hz if first is not None else 48000
            audio = container.add_stream("aac", rate=rate, layout="stereo")
            audio.time_base = Fraction(1, rate)
            audio.bit_rate = s.audio_bitrate_bps
            self._audio = audio
        self._container = container
        log.info("recording %s to %s: %dx%d, crf %d, %s, fragments of %.1f s", self.capture.name, self.path,
                 width, height, s.crf, s.preset, s.fragment_s)

    def _write_frame(self, frame: Frame) -> None:
        import av

        if self._container is None:
            self._open(frame)
        assert self._origin_s is not None and self._size is not None
        picture = av.VideoFrame.from_ndarray(frame.i420, format="yuv420p")
        if (frame.width, frame.height) != self._size:
            picture = picture.reformat(width=self._size[0], height=self._size[1])
        pts = round((frame.pts_s - self._origin_s) / _VIDEO_TIME_BASE)
        if pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        picture.pts, picture.time_base = pts, _VIDEO_TIME_BASE
        self._mux(self._video.encode(picture))
        self._frames += 1

    def _mux(self, packets: list[Any]) -> None:
        for packet in packets:
            keyframe = packet.stream is self._video and packet.is_keyframe
            self._container.mux(packet)
            if keyframe and packet.pts is not None:
                # the fragment before this keyframe is now complete on disk
                with self._written:
                    self._written_until_s = self._origin_s + float(packet.pts * packet.time_base)  # type: ignore[operator]
                    self._written.notify_all()

    def _write_audio(self, until_s: float) -> None:
        if self._audio is None:
            return
        ring = self._audio_cursor.ring
        while True:
            _, chunk = ring.get(self._audio_cursor.seq, 0)
            if chunk is None or chunk.pts_s >= until_s:
                return
            chunk = self._audio_cursor.next(0)
            if chunk is not None:
                self._encode_audio(chunk)

    def _encode_audio(self, chunk: AudioChunk) -> None:
        import av

        assert self._origin_s is not None
        rate = self._audio.codec_context.sample_rate
        if chunk.sample_rate_hz != rate:
            log.warning("%s: audio rate changed to %d Hz (recording at %d Hz); chunk skipped", self.path, chunk.sample_rate_hz, rate)
            return
        samples = chunk.samples
        start = round((chunk.pts_s - self._origin_s) * rate)
        if self._next_sample is None:
            self._next_sample = max(0, start)
        gap = start - self._next_sample
        if gap > _AUDIO_GAP_S * rate:  # signal lost for a while: keep audio and pictures aligned with silence
            silence = min(gap, int(_MAX_SILENCE_S * rate))
            self._silence_s += silence / rate
            for offset in range(0, silence, rate):
                n = min(rate, silence - offset)
                self._encode_samples(np.zeros((n, 2), np.float32), av)
        elif gap < -_AUDIO_GAP_S * rate:  # overlaps what is already written: keep only the new part
            samples = samples[-gap:]
        if samples.shape[0]:
            self._encode_samples(samples, av)

    def _encode_samples(self, samples: np.ndarray, av: Any) -> None:
        if samples.shape[1] == 1:
            samples = np.repeat(samples, 2, axis=1)
        planar = np.ascontiguousarray(samples[:, :2].T, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
        frame.sample_rate = self._audio.codec_context.sample_rate
        frame.pts = self._next_sample
        frame.time_base = Fraction(1, frame.sample_rate)
        self._next_sample = (self._next_sample or 0) + samples.shape[0]
        self._audio_samples += samples.shape[0]
        self._mux(self._audio.encode(frame))

    def _finish(self) -> None:
        try:
            if self._container is not None:
                try:
                    self._mux(self._video.encode(None))
                    if self._audio is not None:
                        self._mux(self._audio.encode(None))
                finally:
                    self._container.close()
                with self._written:
                    self._written_until_s = math.inf
                    self._written.notify_all()
        except Exception as e:
            self.error = self.error or e
            log.exception("%s: finishing the recording failed", self.path)
        finally:
            with self._written:
                self._written.notify_all()

    # -- callers ------------------------------------------------------------------------------
    def wait_written(self, t_s: float, timeout_s: float) -> bool:
        """Wait until the file holds everything up to capture time ``t_s``; False on time-out."""
        deadline = time.monotonic() + timeout_s
        with self._written:
            while self._written_until_s is None or self._written_until_s <= t_s:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return self._written_until_s is not None and self._written_until_s > t_s
                self._written.wait(remaining)
        return True

    @property
    def origin_s(self) -> float | None:
        """Capture time of the file's first picture (None before the first frame)."""
        return self._origin_s

    def stats(self) -> RecorderStats:
        rate = self._audio.codec_context.sample_rate if self._audio is not None else 1
        try:
            size = self.path.stat().st_size
        except OSError:
            size = 0
        return RecorderStats(self._frames, self._video_cursor.missed, self._audio_samples / rate, self._silence_s, size,
                             self._written_until_s)

    def close(self, timeout_s: float = 30.0) -> RecorderStats:
        """Write what the rings still hold, finish the file and return the stats; CaptureError if recording failed."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self.error is not None:
            raise CaptureError(f"{self.path}: recording failed: {self.error}") from self.error
        return self.stats()
