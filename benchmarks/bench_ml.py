"""Learned detectors benchmark (not a test): speed of block_corruption on 1080p and audio_artifacts, model sizes.

    python benchmarks/bench_ml.py                 # both detectors, defaults below
    python benchmarks/bench_ml.py --frames 200 --threads 2 --audio-s 600 --repeats 5

block_corruption: synthetic 1080p I420 frames (a moving picture, so no cache helps) fed one
by one through the detector (resize to the 640x360 analysis size + onnxruntime), in frames
per second of wall time, next to the baseline of FFmpeg's blockdetect (through PyAV) on the same frames, the
DSP measure the accuracy table compares with. audio_artifacts: programme-like 48 kHz stereo audio fed in 20 ms
chunks (resampled once to 16 kHz, log-mel and waveform statistics, onnxruntime; 1 s segments
every 0.5 s), as a multiple of real time, next to the baseline of the four DSP detectors it
complements (hum, hiss, clipping, clicks) fed the same chunks. Each detector is timed
``--repeats`` times; the median is reported, every run listed. Prints one JSON object; targets:
>= 25 frames/s at 1080p on 2 cores, >= 100x real time, models together < 20 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_video(frames: int, threads: int) -> dict[str, float]:
    import cv2

    from detectors.media import Frame
    from detectors.video.block_corruption import BlockCorruptionDetector

    h, w = 1080, 1920
    yy, xx = np.mgrid[0:h, 0:w]
    base = ((xx // 3 + yy // 5) % 256).astype(np.uint8)
    pics = []
    for i in range(8):
        bgr = np.dstack([np.roll(base, 17 * i, 1), np.roll(base, 9 * i, 0), np.roll(base, 5 * i, 1)])
        pics.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420))
    det = BlockCorruptionDetector(BlockCorruptionDetector.Params(threads=threads))
    det.feed(Frame(0, 0.0, pics[0]))  # load the session outside the timing
    t0 = time.perf_counter()
    for i in range(frames):
        det.feed(Frame(i + 1, (i + 1) / 25, pics[i % 8]))
    det.flush()
    dt = time.perf_counter() - t0
    dt_dsp = _blockdetect_seconds([Frame(i + 1, (i + 1) / 25, pics[i % 8]) for i in range(frames)])
    return {
        "frames": frames,
        "seconds": round(dt, 3),
        "fps_1080p": round(frames / dt, 1),
        "baseline_ffmpeg_blockdetect_fps_1080p": round(frames / dt_dsp, 1),
        "ratio_vs_baseline": round(dt_dsp / dt, 2),
        "threads": threads,
    }


def _blockdetect_seconds(frames: list[Any]) -> float:
    """Wall time of FFmpeg's blockdetect (through PyAV, the DSP baseline the accuracy table reports too) on the same
    1080p frames; converting them to PyAV frames is not timed, as the detector's own input needs no conversion."""
    from detectors.ffmpeg_reference import run_video_graph, to_av_frames

    av_frames = to_av_frames(frames)
    t0 = time.perf_counter()
    out = run_video_graph(av_frames, "blockdetect")
    dt = time.perf_counter() - t0
    if len(out) != len(frames):
        raise RuntimeError(f"blockdetect returned {len(out)} frames for {len(frames)}")
    return dt


def _programme_48k(seconds: float) -> np.ndarray:
    """Programme-like stereo at 48 kHz: harmonic notes with envelopes, a breathy noise bed, a quiet pause each 7 s."""
    rate = 48000
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f = 220 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9], n // (rate // 4) + 1).repeat(rate // 4)[:n] / 12)
    x = sum(np.sin(2 * np.pi * np.cumsum(f * h) / rate) / h for h in (1, 2, 3)) * 0.15
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t)
    x *= (t % 7.0) < 6.0
    x += 0.003 * rng.standard_normal(n)
    return np.stack([x, 0.8 * x], 1).astype(np.float32)


