"""DropoutDetector: short gaps inside programme, sample-exact; pauses and silences are not dropouts."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.audio.dropout import DropoutDetector
from detectors.media import Event
from tests.media_factory import ClipSpec, audio_samples, chunks, music, percussive, speech

RATE = 48000


def run(det: DropoutDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


@pytest.mark.parametrize("sizes", [1024, [1, 7, 4096, 333], RATE * 7])
def test_gaps_are_sample_exact(sizes: int | list[int]) -> None:
    data = audio_samples(ClipSpec(frames=175))
    for a, b in ((30000, 30480), (100000, 100200), (150000, 170000)):
        data[a:b] = 0.0
    data[200000:300000] = 0.0  # 2 s: a silence, not a dropout
    events = run(DropoutDetector(), data, sizes)
    assert [(round(e.start_s * RATE), round(e.end_s * RATE)) for e in events] == [(30000, 30480), (100000, 100200), (150000, 170000)]
    assert events[0].details["gap_ms"] == 10.0 and all(e.kind == "dropout" for e in events)


def test_gap_in_music() -> None:
    data = music(3.0)
    data[70001:70097] = 0.0  # 2 ms
    (e,) = run(DropoutDetector(), data)
    assert (e.start_s, e.end_s) == pytest.approx((70001 / RATE, 70097 / RATE), abs=1e-9)


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_programme_has_no_dropouts(make) -> None:  # type: ignore[no-untyped-def]
    assert run(DropoutDetector(), make(6.0)) == []


def test_zero_crossings_of_quiet_bass_are_not_gaps() -> None:
    t = np.arange(RATE * 2) / RATE
    x = (0.02 * np.sin(2 * np.pi * 40 * t)).astype(np.float32)
    assert run(DropoutDetector(), np.stack([x, x], 1)) == []


def test_metrics_and_params() -> None:
    det = DropoutDetector()
    data = music(1.0)
    data[10000:10480] = 0.0
    run(det, data, RATE)
    assert set(det.metrics()) == set(DropoutDetector.metric_names) and det.last_metric == 10.0
    for kwargs in ({"threshold_db": 0.0}, {"min_gap_ms": 0.0}, {"max_gap_s": 0.001}, {"context_ms": 0.5}, {"context_db": 1.0}):
        with pytest.raises(ValueError, match="dropout"):
            DropoutDetector.Params(**kwargs)  # type: ignore[arg-type]
