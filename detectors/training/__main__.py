"""``python -m detectors.training {train-audio,export-audio,validate-audio,evaluate-audio,train-video,calibrate-video,decision-cv,select-video,validate-video,evaluate-video,look-video,score-look,all}``.

Regenerates the simulated data from the pristine sources (fixed seeds), trains, exports the
ONNX models into ``detectors/ml/models`` (with sha256) and prints the evaluation tables.
Results are also written as JSON to ``reports/training/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detectors.training", description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        choices=(
            "train-audio",
            "export-audio",
            "validate-audio",
            "evaluate-audio",
            "train-video",
            "calibrate-video",
            "decision-cv",
            "select-video",
            "validate-video",
            "evaluate-video",
            "look-video",
            "score-look",
            "all",
        ),
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch CPU threads (default 2; use 1 when two trainings share 2 cores)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller data and fewer epochs (smoke run, numbers not representative)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="train-audio: train only the ensemble member with this seed and save its weights (export-audio combines them); "
        "train-video: train only the map with this seed and save it (calibrate-video --weights A --weights B averages maps)",
    )
    parser.add_argument(
        "--arch",
        default=None,
        choices=("narrow", "wide"),
        help="train-video: backbone size, narrow or wide (default: video_train.ARCH)",
    )
    parser.add_argument(
        "--clips",
        type=int,
        default=None,
        help="train-video: damaged training clips a source (default: each map's own, video_train.map_data)",
    )
    parser.add_argument(
        "--clean",
        type=int,
        default=None,
        help="train-video: frames of each of the two clean training encodes a source (default: each map's own)",
    )
    parser.add_argument(
        "--evidence-only",
        action="store_true",
        help="train-video --seed: train the map with its flat damaged interiors left out of the loss "
        "(video_sim.evidence_only; session 19's map X: --seed 20240611 --evidence-only)",
    )
    parser.add_argument(
        "--augment",
        action="store_true",
        help="train-video: train the maps on crops with random gain, offset and luma noise (video_train._photometric)",
    )
    parser.add_argument(
        "--high-pass",
        action="store_true",
        help="train-video --seed: train a map that sees each plane minus its Gaussian blur "
        "(video_train.CorruptionNet high_pass; rule AP's map: --seed 20240629 --high-pass)",
    )
    parser.add_argument(
        "--contrast-norm",
        action="store_true",
        help="train-video --seed --high-pass: divide each high-passed plane by its local RMS "
        "(video_train.CorruptionNet contrast_norm; rule AU's map: --seed 20240634 --high-pass --contrast-norm)",
    )
    parser.add_argument(
        "--weights",
        type=Path,
        action="append",
        default=None,
        help="calibrate-video, decision-cv, select-video: saved block corruption weights, or an exported .onnx model (default: the last "
        "train-video run's); given more than once, the maps are averaged, every member of an averaging model (the shipped "
        "detectors/ml/models/block_corruption.onnx among them) counting as one map",
    )
    parser.add_argument(
        "--mirror",
        action="store_true",
        help="calibrate-video, decision-cv: also average each map over the mirrored frame",
    )
    parser.add_argument(
        "--split-seed",
        type=int,
        default=100,
        help="decision-cv: seed of the first random split of the validation sources (default 100)",
    )
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        help="evaluate-video: the detector's hold_decision instead of its default (see validate-video)",
    )
    parser.add_argument(
        "--hold-fall",
        type=float,
        default=None,
        help="evaluate-video: the detector's hold_fall instead of its default (see validate-video)",
    )
    parser.add_argument(
        "--no-hold",
        action="store_true",
        help="evaluate-video: the detector without a hold (every frame needs min_decision)",
    )
    parser.add_argument(
        "--look",
        type=Path,
        default=Path("reports/training/look"),
        help="look-video, score-look: the folder of a blind look at validation frames (video_look; default "
        "reports/training/look)",
    )
    parser.add_argument("--positives", type=int, default=48, help="look-video: labelled positives to draw (default 48)")
    parser.add_argument("--negatives", type=int, default=16, help="look-video: clean frames to draw (default 16)")
    parser.add_argument("--sample-seed", type=int, default=19, help="look-video: seed of the draw (default 19)")
    parser.add_argument(
        "--sources", default=None, help="look-video: draw only from these validation sources (comma-separated names)"
    )
    args = parser.parse_args(argv)
    if args.evidence_only and (args.command != "train-video" or args.seed is None):
        parser.error("--evidence-only trains one map: use it with train-video --seed N")
    if args.high_pass and (args.command != "train-video" or args.seed is None):
        parser.error("--high-pass trains one map: use it with train-video --seed N")
    if args.contrast_norm and not args.high_pass:
        parser.error("--contrast-norm normalises the high-passed planes: use it with train-video --seed N --high-pass")
    if args.augment and args.command not in ("train-video", "all"):
        parser.error("--augment is a training option: use it with train-video or all")
    given_hold = args.no_hold or args.hold is not None or args.hold_fall is not None
    if given_hold and args.command != "evaluate-video":
        parser.error("--hold, --hold-fall and --no-hold set the detector's hold for evaluate-video only")
    if args.no_hold and (args.hold is not None or args.hold_fall is not None):
        parser.error("--no-hold cannot be given with --hold or --hold-fall")
    if args.command in ("look-video", "score-look"):
        return _look(args)
    weights = args.weights or [Path("reports/training/block_corruption.pt")]
    import torch

    torch.set_num_threads(max(1, args.threads))
    out = Path("reports/training")
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {}
    t0 = time.perf_counter()
    if args.command in ("train-audio", "all"):
        from detectors.training import audio_train

        size: dict[str, Any] = {"per_class_train": 300, "epochs": 2, "source_s": 30.0} if args.quick else {}
        if args.seed is not None and args.command == "train-audio":
            audio_train.train_member(args.seed, **size)
        else:
            results["audio"] = audio_train.train_audio(**size)
    if args.command == "export-audio":
        from detectors.training.audio_train import export_audio

        results["audio"] = export_audio()
    if args.command == "validate-audio":
        from detectors.training.audio_train import validate_audio

        validate_audio(**({"per_class": 40, "hours": 0.05, "streams_per_case": 2} if args.quick else {}))
    if args.command == "evaluate-audio":
        from detectors.training.audio_train import evaluate_audio

        results["audio"] = evaluate_audio(**({"per_class": 100, "hours": 0.05} if args.quick else {}))
    if args.command in ("train-video", "all"):
        from detectors.training.video_train import train_video

        results["video"] = train_video(
            quick=args.quick,
            only_seed=args.seed if args.command == "train-video" else None,
            **({"evidence": True} if args.evidence_only else {}),
            **({"augment": True} if args.augment else {}),
            **({"high_pass": True} if args.high_pass else {}),
            **({"contrast_norm": True} if args.contrast_norm else {}),
            **({"arch": args.arch} if args.arch else {}),
            **({"clips": args.clips} if args.clips is not None else {}),
            **({"clean": args.clean} if args.clean is not None else {}),
        )
    if args.command == "calibrate-video":
        from detectors.training.video_train import calibrate_video

        results["video_calibration"] = calibrate_video(weights, args.mirror)
    if args.command == "decision-cv":
        from detectors.training.video_decision_cv import decision_cv

        results["video_decision_cv"] = decision_cv(weights, args.split_seed, args.mirror)
    if args.command == "select-video":
        from detectors.training.video_selection import select_video

        results["video_selection"] = select_video(weights)
    if args.command == "validate-video":
        from detectors.training.video_train import validate_video, validation_frames

        validate_video(validation_frames(quick=args.quick))
    if args.command == "evaluate-video":
        from detectors.training.video_train import evaluate_video

        hold: dict[str, float | None] = {"hold_decision": None, "hold_fall": None} if args.no_hold else {}
        if args.hold is not None:
            hold["hold_decision"] = args.hold
        if args.hold_fall is not None:
            hold["hold_fall"] = args.hold_fall
        results["video"] = evaluate_video(quick=args.quick, **hold)
    for key, value in results.items():
        (out / f"{key}_evaluation.json").write_text(json.dumps(value, indent=2) + "\n")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "confusion"} for k, v in results.items()}, indent=2))  # type: ignore[union-attr]
    print(f"wall time {time.perf_counter() - t0:.1f} s")
    return 0


def _look(args: argparse.Namespace) -> int:
    """look-video / score-look (detectors.training.video_look) on the validation frames (built by video_train)."""
    from detectors.training import video_look
    from detectors.training.video_sim import LabelledFrame

    def frames() -> list[LabelledFrame]:
        from detectors.training.video_train import validation_frames  # the cached validation frames

        return validation_frames()

    if args.command == "look-video":
        try:
            video_look.refuse_used(args.look)  # before minutes of data building
        except FileExistsError as exc:
            raise SystemExit(str(exc)) from None
        sources = [s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None
        key = video_look.write_look(frames(), args.look, args.positives, args.negatives, args.sample_seed, sources)
        print(
            f"wrote {len(key)} pictures to {args.look}; judge each one alone into {args.look / video_look.JUDGMENTS_FILE} "
            f"('NN V note' or 'NN N note' per line) without opening {video_look.KEY_FILE}, then run score-look"
        )
        return 0
    if not (args.look / video_look.KEY_FILE).exists():
        raise SystemExit(f"{args.look / video_look.KEY_FILE}: no look here; write one with look-video first")
    result = video_look.score_look(frames(), args.look)
    (args.look / "score.json").write_text(json.dumps(result, indent=1) + "\n")
    for r in result["pictures"]:  # type: ignore[attr-defined]
        print(
            f"{r['picture']:02d} frame {r['frame']:5d} {r['source']:22s} area {r['area_ratio']:.3f} "
            f"{'positive' if r['positive'] else 'clean   '} seen {'V' if r['seen'] else 'N'} flagged {int(r['flagged'])}"
        )
    print(json.dumps({k: v for k, v in result.items() if k != "pictures"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
