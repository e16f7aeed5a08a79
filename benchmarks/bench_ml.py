"""Learned detectors benchmark (not a test): speed of block_corruption on 1080p and audio_artifacts, model sizes.

    python benchmarks/bench_ml.py                 # both detectors, defaults below
    python benchmarks/bench_ml.py --frames 200 --threads 2 --audio-s 600

block_corruption: synthetic 1080p I420 frames (a moving picture, so no cache helps) fed one
by one through the detector (resize to the 640x360 analysis size + onnxruntime), in frames
per second of wall time. audio_artifacts: programme-like 48 kHz stereo audio fed in 20 ms
chunks (resampling to 16 kHz, log-mel, onnxruntime; 1 s segments every 0.5 s), as a multiple
of real time. Prints one JSON object; targets: >= 25 frames/s at 1080p on 2 cores,
>= 100x real time, models together < 20 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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
    return {"frames": frames, "seconds": round(dt, 3), "fps_1080p": round(frames / dt, 1), "threads": threads}


def bench_audio(seconds: float, threads: int) -> dict[str, float]:
    from detectors.audio.audio_artifacts import AudioArtifactsDetector
    from detectors.media import AudioChunk

    rate = 48000
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    x = (
        0.2 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t)) + 0.01 * rng.standard_normal(t.size)
    ).astype(np.float32)
    stereo = np.stack([x, x], 1)
    det = AudioArtifactsDetector(AudioArtifactsDetector.Params(threads=threads))
    det.classify(np.zeros((1, 1, 64, 94), np.float32))  # load the session outside the timing
    size = rate // 50
    t0 = time.perf_counter()
    for i in range(0, stereo.shape[0], size):
        det.feed(AudioChunk(pts_s=i / rate, sample_rate_hz=rate, samples=stereo[i : i + size], start_sample=i))
    det.flush()
    dt = time.perf_counter() - t0
    return {"audio_s": seconds, "seconds": round(dt, 3), "realtime_factor": round(seconds / dt, 1), "threads": threads}


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
    args = parser.parse_args()
    result = {
        "cpus": os.cpu_count(),
        "block_corruption": bench_video(args.frames, args.threads),
        "audio_artifacts": bench_audio(args.audio_s, args.audio_threads),
        "models": model_sizes(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
