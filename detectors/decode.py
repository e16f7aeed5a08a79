"""Decode media files with PyAV into :class:`Frame` and :class:`AudioChunk` items.

Also home of the two conversions the capture layer shares with file analysis:
:func:`frame_from_av` and :func:`chunk_from_av`. PyAV is imported lazily, inside functions.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from detectors.media import AudioChunk, Frame

if TYPE_CHECKING:
    import av

__all__ = ["MediaError", "MediaInfo", "MediaReader", "chunk_from_av", "count_dropped", "frame_from_av", "iter_media", "probe"]

log = logging.getLogger(__name__)

# Items of one stream may run this far ahead of another before they are emitted anyway
# (bounds memory when a stream stops early or is badly interleaved).
_MAX_INTERLEAVE_LAG_S = 2.0
# A jump between audio timestamps and the running sample count larger than this is a gap.
_AUDIO_GAP_TOLERANCE_S = 0.010

_AUDIO_DTYPES: dict[str, str] = {
    "u8": "u1",
    "s16": "<i2",
    "s32": "<i4",
    "s64": "<i8",
    "flt": "<f4",
    "dbl": "<f8",
}
_AUDIO_SCALE: dict[str, float] = {"s16": 1.0 / 32768.0, "s32": 1.0 / 2147483648.0, "s64": 1.0 / 9223372036854775808.0}

_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG: video range (16-235)
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full range (0-255)

_local = threading.local()


class MediaError(Exception):
    """A media file could not be opened or decoded; the message names the file."""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """Facts about one media file.

    ``fps`` is the nominal video frame rate (0.0 without video); ``frames`` counts the video
    frames; ``duration_s`` runs from the earliest stream start (time 0) to the end of the
    longest stream; ``dropped_frames`` counts frames missing according to presentation
    timestamp gaps at the nominal frame rate.
    """

    path: str
    fps: float
    frames: int
    duration_s: float
    dropped_frames: int
    width: int = 0
    height: int = 0
    sample_rate_hz: int = 0
    channels: int = 0

    @property
    def has_video(self) -> bool:
        return self.width > 0

    @property
    def has_audio(self) -> bool:
        return self.sample_rate_hz > 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary fields of the ``avqa analyze`` output."""
        return {
            "path": self.path,
            "fps": round(self.fps, 6),
            "frames": self.frames,
            "duration_s": round(self.duration_s, 6),
            "dropped_frames": self.dropped_frames,
        }


def count_dropped(pts_s: np.ndarray | list[float], fps: float) -> int:
    """Count frames missing from a sorted sequence of presentation times at nominal ``fps``."""
    if fps <= 0 or len(pts_s) < 2:
        return 0
    steps = np.rint(np.diff(np.asarray(pts_s, dtype=np.float64)) * fps)
    return int(np.clip(steps - 1, 0, None).sum())


# --------------------------------------------------------------------------- conversions


def _reformatter() -> Any:
    """Return this thread's swscale wrapper (its context cache makes repeated conversions cheap)."""
    fmt = getattr(_local, "reformatter", None)
    if fmt is None:
        from av.video.reformatter import VideoReformatter

        fmt = VideoReformatter()
        _local.reformatter = fmt
    return fmt


def _plane_view(plane: Any, rows: int, cols: int) -> np.ndarray:
    """Return the top-left ``rows`` x ``cols`` of a PyAV plane as a strided view (no copy)."""
    line = plane.line_size
    buf = np.frombuffer(plane, np.uint8)
    return buf[: line * plane.height].reshape(plane.height, line)[:rows, :cols]