def _feed_all(detectors: list[object], stereo: np.ndarray, rate: int) -> float:
    from detectors.media import AudioChunk

    size = rate // 50  # 20 ms chunks, as a capture delivers them
    t0 = time.perf_counter()
    for i in range(0, stereo.shape[0], size):
        chunk = AudioChunk(pts_s=i / rate, sample_rate_hz=rate, samples=stereo[i : i + size], start_sample=i)
        for d in detectors:
            d.feed(chunk)  # type: ignore[attr-defined]
    for d in detectors:
        d.flush()  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def bench_audio(seconds: float, threads: int) -> dict[str, object]:
    """audio_artifacts on 48 kHz stereo, against the DSP detectors it complements (hum, hiss, clipping, clicks) as baseline."""
    from detectors.audio.audio_artifacts import AudioArtifactsDetector
    from detectors.base import create

    rate = 48000
    stereo = _programme_48k(seconds)
    params = AudioArtifactsDetector.Params(threads=threads)
    _feed_all([AudioArtifactsDetector(params)], stereo[: 2 * rate], rate)  # session, imports, filter design: not timed
    det = AudioArtifactsDetector(params)
    dt = _feed_all([det], stereo, rate)
    dsp = [create(name) for name in ("hum", "hiss", "clipping", "clicks")]
    dt_dsp = _feed_all(dsp, stereo, rate)
    return {
        "input": f"{seconds:g} s of 48 kHz stereo programme in 20 ms chunks",
        "seconds": round(dt, 3),
        "realtime_factor": round(seconds / dt, 1),
        "baseline_dsp_hum_hiss_clipping_clicks_realtime_factor": round(seconds / dt_dsp, 1),
        "ratio_vs_baseline": round(dt_dsp / dt, 2),
        "segments": len(det.segment_metrics),
        "threads": threads,
    }


def repeated(runs: list[dict[str, Any]], *figures: str) -> dict[str, Any]:
    """The first run's record with each named figure replaced by its median over the runs, every run's value
    listed next to it (``<figure>_runs``): on a shared 2-core machine one run can be off by 20 %."""
    out = dict(runs[0])
    for name in figures:
        values = [r[name] for r in runs]
        out[name] = round(float(np.median(values)), 2)
        out[f"{name}_runs"] = values
    out["repeats"] = len(runs)
    return out


def model_sizes() -> dict[str, object]:
    from importlib import resources

    folder = resources.files("detectors.ml").joinpath("models")
    out: dict[str, object] = {}
    total = 0
    for name in ("audio_artifacts", "block_corruption"):
        data = folder.joinpath(f"{name}.onnx").read_bytes()
        total += len(data)
        out[name] = {"bytes": len(data), "sha256": folder.joinpath(f"{name}.sha256").read_text().split()[0]}
    out["total_mb"] = round(total / 1e6, 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="1080p frames to time (default 150)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads for block_corruption (default 2)")
    parser.add_argument("--audio-threads", type=int, default=1, help="onnxruntime threads for audio_artifacts (default 1)")
    parser.add_argument("--audio-s", type=float, default=300.0, help="seconds of audio to time (default 300)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each detector; the median is reported (default 3)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    load_before = os.getloadavg()[0]
    video = repeated(
        [bench_video(args.frames, args.threads) for _ in range(args.repeats)],
        "seconds",
        "fps_1080p",
        "baseline_ffmpeg_blockdetect_fps_1080p",
    )
    video["ratio_vs_baseline"] = round(video["fps_1080p"] / video["baseline_ffmpeg_blockdetect_fps_1080p"], 2)
    audio = repeated(
        [bench_audio(args.audio_s, args.audio_threads) for _ in range(args.repeats)],
        "seconds",
        "realtime_factor",
        "baseline_dsp_hum_hiss_clipping_clicks_realtime_factor",
    )
    # the ratio of the two medians (a median of per-run ratios would not match the figures printed next to it)
    audio["ratio_vs_baseline"] = round(
        audio["realtime_factor"] / audio["baseline_dsp_hum_hiss_clipping_clicks_realtime_factor"], 2
    )
    result = {
        "cpus": os.cpu_count(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "block_corruption": video,
        "audio_artifacts": audio,
        "models": model_sizes(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
