"""Audio artifacts: dataset from simulated defects on pristine sources, the 5-class CNN, training, export and evaluation."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from detectors.ml.features import (
    AUDIO_RATE_HZ,
    AUX_NAMES,
    DB_SCALE,
    FLOOR_DB,
    HOP,
    N_AUX,
    N_FFT,
    N_FRAMES,
    N_MELS,
    SEGMENT_SAMPLES,
    audio_features,
)
from detectors.training.audio_sim import CLASSES, apply_defect
from detectors.training.audio_sources import AudioSource, audio_sources
from detectors.training.export import export_onnx, max_abs_diff_vs_onnx
from detectors.training.progress import progress, say

MODEL_NAME = "audio_artifacts"
SEED = 20240607
SOURCE_S = 30.0


class AudioArtifactNet(nn.Module):
    """A CNN over (1, N_MELS, N_FRAMES) log-mel segments (mean+max pooled) joined with an MLP over the
    :data:`~detectors.ml.features.AUX_NAMES` statistics; logits for :data:`CLASSES`.

    The aux statistics are standardised inside the model (training mean/std stored as buffers), so
    the exported graph takes them as computed by :func:`~detectors.ml.features.audio_features`.
    """

    def __init__(self, width: int = 24, n_classes: int = len(CLASSES), n_aux: int = N_AUX) -> None:
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
        self.register_buffer("aux_mean", torch.zeros(n_aux))
        self.register_buffer("aux_std", torch.ones(n_aux))
        self.aux = nn.Sequential(nn.Linear(n_aux, 96), nn.ReLU(inplace=True), nn.Linear(96, 64), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w + 64, 64), nn.ReLU(inplace=True), nn.Linear(64, n_classes))

    def forward(self, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        a = self.aux((aux - self.aux_mean) / self.aux_std)
        return self.head(torch.cat([pooled, a], dim=1))


class AudioArtifactExport(nn.Module):
    """The exported graph: probabilities (softmax) instead of logits."""

    def __init__(self, net: AudioArtifactNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x, aux), dim=1)


@dataclass
class AudioSet:
    features: np.ndarray  # (n, 1, N_MELS, N_FRAMES)
    aux: np.ndarray  # (n, N_AUX)
    labels: np.ndarray  # (n,)
    sources: list[str]
    params: list[dict[str, object]]


def _render(sources: list[AudioSource], take: int, duration_s: float) -> dict[str, np.ndarray]:
    return {s.name: s.audio(duration_s, take) for s in progress(sources, len(sources), f"render {len(sources)} sources")}


def _mix_in(seg: np.ndarray, other: np.ndarray, rng: np.random.Generator, programme_rms: float) -> tuple[np.ndarray, float]:
    """Lay ``other`` (pristine, another source) under or over ``seg`` at -30..0 dB; never clips. Returns (mix, gain dB)."""
    gain_db = float(rng.uniform(-30.0, 0.0))
    ref = max(float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))), 0.25 * programme_rms)
    o_rms = float(np.sqrt(np.mean(other.astype(np.float64) ** 2)))
    y = seg + other * (ref / max(o_rms, 1e-6) * 10 ** (gain_db / 20))
    peak = float(np.abs(y).max())
    return (y * (0.89 / peak) if peak > 0.89 else y).astype(np.float32), gain_db


def build_set(sources: list[AudioSource], per_class: int, seed: int, take: int = 0, vary: bool = False) -> AudioSet:
    """Simulate ``per_class`` one-second segments of every class from ``sources``.

    With ``vary`` (training only), pristine segments are varied before the defect is simulated, to
    every class alike: 50 % are played at another speed (:func:`~detectors.training.audio_augment.change_speed`),
    40 % get a passage of another source of the same set laid under or over them (speech over music,
    effects over speech...) and 30 % go through a broadcast limiter (:func:`~detectors.training.audio_augment.limit`).
    """
    from detectors.training.audio_augment import change_speed, draw_speed, limit

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
        speed = draw_speed(rng) if vary and rng.random() < 0.5 else 1.0
        for _ in range(30):
            off = int(rng.integers(0, a.size - int(SEGMENT_SAMPLES * speed) - 1))
            seg = a[off : off + SEGMENT_SAMPLES] if speed == 1.0 else change_speed(a, off, speed)
            # distortion needs programme to distort; the label must be true
            if kind != "distortion" or np.sqrt(np.mean(seg.astype(np.float64) ** 2)) > 0.3 * rms:
                break
        extra: dict[str, object] = {"speed": speed} if speed != 1.0 else {}
        if vary and len(names) > 1 and rng.random() < 0.4:
            other = names[int(rng.integers(len(names)))]
            while other == name:
                other = names[int(rng.integers(len(names)))]
            o = audio[other]
            o_off = int(rng.integers(0, o.size - SEGMENT_SAMPLES))
            seg, gain_db = _mix_in(seg, o[o_off : o_off + SEGMENT_SAMPLES], rng, rms)
            extra.update(mixed_with=other, mix_offset=o_off, mix_db=round(gain_db, 2))
        if vary and rng.random() < 0.3:
            seg, limited = limit(seg, rng)
            extra.update(limited)
        y, defect = apply_defect(kind, seg, rng, rms, peak)
        segs.append(y)
        labels.append(defect.label)
        srcs.append(name)
        params.append({"source": name, "offset": off, **extra, **defect.params})
    x = np.stack(segs)
    parts = [audio_features(x[i : i + 256]) for i in progress(range(0, len(x), 256), (len(x) + 255) // 256, "features")]
    feats = np.concatenate([m for m, _ in parts])
    aux = np.concatenate([a for _, a in parts])
    return AudioSet(feats, aux, np.asarray(labels, np.int64), srcs, params)


def train_model(train: AudioSet, epochs: int = 14, seed: int = SEED) -> AudioArtifactNet:
    """Train the CNN on ``train`` with fixed seeds (CPU, a few minutes)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = AudioArtifactNet()
    x = torch.from_numpy(train.features)
    aux = torch.from_numpy(train.aux)
    net.aux_mean.copy_(aux.mean(0))
    net.aux_std.copy_(aux.std(0).clamp_min(1e-3))
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
            xb, ab, yb = x[idx], aux[idx], y[idx]
            # augmentation: random time shift (roll) keeps every defect inside the segment
            xb = torch.roll(xb, int(torch.randint(0, N_FRAMES, (1,), generator=g)), dims=3)
            out = net(xb, ab)
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


