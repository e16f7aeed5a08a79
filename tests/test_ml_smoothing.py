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
    """Notes with envelopes, hum over [2, 5) s and a burst of clicks over [7, 8.5) s (mono 16 kHz)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n)
    for k in range(0, n, RATE // 4):
        t = np.arange(min(RATE // 4, n - k)) / RATE
        f = 220 * 2 ** (int(rng.choice([0, 2, 4, 7, 9])) / 12)
        x[k : k + t.size] = 0.2 * np.sin(2 * np.pi * f * t) * np.minimum(1, t / 0.02) * np.exp(-3 * t)
    t = np.arange(2 * RATE, 5 * RATE) / RATE
    x[2 * RATE : 5 * RATE] += 0.05 * np.sin(2 * np.pi * 50 * t) + 0.03 * np.sin(2 * np.pi * 150 * t)
    for p in rng.integers(7 * RATE, int(8.5 * RATE), 30):
        x[p : p + 2] += 0.6
    return x.astype(np.float32)


def feed(det: AudioArtifactsDetector, x: np.ndarray) -> list:  # type: ignore[type-arg]
    out = []
    for i in range(0, x.size, 8000):
        out += det.feed(AudioChunk(pts_s=i / RATE, sample_rate_hz=RATE, samples=x[i : i + 8000, None], start_sample=i))
    return out + det.flush()


@pytest.mark.parametrize(("confidence", "segments"), [(0.5, 1), (0.6, 2), (0.9, 3)])
def test_validation_replica_gives_the_detectors_events(confidence: float, segments: int) -> None:
    from detectors.training.audio_validate import segment_probs, smoothed_runs

    x = programme(11.0, seed=5)
    events = feed(AudioArtifactsDetector(AudioArtifactsDetector.Params(min_confidence=confidence, min_segments=segments)), x)
    runs = smoothed_runs(segment_probs(x), confidence, segments)
    assert [(r.kind, r.start / RATE, r.end / RATE) for r in runs] == [(e.kind, e.start_s, e.end_s) for e in events]
    if segments == 1:
        assert runs, "the test stream must produce events, or it checks nothing"


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
