"""ToneDetector: steady tones with frequency and level, edges within 10 ms; music/speech are not tones."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.analyze import default_detectors
from detectors.audio.tone import ToneDetector
from detectors.media import Event
from tests.media_factory import chunks, music, percussive, speech

RATE = 48000


def run(det: ToneDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


@pytest.mark.parametrize("sizes", [1024, [1, 333, 4096, 7]])
def test_beep_edges_frequency_and_level(sizes: int | list[int]) -> None:
    data = music(4.0, level=0.05)
    a, b = RATE + 240, 2 * RATE + 1000
    n = np.arange(a, b)
    data[a:b] = (0.5 * np.sin(2 * np.pi * 997 * n / RATE))[:, None]
    (e,) = run(ToneDetector(), data, sizes)
    assert e.kind == "tone"
    assert e.start_s == pytest.approx(a / RATE, abs=0.010) and e.end_s == pytest.approx(b / RATE, abs=0.010)
    assert e.details["frequency_hz"] == pytest.approx(997, abs=2.0)
    assert e.details["level_db"] == pytest.approx(-6.02, abs=0.3)


def test_expected_frequency_and_two_tones() -> None:
    n = np.arange(RATE * 3)
    x = np.where(n < int(1.5 * RATE), 0.3 * np.sin(2 * np.pi * 1000 * n / RATE), 0.3 * np.sin(2 * np.pi * 440 * n / RATE))
    data = x[:, None].astype(np.float32)
    both = run(ToneDetector(), data)
    assert [e.details["frequency_hz"] for e in both] == pytest.approx([1000, 440], abs=2.0)
    assert both[0].end_s == pytest.approx(1.5, abs=0.010) and both[1].start_s == pytest.approx(1.5, abs=0.010)
    only = run(ToneDetector(ToneDetector.Params(frequency_hz=440.0)), data)
    assert [e.details["frequency_hz"] for e in only] == [440.0]


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_programme_is_not_a_tone(make) -> None:  # type: ignore[no-untyped-def]
    assert run(ToneDetector(), make(6.0)) == []


def test_tone_is_a_measurement_not_run_by_default() -> None:
    assert "tone" not in default_detectors()


def test_params() -> None:
    for kwargs in ({"frequency_hz": 0.0}, {"tolerance_hz": 0.0}, {"min_level_db": 0.0}, {"min_purity": 0.0}, {"min_duration_s": 0.0}):
        with pytest.raises(ValueError, match="tone"):
            ToneDetector.Params(**kwargs)  # type: ignore[arg-type]
