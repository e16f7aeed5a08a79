"""SilenceDetector: sample-accurate silences across chunk boundaries, thresholds, parameters."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from detectors.audio.silence import SilenceDetector
from detectors.base import Pipeline, create
from detectors.decode import iter_media
from detectors.media import AudioChunk, Event, Frame
from tests.media_factory import ClipSpec, audio_samples, chunks, write_clip

RATE = 48000


def run(detector: SilenceDetector, items: Iterable[AudioChunk]) -> list[Event]:
    events: list[Event] = []
    for item in items:
        events.extend(detector.feed(item))
    return events + detector.flush()


def signal(seconds: float, silences: list[tuple[int, int]], channels: int = 2) -> np.ndarray:
    spec = ClipSpec(frames=int(seconds * 25), channels=channels, silence=silences)
    return audio_samples(spec)


def times(events: list[Event]) -> list[tuple[float, float]]:
    """Event edges rounded to a nanosecond (they are sums of chunk time and sample offset)."""
    return [(round(e.start_s, 9), round(e.end_s, 9)) for e in events]


def edges(*pairs: tuple[float, float]) -> list[tuple[float, float]]:
    return [(round(a, 9), round(b, 9)) for a, b in pairs]


@pytest.mark.parametrize("sizes", [1024, 960, [1, 7, 4096, 333], 48000 * 3])
def test_silence_is_sample_accurate_whatever_the_chunking(sizes: int | list[int]) -> None:
    data = signal(3.0, [(30000, 60000), (100000, 100100)])
    events = run(SilenceDetector(), chunks(data, RATE, sizes))
    assert times(events) == edges((30000 / RATE, 60000 / RATE))
    (e,) = events
    assert e.kind == "silence" and e.detector == "silence"
    assert e.start_frame is None and e.end_frame is None and e.evidence_frame is None
    assert e.score == 1.0 and e.to_dict()["peak_db"] is None


def test_chunk_times_are_used() -> None:
    data = signal(2.0, [(48000, 90000)])
    events = run(SilenceDetector(), chunks(data, RATE, 1000, start_s=100.0))
    assert times(events) == edges((101.0, 100 + 90000 / RATE))


def test_min_duration() -> None:
    data = signal(3.0, [(10000, 10000 + 23999), (50000, 50000 + 24000)])
    events = run(SilenceDetector(), chunks(data, RATE))
    assert times(events) == edges((50000 / RATE, 74000 / RATE))
    events = run(SilenceDetector(SilenceDetector.Params(min_duration_s=0.1)), chunks(data, RATE))
    assert len(events) == 2


def test_silence_at_start_and_end() -> None:
    data = signal(3.0, [(0, 30000), (120000, 144000)])
    det = SilenceDetector()
    streamed = [e for c in chunks(data, RATE) for e in det.feed(c)]
    assert times(streamed) == edges((0.0, 30000 / RATE))
    assert times(det.flush()) == edges((120000 / RATE, 3.0))
    assert det.flush() == []


def test_all_channels_must_be_quiet() -> None:
    data = signal(2.0, [(10000, 80000)])
    data[20000:20010, 1] = 0.5  # one loud burst on the right channel only
    events = run(SilenceDetector(SilenceDetector.Params(min_duration_s=0.1)), chunks(data, RATE))
    assert times(events) == edges((10000 / RATE, 20000 / RATE), (20010 / RATE, 80000 / RATE))


def test_threshold_and_score() -> None:
    data = signal(2.0, [(10000, 80000)])
    data[10000:80000] = 0.0005  # -66 dBFS: silent at -60, loud at -70
    (e,) = run(SilenceDetector(), chunks(data, RATE))
    assert times([e]) == edges((10000 / RATE, 80000 / RATE))
    assert e.score == pytest.approx(0.5, abs=1e-3)
    assert e.details["peak_db"] == pytest.approx(-66.02, abs=0.01)
    assert run(SilenceDetector(SilenceDetector.Params(threshold_db=-70.0)), chunks(data, RATE)) == []


def test_metrics_record() -> None:
    det = SilenceDetector()
    assert det.metrics()["peak_db"] is None
    det.feed(AudioChunk(0.5, RATE, np.full((100, 2), 0.1, np.float32), 24000))
    assert det.last_metric == pytest.approx(-20.0, abs=1e-3)
    assert det.metrics() == {"start_sample": 24000, "pts_s": 0.5, "peak_db": det.last_metric, "silent_ratio": 0.0}
    det.feed(AudioChunk(0.6, RATE, np.zeros((100, 2), np.float32), 24100))
    assert det.last_metric == -np.inf and det.metrics()["silent_ratio"] == 1.0
    assert set(det.metrics()) == set(SilenceDetector.metric_names)


def test_empty_chunk_and_wrong_item() -> None:
    det = SilenceDetector()
    assert det.feed(AudioChunk(0.0, RATE, np.zeros((0, 2), np.float32))) == []
    assert det.flush() == []
    with pytest.raises(TypeError):
        det.feed(Frame(0, 0.0, np.zeros((6, 4), np.uint8)))


def test_many_transitions_are_vectorised() -> None:
    # Audio hovering around the threshold toggles every sample: must stay fast and report nothing.
    data = np.zeros((RATE * 10, 2), np.float32)
    data[::2] = 0.01
    det = SilenceDetector()
    assert run(det, chunks(data, RATE, RATE)) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold_db": 0.0},
        {"threshold_db": 6.0},
        {"threshold_db": float("-inf")},
        {"min_duration_s": 0.0},
        {"min_duration_s": float("nan")},
    ],
)
def test_params_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="silence"):
        SilenceDetector.Params(**kwargs)


def _file_events(path: Path) -> list[Event]:
    pipeline = Pipeline([create("silence")])
    for item in iter_media(path, want_video=False):
        pipeline.feed(item)
    pipeline.flush()
    return pipeline.sorted_events()


def test_pcm_file_is_sample_exact(tmp_path: Path) -> None:
    spec = ClipSpec(frames=75, audio_codec="pcm_s16le", silence=[(40000, 80000)])
    path = write_clip(tmp_path / "silence.mkv", spec)
    (e,) = _file_events(path)
    assert (e.start_s, e.end_s) == pytest.approx((40000 / RATE, 80000 / RATE), abs=1e-9)


def test_aac_file_within_10_ms(tmp_path: Path) -> None:
    spec = ClipSpec(frames=75, audio_codec="aac", video_codec=None, silence=[(40000, 80000)])
    path = write_clip(tmp_path / "silence.mp4", spec)
    (e,) = _file_events(path)
    assert e.start_s == pytest.approx(40000 / RATE, abs=0.010)
    assert e.end_s == pytest.approx(80000 / RATE, abs=0.010)
