"""The block-corruption decision statistics: what each one says about a corruption map."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from detectors.training.video_train import N_STATS, STAT_NAMES, frame_stats

ROW_SPREAD, STEP = STAT_NAMES.index("row_spread"), STAT_NAMES.index("step")


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


def test_step_marks_damage_reaching_down_from_a_row() -> None:
    from_row = frame_stats(_map(slice(15, None)))[0, STEP]  # concealed from a lost packet to the end of the frame
    mid_patch = frame_stats(_map(slice(8, 14)))[0, STEP]  # a band in the middle: no step down to the end
    everywhere = frame_stats(_map(slice(None)))[0, STEP]
    clean = frame_stats(_map(slice(0, 0)))[0, STEP]
    assert frame_stats(_map(slice(0, 0))).shape == (1, N_STATS)
    assert from_row == pytest.approx(1.0, abs=0.01)  # every row below flagged, none above
    assert everywhere < 0.01 and clean < 0.01
    assert 0.0 < mid_patch < 0.6 * from_row


def test_step_equals_a_direct_computation_and_has_a_gradient() -> None:
    p = torch.rand(3, 1, 23, 40, generator=torch.Generator().manual_seed(4)).requires_grad_(True)
    got = frame_stats(p)[:, STEP]
    rows = torch.sigmoid((p.detach() - 0.5) * 40.0).mean(dim=3)[:, 0]
    want = [max(float(r[k:].mean() - r[:k].mean()) for k in range(1, 23)) for r in rows]
    assert got.detach().tolist() == pytest.approx(want, abs=1e-5)
    got.sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