def frame_from_av(frame: av.VideoFrame, index: int, pts_s: float) -> Frame:
    """Convert a decoded PyAV frame into a :class:`Frame` (I420, video range), copying once.

    Formats other than video-range yuv420p are converted with swscale. Odd widths or
    heights are cropped to even (the last column/row is dropped), as 4:2:0 needs.
    """
    src = frame
    planes = src.planes
    if src.format.name != "yuv420p" or int(src.color_range) == _JPEG_RANGE or any(p.line_size < 0 for p in planes):
        src = _reformatter().reformat(src, format="yuv420p", dst_color_range=_MPEG_RANGE)
        planes = src.planes
    width, height = src.width & ~1, src.height & ~1
    if width == 0 or height == 0:
        raise ValueError(f"frame {index}: picture too small ({src.width}x{src.height})")
    out = np.empty((height * 3 // 2, width), np.uint8)
    np.copyto(out[:height], _plane_view(planes[0], height, width))
    chroma = out[height:].reshape(-1)
    cw, ch = width // 2, height // 2
    np.copyto(chroma[: cw * ch].reshape(ch, cw), _plane_view(planes[1], ch, cw))
    np.copyto(chroma[cw * ch :].reshape(ch, cw), _plane_view(planes[2], ch, cw))
    return Frame(index, pts_s, out)


def chunk_from_av(frame: av.AudioFrame, pts_s: float, start_sample: int) -> AudioChunk:
    """Convert a decoded PyAV audio frame into float32 samples (n, channels) in [-1, 1].

    Handles planar and packed layouts of u8, s16, s32, s64, flt and dbl samples.
    """
    fmt = frame.format
    base = fmt.name.rstrip("p") if fmt.is_planar else fmt.name
    if base not in _AUDIO_DTYPES:
        raise ValueError(f"unsupported audio sample format {fmt.name!r}")
    dtype = np.dtype(_AUDIO_DTYPES[base])
    n = frame.samples
    channels = frame.layout.nb_channels
    planes = frame.planes
    if fmt.is_planar:
        raw = np.stack([np.frombuffer(p, dtype, count=n) for p in planes[:channels]], axis=1)
    else:
        raw = np.frombuffer(planes[0], dtype, count=n * channels).reshape(n, channels)
    if base == "u8":
        samples = (raw.astype(np.float32) - 128.0) * np.float32(1.0 / 128.0)
    elif base in ("flt", "dbl"):
        samples = np.clip(raw, -1.0, 1.0).astype(np.float32, copy=False)
    elif base == "s16":
        samples = raw.astype(np.float32) * np.float32(_AUDIO_SCALE[base])
    else:
        samples = (raw.astype(np.float64) * _AUDIO_SCALE[base]).astype(np.float32)
    return AudioChunk(pts_s=pts_s, sample_rate_hz=frame.sample_rate, samples=samples, start_sample=start_sample)


# --------------------------------------------------------------------------- files


def _open(path: str | os.PathLike[str]) -> Any:
    import av

    name = os.fspath(path)
    try:
        return av.open(name, mode="r")
    except (OSError, av.error.FFmpegError, ValueError) as e:
        raise MediaError(f"{name}: cannot open media: {e}") from e


def _stream_start_s(stream: Any) -> float | None:
    if stream.start_time is None or stream.time_base is None:
        return None
    return float(stream.start_time * stream.time_base)


def _nominal_fps(stream: Any) -> float:
    for rate in (stream.guessed_rate, stream.average_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


class MediaReader:
    """Decode one file into frames and chunks in presentation order, measuring it on the way.

    Open at construction (``MediaError`` naming the file if that fails); iterate once; then
    :attr:`info` holds the measured frame count, dropped frames and duration. Use as a
    context manager, or let iteration to the end close the file.
    """

    def __init__(self, path: str | os.PathLike[str], want_video: bool = True, want_audio: bool = True) -> None:
        self.path = os.fspath(path)
        self._container = _open(path)
        c = self._container
        self._video = c.streams.video[0] if c.streams.video else None
        self._audio = c.streams.audio[0] if c.streams.audio else None
        starts = [s for s in (_stream_start_s(x) for x in (self._video, self._audio) if x is not None) if s is not None]
        if starts:
            self._origin_s: float | None = min(starts)
        elif c.start_time is not None:
            self._origin_s = c.start_time / 1_000_000
        else:
            self._origin_s = None  # taken from the first decoded item
        self._want_video = want_video and self._video is not None
        self._want_audio = want_audio and self._audio is not None
        self.fps = _nominal_fps(self._video) if self._video is not None else 0.0
        self._video_pts: list[float] = []
        self._video_end_s = 0.0
        self._audio_end_s = 0.0
        self._audio_base_s = 0.0
        self._audio_next: int | None = None
        self._audio_limit: int | None = None  # samples the header says the audio stream has
        self._iterated = False
        self.decode_errors = 0  # damaged packets skipped while iterating
        v, a = self._video, self._audio
        self._header = MediaInfo(
            path=self.path,
            fps=self.fps,
            frames=v.frames if v is not None else 0,
            duration_s=c.duration / 1_000_000 if c.duration is not None else 0.0,
            dropped_frames=0,
            width=v.codec_context.width if v is not None else 0,
            height=v.codec_context.height if v is not None else 0,
            sample_rate_hz=a.codec_context.sample_rate if a is not None else 0,
            channels=a.codec_context.layout.nb_channels if a is not None else 0,
        )

    # context manager
    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    @property
    def has_video(self) -> bool:
        return self._video is not None

    @property
    def has_audio(self) -> bool:
        return self._audio is not None

    @property
    def info(self) -> MediaInfo:
        """Facts about the file: measured once iterated over the video, from the headers before."""
        header = self._header
        if not self._iterated:
            return header
        partial = self._want_video != self.has_video or self._want_audio != self.has_audio
        duration = max(header.duration_s if partial else 0.0, self._video_end_s, self._audio_end_s)
        if self._want_video:
            frames, dropped = len(self._video_pts), count_dropped(self._video_pts, self.fps)
        else:
            frames, dropped = header.frames, header.dropped_frames
        return MediaInfo(
            self.path, self.fps, frames, duration, dropped, header.width, header.height, header.sample_rate_hz, header.channels
        )

    def __iter__(self) -> Iterator[Frame | AudioChunk]:
        if self._iterated:
            raise RuntimeError(f"{self.path}: a MediaReader can be iterated only once")
        self._iterated = True
        import av

        streams = [s for s, want in ((self._video, self._want_video), (self._audio, self._want_audio)) if want]
        try:
            if not streams:
                return
            for s in streams:
                s.codec_context.thread_type = "AUTO"
            yield from self._interleave(streams)
        except av.error.FFmpegError as e:
            raise MediaError(f"{self.path}: cannot decode media: {e}") from e
        finally:
            self.close()

    def _interleave(self, streams: list[Any]) -> Iterator[Frame | AudioChunk]:
        queues: dict[int, deque[Frame | AudioChunk]] = {s.index: deque() for s in streams}
        open_streams = {s.index for s in streams}
        latest = {s.index: -math.inf for s in streams}
        convert = {s.index: (self._to_frame if s.type == "video" else self._to_chunk) for s in streams}
        single = len(streams) == 1

        def ready(final: bool) -> Iterator[Frame | AudioChunk]:
            while True:
                heads = [(q[0].pts_s, i) for i, q in queues.items() if q]
                if not heads:
                    return
                t, i = min(heads)
                waiting = any(not queues[j] for j in open_streams)
                if waiting and not final and t > max(latest.values()) - _MAX_INTERLEAVE_LAG_S:
                    return
                yield queues[i].popleft()

        from av.error import InvalidDataError

        for packet in self._container.demux(streams):
            i = packet.stream.index
            try:
                decoded_items = packet.decode()
            except InvalidDataError as e:  # one damaged packet: skip it, like players do
                self.decode_errors += 1
                log.warning("%s: skipped a damaged %s packet at dts %s: %s", self.path, packet.stream.type, packet.dts, e)
                decoded_items = []
            for decoded in decoded_items:
                item = convert[i](decoded)
                if item is None:
                    continue
                if single:
                    yield item
                    continue
                queues[i].append(item)
                latest[i] = item.pts_s
            if packet.size == 0 and packet.dts is None:  # the demuxer's end-of-stream flush packet
                open_streams.discard(i)
            if not single:
                yield from ready(final=False)
        yield from ready(final=True)

    def _time_of(self, decoded: Any) -> float | None:
        t = decoded.time
        if t is None:
            return None
        if self._origin_s is None:
            self._origin_s = float(t)
        return float(t) - self._origin_s

    def _to_frame(self, decoded: Any) -> Frame:
        pts = self._time_of(decoded)
        if pts is None:  # no timestamp: continue at the nominal rate
            step = 1.0 / self.fps if self.fps > 0 else 0.0
            pts = self._video_pts[-1] + step if self._video_pts else 0.0
        index = len(self._video_pts)
        self._video_pts.append(pts)
        step = 1.0 / self.fps if self.fps > 0 else 0.0
        self._video_end_s = max(self._video_end_s, pts + step)
        return frame_from_av(decoded, index, pts)

    def _to_chunk(self, decoded: Any) -> AudioChunk | None:
        if decoded.samples == 0:
            return None
        rate = decoded.sample_rate
        if self._audio_next is None:
            start = _stream_start_s(self._audio)
            origin = self._origin_s if self._origin_s is not None else 0.0
            self._audio_base_s = (start - origin) if start is not None else (self._time_of(decoded) or 0.0)
            self._audio_next = 0
            a = self._audio
            if a is not None and a.duration and a.time_base is not None:
                # Encoders pad the last frame (AAC: up to 1023 samples); the header knows the real end.
                self._audio_limit = round(float(a.duration * a.time_base) * rate)
        start_sample = self._audio_next
        t = self._time_of(decoded)
        if t is not None:
            from_pts = round((t - self._audio_base_s) * rate)
            if abs(from_pts - start_sample) > _AUDIO_GAP_TOLERANCE_S * rate:
                log.debug("%s: audio timestamps jump by %d samples at %.3f s", self.path, from_pts - start_sample, t)
                start_sample = max(0, from_pts)
        pts_s = self._audio_base_s + start_sample / rate
        n = decoded.samples
        self._audio_next = start_sample + n
        if self._audio_limit is not None and start_sample + n > self._audio_limit:
            n = self._audio_limit - start_sample
            if n <= 0:
                return None
        self._audio_end_s = max(self._audio_end_s, pts_s + n / rate)
        chunk = chunk_from_av(decoded, pts_s, start_sample)
        if n < decoded.samples:
            chunk = AudioChunk(chunk.pts_s, chunk.sample_rate_hz, chunk.samples[:n], chunk.start_sample)
        return chunk


def iter_media(path: str | os.PathLike[str], want_video: bool = True, want_audio: bool = True) -> Iterator[Frame | AudioChunk]:
    """Yield the file's frames and audio chunks interleaved by presentation time.

    Times are normalised so that the earliest stream start is 0. Raises MediaError naming
    the file if it cannot be opened or decoded.
    """
    with MediaReader(path, want_video=want_video, want_audio=want_audio) as reader:
        yield from reader


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Return facts about a file by reading its packets (no decoding), MediaError if unreadable.

    Frame count and dropped frames come from the video packets' presentation timestamps.
    """
    import av

    with MediaReader(path) as reader:
        c = reader._container
        origin = reader._origin_s or 0.0
        pts: list[float] = []
        video_end = audio_end = 0.0
        streams = [s for s in (reader._video, reader._audio) if s is not None]
        try:
            for packet in c.demux(streams):
                if packet.pts is None or packet.size == 0:
                    continue
                t = float(packet.pts * packet.time_base) - origin
                d = float(packet.duration * packet.time_base) if packet.duration else 0.0
                if packet.stream.type == "video":
                    pts.append(t)
                    video_end = max(video_end, t + (1.0 / reader.fps if reader.fps else d))
                else:
                    audio_end = max(audio_end, t + d)
        except av.error.FFmpegError as e:
            raise MediaError(f"{reader.path}: cannot read media: {e}") from e
        header = reader.info
        pts.sort()
        return MediaInfo(
            reader.path,
            reader.fps,
            len(pts),
            max(video_end, audio_end),
            count_dropped(pts, reader.fps),
            header.width,
            header.height,
            header.sample_rate_hz,
            header.channels,
        )
