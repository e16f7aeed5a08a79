"""Defect simulation: every simulated audio/video defect is what its label says (measured on the result)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.ml.features import AUDIO_RATE_HZ as SR
from detectors.training.audio_sim import CLASSES, HUM_RATIO_DB, add_clicks, add_distortion, add_hiss, add_hum, apply_defect
from detectors.training.video_sim import CELL_DIFF_LEVELS, cell_map, corrupt_bitstream, corrupted_cells, simulate_corruption


def programme(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    x = 0.3 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.05 * rng.standard_normal(SR)
    return x.astype(np.float32)


def level_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))))


@pytest.mark.parametrize("seed", range(6))
def test_hum_is_mains_harmonics_at_the_claimed_level(seed: int) -> None:
    x = programme(seed)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    y, d = add_hum(x, np.random.default_rng(seed), rms)
    assert d.kind == "hum" and d.label == CLASSES.index("hum")
    hum = y.astype(np.float64) - x
    assert level_db(hum) - 20 * np.log10(d.params["reference_rms"]) == pytest.approx(d.params["ratio_db"], abs=0.2)
    spec = np.abs(np.fft.rfft(hum * np.hanning(hum.size)))
    peak_hz = float(np.argmax(spec))  # 1 Hz bins
    f0 = d.params["f0_hz"]
    assert min(abs(peak_hz - k * f0) for k in range(1, d.params["harmonics"] + 1)) <= 2.0
    assert d.params["mains_hz"] in (50.0, 60.0)


@pytest.mark.parametrize("seed", range(6))
def test_hiss_is_broadband_noise_at_the_claimed_level(seed: int) -> None:
    x = programme(seed)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    y, d = add_hiss(x, np.random.default_rng(seed), rms)
    noise = y.astype(np.float64) - x
    assert level_db(noise) - 20 * np.log10(d.params["reference_rms"]) == pytest.approx(d.params["ratio_db"], abs=0.2)
    spec = np.abs(np.fft.rfft(noise)) ** 2
    bands = [spec[a:b].sum() for a, b in ((100, 1000), (1000, 4000), (4000, 7900))]
    assert sum(b > 1e-4 * sum(bands) for b in bands) >= 2  # energy spread over the band, not a tone


@pytest.mark.parametrize("seed", range(9))
def test_distortion_keeps_loudness_and_does_what_it_says(seed: int) -> None:
    x = programme(seed)
    y, d = add_distortion(x, np.random.default_rng(seed), 0.2)
    assert level_db(y) == pytest.approx(level_db(x), abs=0.1)  # loudness does not give it away
    err = y.astype(np.float64) / np.sqrt(np.mean(y.astype(np.float64) ** 2)) - x / np.sqrt(np.mean(x.astype(np.float64) ** 2))
    assert np.sqrt(np.mean(err**2)) > 0.01
    if d.params["type"] == "hard_clip":
        top = np.abs(y).max()
        assert np.mean(np.abs(y) >= top * 0.9999) >= 0.5 * d.params["clipped_fraction"] * 0.5
    elif d.params["type"] == "bitcrush":
        assert np.unique(np.round(y, 6)).size <= 2 ** d.params["bits"] + 1


@pytest.mark.parametrize("seed", range(6))
def test_clicks_are_where_the_label_says(seed: int) -> None:
    x = programme(seed)
    y, d = add_clicks(x, np.random.default_rng(seed), 0.2, 0.5)
    diff = np.abs(y.astype(np.float64) - x)
    changed = np.flatnonzero(diff > 1e-6)
    pos = np.asarray(d.params["positions"])
    assert len(pos) >= 1
    # every changed sample lies within 5 ms after a claimed position, and every position changed something
    assert all(((c - pos >= 0) & (c - pos < 0.006 * SR)).any() for c in changed)
    assert all(diff[p : p + 81].max() > 0.01 for p in pos)


def test_hum_level_range_is_the_documented_one_unless_a_training_range_is_given() -> None:
    x = programme(3)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    default = [apply_defect("hum", x, np.random.default_rng(s), rms, 0.5)[1].params["ratio_db"] for s in range(40)]
    assert all(HUM_RATIO_DB[0] <= r <= HUM_RATIO_DB[1] for r in default)
    for seed in range(6):
        y, d = apply_defect("hum", x, np.random.default_rng(seed), rms, 0.5, hum_ratio_db=(-28.0, -27.0))
        assert -28.0 <= d.params["ratio_db"] <= -27.0
        hum = y.astype(np.float64) - x  # the label is the level actually added
        assert level_db(hum) - 20 * np.log10(d.params["reference_rms"]) == pytest.approx(d.params["ratio_db"], abs=0.2)


def test_apply_defect_none_is_identity_and_unknown_is_rejected() -> None:
    x = programme()
    y, d = apply_defect("none", x, np.random.default_rng(0), 0.2, 0.5)
    assert d.kind == "none" and np.array_equal(y, x)
    with pytest.raises(ValueError, match="unknown audio defect"):
        apply_defect("crackle", x, np.random.default_rng(0), 0.2, 0.5)


def moving_frames(n: int, w: int = 320, h: int = 192) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    return [
        np.stack([(xx * 2 + 5 * i) % 256, (yy * 3 + 2 * i) % 256, ((xx + yy) + 7 * i) % 256], -1).astype(np.uint8)
        for i in range(n)
    ]


def test_simulated_video_corruption_mask_matches_the_change() -> None:
    rng = np.random.default_rng(3)
    frames = moving_frames(2)
    for _ in range(5):
        bad, mask, params = simulate_corruption(frames[1], frames[0], rng, mb_px=16)
        changed = np.abs(bad.astype(np.int16) - frames[1]).max(axis=2) > 0
        assert mask.any() and not (changed & ~mask).any()  # nothing changed outside the claimed area
        assert set(params["kinds"]) <= {"displaced", "flat", "smear", "mc_garbage"}


def test_cell_scores_call_visible_damage_and_not_small_drift() -> None:
    import cv2

    from detectors.training.video_sim import SHIFT_PX, cell_scores

    rng = np.random.default_rng(5)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (192, 320, 3)).astype(np.uint8), (0, 0), 3)
    bgr = cv2.normalize(bgr, None, 0, 255, cv2.NORM_MINMAX)
    clean = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    drift = cv2.warpAffine(bgr, np.float32([[1, 0, SHIFT_PX - 2], [0, 1, -2]]), (320, 192), borderMode=cv2.BORDER_REFLECT)
    assert cell_scores(clean, clean).max() == 0.0
    assert cell_scores(clean, cv2.cvtColor(drift, cv2.COLOR_BGR2YUV_I420))[1:-1, 1:-1].max() <= CELL_DIFF_LEVELS
    bad = bgr.copy()
    bad[64:128, 96:224] = (0, 135, 0)  # decoder green
    cells = corrupted_cells(clean, cv2.cvtColor(bad, cv2.COLOR_BGR2YUV_I420))
    assert cells[4:8, 6:14].all() and cells.sum() == 32  # exactly the damaged 4x8 cells


def test_cell_scores_call_fine_texture_wiped_out_by_streaks() -> None:
    """A one-pixel checkerboard (fine texture like lavfi cellauto) replaced by the vertical streaks of its first row:
    every 4x4 average is the same grey, so only the lost vertical detail shows the damage; texture slid a few
    pixels stays clean."""
    import cv2

    from detectors.training.video_sim import _planes_half, cell_scores

    yy, xx = np.mgrid[0:192, 0:320]
    y = (((yy + xx) % 2) * 200 + 28).astype(np.uint8)
    bgr = cv2.cvtColor(y, cv2.COLOR_GRAY2BGR)
    clean = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    bad = bgr.copy()
    bad[96:] = bgr[96:97]  # the row above the damage repeated downwards
    bad_i420 = cv2.cvtColor(bad, cv2.COLOR_BGR2YUV_I420)
    assert np.abs(_planes_half(clean, 8) - _planes_half(bad_i420, 8)).max() < 1.0  # the smoothed planes agree
    cells = corrupted_cells(clean, bad_i420)
    assert cells[6:].all() and not cells[:6].any()
    slid = cv2.cvtColor(np.roll(bgr, 3, axis=1), cv2.COLOR_BGR2YUV_I420)
    assert cell_scores(clean, slid).max() <= CELL_DIFF_LEVELS


def test_bitstream_corruption_labels_compare_with_the_clean_decode() -> None:
    frames = moving_frames(24)
    clean = corrupt_bitstream(frames, np.random.default_rng(0), "t", 320, 192, crf=23, gop=12, bframes=0, bursts=0)
    assert len(clean) == 24 and all(f.kind == "clean" and not f.cells.any() for f in clean)
    bad = corrupt_bitstream(frames, np.random.default_rng(1), "t", 320, 192, crf=23, gop=12, bframes=0, bursts=4)
    assert any(f.area_ratio > 0 for f in bad)
    by_index = {i: f for i, f in enumerate(clean)}
    f = max(bad, key=lambda f: f.area_ratio)
    # recompute a corrupted cell's label from the pixels
    assert f.cells.shape == (12, 20)
    assert corrupted_cells(f.i420, f.i420).sum() == 0
    assert f.scores is not None and np.array_equal(f.cells, (f.scores > CELL_DIFF_LEVELS).astype(np.float32))
    worst = np.unravel_index(int(np.argmax(f.scores)), f.scores.shape)
    assert corrupted_cells(by_index[0].i420, by_index[0].i420).shape == (12, 20)
    assert f.cells[worst] == 1.0 and f.scores[worst] > CELL_DIFF_LEVELS
    assert by_index[0].area_ratio == 0.0
    assert cell_map(np.full((192, 320), CELL_DIFF_LEVELS + 1)).min() > CELL_DIFF_LEVELS


def test_evidence_only_ignores_flat_damaged_interiors_and_nothing_else() -> None:
    """The evidence-only target (video_sim.evidence_only): a damaged cell is left out of the loss only when it is flat
    and every neighbour is damaged too; damaged edges, textured damage and clean cells keep their labels."""
    from detectors.training.video_sim import FLAT_CELL_STD, LabelledFrame, cell_luma_std, evidence_only

    h, w = 96, 160  # 6 x 10 cells
    rng = np.random.default_rng(4)
    y = rng.integers(30, 220, (h, w)).astype(np.uint8)  # textured picture
    y[16:80, 16:96] = 128  # a flat grey macroblock area: cells rows 1-4, columns 1-5
    i420 = np.vstack([y, np.full((h // 2, w), 128, np.uint8)])
    cells = np.zeros((6, 10), np.float32)
    cells[1:5, 1:6] = 1.0  # the grey area, damaged
    cells[1:5, 7:10] = 1.0  # damaged texture reaching the right frame edge
    scores = np.where(cells > 0, 40.0, 0.0).astype(np.float32)
    f = LabelledFrame(i420, cells, "test", "bitstream", scores)
    assert (cell_luma_std(i420)[1:5, 1:6] < FLAT_CELL_STD).all() and (cell_luma_std(i420)[1:5, 7:10] > 20).all()

    got = evidence_only(f)
    flat_interior = np.zeros_like(cells, bool)
    flat_interior[2:4, 2:5] = True  # the grey area's inner cells: all eight neighbours damaged
    assert np.array_equal(got.ignore > 0, flat_interior)
    assert np.array_equal(got.cells, np.where(flat_interior, 0.0, cells))  # the grey area's ring and the texture stay
    assert got.i420 is f.i420 and np.array_equal(f.cells, cells)  # pixels shared, the input left as it was
    clean = LabelledFrame(i420, np.zeros_like(cells), "test", "clean")
    assert evidence_only(clean) is clean
    edge = LabelledFrame(np.full((h * 3 // 2, w), 128, np.uint8), np.ones_like(cells), "test", "bitstream")
    assert evidence_only(edge).ignore.all()  # a whole grey frame: frame edges count as damaged neighbours
