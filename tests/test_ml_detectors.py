"""Learned detectors on short generated media: events, `avqa analyze` on a one-second WAV, no torch at run time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from detectors.audio.audio_artifacts import AudioArtifactsDetector
from detectors.base import REGISTRY
from detectors.media import AudioChunk, Event, Frame
from detectors.video.block_corruption import BlockCorruptionDetector, draw_regions

RATE = 48000


def tune(seconds: float, seed: int = 0) -> np.ndarray:
    """Pristine-like programme: a melody of harmonic notes with envelopes (mono, 48 kHz)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE))
    note = RATE // 4
    for k in range(0, out.size, note):
        f = 220 * 2 ** (int(rng.choice([0, 2, 4, 5, 7, 9])) / 12)
        t = np.arange(min(note, out.size - k)) / RATE
        env = np.minimum(1.0, t / 0.02) * np.minimum(1.0, (t[-1] - t) / 0.02 + 1e-3) * np.exp(-3 * t)  # no step: no click
        out[k : k + t.size] = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3)) * env * 0.2
    return out.astype(np.float32)


def hummed(x: np.ndarray, a: int, b: int) -> np.ndarray:
    y = x.copy()
    t = np.arange(a, b) / RATE
    y[a:b] += (0.05 * np.sin(2 * np.pi * 50 * t) + 0.03 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    return y


def feed_audio(det: AudioArtifactsDetector, x: np.ndarray, size: int = 4800) -> list[Event]:
    events: list[Event] = []
    for i in range(0, x.size, size):
        events += det.feed(AudioChunk(pts_s=10.0 + i / RATE, sample_rate_hz=RATE, samples=x[i : i + size, None], start_sample=i))
    return events + det.flush()


def test_registered_and_params_validated() -> None:
    assert REGISTRY.get("audio_artifacts") is AudioArtifactsDetector
    assert REGISTRY.get("block_corruption") is BlockCorruptionDetector
    with pytest.raises(ValueError, match="hop_s"):
        AudioArtifactsDetector.Params(hop_s=0)
    with pytest.raises(ValueError, match="min_decision"):
        BlockCorruptionDetector.Params(min_decision=1.5)


def test_hum_in_the_middle_of_a_clip_is_one_event() -> None:
    x = hummed(tune(6.0), 2 * RATE, 5 * RATE)
    det = AudioArtifactsDetector()
    events = feed_audio(det, x)
    assert [e.kind for e in events] == ["hum"]
    (e,) = events
    assert 11.0 <= e.start_s <= 12.5 and 14.5 <= e.end_s <= 16.0  # capture clock starts at 10 s
    assert det.metrics()["label"] in ("none", "hum") and len(det.segment_metrics) >= 10


def test_clean_clip_has_no_event() -> None:
    assert feed_audio(AudioArtifactsDetector(), tune(6.0, seed=3)) == []


def test_short_stream_is_not_hidden_by_smoothing() -> None:
    x = hummed(tune(1.0), 0, RATE)  # one segment long
    (e,) = feed_audio(AudioArtifactsDetector(), x, size=1000)
    assert e.kind == "hum" and e.details["segments"] == 1
    # neither the run length nor the confidence threshold applies to a stream shorter than the smoothing window
    strict = AudioArtifactsDetector(AudioArtifactsDetector.Params(min_confidence=1.0, min_segments=3))
    (e,) = feed_audio(strict, hummed(tune(1.5), 0, int(1.5 * RATE)), size=1000)  # two segments
    assert e.kind == "hum" and e.details["segments"] == 2
    assert feed_audio(AudioArtifactsDetector(AudioArtifactsDetector.Params(min_confidence=1.0)), tune(1.0, seed=3)) == []


@pytest.mark.parametrize("size", [777, 4800, 48000])
def test_streaming_resampling_equals_resampling_the_whole_stream(size: int) -> None:
    from scipy.signal import resample_poly

    from detectors.ml.features import audio_features

    x = hummed(tune(4.3, seed=2), RATE, 3 * RATE)
    det = AudioArtifactsDetector()
    feed_audio(det, x, size=size)
    whole = resample_poly(x, 1, 3).astype(np.float32)  # 48 kHz -> 16 kHz in one go
    starts = [*range(0, whole.size - 16000 + 1, 8000), whole.size - 16000]  # every 0.5 s, then the end covered
    assert [round(m["start_s"] - 10.0, 4) for m in det.segment_metrics] == [round(s / 16000, 4) for s in starts]
    probs = det.classify(*audio_features(np.stack([whole[s : s + 16000] for s in starts])))
    got = np.array([m["p_none"] for m in det.segment_metrics])
    assert np.abs(got - probs[:, 0]).max() < 1e-3


@pytest.mark.parametrize(("hop_s", "shares"), [(0.5, True), (0.25, True), (1.0, False), (0.123, False)])
def test_shared_stft_rows_equal_computing_each_segment(hop_s: float, shares: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detector computes the STFT rows overlapping segments share once (at 1 s only the last segment, which
    covers the end of the stream, overlaps the one before it; at 0.123 s segments start off the frame grid); the
    model then gets exactly the inputs of segments computed one by one."""
    import detectors.audio.audio_artifacts as module
    from detectors.ml.features import N_FRAMES, frame_power

    x = hummed(tune(4.3, seed=5), RATE, 3 * RATE)
    rows = [0]

    def counted(samples: np.ndarray) -> np.ndarray:
        out = frame_power(samples)
        rows[0] += out.shape[0]  # the detector passes one stretch of samples: (frames, bins)
        return out

    def inputs_seen(det: AudioArtifactsDetector) -> list[np.ndarray]:
        seen: list[np.ndarray] = []
        classify = det.classify

        def recording(*inputs: np.ndarray) -> np.ndarray:
            seen.append(np.concatenate([a.reshape(a.shape[0], -1) for a in inputs], axis=1))
            return classify(*inputs)

        monkeypatch.setattr(det, "classify", recording)
        feed_audio(det, x, size=777)
        return seen

    monkeypatch.setattr(module, "frame_power", counted)
    shared_det = AudioArtifactsDetector(AudioArtifactsDetector.Params(hop_s=hop_s))
    shared = np.concatenate(inputs_seen(shared_det))
    n = shared.shape[0]
    assert n >= 4
    if shares:  # rows computed once where segments share them
        assert rows[0] < n * N_FRAMES
    else:  # segments that do not overlap share nothing (only the last one, which covers the end, may)
        assert rows[0] >= (n - 1) * N_FRAMES
    monkeypatch.setattr(AudioArtifactsDetector, "_segment_power", lambda self, start, total16, seg: frame_power(seg))
    alone = np.concatenate(inputs_seen(AudioArtifactsDetector(AudioArtifactsDetector.Params(hop_s=hop_s))))
    assert np.array_equal(shared, alone)  # every model input, bit for bit


def write_wav(path: Path, x: np.ndarray, rate: int = RATE) -> None:
    from scipy.io import wavfile

    wavfile.write(path, rate, (np.clip(x, -1, 1) * 32767).astype(np.int16))


@pytest.mark.parametrize("defect", ["hum", "clicks"])
def test_avqa_analyze_reports_a_defect_in_a_one_second_wav(tmp_path: Path, defect: str) -> None:
    from detectors.analyze import main

    x = tune(1.0, seed=5)
    if defect == "hum":
        x = hummed(x, 0, x.size)
    else:
        for p in np.random.default_rng(1).integers(100, x.size - 100, 8):
            x[p : p + 2] += 0.6
    path = tmp_path / f"{defect}.wav"
    write_wav(path, x)
    out = StringIO()
    assert main([str(path), "--detector", "audio_artifacts"], stdout=out) == 0
    (record,) = json.loads(out.getvalue())
    kinds = [e["kind"] for e in record["events"] if e["detector"] == "audio_artifacts"]
    assert kinds == [defect]


def i420(bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)


def test_block_corruption_events_on_a_generated_clip() -> None:
    import cv2

    from detectors.training.video_sources import ui_renderer

    frames = ui_renderer(2)(20, 640, 360, 0)
    # decoder garbage: 16x16 macroblocks of random flat colours (DC-only garbage) and a smeared band
    garbage = np.kron(np.random.default_rng(0).integers(0, 256, (8, 20, 3)), np.ones((16, 16, 1))).astype(np.uint8)
    bad = []
    for i, f in enumerate(frames):
        g = f.copy()
        if 8 <= i < 12:
            g[96:224, 160:480] = garbage
            g[224:288, :] = g[223]
        bad.append(g)
    det = BlockCorruptionDetector(BlockCorruptionDetector.Params(threads=1))
    events: list[Event] = []
    records = []
    for i, g in enumerate(bad):
        events += det.feed(Frame(i, i / 25, i420(g)))
        records += det.metric_records()
    events += det.flush()
    records += det.metric_records()
    assert [r["index"] for r in records] == list(range(20))  # every frame decided once, the last at flush
    assert records[9]["corrupted"] == 1 and records[9]["area_ratio"] > 0.07
    assert len(events) == 1
    (e,) = events
    assert (
        e.kind == "block_corruption"
        and e.start_frame is not None
        and 7 <= e.start_frame <= 8
        and e.end_frame is not None
        and 11 <= e.end_frame <= 12
    )
    assert e.region is not None and e.region.x <= 200 and e.region.x + e.region.width >= 440
    assert e.evidence_frame is not None and 8 <= e.evidence_frame <= 11
    drawn = draw_regions(bad[e.evidence_frame], e.details["regions"])
    assert drawn.shape == bad[0].shape and not np.array_equal(drawn, bad[e.evidence_frame])
    assert cv2 is not None


def test_no_torch_at_run_time() -> None:
    code = textwrap.dedent(
        """
        import sys

        class Block:  # any "import torch" (or onnx) now raises ImportError; nothing is put in sys.modules
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "onnx"):
                    raise ImportError(f"{name} is blocked: run time must not need it")

        sys.meta_path.insert(0, Block())
        import numpy as np
        import harness, detectors
        from detectors.base import create
        from detectors.media import AudioChunk, Frame
        a = create("audio_artifacts")
        ev = a.feed(AudioChunk(0.0, 16000, np.zeros((16000, 1), np.float32), 0)) + a.flush()
        v = create("block_corruption", {"threads": 1})
        ev += v.feed(Frame(0, 0.0, np.full((540, 640), 128, np.uint8))) + v.flush()
        assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "onnx")]
        print("ok", len(ev))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")