def predict(net: nn.Module, feats: np.ndarray, aux: np.ndarray) -> np.ndarray:
    """Return class probabilities (n, classes) of ``feats`` and ``aux`` with the torch model."""
    net.eval()
    with torch.no_grad():
        return np.concatenate(
            [
                torch.softmax(net(torch.from_numpy(feats[i : i + 512]), torch.from_numpy(aux[i : i + 512])), 1).numpy()
                for i in range(0, len(feats), 512)
            ]
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


def train_audio(per_class_train: int = 3000, epochs: int = 14) -> dict[str, object]:
    """Regenerate data, train, export ``audio_artifacts.onnx`` and return the held-out evaluation."""
    train_sources, eval_sources = audio_sources()
    say(f"audio sources: train {[s.name for s in train_sources]} eval {[s.name for s in eval_sources]}")
    train = build_set(train_sources, per_class_train, SEED, vary=True)
    net = train_model(train, epochs)
    metadata = {
        "labels": list(CLASSES),
        "sample_rate_hz": AUDIO_RATE_HZ,
        "segment_samples": SEGMENT_SAMPLES,
        "features": {"n_fft": N_FFT, "hop": HOP, "n_mels": N_MELS, "floor_db": FLOOR_DB, "db_scale": DB_SCALE},
        "aux": list(AUX_NAMES),
        "train_sources": [s.name for s in train_sources],
        "seed": SEED,
    }
    example = (torch.from_numpy(train.features[:2]), torch.from_numpy(train.aux[:2]))
    path, digest = export_onnx(
        AudioArtifactExport(net),
        example,
        MODEL_NAME,
        ["probs"],
        metadata,
        {"input": {0: "n"}, "aux": {0: "n"}, "probs": {0: "n"}},
        input_names=("input", "aux"),
    )
    diff = max_abs_diff_vs_onnx(AudioArtifactExport(net), path, (train.features[:16], train.aux[:16]))
    say(f"exported {path} ({path.stat().st_size} bytes, sha256 {digest}); max |onnx - torch| = {diff:.2e}")
    Path("reports/training").mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), "reports/training/audio_artifacts.pt")
    return evaluate_audio(eval_sources)


