"""Confidence intervals of a detector's frame figures when the evaluation clips are drawn again (numpy only, so the
tests run it without the ``train`` extra)."""

from __future__ import annotations

import numpy as np

BOOTSTRAP_RESAMPLES = 2000


def clip_bootstrap(
    pred: np.ndarray, pos: np.ndarray, neg: np.ndarray, follows: np.ndarray, sources: np.ndarray, seed: int = 0
) -> dict[str, list[float]]:
    """95 % intervals of frame F1 and clean-frame FPR when the clips are drawn again: streams (a new one where a frame
    does not follow the one before) resampled with replacement within each source, :data:`BOOTSTRAP_RESAMPLES` times.
    Frames of a clip are not independent (a false entry is held, damage lasts until the intra refresh), so a few
    clips can move the rate (session 25); a frame bootstrap would give intervals far too narrow."""
    starts = ~follows
    starts[0] = True  # the first frame starts a stream whatever it follows
    stream = np.cumsum(starts) - 1
    counts = np.zeros((int(stream[-1]) + 1, 4))  # per stream: true positives, false positives, missed, clean frames
    for col, mask in enumerate((pred & pos, pred & neg, ~pred & pos, neg)):
        np.add.at(counts[:, col], stream[mask], 1)
    source_of = sources[np.searchsorted(stream, np.arange(len(counts)))]
    rng = np.random.default_rng(seed)
    total = np.zeros((BOOTSTRAP_RESAMPLES, 4))
    for name in np.unique(source_of):
        rows = np.flatnonzero(source_of == name)
        total += counts[rows[rng.integers(0, len(rows), (BOOTSTRAP_RESAMPLES, len(rows)))]].sum(1)
    tp, fp, fn, clean = total.T
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    fpr = fp / np.maximum(clean, 1)
    return {
        "f1_95": [round(float(v), 4) for v in np.percentile(f1, [2.5, 97.5])],
        "fpr_95": [round(float(v), 5) for v in np.percentile(fpr, [2.5, 97.5])],
    }
