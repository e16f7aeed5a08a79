"""ChannelDetector: dead channel, phase inversion and swapped test tones, edges within 10 ms."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.audio.channels import ChannelDetector
from detectors.media import Event
from tests.media_factory import ClipSpec, audio_samples, chunks, music, percussive, speech

RATE = 48000


def run(det: ChannelDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


@pytest.mark.parametrize("sizes", [1024, [1, 333, 4096, 7]])
def test_dead_right_channel(sizes: int | list[int]) -> None:
    data = music(6.0)
    a, b = 2 * RATE + 100, 4 * RATE + 300
    data[a:b, 1] = 0.0
    (e,) = run(ChannelDetector(), data, sizes)
    assert e.kind == "dead_channel" and e.details["channel"] == 1
    assert e.start_s == pytest.approx(a / RATE, abs=0.010) and e.end_s == pytest.approx(b / RATE, abs=0.010)


def test_phase_inversion() -> None:
    data = music(6.0)
    a, b = RATE + 100, 3 * RATE + 300
    data[a:b, 1] *= -1
    events = run(ChannelDetector(), data)
    assert [e.kind for e in events] == ["phase_inversion"]
    (e,) = events
    assert e.start_s == pytest.approx(a / RATE, abs=0.010) and e.end_s == pytest.approx(b / RATE, abs=0.010)
    assert e.details["correlation"] < -0.9


def test_phase_inversion_in_speech_bridges_the_pauses() -> None:
    data = speech(6.0)
    data[RATE : 4 * RATE, 1] *= -1
    (e,) = run(ChannelDetector(), data)
    assert e.kind == "phase_inversion"
    # Edges fall on the first and last syllable inside the inverted stretch.
    assert 1.0 <= e.start_s < 1.5 and 3.5 < e.end_s <= 4.0


def test_swapped_test_tones() -> None:
    n = np.arange(RATE * 4)
    left, right = 0.3 * np.sin(2 * np.pi * 1000 * n / RATE), 0.3 * np.sin(2 * np.pi * 2000 * n / RATE)
    data = np.stack([left, right], 1).astype(np.float32)
    data[RATE : 3 * RATE] = data[RATE : 3 * RATE, ::-1]
    det = ChannelDetector(ChannelDetector.Params(channel_tones_hz=(1000.0, 2000.0)))
    (e,) = run(det, data)
    assert e.kind == "swapped_channels"
    assert (e.start_s, e.end_s) == pytest.approx((1.0, 3.0), abs=0.010)


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_programme_has_no_channel_problem(make) -> None:  # type: ignore[no-untyped-def]
    assert run(ChannelDetector(), make(6.0)) == []


def test_mono_and_silence_are_fine() -> None:
    assert run(ChannelDetector(), audio_samples(ClipSpec(frames=100, channels=2))) == []
    assert run(ChannelDetector(), np.zeros((RATE * 2, 2), np.float32)) == []
    assert run(ChannelDetector(), music(2.0)[:, :1]) == []  # one channel: nothing to compare


def test_metrics_and_params() -> None:
    det = ChannelDetector()
    run(det, speech(1.0))
    assert det.metrics()["correlation"] == pytest.approx(1.0, abs=0.05)
    assert set(det.metrics()) == set(ChannelDetector.metric_names)
    for kwargs in ({"checked_channels": (0,)}, {"dead_db": 0.0}, {"active_db": -80.0}, {"inversion_correlation": 0.0},
                   {"channel_tones_hz": (1000.0,)}, {"min_duration_s": 0.0}):
        with pytest.raises(ValueError, match="channels"):
            ChannelDetector.Params(**kwargs)  # type: ignore[arg-type]
