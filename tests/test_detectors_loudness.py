"""LoudnessDetector: BS.1770 values, loudness jumps located to 10 ms, true peak, hard negatives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.audio.loudness import LoudnessDetector, k_weighting_sos
from detectors.base import create
from detectors.media import AudioChunk, Event, Frame
from tests.media_factory import chunks, music, percussive, speech

RATE = 48000


def run(det: LoudnessDetector, data: np.ndarray, sizes: int | list[int] = 1024) -> list[Event]:
    events: list[Event] = []
    for c in chunks(data, RATE, sizes):
        events.extend(det.feed(c))
    return events + det.flush()


def sine(seconds: float, freq: float, amp: float, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.repeat((amp * np.sin(2 * np.pi * freq * t))[:, None], channels, axis=1).astype(np.float32)


def test_1khz_full_scale_sine_reads_minus_3_lufs_per_channel() -> None:
    # BS.1770: a 0 dBFS 997 Hz sine on one channel reads -3.01 LKFS; on two channels +3 dB.
    det = LoudnessDetector()
    data = sine(5.0, 997.0, 1.0, channels=1)
    run(det, data)
    assert det.integrated_lufs == pytest.approx(-3.01, abs=0.05)
    assert det.momentary_lufs == pytest.approx(-3.01, abs=0.05)
    assert det.short_term_lufs == pytest.approx(-3.01, abs=0.05)
    stereo = LoudnessDetector()
    run(stereo, sine(5.0, 997.0, 0.5))
    assert stereo.integrated_lufs == pytest.approx(-3.01 - 6.02 + 3.01, abs=0.05)


def test_k_weighting_matches_the_published_48k_coefficients() -> None:
    sos = k_weighting_sos(48000)
    assert sos[0, :3] == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285], abs=1e-9)
    assert sos[0, 4:] == pytest.approx([-1.69065929318241, 0.73248077421585], abs=1e-9)
    assert sos[1, 4:] == pytest.approx([-1.99004745483398, 0.99007225036621], abs=1e-9)


def test_gating_ignores_silence() -> None:
    data = np.concatenate([sine(4.0, 997.0, 0.5), np.zeros((RATE * 8, 2), np.float32)])
    det = LoudnessDetector()
    run(det, data)
    # two channels at -9.03 each; the 400 ms blocks straddling the end pass the relative gate
    assert det.integrated_lufs == pytest.approx(-6.02, abs=0.2)


@pytest.mark.parametrize("sizes", [1024, [1, 333, 4096, 7]])
@pytest.mark.parametrize("step_db", [10.0, -12.0])
def test_jump_is_located_within_10_ms(sizes: int | list[int], step_db: float) -> None:
    at = 5 * RATE + 1234
    data = music(12.0, level=0.3 if step_db > 0 else 0.9)
    data[at:] *= np.float32(10 ** (step_db / 20))
    (e,) = run(LoudnessDetector(), data, sizes)
    assert e.kind == "loudness_jump" and e.detector == "loudness"
    assert e.start_s == pytest.approx(at / RATE, abs=0.010)
    assert e.details["change_lu"] == pytest.approx(step_db, abs=1.5)
    assert e.details["direction"] == ("up" if step_db > 0 else "down")
    assert 0.5 <= e.score <= 1.0


@pytest.mark.parametrize("make", [music, percussive, speech])
def test_no_jump_in_programme(make) -> None:  # type: ignore[no-untyped-def]
    data = make(12.0)
    data[RATE * 5 : int(RATE * 5.8)] = 0.0  # a silent gap is the silence detector's, not a jump
    assert run(LoudnessDetector(), data) == []


def test_fade_to_silence_is_not_a_jump() -> None:
    data = music(14.0)
    data[RATE * 6 :] = 0.0
    assert run(LoudnessDetector(), data) == []


def test_true_peak_sees_intersample_peaks_and_reports_overs() -> None:
    # A sine at fs/4 with 45 degree phase: samples at 0.707 of the peak, the true peak is 1.0.
    n = np.arange(RATE * 2)
    x = (0.99 * np.sin(2 * np.pi * n / 4 + np.pi / 4)).astype(np.float32)
    x[: RATE // 2] *= 0.3
    data = np.stack([x, x], axis=1)
    det = LoudnessDetector(LoudnessDetector.Params(max_true_peak_dbtp=-1.0))
    events = run(det, data)
    assert float(np.abs(data).max()) == pytest.approx(0.7, abs=0.01)
    assert det.true_peak_dbtp == pytest.approx(20 * math.log10(0.99), abs=0.3)
    (e,) = events
    assert e.kind == "true_peak_over"
    assert e.start_s == pytest.approx(0.5, abs=0.010) and e.end_s == pytest.approx(2.0, abs=0.010)


def test_target_check_at_flush() -> None:
    det = LoudnessDetector(LoudnessDetector.Params(target_lufs=-23.0))
    events = run(det, sine(4.0, 997.0, 0.5))
    (e,) = events
    assert e.kind == "loudness_off_target" and e.details["integrated_lufs"] == pytest.approx(-6.02, abs=0.05)
    ok = LoudnessDetector(LoudnessDetector.Params(target_lufs=-6.5))
    assert run(ok, sine(4.0, 997.0, 0.5)) == []


def test_metrics_and_wrong_item() -> None:
    det = LoudnessDetector()
    assert det.metrics()["momentary_lufs"] is None
    run(det, sine(1.0, 997.0, 0.5))
    m = det.metrics()
    assert set(m) == set(LoudnessDetector.metric_names)
    assert m["momentary_lufs"] == pytest.approx(-6.02, abs=0.05) and det.last_metric == m["momentary_lufs"]
    assert m["true_peak_dbtp"] == pytest.approx(-6.02, abs=0.1)
    with pytest.raises(TypeError):
        det.feed(Frame(0, 0.0, np.zeros((6, 4), np.uint8)))
    assert det.feed(AudioChunk(0.0, RATE, np.zeros((0, 2), np.float32))) == []


@pytest.mark.parametrize(
    "kwargs",
    [{"jump_lu": 0.0}, {"window_s": 0.1}, {"programme_lufs": 3.0}, {"max_true_peak_dbtp": float("nan")},
     {"target_lufs": 1.0}, {"target_tolerance_lu": 0.0}, {"true_peak": False, "max_true_peak_dbtp": -1.0}],
)
def test_params_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="loudness"):
        LoudnessDetector.Params(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loudness"):
        create("loudness", kwargs)