def pristine_durations(sources: list[AudioSource], total_s: float) -> dict[str, float]:
    """Share ``total_s`` seconds among ``sources``: recordings get at most their own length, the rest equal shares."""
    out: dict[str, float] = {}
    fixed = [s for s in sources if s.natural_s is not None and s.natural_s < total_s / len(sources)]
    for s in fixed:
        out[s.name] = float(s.natural_s)  # type: ignore[arg-type]
    rest = [s for s in sources if s.name not in out]
    share = (total_s - sum(out.values())) / max(len(rest), 1)
    out.update({s.name: share for s in rest})
    return out


def evaluate_audio(eval_sources: list[AudioSource] | None = None, per_class: int = 600, hours: float = 1.0) -> dict[str, object]:
    """Evaluate the shipped ONNX model: held-out simulated set and false events per hour of pristine held-out audio."""
    from detectors.audio.audio_artifacts import AudioArtifactsDetector
    from detectors.media import AudioChunk

    if eval_sources is None:
        eval_sources = audio_sources()[1]
    evalset = build_set(eval_sources, per_class, SEED + 1, take=1)
    det = AudioArtifactsDetector()
    probs = det.classify(evalset.features, evalset.aux)
    result = table(evalset.labels, probs)
    say(format_table(result))
    # the detector's own rule: a segment is a defect only when the winning defect class has >= min_confidence
    rule = probs[:, 1:].argmax(1) + 1
    rule[probs[:, 1:].max(1) < det.params.min_confidence] = 0
    rule_recall = [float((rule[evalset.labels == k] == k).mean()) for k in range(len(CLASSES))]
    result["detector_rule"] = {
        "min_confidence": det.params.min_confidence,
        "recall": {c: round(r, 4) for c, r in zip(CLASSES, rule_recall, strict=True)},
        "balanced_accuracy": round(float(np.mean(rule_recall)), 4),
    }
    say(f"with the detector's rule (defect when its probability >= {det.params.min_confidence}): {result['detector_rule']}")
    pred = probs.argmax(1)
    by_level: dict[str, dict[str, float]] = {}
    ratio = np.array([float(p.get("ratio_db", np.nan)) for p in evalset.params])
    for k, kind in ((1, "hum"), (2, "hiss")):
        sel = evalset.labels == k
        edges = (-24, -18, -12, -6)
        by_level[kind] = {
            f"{lo}..{hi} dB": round(float((pred[sel & (ratio >= lo) & (ratio < hi)] == k).mean()), 4)
            for lo, hi in itertools.pairwise(edges)
        }
    result["recall_by_level"] = by_level
    say(f"recall by defect-to-reference level: {by_level}")
    # false events over pristine programme audio from the held-out sources (fresh passages); a recording is
    # heard for its own length only (looping a 5 s clip would count its one confusing moment dozens of times)
    durations = pristine_durations(eval_sources, hours * 3600.0)
    events = []
    by_source: dict[str, int] = {}
    seconds = 0.0
    t_model = 0.0
    for k, src in enumerate(progress(eval_sources, len(eval_sources), "pristine programme")):
        x = src.audio(durations[src.name], take=100 + k)
        det = AudioArtifactsDetector()
        t0 = time.perf_counter()
        found = []
        for i in range(0, x.size, 8000):
            chunk = AudioChunk(
                pts_s=seconds + i / AUDIO_RATE_HZ, sample_rate_hz=AUDIO_RATE_HZ, samples=x[i : i + 8000, None], start_sample=i
            )
            found.extend(det.feed(chunk))
        found.extend(det.flush())
        t_model += time.perf_counter() - t0
        seconds += x.size / AUDIO_RATE_HZ
        events.extend(found)
        if found:
            by_source[src.name] = len(found)
    result["pristine_hours"] = round(seconds / 3600, 3)
    result["false_events"] = len(events)
    result["false_events_per_hour"] = round(len(events) / (seconds / 3600), 3)
    result["false_event_kinds"] = sorted({e.kind for e in events})
    result["false_events_by_source"] = by_source
    result["realtime_factor"] = round(seconds / max(t_model, 1e-9), 1)
    say(
        f"pristine held-out programme: {seconds / 3600:.2f} h, {len(events)} false events ({result['false_events_per_hour']}/h) {[e.describe() for e in events[:5]]}"
    )
    say(f"detector speed (16 kHz input, 1 thread): {result['realtime_factor']}x real time")
    return result
