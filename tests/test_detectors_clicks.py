"""ClickDetector: impulses found to the sample in music; drums and speech are not clicks."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.audio.clicks import ClickDetector
from detectors.media import Event
from tests.media_factory import ClipSpec, audio_samples, chunks, music, percussive, speech

RATE = 48000


def run(det: ClickDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


@pytest.mark.parametrize("sizes", [1024, [1, 7, 4096, 333], RATE * 4])
def test_clicks_in_music_are_sample_exact(sizes: int | list[int]) -> None:
    data = music(4.0)
    data[20000, 0] += 0.2  # one-sample click, left only
    data[90000:90003, :] -= 0.15  # a 3-sample pop on both channels
    data[150000:] += 0.1  # a DC step (a splice discontinuity)
    events = run(ClickDetector(), data, sizes)
    assert [e.kind for e in events] == ["click"] * 3
    # The second difference spreads an impulse over one sample on each side.
    assert [e.start_s * RATE for e in events] == pytest.approx([20000, 90000, 150000], abs=1.01)
    for e in events:
        assert e.end_s - e.start_s <= 0.002 and 0.5 <= e.score <= 1.0


def test_burst_of_crackle_is_one_event() -> None:
    data = music(3.0)
    for k in range(10):
        data[50000 + 400 * k, 1] += 0.3
    (e,) = run(ClickDetector(), data)
    assert e.start_s * RATE == pytest.approx(50000, abs=1.01) and e.end_s * RATE == pytest.approx(53601, abs=1.01)
    assert e.details["clicks"] == 10


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_programme_has_no_clicks(make) -> None:  # type: ignore[no-untyped-def]
    for seed in (1, 2):
        assert run(ClickDetector(), make(6.0, seed=seed)) == []


def test_noisy_tone_has_no_clicks() -> None:
    assert run(ClickDetector(), audio_samples(ClipSpec(frames=150))) == []


def test_metrics_and_params() -> None:
    det = ClickDetector()
    run(det, music(1.0))
    assert set(det.metrics()) == set(ClickDetector.metric_names) and det.last_metric is not None
    for kwargs in ({"ratio": 1.0}, {"min_level_db": 0.0}, {"block_ms": 0.5}, {"merge_gap_s": -1.0}):
        with pytest.raises(ValueError, match="clicks"):
            ClickDetector.Params(**kwargs)  # type: ignore[arg-type]
