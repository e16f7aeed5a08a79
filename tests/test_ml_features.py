"""The audio model's inputs: log-mel is level-normalised and the waveform statistics respond to the defect they name."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.ml.features import AUX_NAMES, N_AUX, N_FRAMES, N_MELS, SEGMENT_SAMPLES, audio_features, aux_features, log_mel
from detectors.training.audio_sim import add_clicks, add_distortion, add_hiss, add_hum

SR = 16000


def programme(seed: int) -> np.ndarray:
    """Harmonic notes (not on mains multiples) with envelopes: tonal, like music, no defect."""
    rng = np.random.default_rng(seed)
    t = np.arange(SEGMENT_SAMPLES) / SR
    x = np.zeros(SEGMENT_SAMPLES)
    for k in range(4):
        f = 233.0 * 2 ** (int(rng.integers(0, 12)) / 12)
        env = np.exp(-4 * np.clip(t - k / 4, 0, None)) * (t >= k / 4)
        x += sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3)) * env * 0.15
    return (x + 0.001 * rng.standard_normal(x.size)).astype(np.float32)


def stat(x: np.ndarray, name: str) -> float:
    return float(aux_features(x[None])[0, AUX_NAMES.index(name)])


def test_shapes_and_level_invariance() -> None:
    x = np.stack([programme(s) for s in range(3)])
    mel, aux = audio_features(x)
    assert mel.shape == (3, 1, N_MELS, N_FRAMES) and aux.shape == (3, N_AUX) and len(AUX_NAMES) == N_AUX
    assert np.array_equal(mel, log_mel(x))
    quiet_mel, quiet_aux = audio_features(x * 0.1)
    assert np.abs(quiet_mel - mel).max() < 1e-3
    level = AUX_NAMES.index("rms_db")
    others = [i for i in range(N_AUX) if i != level]
    assert np.abs(quiet_aux[:, others] - aux[:, others]).max() < 0.02
    assert (quiet_aux[:, level] < aux[:, level]).all()
    with pytest.raises(ValueError, match="segments"):
        audio_features(np.zeros((2, 100), np.float32))


@pytest.mark.parametrize("seed", range(4))
def test_each_statistic_moves_with_its_defect(seed: int) -> None:
    x = programme(seed)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    rng = np.random.default_rng(seed)
    hum, d = add_hum(x, rng, rms)  # -30..-6 dB: the 1 Hz spectrum shows a peak at some mains harmonic
    combs = [f"comb{int(d.params['mains_hz'])}_h{h}" for h in range(1, 9)]
    assert max(stat(hum, c) - stat(x, c) for c in combs) > 0.15
    clipped = np.clip(x, -0.3 * np.abs(x).max(), 0.3 * np.abs(x).max())
    assert stat(clipped, "near_peak") > stat(x, "near_peak") + 0.3
    step = np.abs(x).max() / 8
    crushed = np.round(x / step) * step
    assert stat(crushed, "levels") < stat(x, "levels") - 0.3
    clicks, _ = add_clicks(x, rng, rms, float(np.abs(x).max()))
    assert stat(clicks, "impulse_count") > stat(x, "impulse_count")
    hiss, _ = add_hiss(x, rng, rms)
    assert stat(hiss, "floor_high") > stat(x, "floor_high")
    distorted, _ = add_distortion(x, rng, rms)
    assert np.abs(aux_features(distorted[None]) - aux_features(x[None])).max() > 0.05
