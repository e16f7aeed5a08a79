"""HissDetector: a broadband noise floor in quiet passages; fricatives, speech and music are not hiss."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.audio.hiss import HissDetector
from detectors.media import Event
from tests.media_factory import ClipSpec, audio_samples, chunks, music, percussive, speech

RATE = 48000


def run(det: HissDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


def tone_bursts(seconds: float) -> np.ndarray:
    """Programme: 0.5 s tone bursts every second over digital silence (quiet passages between)."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    gate = ((t % 1.0) < 0.5).astype(float)
    x = 0.3 * np.sin(2 * np.pi * 330 * t) * gate
    return np.stack([x, x], 1).astype(np.float32)


@pytest.mark.parametrize("sizes", [1024, [1, 333, 4096, 7]])
def test_hiss_in_a_quiet_passage(sizes: int | list[int]) -> None:
    data = tone_bursts(8.0)
    a, b = int(3.5 * RATE), int(4.0 * RATE) + int(2.5 * RATE)  # hiss from 3.5 s to 6.5 s
    data[4 * RATE : 6 * RATE] = 0.0  # a long pause 4-6 s
    rng = np.random.default_rng(1)
    data[a:b] += (0.002 * rng.standard_normal((b - a, 2))).astype(np.float32)  # -54 dBFS white noise
    events = run(HissDetector(), data, sizes)
    assert [e.kind for e in events] == ["hiss"]
    (e,) = events
    # Measured where quiet: from the pause after the 3.0 s burst (3.5 s) to the 6.0 s burst.
    assert e.start_s == pytest.approx(3.5, abs=0.010) and e.end_s == pytest.approx(6.0, abs=0.010)
    assert e.details["noise_floor_db"] == pytest.approx(-55.5, abs=2.0)


def test_quiet_passages_without_hiss() -> None:
    data = tone_bursts(6.0)
    rng = np.random.default_rng(2)
    data += (0.0002 * rng.standard_normal(data.shape)).astype(np.float32)  # -74 dBFS floor: fine
    assert run(HissDetector(), data) == []


def test_rumble_is_not_hiss() -> None:
    data = tone_bursts(6.0)
    t = np.arange(data.shape[0]) / RATE
    data += (0.003 * np.sin(2 * np.pi * 80 * t))[:, None].astype(np.float32)  # low-frequency floor
    assert run(HissDetector(), data) == []


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_programme_has_no_hiss(make) -> None:  # type: ignore[no-untyped-def]
    assert run(HissDetector(), make(8.0)) == []


def test_masked_noise_under_loud_programme_is_not_measured() -> None:
    assert run(HissDetector(), audio_samples(ClipSpec(frames=150))) == []


def test_metrics_and_params() -> None:
    det = HissDetector()
    run(det, tone_bursts(2.0))
    assert set(det.metrics()) == set(HissDetector.metric_names)
    assert det.metrics()["programme_db"] is not None
    for kwargs in ({"threshold_db": 0.0}, {"band_hz": 100.0}, {"quiet_margin_db": 0.0}, {"programme_window_s": 0.5},
                   {"min_duration_s": 0.0}, {"max_gap_s": -1.0}):
        with pytest.raises(ValueError, match="hiss"):
            HissDetector.Params(**kwargs)  # type: ignore[arg-type]
