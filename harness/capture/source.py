"""What every capture source provides: decoded frames and audio on one source clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from detectors.media import AudioChunk, Frame


@dataclass
class SourceStats:
    """Counters a source keeps while it delivers (read by the capture thread)."""

    frames: int = 0
    audio_chunks: int = 0
    dropped_frames: int = 0  # frames the source skipped, seen as gaps in presentation times
    decode_errors: int = 0
    discontinuities: int = 0
    dropped_audio_s: float = 0.0  # audio the source lost (overruns, gaps in sample times)


class CaptureSource(Protocol):
    """A connected source of frames and audio chunks.

    Constructing a source validates its URI and connects (fail fast, the URI in the message).
    ``items`` yields frames and chunks in arrival order with ``pts_s`` on one clock that
    starts at 0 with the first video frame (a replayed recording keeps the capture-clock
    times it was recorded with); it returns when the stream ends and raises
    :class:`~harness.errors.CaptureError` when it fails. ``fps`` may change while iterating
    when the stream's frame rate changes.
    """

    uri: str
    width: int
    height: int
    fps: float
    live: bool  # a live stream (its end is a failure) rather than a file (its end is normal)
    has_audio: bool
    stats: SourceStats

    def items(self) -> Iterator[Frame | AudioChunk]: ...

    def close(self) -> None: ...


class AudioSource(Protocol):
    """A connected audio-only source (a capture card's sound device), read on its own thread.

    ``chunks`` yields :class:`AudioChunk` whose ``pts_s`` is the ``time.monotonic()`` instant
    the first sample entered the converter (arrival corrected for the driver's buffering);
    the capture maps it onto the capture clock. ``latency_s`` is the input latency that was
    subtracted (the measured offset between the sound device and arrival).
    """

    uri: str
    sample_rate_hz: int
    channels: int
    latency_s: float
    stats: SourceStats

    def chunks(self) -> Iterator[AudioChunk]: ...

    def close(self) -> None: ...
