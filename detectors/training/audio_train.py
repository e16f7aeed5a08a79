"""Audio artifacts: dataset from simulated defects on pristine sources, the 5-class CNN, training, export and evaluation."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from detectors.ml.features import AUDIO_RATE_HZ, DB_SCALE, FLOOR_DB, HOP, N_FFT, N_FRAMES, N_MELS, SEGMENT_SAMPLES, log_mel
from detectors.training.audio_sim import CLASSES, apply_defect
from detectors.training.audio_sources import AudioSource, audio_sources
from detectors.training.export import export_onnx, max_abs_diff_vs_onnx
from detectors.training.progress import progress, say

MODEL_NAME = "audio_artifacts"
SEED = 20240607
SOURCE_S = 30.0


class AudioArtifactNet(nn.Module):
    """A small CNN over (1, N_MELS, N_FRAMES) log-mel segments with mean+max pooling; logits for :data:`CLASSES`."""

    def __init__(self, width: int = 24, n_classes: int = len(CLASSES)) -> None:
        super().__init__()

        def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
            layers: list[nn.Module] = [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            if pool:
                layers.append(nn.MaxPool2d(2))
            return layers

        w = width
        self.features = nn.Sequential(
            *block(1, w, True), *block(w, 2 * w, True), *block(2 * w, 3 * w, True), *block(3 * w, 4 * w, False)
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)


class AudioArtifactExport(nn.Module):
    """The exported graph: probabilities (softmax) instead of logits."""

    def __init__(self, net: AudioArtifactNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


@dataclass
class AudioSet:
    features: np.ndarray  # (n, 1, N_MELS, N_FRAMES)
    labels: np.ndarray  # (n,)
    sources: list[str]
    params: list[dict[str, object]]


def _render(sources: list[AudioSource], take: int, duration_s: float) -> dict[str, np.ndarray]:
    return {s.name: s.audio(duration_s, take) for s in progress(sources, len(sources), f"render {len(sources)} sources")}


def build_set(sources: list[AudioSource], per_class: int, seed: int, take: int = 0) -> AudioSet:
    """Simulate ``per_class`` one-second segments of every class from ``sources``."""
    rng = np.random.default_rng(seed)
    audio = _render(sources, take, SOURCE_S)
    names = list(audio)
    stats = {n: (float(np.sqrt(np.mean(a.astype(np.float64) ** 2))), float(np.abs(a).max())) for n, a in audio.items()}
    segs, labels, srcs, params = [], [], [], []
    total = per_class * len(CLASSES)
    for i in progress(range(total), total, "simulate segments"):
        kind = CLASSES[i % len(CLASSES)]
        name = names[int(rng.integers(len(names)))]
        a = audio[name]
        rms, peak = stats[name]
        for _ in range(30):
            off = int(rng.integers(0, a.size - SEGMENT_SAMPLES))
            seg = a[off : off + SEGMENT_SAMPLES]
            # distortion needs programme to distort; the label must be true
            if kind != "distortion" or np.sqrt(np.mean(seg.astype(np.float64) ** 2)) > 0.3 * rms:
                break
        y, defect = apply_defect(kind, seg, rng, rms, peak)
        segs.append(y)
        labels.append(defect.label)
        srcs.append(name)
        params.append({"source": name, "offset": off, **defect.params})
    x = np.stack(segs)
    feats = np.concatenate([log_mel(x[i : i + 256]) for i in range(0, len(x), 256)])
    return AudioSet(feats, np.asarray(labels, np.int64), srcs, params)


def train_model(train: AudioSet, epochs: int = 14, seed: int = SEED) -> AudioArtifactNet:
    """Train the CNN on ``train`` with fixed seeds (CPU, a few minutes)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = AudioArtifactNet()
    x = torch.from_numpy(train.features)
    y = torch.from_numpy(train.labels)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    batch = 64
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.02)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        t0 = time.perf_counter()
        for i in range(0, len(x), batch):
            idx = perm[i : i + batch]
            xb, yb = x[idx], y[idx]
            # augmentation: random time shift (roll) keeps every defect inside the segment
            xb = torch.roll(xb, int(torch.randint(0, N_FRAMES, (1,), generator=g)), dims=3)
            out = net(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((out.argmax(1) == yb).sum())
            total += len(idx)
        say(
            f"epoch {epoch + 1}/{epochs}: loss {loss_sum / total:.4f} train acc {correct / total:.4f} ({time.perf_counter() - t0:.1f} s)"
        )
    net.eval()
    return net


def predict(net: nn.Module, feats: np.ndarray) -> np.ndarray:
    """Return class probabilities (n, classes) of ``feats`` with the torch model."""
    net.eval()
    with torch.no_grad():
        return np.concatenate(
            [torch.softmax(net(torch.from_numpy(feats[i : i + 512])), 1).numpy() for i in range(0, len(feats), 512)]
        )


def confusion(labels: np.ndarray, pred: np.ndarray) -> np.ndarray:
    m = np.zeros((len(CLASSES), len(CLASSES)), np.int64)
    np.add.at(m, (labels, pred), 1)
    return m


def table(labels: np.ndarray, probs: np.ndarray) -> dict[str, object]:
    """Return per-class recall/precision, balanced accuracy and the confusion matrix."""
    pred = probs.argmax(1)
    m = confusion(labels, pred)
    recall = m.diagonal() / np.maximum(m.sum(1), 1)
    precision = m.diagonal() / np.maximum(m.sum(0), 1)
    return {
        "recall": {c: round(float(r), 4) for c, r in zip(CLASSES, recall, strict=True)},
        "precision": {c: round(float(p), 4) for c, p in zip(CLASSES, precision, strict=True)},
        "balanced_accuracy": round(float(recall.mean()), 4),
        "confusion": m.tolist(),
        "n": len(labels),
    }


def format_table(result: dict[str, object]) -> str:
    rec, prec = result["recall"], result["precision"]
    assert isinstance(rec, dict) and isinstance(prec, dict)
    lines = ["class        recall  precision"]
    lines += [f"{c:<12} {rec[c]:.4f}  {prec[c]:.4f}" for c in CLASSES]
    lines.append(f"balanced accuracy {result['balanced_accuracy']:.4f} on {result['n']} held-out segments")
    lines.append("confusion (rows: truth, cols: predicted) " + json.dumps(result["confusion"]))
    return "\n".join(lines)


def train_audio(per_class_train: int = 2400, epochs: int = 12) -> dict[str, object]:
    """Regenerate data, train, export ``audio_artifacts.onnx`` and return the held-out evaluation."""
    train_sources, eval_sources = audio_sources()
    say(f"audio sources: train {[s.name for s in train_sources]} eval {[s.name for s in eval_sources]}")
    train = build_set(train_sources, per_class_train, SEED)
    net = train_model(train, epochs)
    metadata = {
        "labels": list(CLASSES),
        "sample_rate_hz": AUDIO_RATE_HZ,
        "segment_samples": SEGMENT_SAMPLES,
        "features": {"n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "floor_db": FLOOR_DB, "db_scale": DB_SCALE},
        "train_sources": [s.name for s in train_sources],
        "seed": SEED,
    }
    example = torch.from_numpy(train.features[:2])
    path, digest = export_onnx(
        AudioArtifactExport(net), example, MODEL_NAME, ["probs"], metadata, {"input": {0: "n"}, "probs": {0: "n"}}
    )
    diff = max_abs_diff_vs_onnx(AudioArtifactExport(net), path, train.features[:16])
    say(f"exported {path} ({path.stat().st_size} bytes, sha256 {digest}); max |onnx - torch| = {diff:.2e}")
    Path("reports/training").mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), "reports/training/audio_artifacts.pt")
    return evaluate_audio(eval_sources)


