"""Which map statistics the block-corruption decision should weigh, measured on the *validation* sources only.

The decision head (:func:`detectors.training.video_train.fit_decision`) is a logistic regression on
:func:`~detectors.training.video_train.frame_stats`. Fitted and thresholded on the same frames it
flatters every added statistic, so a statistic is judged here by cross-validation over sources: the
validation sources are split in two halves (``splits`` random source splits x 2 folds), a head is
fitted on one half's frames (standardised statistics, balanced classes, seeded) and the other half's
recall is read at :data:`~detectors.training.video_train.TARGET_FPR` of its own clean frames. The table
gives that recall with all statistics and with each one left out. A fold holds about 3000 clean frames,
so 0.2 % is 6 of them: compare means over several source splits (``split_seed``), not single folds.

    python -m detectors.training decision-cv --weights reports/training/video_run13_block_corruption.pt

A richer decision did not help (session 19, split seeds 3100 and 3200, the shipped average's maps): five more map
features (shares above 0.2 and 0.35, the top 5 % mean, the shares of rows and of columns with a flagged cell) lowered
the recall from 0.756 to 0.742 under the same logistic head, an MLP on them gave 0.737 and gradient-boosted trees 0.660.
Nor did a stream's history (session 30, rule AW, reports/training/s30_rules.md): the seven statistics' novelty, each
minus its minimum over the previous 24 frames of the stream, as seven more inputs lowered the recall of the five-map
average on split seeds 7500/7600 from 0.734 to 0.642 (0.632 and 0.596 over 12 and 48 frames).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from detectors.training.progress import say
from detectors.training.video_train import (
    STAT_NAMES,
    TARGET_FPR,
    _frame_stats,
    _frame_targets,
    combined_net,
    fit_logistic,
    validation_frames,
)


def _fit(stats: torch.Tensor, positive: np.ndarray, seed: int) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    head = nn.Linear(stats.shape[1], 1)
    mu, sd = stats.mean(0), stats.std(0) + 1e-6
    weight = np.where(positive, (~positive).sum() / max(positive.sum(), 1), 1.0).astype(np.float32)
    fit_logistic(head, (stats - mu) / sd, torch.from_numpy(positive.astype(np.float32)), torch.from_numpy(weight))
    return head, mu, sd


def fold_recalls(
    stats: torch.Tensor,
    positive: np.ndarray,
    used: np.ndarray,
    sources: np.ndarray,
    split_seed: int,
    splits: int = 3,
    fpr: float = TARGET_FPR,
) -> list[float]:
    """Recall at ``fpr`` clean-frame FPR of each held half (``splits`` x 2 folds) for a head on ``stats``."""
    names = sorted(set(sources.tolist()))
    out = []
    for split in range(splits):
        order = np.random.default_rng(split_seed + split).permutation(names)
        halves = [set(order[: len(order) // 2]), set(order[len(order) // 2 :])]
        for fold in range(2):
            fit_part = np.isin(sources, list(halves[fold])) & used
            held = np.isin(sources, list(halves[1 - fold])) & used
            head, mu, sd = _fit(stats[fit_part], positive[fit_part], split * 2 + fold)
            with torch.no_grad():
                z = head((stats[held] - mu) / sd)[:, 0].numpy()
            threshold = np.quantile(z[~positive[held]], 1.0 - fpr)
            out.append(float((z[positive[held]] > threshold).mean()))
    return out


def decision_cv(weights: list[Path], split_seed: int = 100, mirror: bool = False) -> dict[str, dict[str, object]]:
    """Print and return the cross-validated recall with all statistics and with each one left out (of the average of
    several maps with more than one ``weights`` or ``mirror``, :func:`~detectors.training.video_train.combined_net`)."""
    net = combined_net(weights, mirror)
    frames = validation_frames()
    positive, used = _frame_targets(frames)
    sources = np.array([f.source for f in frames])
    stats = _frame_stats(net, frames, "validation maps")
    rows = {"all statistics": list(range(len(STAT_NAMES)))}
    rows.update({f"without {name}": [j for j in range(len(STAT_NAMES)) if j != i] for i, name in enumerate(STAT_NAMES)})
    result: dict[str, dict[str, object]] = {}
    models = ", ".join(map(str, weights)) + (" (mirrored too)" if mirror else "")
    say(f"{models}: recall at {TARGET_FPR:.1%} clean-frame FPR on held validation sources (source splits {split_seed}+)")
    for label, cols in rows.items():
        recalls = fold_recalls(stats[:, cols], positive, used, sources, split_seed)
        result[label] = {"mean": round(float(np.mean(recalls)), 4), "folds": [round(r, 4) for r in recalls]}
        say(f"  {label:<24} mean {np.mean(recalls):.3f}  worst {np.min(recalls):.3f}  folds {np.round(recalls, 3).tolist()}")
    return result
