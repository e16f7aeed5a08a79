"""Training-tools benchmark (not a test): the block-corruption maps of the shipped model computed for judging and
calibrating (``detectors.training.video_train.map_runner``: the net exported in memory, run by onnxruntime) against the
baseline of the same net in torch, on the same frames in the same run.

    python benchmarks/bench_training_maps.py                    # 16 frames a batch, 3 batches, 3 repeats
    python benchmarks/bench_training_maps.py --batches 5 --repeats 5

Input: random frame inputs at the analysis size (3 x 360 x 640, as ``frame_input`` gives them), in batches of 16 as
``_frame_stats`` feeds them. Both run on torch's thread count (its default: the machine's cores). Each is timed
``--repeats`` times over the same batches, in alternating order; the median frames per second is printed with every
run, the ratio of the medians and the largest difference of a cell probability. Needs the ``train`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from detectors.training.video_train import load_net, map_runner

    net = load_net(ROOT / "detectors/ml/models/block_corruption.onnx")
    run = map_runner(net)
    rng = np.random.default_rng(0)
    batches = [rng.uniform(-1, 1, (16, 3, 360, 640)).astype(np.float32) for _ in range(args.batches)]
    frames = 16 * len(batches)
    with torch.no_grad():
        run(batches[0][:2]), net.probabilities(torch.from_numpy(batches[0][:2]))  # warm both up outside the clock
        runs: dict[str, list[float]] = {"torch": [], "onnxruntime": []}
        diff = 0.0
        load = [os.getloadavg()[0]]
        out: dict[str, list[np.ndarray]] = {}
        for k in range(args.repeats):  # the order alternates, so neither always runs on a machine the other warmed
            for name in ("torch", "onnxruntime") if k % 2 == 0 else ("onnxruntime", "torch"):
                t0 = time.perf_counter()
                if name == "torch":
                    out[name] = [net.probabilities(torch.from_numpy(b)).numpy() for b in batches]
                else:
                    out[name] = [run(b) for b in batches]
                runs[name].append(frames / (time.perf_counter() - t0))
            pairs = zip(out["torch"], out["onnxruntime"], strict=True)
            diff = max(diff, *(float(np.abs(w - g).max()) for w, g in pairs))
        load.append(os.getloadavg()[0])
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(
        json.dumps(
            {
                "maps": len(getattr(net, "members", [net])),
                "frames_per_run": frames,
                "threads": torch.get_num_threads(),  # torch's, and onnxruntime's (map_runner gives it the same)
                "fps_median": {k: round(v, 2) for k, v in median.items()},
                "fps_runs": {k: [round(x, 2) for x in v] for k, v in runs.items()},
                "onnxruntime_over_torch": round(median["onnxruntime"] / median["torch"], 2),
                "max_abs_diff": diff,
                "load_average_before_after": load,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
