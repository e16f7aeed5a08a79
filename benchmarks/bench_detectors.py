"""Throughput of the DSP detector suites against FFmpeg's analysis filters on the same decoded frames.

Run: ``python benchmarks/bench_detectors.py`` (options: ``--help``). Not a test.

What is measured, in one run:

* **Video**: synthetic programme content (a panning textured picture with moving objects and
  light noise, plus a black run, a freeze and a few repeated frames so that every detector's
  state machine works; about a quarter of the frames are such defects, far more than in real
  programme, so black and freeze are also timed on the moving "programme frames" alone) is encoded with libx264 (crf 23) at 1080p and 720p and decoded back
  with :func:`detectors.decode.iter_media`; all timings run over those decoded frames, held
  in memory (decoding is not timed). The full video suite is every DSP video detector fed
  each frame in turn (as :class:`detectors.base.Pipeline` does), including ``flush``; each
  detector is also timed alone (paying for its own downscale). FFmpeg's ``blackdetect``,
  ``freezedetect`` and ``blackdetect,freezedetect`` run through a PyAV filter graph over the
  same frames, converted to PyAV frames before the clock starts
  (:mod:`detectors.ffmpeg_reference`).
* **Audio**: 20 s of synthetic stereo programme audio at 48 kHz (tones, noise bursts, a
  silent gap) cut into 1024-sample chunks; the full audio suite against FFmpeg's
  ``silencedetect,ebur128=peak=true`` (and each counterpart alone). Audio throughput is
  given as chunks/s and as times real time. Detectors that buffer chunks and analyse them in
  blocks (silence, loudness) do that work in ``feed`` and ``flush``, and both are timed.

Cores: "1 core" runs in this process pinned to one CPU (``os.sched_setaffinity``) with
OpenCV limited to one thread. "2 cores" runs two forked worker *processes*, each pinned to
its own CPU with one OpenCV thread, each taking one contiguous half of the frames (or
chunks) with its own detector instances / its own filter graph, started together on a
barrier; throughput is all items over the wall time from the common start to the last
worker's end. FFmpeg is run the same way, so the ratio compares like with like. Each figure
is the best of ``--repeat`` runs (the machine may be shared).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors import ffmpeg_reference as ff
from detectors import video
from detectors.base import REGISTRY
from detectors.decode import iter_media
from detectors.media import AudioChunk, Frame

VIDEO_SUITE = ("black", "freeze", "stutter", "tearing", "letterbox", "nosignal", "blur", "blockiness", "scenecut")
AUDIO_SUITE = ("silence", "dropout", "loudness", "clipping", "clicks", "hum", "hiss", "channels", "tone")
VIDEO_FF = {
    "suite": "blackdetect=d=0:pix_th=0.10:pic_th=0.98,freezedetect=n=0.001:d=0.5",
    "black": "blackdetect=d=0:pix_th=0.10:pic_th=0.98",
    "freeze": "freezedetect=n=0.001:d=0.5",
}
AUDIO_FF = {
    "suite": "silencedetect=n=-60dB:d=0.5,ebur128=metadata=1:peak=true",
    "silence": "silencedetect=n=-60dB:d=0.5",
    "loudness": "ebur128=metadata=1:peak=true",
}
_DEFAULT_CACHE = video._CACHE_FRAMES
SIZES = {"1080p": (1920, 1080), "720p": (1280, 720)}
RATE = 48000
CHUNK = 1024


# --------------------------------------------------------------------------- media


def _scripted(i: int, frames: int) -> str:
    """What frame ``i`` of the synthetic clip shows: "black", "freeze", "repeat" or "programme"."""
    if frames * 0.2 <= i < frames * 0.2 + 12:
        return "black"
    if frames * 0.5 <= i < frames * 0.5 + 40:
        return "freeze"
    if i % 23 == 7:
        return "repeat"
    return "programme"


def _synth_video(path: Path, width: int, height: int, frames: int, fps: int = 60) -> None:
    import av

    rng = np.random.default_rng(1)
    tex = cv2.GaussianBlur(rng.normal(0, 1, (height, width + 8 * frames)).astype(np.float32), (0, 0), 4.0)
    tex = np.clip(120 + tex * (60 / tex.std()), 20, 230).astype(np.uint8)
    chroma = np.full((height // 2, width), 128, np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"crf": "23", "preset": "ultrafast"}
        last = None
        for i in range(frames):
            kind = _scripted(i, frames)
            if kind == "black":
                luma = np.full((height, width), 16, np.uint8)
            elif kind in ("freeze", "repeat") and last is not None:
                luma = last
            else:
                luma = np.ascontiguousarray(tex[:, 8 * i : 8 * i + width])
                box = (i * 17) % (width - height // 4)
                luma[height // 3 : height // 3 + height // 4, box : box + height // 4] = 220
                luma = cv2.add(luma, rng.integers(0, 4, luma.shape, dtype=np.uint8))
                last = luma
            frame = av.VideoFrame.from_ndarray(np.concatenate([luma, chroma]), format="yuv420p")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def decoded_frames(size: str, frames: int, workdir: Path) -> list[Frame]:
    """Encode the synthetic clip at ``size`` with libx264 and return its decoded frames."""
    width, height = SIZES[size]
    path = workdir / f"bench_{size}.mp4"
    _synth_video(path, width, height, frames)
    return [f for f in iter_media(path, want_audio=False) if isinstance(f, Frame)]


def audio_chunks(seconds: float) -> list[AudioChunk]:
    """Return synthetic stereo programme audio (tones, noise bursts, a silent second) as 1024-sample chunks."""
    rng = np.random.default_rng(2)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    mono = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    mono += 0.1 * np.sin(2 * np.pi * 1250 * t + 3 * np.sin(2 * np.pi * 2 * t))
    bursts = (np.sin(2 * np.pi * 2 * t) > 0.9) * rng.standard_normal(n) * 0.2
    data = np.stack([mono + bursts, 0.9 * mono + bursts], axis=1).astype(np.float32)
    data[int(5 * RATE) : int(6 * RATE)] = 0.0
    out = []
    for pos in range(0, n, CHUNK):
        part = np.ascontiguousarray(data[pos : pos + CHUNK])
        out.append(AudioChunk(pos / RATE, RATE, part, pos))
    return out


# --------------------------------------------------------------------------- timed work


def _run_detectors(names: Sequence[str], items: Sequence[Frame | AudioChunk]) -> None:
    detectors = [REGISTRY.create(n) for n in names]
    for item in items:
        for d in detectors:
            d.feed(item)
    for d in detectors:
        d.flush()


def _fresh(items: Sequence[Frame | AudioChunk]) -> list[Frame | AudioChunk]:
    # new Frame objects each run: nothing cached from a previous run (chunks are immutable)
    return [Frame(f.index, f.pts_s, f.i420) if isinstance(f, Frame) else f for f in items]


def _ff_inputs(items: Sequence[Frame | AudioChunk]) -> list[Any]:
    frames = [f for f in items if isinstance(f, Frame)]
    if frames:
        return ff.to_av_frames(frames)
    return ff.to_av_audio([c for c in items if isinstance(c, AudioChunk)])


def _run_ffmpeg(graph: str, av_items: Sequence[Any]) -> None:
    import av

    if isinstance(av_items[0], av.VideoFrame):
        ff.run_video_graph(av_items, graph)
    else:
        ff.run_audio_graph(av_items, graph)


@dataclass(frozen=True)
class Job:
    """One timed piece of work: our detectors (names) or an FFmpeg filter chain (graph)."""

    names: tuple[str, ...] = ()
    graph: str = ""
    shared_planes: bool = False  # downscaled planes computed before the clock (cost inside a suite)

    def prepare(self, items: Sequence[Frame | AudioChunk]) -> Callable[[], None]:
        """Return a call that does the work (inputs converted before, outside the clock)."""
        if self.graph:
            av_items = _ff_inputs(items)
            return lambda: _run_ffmpeg(self.graph, av_items)
        fresh = _fresh(items)
        if self.shared_planes:
            video._CACHE_FRAMES = len(fresh) + 8  # keep every frame's planes for this run
            for f in fresh:
                if isinstance(f, Frame):
                    video.downscaled_luma(f, 8)  # computes (and caches) the 2x, 4x and 8x planes
        else:
            video._CACHE_FRAMES = _DEFAULT_CACHE
        return lambda: _run_detectors(self.names, fresh)


def _pin(cpu: int) -> None:
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def time_one_core(job: Job, items: Sequence[Frame | AudioChunk], repeat: int, cpu: int) -> float:
    """Return the best wall time (s) of ``job`` over ``items`` in this process on one CPU."""
    _pin(cpu)
    job.prepare(items[:8])()  # warm up (first calls, caches)
    best = float("inf")
    for _ in range(repeat):
        work = job.prepare(items)
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


_SHARED: dict[str, Sequence[Frame | AudioChunk]] = {}  # items handed to forked workers


def _worker(job: Job, key: str, lo: int, hi: int, cpu: int, barrier: Any, queue: Any) -> None:
    _pin(cpu)
    work = job.prepare(_SHARED[key][lo:hi])
    barrier.wait()
    start = time.perf_counter()
    work()
    queue.put((start, time.perf_counter()))


def time_two_cores(job: Job, key: str, repeat: int, cpus: tuple[int, int]) -> float:
    """Return the best wall time (s) of two pinned worker processes, each on one half of the items."""
    ctx = mp.get_context("fork")
    n = len(_SHARED[key])
    best = float("inf")
    for _ in range(repeat):
        barrier, queue = ctx.Barrier(2), ctx.Queue()
        halves = [(0, n // 2), (n // 2, n)]
        procs = [
            ctx.Process(target=_worker, args=(job, key, lo, hi, cpu, barrier, queue))
            for (lo, hi), cpu in zip(halves, cpus, strict=True)
        ]
        for p in procs:
            p.start()
        spans = [queue.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise RuntimeError(f"benchmark worker failed with exit code {p.exitcode}")
        best = min(best, max(e for _, e in spans) - min(s for s, _ in spans))
    return best


# --------------------------------------------------------------------------- report


@dataclass
class Row:
    medium: str
    what: str
    size: str
    cores: int
    ours_per_s: float
    in_suite_per_s: float | None = None
    ffmpeg: str = ""
    ffmpeg_per_s: float | None = None
    realtime_x: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.ffmpeg_per_s is None else self.ours_per_s / self.ffmpeg_per_s


def print_table(rows: list[Row], out: Any = sys.stdout) -> None:
    head = (
        "medium",
        "detector(s)",
        "input",
        "cores",
        "ours items/s",
        "x realtime",
        "in suite items/s",
        "FFmpeg counterpart",
        "FFmpeg items/s",
        "ours/FFmpeg",
        "in suite/FFmpeg",
    )
    cells = []
    for r in rows:
        suite_ratio = None if r.ffmpeg_per_s is None or r.in_suite_per_s is None else r.in_suite_per_s / r.ffmpeg_per_s
        cells.append(
            (
                r.medium,
                r.what,
                r.size,
                str(r.cores),
                f"{r.ours_per_s:,.0f}",
                "-" if r.realtime_x is None else f"{r.realtime_x:,.1f}",
                "-" if r.in_suite_per_s is None else f"{r.in_suite_per_s:,.0f}",
                r.ffmpeg or "-",
                "-" if r.ffmpeg_per_s is None else f"{r.ffmpeg_per_s:,.0f}",
                "-" if r.ratio is None else f"{r.ratio:.2f}",
                "-" if suite_ratio is None else f"{suite_ratio:.2f}",
            )
        )
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |", file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for c in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=240, help="decoded frames per video size (default 240)")
    parser.add_argument("--audio-s", type=float, default=20.0, help="seconds of audio (default 20)")
    parser.add_argument("--sizes", default="1080p,720p", help="video sizes (default 1080p,720p)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept (default 3)")
    parser.add_argument(
        "--per-detector", action=argparse.BooleanOptionalAction, default=True, help="also time each detector alone (1 core)"
    )
    args = parser.parse_args(argv)
    cpus_available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    cpus = (cpus_available[0], cpus_available[1 % len(cpus_available)])
    print(
        f"python {sys.version.split()[0]}, OpenCV {cv2.__version__}, numpy {np.__version__}, CPUs usable: {cpus_available}",
        flush=True,
    )
    for name in VIDEO_SUITE + AUDIO_SUITE:  # import every module before any clock starts
        REGISTRY.get(name)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
            frames = decoded_frames(size, args.frames, Path(tmp))
            _SHARED[size] = frames
            print(f"{size}: {len(frames)} decoded frames", file=sys.stderr, flush=True)
            for cores in (1, 2):
                timer: Callable[[Job], float]
                if cores == 1:
                    timer = lambda job, fr=frames: time_one_core(job, fr, args.repeat, cpus[0])
                else:
                    timer = lambda job, key=size: time_two_cores(job, key, args.repeat, cpus)
                n = len(frames)
                ours = n / timer(Job(names=VIDEO_SUITE))
                theirs = n / timer(Job(graph=VIDEO_FF["suite"]))
                rows.append(
                    Row("video", "full DSP suite (9)", size, cores, ours, None, "blackdetect+freezedetect", theirs, ours / 60)
                )
                if cores == 1 and args.per_detector:
                    for name in VIDEO_SUITE:
                        mine = n / timer(Job(names=(name,)))
                        shared = n / timer(Job(names=(name,), shared_planes=True))
                        graph = VIDEO_FF.get(name)
                        ref = n / timer(Job(graph=graph)) if graph else None
                        label = {"black": "blackdetect", "freeze": "freezedetect"}.get(name, "")
                        rows.append(Row("video", name, size, cores, mine, shared, label, ref, mine / 60))
                        if graph:  # also on the moving programme frames only (no black/frozen/repeated ones)
                            prog = [f for f in frames if _scripted(f.index, len(frames)) == "programme"]
                            pn = len(prog)
                            mine_p = pn / time_one_core(Job(names=(name,)), prog, args.repeat, cpus[0])
                            shared_p = pn / time_one_core(Job(names=(name,), shared_planes=True), prog, args.repeat, cpus[0])
                            ref_p = pn / time_one_core(Job(graph=graph), prog, args.repeat, cpus[0])
                            rows.append(
                                Row(
                                    "video",
                                    f"{name} (programme frames)",
                                    size,
                                    cores,
                                    mine_p,
                                    shared_p,
                                    label,
                                    ref_p,
                                    mine_p / 60,
                                )
                            )
            del _SHARED[size], frames
        chunks = audio_chunks(args.audio_s)
        _SHARED["audio"] = chunks
        seconds = chunks[-1].pts_s + chunks[-1].duration_s
        for cores in (1, 2):
            if cores == 1:
                atimer: Callable[[Job], float] = lambda job: time_one_core(job, chunks, args.repeat, cpus[0])
            else:
                atimer = lambda job: time_two_cores(job, "audio", args.repeat, cpus)
            t_ours, t_ff = atimer(Job(names=AUDIO_SUITE)), atimer(Job(graph=AUDIO_FF["suite"]))
            rows.append(
                Row(
                    "audio",
                    "full DSP suite (9)",
                    "48k stereo",
                    cores,
                    len(chunks) / t_ours,
                    None,
                    "silencedetect+ebur128",
                    len(chunks) / t_ff,
                    seconds / t_ours,
                )
            )
            if cores == 1 and args.per_detector:
                for name in AUDIO_SUITE:
                    t_mine = atimer(Job(names=(name,)))
                    graph = AUDIO_FF.get(name)
                    ref = len(chunks) / atimer(Job(graph=graph)) if graph else None
                    label = {"silence": "silencedetect", "loudness": "ebur128 (peak=true)"}.get(name, "")
                    rows.append(Row("audio", name, "48k stereo", cores, len(chunks) / t_mine, None, label, ref, seconds / t_mine))
    print(
        "\nitems: decoded video frames, or 1024-sample audio chunks; x realtime: video at 60 fps, audio in seconds;"
        "\nin suite: the detector alone with the shared downscaled luma planes already computed (its cost inside the suite)"
    )
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
