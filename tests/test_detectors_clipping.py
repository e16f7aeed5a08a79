"""ClippingDetector: full-scale runs and attenuated plateaus, sample-exact; loud programme is not clipping."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.audio.clipping import ClippingDetector, in_long_runs
from detectors.media import Event
from tests.media_factory import chunks, music, percussive, speech

RATE = 48000


def run(det: ClippingDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


def test_in_long_runs() -> None:
    m = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1], bool)
    assert in_long_runs(m, 3).astype(int).tolist() == [0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("sizes", [1024, [1, 7, 4096, 333], RATE * 4])
def test_hard_clipping_is_sample_exact(sizes: int | list[int]) -> None:
    data = music(4.0)
    t = np.arange(400) / RATE
    burst = 1.6 * np.sin(2 * np.pi * 220 * t)  # driven 4 dB over full scale for 400 samples
    a = 100000
    data[a : a + 400, 0] = np.clip(burst, -1, 1)
    clipped = np.flatnonzero(np.abs(np.clip(burst, -1, 1)) >= 10 ** (-0.01 / 20))
    (e,) = run(ClippingDetector(), data, sizes)
    assert e.kind == "clipping"
    assert e.start_s == pytest.approx((a + clipped[0]) / RATE, abs=1e-9)
    assert e.end_s == pytest.approx((a + clipped[-1] + 1) / RATE, abs=1e-9)
    assert e.details["clipped_samples"] == clipped.size and e.score == 1.0


def test_clipped_then_attenuated_plateaus() -> None:
    data = music(3.0, level=0.4)
    a = 60000
    seg = data[a : a + 4800]
    seg = np.clip(seg / np.abs(seg).max() * 0.8, -0.5, 0.5)  # clipped at 0.5 (-6 dBFS), left there
    data[a : a + 4800] = seg
    (e,) = run(ClippingDetector(), data)
    flat = np.flatnonzero((np.abs(seg) >= 0.5).any(axis=1))
    assert e.start_s == pytest.approx((a + flat[0]) / RATE, abs=0.010)
    assert e.end_s == pytest.approx((a + flat[-1] + 1) / RATE, abs=0.010)


def test_separate_stretches_and_merge_gap() -> None:
    data = music(3.0)
    for a in (20000, 22000, 90000):
        data[a : a + 5, 1] = -1.0
    events = run(ClippingDetector(), data)
    assert [(round(e.start_s * RATE), round(e.end_s * RATE)) for e in events] == [(20000, 22005), (90000, 90005)]


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_loud_programme_peaking_at_full_scale_is_not_clipping(make) -> None:  # type: ignore[no-untyped-def]
    data = make(6.0)
    data *= np.float32(0.9999 / np.abs(data).max())  # single peaks at full scale
    assert run(ClippingDetector(), data) == []


def test_loud_low_bass_is_not_a_plateau() -> None:
    t = np.arange(RATE * 2) / RATE
    data = np.round(0.9 * np.sin(2 * np.pi * 30 * t) * 32767) / 32767  # 16-bit 30 Hz bass
    assert run(ClippingDetector(), np.stack([data, data], 1).astype(np.float32)) == []


def test_metrics() -> None:
    det = ClippingDetector()
    data = music(1.0)
    data[1000:1010] = 1.0
    run(det, data, RATE)
    assert det.metrics()["clipped_samples"] == 10 and det.metrics()["peak_db"] == 0.0
    assert set(det.metrics()) == set(ClippingDetector.metric_names)


@pytest.mark.parametrize(
    "kwargs", [{"clip_level_db": 1.0}, {"min_run_samples": 1}, {"plateau_level_db": 0.0}, {"min_plateau_samples": 3}, {"merge_gap_s": -1.0}]
)
def test_params_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="clipping"):
        ClippingDetector.Params(**kwargs)  # type: ignore[arg-type]
