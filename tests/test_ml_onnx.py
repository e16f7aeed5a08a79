"""Exported ONNX models give the torch model's outputs; shipped models verify against their sha256 and carry labels."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")


def test_shipped_models_match_their_sha256_and_carry_labels() -> None:
    from detectors.ml import model_bytes, session

    folder = resources.files("detectors.ml").joinpath("models")
    total = 0
    for name, labels in (
        ("audio_artifacts", ("none", "hum", "hiss", "distortion", "clicks")),
        ("block_corruption", ("clean", "corrupted")),
    ):
        data = model_bytes(name)
        total += len(data)
        assert folder.joinpath(f"{name}.sha256").read_text().split()[0] == hashlib.sha256(data).hexdigest()
        assert session(name).labels == labels
    assert total < 20 * 1024 * 1024


def test_corrupted_model_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detectors import ml

    (tmp_path / "m.onnx").write_bytes(b"not a model")
    (tmp_path / "m.sha256").write_text("0" * 64 + "  m.onnx\n")
    monkeypatch.setattr(ml, "_models", lambda: tmp_path)
    with pytest.raises(ml.ModelError, match="does not match"):
        ml.model_bytes("m")
    with pytest.raises(ml.ModelError, match="not found"):
        ml.model_bytes("absent")


@pytest.mark.parametrize("which", ["audio", "audio_ensemble", "video", "video_wide", "video_averaged"])
def test_onnx_export_equals_torch(which: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from detectors.training.export import export_onnx, max_abs_diff_vs_onnx

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if which.startswith("audio"):
        from detectors.ml.features import AUDIO_INPUT_NAMES, N_AUX, N_FINE, N_FRAMES, N_MELS
        from detectors.training.audio_train import AudioArtifactEnsemble, AudioArtifactNet

        members = 1 if which == "audio" else 2
        model = AudioArtifactEnsemble([AudioArtifactNet() for _ in range(members)]).eval()
        x = (
            rng.uniform(-3, 0, (3, 1, N_MELS, N_FRAMES)).astype(np.float32),
            rng.uniform(0, 1, (3, N_AUX)).astype(np.float32),
            rng.uniform(-2, 0, (3, N_FINE)).astype(np.float32),
        )
        outs, dyn = ["probs"], {"input": {0: "n"}, "aux": {0: "n"}, "fine": {0: "n"}, "probs": {0: "n"}}
        names = AUDIO_INPUT_NAMES
    else:
        from detectors.training.video_train import AveragedNet, CorruptionNet

        if which == "video_averaged":  # three maps, each also on the mirrored frame (weights shared in the graph)
            model = AveragedNet([CorruptionNet() for _ in range(3)], mirror=True).eval()
        else:
            model = CorruptionNet(arch="wide" if which == "video_wide" else "narrow").eval()
        x = rng.uniform(-1, 1, (2, 3, 96, 160)).astype(np.float32)
        outs = ["map", "area_ratio", "decision"]
        dyn = {"input": {0: "n", 2: "h", 3: "w"}, "map": {0: "n", 2: "mh", 3: "mw"}, "area_ratio": {0: "n"}, "decision": {0: "n"}}
        names = ("input",)
    # BatchNorm statistics away from identity so that folding is exercised
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    xs = x if isinstance(x, tuple) else (x,)
    example = tuple(torch.from_numpy(a[:1]) for a in xs)
    path, digest = export_onnx(model, example, "t", outs, {"labels": ["a"]}, dyn, out_dir=tmp_path, input_names=names)
    assert (tmp_path / "t.sha256").read_text().startswith(digest)
    assert max_abs_diff_vs_onnx(model, path, x) < 1e-4


def test_shipped_audio_model_equals_trained_torch_weights_when_available() -> None:
    torch = pytest.importorskip("torch")
    from detectors.ml import session
    from detectors.ml.features import N_AUX, N_FINE, N_FRAMES, N_MELS
    from detectors.training.audio_train import load_members

    seeds = tuple(session("audio_artifacts").meta_json("member_seeds"))
    try:
        model = load_members(seeds)
    except FileNotFoundError:
        pytest.skip("no trained member weights here (run python -m detectors.training train-audio)")
    except RuntimeError:
        pytest.skip("the weights in reports/ are from another model architecture than the code's")
    rng = np.random.default_rng(1)
    inputs = (
        rng.uniform(-3, 0, (4, 1, N_MELS, N_FRAMES)).astype(np.float32),
        rng.uniform(0, 1, (4, N_AUX)).astype(np.float32),
        rng.uniform(-2, 0, (4, N_FINE)).astype(np.float32),
    )
    with torch.no_grad():
        ref = model(*(torch.from_numpy(a) for a in inputs)).numpy()
    got = session("audio_artifacts").run(*inputs)[0]
    if np.abs(ref - got).max() > 1e-4:
        pytest.skip("the weights in reports/ are from another training run than the shipped model")
    assert np.abs(ref - got).max() < 1e-4


def test_missing_member_weights_name_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    from detectors.training import audio_train

    monkeypatch.setattr(audio_train, "REPORTS", tmp_path)
    with pytest.raises(
        FileNotFoundError, match=r"audio_member_7\.pt missing: run python -m detectors.training train-audio --seed 7"
    ):
        audio_train.load_members((7,))


@pytest.mark.parametrize("arch", ["narrow", "wide"])
def test_saved_video_weights_load_with_their_own_arch(arch: str, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from detectors.training.video_train import CorruptionNet, load_net

    torch.manual_seed(3)
    net = CorruptionNet(arch=arch).eval()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    got = load_net(tmp_path / "w.pt")
    assert got.arch == arch and got.in_channels == 3
    x = torch.zeros(1, 3, 64, 96).uniform_(-1, 1)
    with torch.no_grad():
        assert torch.equal(got(x)[0], net(x)[0])


def test_weights_of_another_model_are_named(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from detectors.training.video_train import CorruptionNet, load_net

    state = CorruptionNet().state_dict()
    state["head.weight"] = torch.zeros(1, 80, 1, 1)
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt: not the weights of any CorruptionNet arch \(narrow, wide\)"):
        load_net(tmp_path / "other.pt")


def test_weights_with_an_older_decision_head_load_for_refitting_only(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from detectors.training.video_train import N_STATS, CorruptionNet, load_net

    net = CorruptionNet().eval()
    state = net.state_dict()
    state["decision.weight"] = torch.ones(1, N_STATS - 1)
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(ValueError, match=rf"old\.pt: its decision head takes {N_STATS - 1} map statistics, this code {N_STATS}"):
        load_net(tmp_path / "old.pt")
    got = load_net(tmp_path / "old.pt", map_only=True)
    assert torch.equal(got.head.weight, net.head.weight)
    assert got.decision.weight.shape == (1, N_STATS)


def test_shipped_block_model_loads_from_its_onnx_for_refitting(tmp_path: Path) -> None:
    """calibrate-video and decision-cv accept the shipped ONNX when its torch weights are not at hand: the net rebuilt
    from it (BatchNorm folded by the export) gives onnxruntime's map and decision."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from detectors.ml import session
    from detectors.training.video_train import load_net

    shipped = Path(__file__).resolve().parents[1] / "detectors/ml/models/block_corruption.onnx"
    net = load_net(shipped)
    x = np.random.default_rng(7).uniform(-1, 1, (2, net.in_channels, 360, 640)).astype(np.float32)
    cells, _ratio, decision = session("block_corruption", 1).run(x)
    with torch.no_grad():
        p, _r, d = net(torch.from_numpy(x))
    assert np.abs(p.numpy() - cells).max() < 1e-4 and np.abs(d.numpy() - decision).max() < 1e-4
    (tmp_path / "other.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"other\.onnx: not an ONNX model"):
        load_net(tmp_path / "other.onnx")


def test_shipped_block_model_is_the_average_train_video_retrains() -> None:
    """The shipped model averages the maps ``train-video`` trains (video_train.MAP_MEMBERS: seeds and recipes), so a full
    retrain builds the same kind of average (the same weights only where training reproduces bit for bit: session 20's
    rule AB found the first map does not)."""
    pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from detectors.training.video_train import MAP_MEMBERS, MAP_SEEDS, MEDIAN_FRAMES, MIRROR

    shipped = Path(__file__).resolve().parents[1] / "detectors/ml/models/block_corruption.onnx"
    meta = ort.InferenceSession(str(shipped), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert json.loads(meta["map_seeds"]) == list(MAP_SEEDS)
    plain = json.dumps([False] * len(MAP_SEEDS))  # models exported before session 20 (21) say nothing: no such map
    assert json.loads(meta.get("map_evidence_only", plain)) == [m[1] for m in MAP_MEMBERS]
    assert json.loads(meta.get("map_augmented", plain)) == [m[2] for m in MAP_MEMBERS]
    assert json.loads(meta.get("map_high_pass", plain)) == [m[3] for m in MAP_MEMBERS]
    assert json.loads(meta.get("map_contrast_norm", plain)) == [m[4] for m in MAP_MEMBERS]
    assert json.loads(meta["mirror"]) is MIRROR and json.loads(meta["maps"]) == len(MAP_SEEDS)
    # the median the detector judges frames on is the one the threshold was set for (none said: each frame's own)
    assert json.loads(meta.get("median_frames", "1")) == MEDIAN_FRAMES
