"""Judge block-corruption map sets on *selection* sources: pristine sources used for nothing but choosing maps.

Every member of the shipped average was kept because it raised the figures of the validation sources, and the
decision head and its threshold are fitted there too; a new map judged on those frames is compared with a set chosen
on the very frames it is judged on. Session 30 (reports/training/s30_rules.md, rule AY) found the two judges
disagreeing: rule AU's contrast-normalised map lowered the five maps' held-source recall on the validation sources
(0.739 against 0.757) but raised them here (frame F1 0.790 -> 0.816, clean-frame FPR 2.92 % -> 1.61 %), and on the
evaluation sources, once, too (F1 0.830 -> 0.847, FPR 0.604 % -> 0.361 %).

The judge does what the evaluation does, on other sources: the decision head is fitted on the validation frames'
statistics of the set's mean map (balanced classes), its threshold set at :data:`~detectors.training.video_train.TARGET_FPR`
of their clean frames, and each selection frame is judged on its own (no hold, no median); frame F1, precision,
recall and clean-frame FPR, with 95 % intervals from redrawing whole clips of each source.

    python -m detectors.training select-video --weights reports/training/block_map_20240611.pt --weights ...
    python -m detectors.training select-video --weights detectors/ml/models/block_corruption.onnx \
        --weights reports/training/block_map_20240640.pt      # the shipped maps and a new one, each one member

The shipped six read back from their ONNX (session 33: ``--weights detectors/ml/models/block_corruption.onnx`` alone,
3693 s on 2 cores including about 11 minutes building the caches) score what their saved maps did in session 32: frame
F1 0.8158, clean-frame FPR 1.605 % (118 of 7352), so a new map needs no retrained six to be judged against them. The
maps are computed by onnxruntime (:func:`~detectors.training.video_train.map_runner`); in torch until session 34,
which got the same figures to the last digit in 920 s with the caches built (maps of the 8221 validation frames 380 s,
of the 10944 selection frames 509 s). A new map from a fresh 2-core machine so takes about 2 h 20 min: the
environment 2 min, the training frames 5 min, one map about 1 h 50 min (``train-video --seed N``), the validation
and selection frames 11.5 min, this judge about 17 min for seven maps (estimated from its 920 s for six; the build
times are session 34's, the training time session 32's).

The sources are none of the training, validation or evaluation ones and none that a shipped map was trained on;
:func:`~detectors.training.video_train.photo_frames` (pans over the same photographs) must not train a map judged here.
These sources are harder than the evaluation's: the five maps flagged 2.9 % of their clean frames (grain_china 14.7 %,
pan_china 9.5 %) against 0.6 % there, so compare sets here, not with the evaluation's figures.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

import numpy as np
import torch

from detectors.training.progress import say
from detectors.training.video_clip_bootstrap import clip_bootstrap
from detectors.training.video_decision_cv import _fit
from detectors.training.video_sim import LabelledFrame
from detectors.training.video_sources import (
    VideoSource,
    lavfi_renderer,
    leaves_sources,
    photo_sources,
    text_renderer,
    ui_renderer,
)
from detectors.training.video_train import (
    SEED,
    TARGET_FPR,
    VALIDATION_CLEAN,
    VALIDATION_CLIPS,
    _cached_frames,
    _frame_stats,
    _frame_targets,
    _scores,
    build_frames,
    combined_net,
    validation_frames,
)

SELECTION_PHOTO_PANS = ("pan_china", "pan_flower", "pan_grace_hopper", "pan_aero", "pan_ascent", "grain_china")


def selection_sources() -> list[VideoSource]:
    """The 13 selection sources: pans over five photographs and one with film grain, two dead-leaves pans, two UI
    screens, two text layouts and one cellular automaton (rule 54)."""
    photos = {s.name: s for s in photo_sources()}
    out = [photos[name] for name in SELECTION_PHOTO_PANS]
    out += leaves_sources(2)
    out += [VideoSource(f"ui{k}", "ui", ui_renderer(k)) for k in (8, 10)]
    out += [VideoSource(f"text{k}", "text", text_renderer(k)) for k in (4, 5)]
    out.append(VideoSource("lavfi_cellauto54", "lavfi", lavfi_renderer("cellauto=rule=54:seed={seed}")))
    return out


def selection_frames() -> list[LabelledFrame]:
    """The labelled frames of :func:`selection_sources`, built as the validation frames are (damaged clips of 40
    frames, two clean encodes a source; build seed SEED + 3). The cache key carries a digest of the source list, so
    a changed list is built again."""
    digest = hashlib.sha256(inspect.getsource(selection_sources).encode()).hexdigest()[:8]
    key = f"selection{digest}_{VALIDATION_CLIPS}x40_clean{VALIDATION_CLEAN}"
    return _cached_frames(key, lambda: build_frames(selection_sources(), SEED + 3, VALIDATION_CLIPS, 40, 1, 0, VALIDATION_CLEAN))


def judge(
    val_stats: torch.Tensor,
    val_pos: np.ndarray,
    val_used: np.ndarray,
    sel_stats: torch.Tensor,
    sel_pos: np.ndarray,
    sel_used: np.ndarray,
    sel_follows: np.ndarray,
    sel_sources: np.ndarray,
    fpr: float = TARGET_FPR,
) -> dict[str, object]:
    """Frame figures on the selection frames of a head fitted on the validation frames' statistics and thresholded at
    ``fpr`` of their clean frames (``used`` and not positive); per source recall and FPR; clip bootstrap intervals."""
    head, mu, sd = _fit(val_stats[val_used], val_pos[val_used], 0)
    with torch.no_grad():
        zv = head((val_stats - mu) / sd)[:, 0].numpy()
        zs = head((sel_stats - mu) / sd)[:, 0].numpy()
    threshold = float(np.quantile(zv[val_used & ~val_pos], 1.0 - fpr))
    pred = zs > threshold
    pos, neg = sel_pos & sel_used, sel_used & ~sel_pos
    by_source = {}
    for name in sorted(set(sel_sources.tolist())):
        here = sel_sources == name
        by_source[name] = {
            "positives": int((pos & here).sum()),
            "recall": round(float(pred[pos & here].mean()), 4) if (pos & here).any() else None,
            "clean": int((neg & here).sum()),
            "fpr": round(float(pred[neg & here].mean()), 5) if (neg & here).any() else None,
        }
    return {
        "positives": int(pos.sum()),
        "clean": int(neg.sum()),
        **_scores(pred, pos, neg, sel_used),
        "false_positives": int((pred & neg).sum()),
        "validation_fpr_target": fpr,
        "clip_bootstrap": clip_bootstrap(pred, pos, neg, sel_follows, sel_sources),
        "by_source": by_source,
    }


def select_video(weights: list[Path]) -> dict[str, object]:
    """Judge the average of the maps at ``weights`` (one saved or exported model, or several: single maps, or
    averaging models whose members join one by one) on the selection sources; print the figures and write them to
    reports/training/video_selection.json."""
    net = combined_net(weights)
    validation, selection = validation_frames(), selection_frames()
    val_pos, val_used = _frame_targets(validation)
    sel_pos, sel_used = _frame_targets(selection)
    result = judge(
        _frame_stats(net, validation, "validation maps"), val_pos, val_used,
        _frame_stats(net, selection, "selection maps"), sel_pos, sel_used,
        np.array([f.prev is not None for f in selection]), np.array([f.source for f in selection]),
    )  # fmt: skip
    result = {"weights": [str(w) for w in weights], **result}
    boot = result["clip_bootstrap"]
    assert isinstance(boot, dict)
    say(
        f"selection sources ({result['positives']} positives, {result['clean']} clean frames): frame F1 {result['f1']} "
        f"(P {result['precision']}, R {result['recall']}), clean-frame FPR {result['fpr']:.3%} "
        f"({result['false_positives']} frames); clip bootstrap F1 {boot['f1_95']}, FPR {boot['fpr_95']}"
    )
    by_source = result["by_source"]
    assert isinstance(by_source, dict)
    for name, row in by_source.items():
        say(f"  {name:<18} recall {row['recall']} ({row['positives']}), FPR {row['fpr']} ({row['clean']})")
    out = Path("reports/training")
    out.mkdir(parents=True, exist_ok=True)
    (out / "video_selection.json").write_text(json.dumps(result, indent=2))
    return result
