"""The audio model's inputs: log-mel is level-normalised and the waveform statistics respond to the defect they name."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.ml.features import (
    AUX_NAMES,
    FINE_BINS_PER_HZ,
    FINE_LO_HZ,
    HOP,
    N_AUX,
    N_FINE,
    N_FRAMES,
    N_MELS,
    SEGMENT_SAMPLES,
    audio_features,
    aux_features,
    fine_spectrum,
    frame_power,
    log_mel,
)
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
    mel, aux, fine = audio_features(x)
    assert mel.shape == (3, 1, N_MELS, N_FRAMES) and aux.shape == (3, N_AUX) and len(AUX_NAMES) == N_AUX
    assert fine.shape == (3, N_FINE) and fine.max() == 0.0 and fine.min() >= -2.0
    assert np.array_equal(mel, log_mel(x))
    quiet_mel, quiet_aux, quiet_fine = audio_features(x * 0.1)
    assert np.abs(quiet_mel - mel).max() < 1e-3
    assert np.abs(quiet_fine - fine).max() < 1e-3
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


def _comb_by_definition(x: np.ndarray) -> np.ndarray:
    """The comb statistics computed one harmonic at a time, as documented (the oracle of the vectorised code)."""
    from scipy.signal import resample_poly

    from detectors.ml.features import _COMB_DECIMATE, _FINE_FFT, HUM_BASES_HZ, HUM_HARMONICS, HUM_TOLERANCE

    low = resample_poly(x.astype(np.float64), 1, _COMB_DECIMATE)
    spec = np.fft.rfft(low * np.hanning(low.size), n=_FINE_FFT)
    p = spec.real**2 + spec.imag**2 + 1e-20
    per_hz = _FINE_FFT / (SR / _COMB_DECIMATE)

    def band(lo: float, hi: float) -> np.ndarray:
        return p[round(lo * per_hz) : round(hi * per_hz) + 1]

    ratios, centred, levels = [], [], []
    for base in HUM_BASES_HZ:
        peak_sum = 0.0
        for h in range(1, HUM_HARMONICS + 1):
            f, tol = base * h, HUM_TOLERANCE * base * h + 0.3
            peak = band(f - tol, f + tol).max()
            near = np.median(np.concatenate([band(f - tol - 12, f - tol - 5), band(f + tol + 5, f + tol + 12)]))
            ratios.append(np.clip(10 * np.log10(peak / near), 0, 50) / 50)
            centred.append(np.clip(10 * np.log10(peak / band(f - tol - 4, f + tol + 4).max()) + 20, 0, 20) / 20)
            peak_sum += peak
        levels.append(np.clip(10 * np.log10(peak_sum / p.sum() * 4) + 60, 0, 60) / 60)
    return np.array(ratios + centred + levels, np.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_vectorised_comb_statistics_equal_their_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = programme(seed)
    hum, _ = add_hum(x, rng, 0.1)
    batch = np.stack([x, hum, (0.1 * rng.standard_normal(SEGMENT_SAMPLES)).astype(np.float32)])
    want = np.stack([_comb_by_definition(row) for row in batch])
    got = aux_features(batch)[:, : want.shape[1]]
    assert np.abs(got - want).max() < 1e-6


def test_distinct_levels_count_audible_samples_only() -> None:
    x = np.zeros(SEGMENT_SAMPLES, np.float32)
    x[::4] = np.resize(np.array([0.5, -0.5, 0.25, 0.125], np.float32), x[::4].size)  # 4 audible values
    x[1::4] = 0.001  # under 1 % of the peak: not counted
    assert stat(x, "levels") == pytest.approx(np.log10(5.0) / 4.3, abs=1e-6)


def test_fine_spectrum_peaks_at_a_hum_harmonic_within_a_quarter_hertz() -> None:
    t = np.arange(SEGMENT_SAMPLES) / SR
    x = (0.01 * np.sin(2 * np.pi * 100.5 * t) + 0.001 * np.sin(2 * np.pi * 333.0 * t)).astype(np.float32)
    fine = fine_spectrum(x[None])[0]
    assert FINE_LO_HZ + int(np.argmax(fine)) / FINE_BINS_PER_HZ == pytest.approx(100.5, abs=0.25)
    assert fine[round((333.0 - FINE_LO_HZ) * FINE_BINS_PER_HZ)] == pytest.approx(-20.0 / 40.0, abs=0.05)  # 20 dB down


def test_stft_rows_of_a_stream_are_the_rows_of_its_segments() -> None:
    """frame_power over a stream gives, row for row and bit for bit, the power audio_features computes for each
    segment starting on a multiple of HOP; a power passed in must have the segments' shape."""
    x = np.concatenate([programme(s) for s in range(3)])
    rows = frame_power(x)
    starts = range(0, x.size - SEGMENT_SAMPLES + 1, 50 * HOP)
    segs = np.stack([x[s : s + SEGMENT_SAMPLES] for s in starts])
    shared = np.stack([rows[s // HOP : s // HOP + N_FRAMES] for s in starts])
    assert np.array_equal(shared, frame_power(segs))
    for a, b in zip(audio_features(segs, shared), audio_features(segs), strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="power of shape"):
        audio_features(segs, shared[:, :-1])
