"""HumDetector: 50/60 Hz hum and harmonics under music found with edges within 10 ms; music/drums are not hum."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.audio.hum import HumDetector
from detectors.media import Event
from tests.media_factory import ClipSpec, audio_samples, chunks, music, percussive, speech

RATE = 48000


def run(det: HumDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


def add_hum(data: np.ndarray, a: int, b: int, mains: float, amps: tuple[float, ...]) -> np.ndarray:
    n = np.arange(a, b)
    hum = sum(amp * np.sin(2 * np.pi * mains * (h + 1) * n / RATE + h) for h, amp in enumerate(amps))
    out = data.copy()
    out[a:b] += np.asarray(hum, np.float32)[:, None]
    return out


@pytest.mark.parametrize("sizes", [1024, [1, 333, 4096, 7]])
def test_50hz_hum_under_music(sizes: int | list[int]) -> None:
    a, b = 2 * RATE + 123, 6 * RATE + 77
    data = add_hum(music(8.0), a, b, 50.0, (0.01, 0.0, 0.005))
    (e,) = run(HumDetector(), data, sizes)
    assert e.kind == "hum" and e.details["mains_hz"] == 50.0
    assert e.details["frequency_hz"] == pytest.approx(50.0, abs=0.1)
    assert e.start_s == pytest.approx(a / RATE, abs=0.010)
    assert e.end_s == pytest.approx(b / RATE, abs=0.010)


def test_60hz_buzz_without_fundamental_until_the_end() -> None:
    a = RATE + 500
    data = add_hum(speech(5.0, level=0.5), a, 5 * RATE, 60.0, (0.0, 0.003, 0.003, 0.002))
    (e,) = run(HumDetector(), data)
    assert e.details["mains_hz"] == 60.0
    assert e.start_s == pytest.approx(a / RATE, abs=0.010) and e.end_s == pytest.approx(5.0)


def test_quiet_hum_alone_and_level() -> None:
    data = add_hum(np.zeros((RATE * 6, 1), np.float32), RATE, 5 * RATE, 60.0, (0.003,))
    (e,) = run(HumDetector(), data)
    assert (e.start_s, e.end_s) == pytest.approx((1.0, 5.0), abs=0.010)
    assert e.details["level_db"] == pytest.approx(20 * np.log10(0.003), abs=0.5)


def test_short_hum_is_ignored() -> None:
    data = add_hum(music(6.0), RATE, int(2.5 * RATE), 50.0, (0.01,))
    assert run(HumDetector(), data) == []


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_programme_has_no_hum(make) -> None:  # type: ignore[no-untyped-def]
    assert run(HumDetector(), make(8.0)) == []


def test_bass_note_near_mains_is_not_hum() -> None:
    t = np.arange(RATE * 5) / RATE
    bass = 0.3 * np.sin(2 * np.pi * 49.0 * t) + 0.1 * np.sin(2 * np.pi * 98.0 * t)  # G1
    assert run(HumDetector(), np.stack([bass, bass], 1).astype(np.float32)) == []
    assert run(HumDetector(), audio_samples(ClipSpec(frames=150))) == []


def test_metrics_and_params() -> None:
    det = HumDetector()
    run(det, add_hum(np.zeros((RATE * 2, 1), np.float32), 0, 2 * RATE, 50.0, (0.01,)))
    assert det.metrics()["mains_hz"] == 50.0 and det.last_metric == pytest.approx(-40.0, abs=0.5)
    assert set(det.metrics()) == set(HumDetector.metric_names)
    for kwargs in ({"min_level_db": 0.0}, {"prominence_db": 0.0}, {"harmonics": 0}, {"tolerance_hz": 3.0},
                   {"min_duration_s": 0.5}, {"hop_s": 1.0}):
        with pytest.raises(ValueError, match="hum"):
            HumDetector.Params(**kwargs)  # type: ignore[arg-type]
