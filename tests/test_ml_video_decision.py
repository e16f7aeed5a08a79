"""The block-corruption decision statistics: what each one says about a corruption map."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from detectors.training.video_train import N_STATS, frame_stats

ROW_SPREAD = N_STATS - 1


def _map(rows_flagged: slice, rows: int = 22, cols: int = 40) -> torch.Tensor:
    p = torch.full((1, 1, rows, cols), 0.02)
    p[0, 0, rows_flagged] = 0.95
    return p


def test_row_spread_separates_banded_damage_from_a_map_firing_everywhere() -> None:
    banded = frame_stats(_map(slice(11, None)))[0]  # damage from a lost slice on: the lower half
    everywhere = frame_stats(_map(slice(None)))[0]  # a texture misread on every row
    clean = frame_stats(_map(slice(0, 0)))[0]
    assert banded[ROW_SPREAD] == pytest.approx(0.5, abs=0.01)
    assert everywhere[ROW_SPREAD] < 0.01 and clean[ROW_SPREAD] < 0.01
    assert everywhere[2] > banded[2] > clean[2]  # while the flagged share alone ranks the texture first


def test_row_spread_has_a_gradient_on_a_uniform_map() -> None:
    p = _map(slice(None)).requires_grad_(True)
    frame_stats(p)[0, ROW_SPREAD].backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
