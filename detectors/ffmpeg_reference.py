"""FFmpeg's own analysis filters (blackdetect, freezedetect, silencedetect, ebur128) run in-process.

The decoded :class:`~detectors.media.Frame` / :class:`~detectors.media.AudioChunk` items are
pushed through a PyAV filter graph and the filters' frame metadata is read back, so that
parity tests and benchmarks compare the detectors with FFmpeg on exactly the same input.
Used by tests/test_parity_ffmpeg.py and benchmarks/bench_detectors.py, not by detectors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from detectors.media import AudioChunk, Frame

_TB_US = Fraction(1, 1_000_000)


@dataclass(frozen=True)
class Span:
    """A detected stretch in seconds (``end_s`` is None when the filter never closed it)."""

    start_s: float
    end_s: float | None


@dataclass
class Ebur128Result:
    """ebur128 measurements: per output frame (pts_s, M, S) and the programme values at the end."""

    momentary: list[tuple[float, float, float]] = field(default_factory=list)
    integrated_lufs: float = -math.inf
    true_peak_dbtp: float = -math.inf


def to_av_frames(frames: Iterable[Frame]) -> list[Any]:
    """Convert frames to PyAV yuv420p frames with microsecond pts (done once, outside timings)."""
    import av

    out = []
    for f in frames:
        vf = av.VideoFrame.from_ndarray(f.i420, format="yuv420p")
        vf.pts = round(f.pts_s * 1_000_000)
        vf.time_base = _TB_US
        out.append(vf)
    return out


def to_av_audio(chunks: Iterable[AudioChunk]) -> list[Any]:
    """Convert chunks to PyAV packed float frames with sample-count pts."""
    import av

    out = []
    for c in chunks:
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[c.channels]
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(c.samples, np.float32).reshape(1, -1), format="flt", layout=layout)
        af.sample_rate = c.sample_rate_hz
        af.pts = c.start_sample
        af.time_base = Fraction(1, c.sample_rate_hz)
        out.append(af)
    return out


def _pull_all(graph: Any) -> list[Any]:
    import av

    out = []
    while True:
        try:
            out.append(graph.pull())
        except (av.error.BlockingIOError, av.error.EOFError):
            return out


def _run_chain(graph: Any, source: Any, sink_name: str, frames: Sequence[Any], filters: str) -> list[Any]:
    """Link ``source`` -> each filter of the chain ``filters`` -> ``sink_name``, push ``frames`` and drain."""
    last = source
    for spec in filters.split(","):
        name, _, args = spec.partition("=")
        node = graph.add(name, args) if args else graph.add(name)
        last.link_to(node)
        last = node
    sink = graph.add(sink_name)
    last.link_to(sink)
    graph.configure()
    out: list[Any] = []
    for frame in frames:
        graph.push(frame)
        out.extend(_pull_all(graph))
    graph.push(None)
    out.extend(_pull_all(graph))
    return out


def run_video_graph(av_frames: Sequence[Any], filters: str) -> list[Any]:
    """Push PyAV video frames through ``filters`` (a filter chain); return the output frames."""
    import av

    if not av_frames:
        return []
    first = av_frames[0]
    graph = av.filter.Graph()
    src = graph.add_buffer(width=first.width, height=first.height, format="yuv420p", time_base=_TB_US)
    return _run_chain(graph, src, "buffersink", av_frames, filters)


def run_audio_graph(av_audio: Sequence[Any], filters: str) -> list[Any]:
    """Push PyAV audio frames through ``filters`` (a filter chain); return the output frames."""
    import av

    if not av_audio:
        return []
    first = av_audio[0]
    graph = av.filter.Graph()
    src = graph.add_abuffer(
        format="flt", sample_rate=first.sample_rate, layout=first.layout.name, time_base=Fraction(1, first.sample_rate)
    )
    return _run_chain(graph, src, "abuffersink", av_audio, filters)


def _spans(out: Sequence[Any], start_key: str, end_key: str, min_duration_s: float, end_of_stream_s: float) -> list[Span]:
    spans: list[Span] = []
    start: float | None = None
    for f in out:
        md = f.metadata
        if end_key in md and start is not None:
            end = float(md[end_key])
            if end - start >= min_duration_s - 1e-6:
                spans.append(Span(start, end))
            start = None
        if start_key in md and start is None:
            start = float(md[start_key])
    if start is not None and end_of_stream_s - start >= min_duration_s - 1e-6:
        spans.append(Span(start, end_of_stream_s))
    return spans


def _frame_end_s(frames: Sequence[Frame]) -> float:
    if len(frames) < 2:
        return frames[-1].pts_s if frames else 0.0
    return frames[-1].pts_s + (frames[-1].pts_s - frames[-2].pts_s)


def blackdetect(frames: Sequence[Frame], pix_th: float = 0.10, pic_th: float = 0.98, min_duration_s: float = 0.1) -> list[Span]:
    """Run FFmpeg's blackdetect over ``frames``; return black stretches of at least ``min_duration_s``.

    A stretch still open at the end ends one frame after the last frame (like the detectors).
    """
    out = run_video_graph(to_av_frames(frames), f"blackdetect=d=0:pix_th={pix_th}:pic_th={pic_th}")
    return _spans(out, "lavfi.black_start", "lavfi.black_end", min_duration_s, _frame_end_s(frames))


def freezedetect(frames: Sequence[Frame], noise: float = 0.001, min_duration_s: float = 0.5) -> list[Span]:
    """Run FFmpeg's freezedetect (``n`` as a ratio, ``d`` in seconds); return frozen stretches."""
    out = run_video_graph(to_av_frames(frames), f"freezedetect=n={noise}:d={min_duration_s}")
    return _spans(
        out, "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end", min_duration_s, _frame_end_s(frames)
    )


def silencedetect(chunks: Sequence[AudioChunk], noise_db: float = -60.0, min_duration_s: float = 0.5) -> list[Span]:
    """Run FFmpeg's silencedetect over ``chunks``; return silent stretches in seconds."""
    if not chunks:
        return []
    out = run_audio_graph(to_av_audio(chunks), f"silencedetect=n={noise_db}dB:d={min_duration_s}")
    last = chunks[-1]
    end = last.pts_s + last.duration_s
    base = chunks[0].pts_s - chunks[0].start_sample / chunks[0].sample_rate_hz
    spans = _spans(out, "lavfi.silence_start", "lavfi.silence_end", min_duration_s, end - base)
    return [Span(s.start_s + base, None if s.end_s is None else s.end_s + base) for s in spans]


def ebur128(chunks: Sequence[AudioChunk], true_peak: bool = True) -> Ebur128Result:
    """Run FFmpeg's ebur128 (metadata mode) over ``chunks``; return momentary/short-term and programme values."""
    result = Ebur128Result()
    if not chunks:
        return result
    peak = ":peak=true" if true_peak else ""
    out = run_audio_graph(to_av_audio(chunks), f"ebur128=metadata=1{peak}")
    rate = chunks[0].sample_rate_hz
    for f in out:
        md = f.metadata
        if "lavfi.r128.M" in md:
            end_s = (f.pts + f.samples) / rate
            result.momentary.append((end_s, float(md["lavfi.r128.M"]), float(md["lavfi.r128.S"])))
    if out:
        md = out[-1].metadata
        if "lavfi.r128.I" in md:
            result.integrated_lufs = float(md["lavfi.r128.I"])
        if "lavfi.r128.true_peak" in md:
            tp = float(md["lavfi.r128.true_peak"])
            result.true_peak_dbtp = 20 * math.log10(tp) if tp > 0 else -math.inf
    return result
