"""decision-cv: cross-validated recall over validation sources, with each map statistic left out."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from detectors.training.video_decision_cv import fold_recalls


def _frames(seed: int = 0) -> tuple[torch.Tensor, np.ndarray, np.ndarray, np.ndarray]:
    """8 sources x 600 frames: statistic 0 separates damaged frames from clean ones, statistic 1 is noise."""
    rng = np.random.default_rng(seed)
    sources = np.repeat([f"src{i}" for i in range(8)], 600)
    positive = rng.random(sources.size) < 0.3
    informative = np.where(positive, rng.normal(3.0, 0.5, sources.size), rng.normal(0.0, 0.5, sources.size))
    noise = rng.normal(0.0, 1.0, sources.size)
    stats = torch.tensor(np.column_stack([informative, noise]), dtype=torch.float32)
    return stats, positive, np.ones(sources.size, bool), sources


def test_an_informative_statistic_gives_recall_and_noise_does_not() -> None:
    stats, positive, used, sources = _frames()
    both = fold_recalls(stats, positive, used, sources, split_seed=1, splits=2, fpr=0.01)
    noise_only = fold_recalls(stats[:, 1:], positive, used, sources, split_seed=1, splits=2, fpr=0.01)
    assert len(both) == 4
    assert min(both) > 0.9 and max(noise_only) < 0.1


def test_frames_left_out_of_the_targets_are_not_scored() -> None:
    stats, positive, used, sources = _frames()
    wrong = ~positive  # frames excluded (used False) with the opposite label must not change the result
    stats2 = torch.cat([stats, stats[:100]])
    positive2 = np.concatenate([positive, wrong[:100]])
    used2 = np.concatenate([used, np.zeros(100, bool)])
    sources2 = np.concatenate([sources, sources[:100]])
    a = fold_recalls(stats, positive, used, sources, split_seed=3, splits=1, fpr=0.01)
    b = fold_recalls(stats2, positive2, used2, sources2, split_seed=3, splits=1, fpr=0.01)
    assert a == pytest.approx(b, abs=1e-6)
