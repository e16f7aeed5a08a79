"""audio_artifacts smoothing: defaults from the model metadata, and the validation replica of the detector's rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from detectors import ml
from detectors.audio.audio_artifacts import DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_SEGMENTS, AudioArtifactsDetector
from detectors.media import AudioChunk

RATE = 16000


def programme(seconds: float, seed: int) -> np.ndarray:
    """Notes with envelopes, hum over [2, 5) s and bursts of clicks over [6, 7) and [8.5, 9.5) s (mono 16 kHz): the
    segments between the bursts are clean, so their two runs are 0.5 s apart."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n)
    for k in range(0, n, RATE // 4):
        t = np.arange(min(RATE // 4, n - k)) / RATE
        f = 220 * 2 ** (int(rng.choice([0, 2, 4, 7, 9])) / 12)
        x[k : k + t.size] = 0.2 * np.sin(2 * np.pi * f * t) * np.minimum(1, t / 0.02) * np.exp(-3 * t)
    t = np.arange(2 * RATE, 5 * RATE) / RATE
    x[2 * RATE : 5 * RATE] += 0.05 * np.sin(2 * np.pi * 50 * t) + 0.03 * np.sin(2 * np.pi * 150 * t)
    for lo in (6.0, 8.5):
        for p in rng.integers(int(lo * RATE), int((lo + 1.0) * RATE), 20):
            x[p : p + 2] += 0.6
    return x.astype(np.float32)


def feed(det: AudioArtifactsDetector, x: np.ndarray) -> list:  # type: ignore[type-arg]
    out = []
    for i in range(0, x.size, 8000):
        out += det.feed(AudioChunk(pts_s=i / RATE, sample_rate_hz=RATE, samples=x[i : i + 8000, None], start_sample=i))
    return out + det.flush()


@pytest.mark.parametrize(("confidence", "segments", "merge"), [(0.5, 1, 0.0), (0.6, 2, 0.0), (0.9, 3, 0.0), (0.6, 1, 0.5)])
def test_validation_replica_gives_the_detectors_events(confidence: float, segments: int, merge: float) -> None:
    from detectors.training.audio_validate import segment_probs, smoothed_runs

    x = programme(11.0, seed=5)
    params = AudioArtifactsDetector.Params(min_confidence=confidence, min_segments=segments, merge_gap_s=merge)
    events = feed(AudioArtifactsDetector(params), x)
    segments_probs = segment_probs(x)
    runs = smoothed_runs(segments_probs, confidence, segments, merge)
    assert [(r.kind, r.start / RATE, r.end / RATE) for r in runs] == [(e.kind, e.start_s, e.end_s) for e in events]
    if segments == 1:
        assert runs, "the test stream must produce events, or it checks nothing"
    if merge:
        unmerged = smoothed_runs(segments_probs, confidence, segments)
        assert len(runs) < len(unmerged), "the merge case must join runs (clicks 0.5 s apart), or it checks nothing"


class ScriptedDetector(AudioArtifactsDetector):
    """The detector with the model's class probabilities replaced by a script, one row per segment in order
    (the smoothing under test; the shipped model still gives the labels)."""

    def __init__(self, script: list[list[float]], **params: float) -> None:
        super().__init__(AudioArtifactsDetector.Params(min_confidence=0.9, min_segments=2, **params))  # type: ignore[arg-type]
        self.script = [np.asarray(p, np.float32) for p in script]
        assert self.labels[:3] == ("none", "hum", "hiss")  # loads the model's labels (classify is replaced)

    def classify(self, *inputs: np.ndarray) -> np.ndarray:
        n = inputs[0].shape[0]
        done = len(self.segment_metrics)
        return np.stack(self.script[done : done + n])


NONE, HUM, HISS, WEAK_HUM = [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0.3, 0.7, 0, 0, 0]


def scripted_events(script: list[list[float]], chunk: int = RATE // 2, **params: float) -> tuple[list, list[int]]:  # type: ignore[type-arg]
    """Feed silence covering ``len(script)`` segments (hop 0.5 s) in chunks; return the events and the segment
    count at which each was returned."""
    det = ScriptedDetector(script, **params)
    x = np.zeros(RATE // 2 * (len(script) + 1), np.float32)
    events, when = [], []
    for i in range(0, x.size, chunk):
        got = det.feed(AudioChunk(pts_s=i / RATE, sample_rate_hz=RATE, samples=x[i : i + chunk, None], start_sample=i))
        events += got
        when += [len(det.segment_metrics)] * len(got)
    got = det.flush()
    assert len(det.segment_metrics) == len(script), "the script must cover every segment the detector analyses"
    return events + got, when + [len(script)] * len(got)


def test_one_segment_dipping_under_the_confidence_does_not_split_a_defect() -> None:
    # segments start every 0.5 s and last 1 s: runs 1-2 and 4-5 touch (2.0 s), the dip at 3 lies between them
    events, when = scripted_events([NONE, HUM, HUM, WEAK_HUM, HUM, HUM, NONE, NONE, NONE, NONE])
    assert [(e.kind, e.start_s, e.end_s) for e in events] == [("hum", 0.5, 3.5)]
    assert events[0].details["runs"] == 2 and events[0].details["segments"] == 4
    assert when == [8], "released as soon as no later run can join it (segment 8 would start at 4.0 s), not at the end"


def test_runs_apart_or_of_another_kind_stay_separate_events() -> None:
    apart = [NONE, HUM, HUM, NONE, NONE, HUM, HUM, NONE, NONE]  # 0.5 s between the spans
    events, _ = scripted_events(apart)
    assert [(e.kind, e.start_s, e.end_s) for e in events] == [("hum", 0.5, 2.0), ("hum", 2.5, 4.0)]
    events, _ = scripted_events(apart, merge_gap_s=0.5)
    assert [(e.kind, e.start_s, e.end_s, e.details["runs"]) for e in events] == [("hum", 0.5, 4.0, 2)]
    events, _ = scripted_events([NONE, HUM, HUM, NONE, HISS, HISS, NONE, NONE])
    assert [e.kind for e in events] == ["hum", "hiss"]


def test_a_pending_event_at_the_end_of_the_stream_is_reported() -> None:
    events, when = scripted_events([NONE, HUM, HUM, NONE, HUM, HUM])
    assert [(e.kind, e.start_s, e.end_s, e.details["runs"]) for e in events] == [("hum", 0.5, 3.5, 2)]
    assert when == [6]


@pytest.mark.parametrize("gap", [-0.5, float("nan"), float("inf")])
def test_merge_gap_must_be_a_finite_non_negative_number(gap: float) -> None:
    with pytest.raises(ValueError, match="merge_gap_s"):
        AudioArtifactsDetector.Params(merge_gap_s=gap)


def _copy_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(ml._models().joinpath("audio_artifacts.onnx"), tmp_path / "audio_artifacts.onnx")
    shutil.copy(ml._models().joinpath("audio_artifacts.sha256"), tmp_path / "audio_artifacts.sha256")
    monkeypatch.setattr(ml, "_models", lambda: tmp_path)
    ml.forget("audio_artifacts")


def test_smoothing_comes_from_the_model_metadata_unless_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    from detectors.training.export import update_metadata

    _copy_model(tmp_path, monkeypatch)
    try:
        update_metadata("audio_artifacts", {"smoothing": {"min_confidence": 0.85, "min_segments": 4}}, out_dir=tmp_path)
        assert ml.session("audio_artifacts").meta_json("labels")[0] == "none"  # other metadata kept
        assert AudioArtifactsDetector().smoothing == (0.85, 4)
        assert AudioArtifactsDetector(AudioArtifactsDetector.Params(min_segments=1)).smoothing == (0.85, 1)
        assert AudioArtifactsDetector(AudioArtifactsDetector.Params(min_confidence=0.7)).smoothing == (0.7, 4)
        # rewriting the file (sha256 too) must not leave the old session cached
        update_metadata("audio_artifacts", {"smoothing": {"min_confidence": 0.95, "min_segments": 3}}, out_dir=tmp_path)
        assert AudioArtifactsDetector().smoothing == (0.95, 3)
        ml.model_bytes("audio_artifacts")  # sha256 still matches
    finally:
        ml.forget("audio_artifacts")


def test_a_model_without_smoothing_metadata_uses_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx = pytest.importorskip("onnx")
    from detectors.training.export import _write

    _copy_model(tmp_path, monkeypatch)
    try:
        proto = onnx.load(str(tmp_path / "audio_artifacts.onnx"))
        kept = [(e.key, e.value) for e in proto.metadata_props if e.key != "smoothing"]
        del proto.metadata_props[:]
        for key, value in kept:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        _write(proto, "audio_artifacts", tmp_path)
        assert AudioArtifactsDetector().smoothing == (DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_SEGMENTS)
    finally:
        ml.forget("audio_artifacts")


def test_shipped_model_carries_its_validated_smoothing() -> None:
    meta = ml.session("audio_artifacts").meta_json("smoothing")
    assert meta["chosen_on"] == "validation sources"
    assert AudioArtifactsDetector().smoothing == (meta["min_confidence"], meta["min_segments"])


def test_smoothing_choice_prefers_recall_within_the_false_event_budget() -> None:
    from detectors.training.audio_validate import choose_smoothing

    false = {(0.6, 2): 9, (0.9, 2): 1, (0.6, 3): 1, (0.9, 3): 0, (0.6, 4): 0}
    recall = {(0.6, 2): 0.99, (0.9, 2): 0.95, (0.6, 3): 0.95, (0.9, 3): 0.93, (0.6, 4): 0.80}
    assert choose_smoothing(false, recall, max_events=1) == ((0.9, 2), True)  # tie on recall: fewer segments
    assert choose_smoothing(false, recall, max_events=0) == ((0.9, 3), True)
    over = {key: n + 5 for key, n in false.items()}
    assert choose_smoothing(over, recall, max_events=1) == ((0.9, 3), False)  # none within: the fewest false events