def evaluate_audio(eval_sources: list[AudioSource] | None = None, per_class: int = 600, hours: float = 1.0) -> dict[str, object]:
    """Evaluate the shipped ONNX model: held-out simulated set and false events per hour of pristine held-out audio."""
    from detectors.audio.audio_artifacts import AudioArtifactsDetector
    from detectors.media import AudioChunk

    if eval_sources is None:
        eval_sources = audio_sources()[1]
    evalset = build_set(eval_sources, per_class, SEED + 1, take=1)
    det = AudioArtifactsDetector()
    probs = det.classify(evalset.features)
    result = table(evalset.labels, probs)
    say(format_table(result))
    # false events over pristine programme audio from the held-out sources (fresh passages)
    per_source_s = hours * 3600.0 / len(eval_sources)
    events = []
    seconds = 0.0
    t_model = 0.0
    for k, src in enumerate(progress(eval_sources, len(eval_sources), "pristine programme")):
        x = src.audio(per_source_s, take=100 + k)
        det = AudioArtifactsDetector()
        t0 = time.perf_counter()
        for i in range(0, x.size, 8000):
            chunk = AudioChunk(
                pts_s=seconds + i / AUDIO_RATE_HZ, sample_rate_hz=AUDIO_RATE_HZ, samples=x[i : i + 8000, None], start_sample=i
            )
            events.extend(det.feed(chunk))
        events.extend(det.flush())
        t_model += time.perf_counter() - t0
        seconds += x.size / AUDIO_RATE_HZ
    result["pristine_hours"] = round(seconds / 3600, 3)
    result["false_events"] = len(events)
    result["false_events_per_hour"] = round(len(events) / (seconds / 3600), 3)
    result["false_event_kinds"] = sorted({e.kind for e in events})
    result["realtime_factor"] = round(seconds / max(t_model, 1e-9), 1)
    say(
        f"pristine held-out programme: {seconds / 3600:.2f} h, {len(events)} false events ({result['false_events_per_hour']}/h) {[e.describe() for e in events[:5]]}"
    )
    say(f"detector speed (16 kHz input, 1 thread): {result['realtime_factor']}x real time")
    return result
