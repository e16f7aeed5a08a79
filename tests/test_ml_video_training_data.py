"""The block-corruption training data size can be chosen per run (train-video --clips/--clean), and each size is
its own entry of the frame cache, so a map trained on more clips never reuses the default set's frames."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from detectors.training import __main__ as cli
from detectors.training import video_train


def _cache(folder: Path, key: str, value: list[str]) -> None:
    video_train.cache_path(folder, key).write_bytes(pickle.dumps(value))


def test_each_training_data_size_reads_its_own_cache_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVQA_VIDEO_CACHE", str(tmp_path))
    default = f"train_{video_train.TRAIN_CLIPS}x36every{video_train.TRAIN_KEEP}_clean{video_train.TRAIN_CLEAN}"
    _cache(tmp_path, default, ["default"])
    _cache(tmp_path, f"train_9x36every{video_train.TRAIN_KEEP}_clean48", ["nine clips, clean 48"])
    assert video_train.training_frames() == ["default"]
    assert video_train.training_frames(9, 48) == ["nine clips, clean 48"]


def test_frames_cached_by_other_data_code_are_named_and_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AVQA_VIDEO_CACHE", str(tmp_path))
    (tmp_path / "train_k.pkl").write_bytes(pickle.dumps(["before fingerprints"]))
    (tmp_path / "train_k_0123456789ab.pkl").write_bytes(pickle.dumps(["other data code"]))
    (tmp_path / "train_k_session19.pkl").write_bytes(pickle.dumps(["kept by hand"]))
    (tmp_path / "train_kk.pkl").write_bytes(pickle.dumps(["another key"]))
    built: list[int] = []

    def make() -> list[str]:
        built.append(1)
        return ["this code"]

    assert video_train._cached_frames("train_k", make) == ["this code"]
    said = capsys.readouterr().err  # status lines go to stderr
    assert "train_k.pkl, train_k_0123456789ab.pkl in" in said and "built by other data code, not used" in said
    assert "session19" not in said and "train_kk" not in said
    assert video_train._cached_frames("train_k", make) == ["this code"] and built == [1]  # the second time, read
    assert pickle.loads(video_train.cache_path(tmp_path, "train_k").read_bytes()) == ["this code"]
    assert pickle.loads((tmp_path / "train_k_0123456789ab.pkl").read_bytes()) == ["other data code"]  # left alone


def test_the_cache_fingerprint_follows_the_code_that_builds_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    first = video_train.data_fingerprint()
    assert len(first) == 12 and int(first, 16) >= 0

    def other_build_frames() -> None:  # stands for an edited build_frames
        return None

    monkeypatch.setattr(video_train, "build_frames", other_build_frames)
    video_train.data_fingerprint.cache_clear()
    try:
        assert video_train.data_fingerprint() != first
    finally:
        monkeypatch.undo()
        video_train.data_fingerprint.cache_clear()
    assert video_train.data_fingerprint() == first


def test_train_video_passes_the_data_size_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def fake_train_video(**kwargs: Any) -> dict[str, object]:  # a real run trains for half an hour
        seen.append(kwargs)
        return {"map": "m.pt"}

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(video_train, "train_video", fake_train_video)
    assert cli.main(["train-video", "--seed", "7", "--clips", "9", "--clean", "48", "--threads", "1"]) == 0
    assert cli.main(["train-video", "--seed", "7", "--threads", "1"]) == 0
    assert cli.main(["train-video", "--seed", "7", "--evidence-only", "--threads", "1"]) == 0
    assert cli.main(["train-video", "--seed", "7", "--augment", "--threads", "1"]) == 0
    assert cli.main(["train-video", "--seed", "7", "--high-pass", "--threads", "1"]) == 0
    assert cli.main(["train-video", "--seed", "7", "--high-pass", "--contrast-norm", "--threads", "1"]) == 0
    assert seen[0] == {"quick": False, "only_seed": 7, "clips": 9, "clean": 48}
    assert seen[1] == {"quick": False, "only_seed": 7}  # the defaults: what the shipped maps were trained on
    assert seen[2] == {"quick": False, "only_seed": 7, "evidence": True}
    assert seen[3] == {"quick": False, "only_seed": 7, "augment": True}
    assert seen[4] == {"quick": False, "only_seed": 7, "high_pass": True}
    assert seen[5] == {"quick": False, "only_seed": 7, "high_pass": True, "contrast_norm": True}


def test_augment_is_refused_outside_training(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["calibrate-video", "--augment", "--threads", "1"])
    assert exc.value.code == 2
    assert "--augment is a training option: use it with train-video or all" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train-video", "--evidence-only"], ["calibrate-video", "--seed", "7", "--evidence-only"]])
def test_evidence_only_is_refused_without_one_map_to_train(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--threads", "1"])
    assert exc.value.code == 2
    assert "--evidence-only trains one map: use it with train-video --seed N" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train-video", "--high-pass"], ["all", "--seed", "7", "--high-pass"]])
def test_high_pass_is_refused_without_one_map_to_train(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--threads", "1"])
    assert exc.value.code == 2
    assert "--high-pass trains one map: use it with train-video --seed N" in capsys.readouterr().err


def test_contrast_norm_is_refused_without_the_high_pass(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["train-video", "--seed", "7", "--contrast-norm", "--threads", "1"])
    assert exc.value.code == 2
    assert "--contrast-norm normalises the high-passed planes: use it with train-video --seed N --high-pass" in (
        capsys.readouterr().err
    )


def test_each_map_is_trained_on_its_own_data_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``train-video --seed S`` retrains a shipped map on the data it was trained on (video_train.MAP_DATA)."""
    monkeypatch.setenv("AVQA_VIDEO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cache").mkdir()
    big_seed, (big_clips, big_clean) = next(iter(video_train.MAP_DATA.items()))
    assert big_seed in video_train.MAP_SEEDS
    default = f"train_{video_train.TRAIN_CLIPS}x36every{video_train.TRAIN_KEEP}_clean{video_train.TRAIN_CLEAN}"
    keys = {
        default: "default",
        f"train_{big_clips}x36every{video_train.TRAIN_KEEP}_clean{big_clean}": "own",
        f"train_{big_clips}x36every{video_train.TRAIN_KEEP}_clean{video_train.TRAIN_CLEAN}": "own clips, default clean",
    }
    for key, name in keys.items():
        _cache(tmp_path / "cache", key, [name])
    trained_on: list[tuple[int, list[str]]] = []

    def fake_train_model(frames: list[str], *args: Any, **kwargs: Any) -> video_train.CorruptionNet:
        trained_on.append((args[3], frames))  # the seed; a real map takes half an hour
        return video_train.CorruptionNet()

    monkeypatch.setattr(video_train, "train_model", fake_train_model)
    monkeypatch.setattr(video_train, "validation_frames", lambda quick=False: [])
    monkeypatch.setattr(video_train, "_say_sizes", lambda name, frames: None)
    video_train.train_video(only_seed=video_train.SEED)
    video_train.train_video(only_seed=big_seed)
    video_train.train_video(only_seed=big_seed, clean=video_train.TRAIN_CLEAN)
    monkeypatch.setattr(video_train, "evidence_only", lambda frame: f"evidence of {frame}")
    video_train.train_video(only_seed=video_train.SEED, evidence=True)
    assert trained_on == [
        (video_train.SEED, ["default"]),
        (big_seed, ["own"]),
        (big_seed, ["own clips, default clean"]),
        (video_train.SEED, ["evidence of default"]),
    ]
    assert (tmp_path / video_train.member_path(big_seed)).exists()
    assert (tmp_path / video_train.member_path(video_train.SEED, evidence=True)).exists()


def _train_one_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[dict[str, object], list[dict[str, Any]]]:
    """``train_video(**options)`` on one cached default-size frame with train_model faked (a real map takes half an
    hour); return its result and the options each train_model call got."""
    monkeypatch.setenv("AVQA_VIDEO_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cache").mkdir()
    _cache(
        tmp_path / "cache",
        f"train_{video_train.TRAIN_CLIPS}x36every{video_train.TRAIN_KEEP}_clean{video_train.TRAIN_CLEAN}",
        ["d"],
    )
    asked: list[dict[str, Any]] = []

    def fake_train_model(frames: list[str], *args: Any, **kwargs: Any) -> video_train.CorruptionNet:
        asked.append(kwargs)
        return video_train.CorruptionNet(
            high_pass=kwargs.get("high_pass", False), contrast_norm=kwargs.get("contrast_norm", False)
        )

    monkeypatch.setattr(video_train, "train_model", fake_train_model)
    monkeypatch.setattr(video_train, "validation_frames", lambda quick=False: [])
    monkeypatch.setattr(video_train, "_say_sizes", lambda name, frames: None)
    return video_train.train_video(**options), asked


def test_an_augmented_map_is_trained_on_augmented_crops_and_saved_under_its_own_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, asked = _train_one_map(tmp_path, monkeypatch, only_seed=video_train.SEED, augment=True)
    assert [a.get("augment", False) for a in asked] == [True]
    path = video_train.member_path(video_train.SEED, augmented=True)
    assert out == {"map": str(path)} and path.name == f"block_map_{video_train.SEED}_augmented.pt"
    assert (tmp_path / path).exists() and not (tmp_path / video_train.member_path(video_train.SEED)).exists()


def test_a_high_pass_map_is_trained_as_one_and_saved_so_that_it_loads_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """train-video --seed S --high-pass: the net trained is high-pass, saved as block_map_S_highpass.pt, and loading
    that file gives a high-pass map again (its state says so)."""
    out, asked = _train_one_map(tmp_path, monkeypatch, only_seed=video_train.SEED + 18, high_pass=True)
    path = video_train.member_path(video_train.SEED + 18, high_pass=True)
    assert [a.get("high_pass", False) for a in asked] == [True]
    assert out == {"map": str(path)} and path.name == f"block_map_{video_train.SEED + 18}_highpass.pt"
    loaded = video_train.combined_net([tmp_path / path])
    assert isinstance(loaded, video_train.CorruptionNet) and loaded.high_pass


def test_a_contrast_normalised_map_is_trained_as_one_and_saved_so_that_it_loads_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """train-video --seed S --high-pass --contrast-norm: saved as block_map_S_highpass_contrast.pt, loading as such."""
    out, asked = _train_one_map(tmp_path, monkeypatch, only_seed=20240634, high_pass=True, contrast_norm=True)
    path = video_train.member_path(20240634, high_pass=True, contrast_norm=True)
    assert [(a.get("high_pass"), a.get("contrast_norm")) for a in asked] == [(True, True)]
    assert out == {"map": str(path)} and path.name == "block_map_20240634_highpass_contrast.pt"
    loaded = video_train.combined_net([tmp_path / path])
    assert isinstance(loaded, video_train.CorruptionNet) and loaded.high_pass and loaded.contrast_norm


def test_a_full_run_builds_each_data_size_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train-video alone trains every shipped map on its own data, building each size once (minutes without a cache),
    and fits the decision on the default-size frames, as calibrate-video does."""
    monkeypatch.chdir(tmp_path)
    built: list[tuple[int, int]] = []
    trained_on: list[tuple[int, list[str]]] = []
    decided_on: list[list[str]] = []

    def fake_training_frames(clips: int, clean: int) -> list[str]:
        built.append((clips, clean))
        return [f"{clips}x{clean}"]

    def fake_train_model(
        frames: list[str],
        *args: Any,
        augment: bool = False,
        high_pass: bool = False,
        contrast_norm: bool = False,
        **kwargs: Any,
    ) -> video_train.CorruptionNet:
        trained_on.append((args[3], frames))
        augmented.append(augment)
        high_passed.append(high_pass)
        contrast.append(contrast_norm)
        return video_train.CorruptionNet(high_pass=high_pass, contrast_norm=contrast_norm)

    augmented: list[bool] = []
    high_passed: list[bool] = []
    contrast: list[bool] = []
    monkeypatch.setattr(video_train, "training_frames", fake_training_frames)
    monkeypatch.setattr(video_train, "evidence_only", lambda frame: f"evidence of {frame}")
    monkeypatch.setattr(video_train, "train_model", fake_train_model)
    monkeypatch.setattr(video_train, "validation_frames", lambda quick=False: [])
    monkeypatch.setattr(video_train, "_say_sizes", lambda name, frames: None)
    monkeypatch.setattr(video_train, "fit_decision", lambda net, frames, validation: decided_on.append(frames))
    monkeypatch.setattr(video_train, "export", lambda net: (tmp_path / "m.onnx", "sha", 0.0))
    monkeypatch.setattr(video_train, "evaluate_video", lambda quick=False: {"evaluated": True})
    monkeypatch.setattr(video_train, "say", lambda message: None)
    (tmp_path / "m.onnx").write_bytes(b"exported")

    assert video_train.train_video() == {"evaluated": True}
    default = (video_train.TRAIN_CLIPS, video_train.TRAIN_CLEAN)
    sizes = [video_train.map_data(seed) for seed in video_train.MAP_SEEDS]
    assert [seed for seed, _ in trained_on] == list(video_train.MAP_SEEDS)
    evidence = [m[1] for m in video_train.MAP_MEMBERS]
    want = [[f"evidence of {c}x{f}" if e else f"{c}x{f}"] for (c, f), e in zip(sizes, evidence, strict=True)]
    assert [frames for _, frames in trained_on] == want
    assert augmented == [m[2] for m in video_train.MAP_MEMBERS]  # each map's own recipe
    assert high_passed == [m[3] for m in video_train.MAP_MEMBERS]
    assert contrast == [m[4] for m in video_train.MAP_MEMBERS]
    for member in video_train.MAP_MEMBERS:  # each member saved under its own name
        assert (tmp_path / video_train.member_path(*member)).exists()
    assert sorted(built) == sorted(set(sizes) | {default})  # each size once
    assert decided_on == [[f"{default[0]}x{default[1]}"]]


def _random_frames(n: int) -> list[Any]:
    from detectors.training.video_sim import LabelledFrame

    rng = np.random.default_rng(3)
    rows, cols = -(-video_train.H // 16), -(-video_train.W // 16)
    out = []
    for k in range(n):
        i420 = rng.integers(0, 256, (video_train.H * 3 // 2, video_train.W), dtype=np.uint8)
        cells = np.zeros((rows, cols), np.float32)
        cells[5 + k : 9 + k, 3:12] = 1.0
        out.append(LabelledFrame(i420, cells, "random", "simulated"))
    return out


def test_a_map_fine_tuned_from_saved_weights_starts_from_them() -> None:
    """train_model(init=...) continues from the given map (at a vanishing learning rate it stays there) instead of
    a fresh initialisation; BatchNorm running statistics still follow the new crops."""
    import torch

    frames = _random_frames(3)
    base = video_train.CorruptionNet()
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.05)
    state = {k: v.clone() for k, v in base.state_dict().items()}
    tuned = video_train.train_model(frames, 1, 32, seed=5, decide=False, init=state, max_lr=1e-12)
    fresh = video_train.train_model(frames, 1, 32, seed=5, decide=False)
    conv = "backbone.0.0.weight"
    assert torch.allclose(tuned.state_dict()[conv], state[conv], atol=1e-6)
    assert not torch.allclose(fresh.state_dict()[conv], state[conv], atol=1e-2)
    assert not torch.equal(tuned.state_dict()["backbone.0.1.running_mean"], state["backbone.0.1.running_mean"])


def test_photometric_changes_every_pixel_alike_and_keeps_video_levels() -> None:
    """The augmentation is one gain and offset a plane (and one noise field) for the whole crop and for the frame
    before it, so a damaged area stays as different from its surroundings as it was; values stay 8-bit levels."""
    rng = np.random.default_rng(3)
    levels = rng.integers(40, 216, (3, 32, 48)).astype(np.float32)
    crop = levels / 128.0 - 1.0
    changed = 0
    for k in range(60):
        cur, prev = video_train._photometric([crop, crop.copy()], np.random.default_rng(k))
        np.testing.assert_array_equal(cur, prev)  # the same change on both frames of a temporal pair
        if cur is crop:
            continue
        changed += 1
        out = (cur + 1.0) * 128.0
        np.testing.assert_allclose(out, np.round(out), atol=1e-3)  # quantised to levels
        assert cur.min() >= -1.0 and cur.max() <= 1.0
        for plane in (1, 2):  # chroma: exactly a gain and an offset (no noise), up to rounding
            a, b = np.polyfit(crop[plane].ravel(), cur[plane].ravel(), 1)
            assert 0.84 < a < 1.16 and abs(b) < 0.06
            assert np.abs(cur[plane] - (a * crop[plane] + b)).max() <= 1.0 / 128.0  # one level: rounding
        a, _ = np.polyfit(crop[0].ravel(), cur[0].ravel(), 1)
        assert 0.8 < a < 1.2  # luma: the gain, noise or not
    assert 30 < changed < 60  # about 1 - 0.3 * 0.7 of the crops are changed


def test_augmented_crops_keep_their_labels() -> None:
    """Frames whose damaged cells are bright and clean cells dark: after augmentation every crop's labels still mark
    exactly its bright cells, and the crops are no longer the frames' own levels."""
    from detectors.training.video_sim import LabelledFrame

    rng = np.random.default_rng(4)
    rows, cols = -(-video_train.H // 16), -(-video_train.W // 16)
    frames = []
    for _ in range(3):
        cells = (rng.random((rows, cols)) < 0.3).astype(np.float32)
        y = np.kron(np.where(cells > 0, 220, 30), np.ones((16, 16)))[: video_train.H, : video_train.W]
        i420 = np.full((video_train.H * 3 // 2, video_train.W), 128, np.uint8)
        i420[: video_train.H] = y
        frames.append(LabelledFrame(i420, cells, "cells", "simulated"))
    xs, ys, _ = video_train._crops(frames, np.random.default_rng(9), 40, augment=True)
    luma = xs[:, 0].reshape(40, xs.shape[2] // 16, 16, xs.shape[3] // 16, 16).mean(axis=(2, 4))
    np.testing.assert_array_equal(luma > 0.0, ys[:, 0] > 0.5)
    own = {30 / 128.0 - 1.0, 220 / 128.0 - 1.0}
    assert sum(not set(np.unique(x[0]).tolist()) <= own for x in xs) > 20


@pytest.mark.parametrize("augment", [False, True])
def test_a_map_trained_twice_with_one_seed_and_thread_count_is_the_same_bit_for_bit(augment: bool) -> None:
    """What "one command with fixed seeds" can promise: the same weights again on the same machine and thread count
    (a different thread count gives other weights: torch's sums run in another order, reports/training/s21_rules.md)."""
    import torch

    frames = _random_frames(3)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        first, again = (video_train.train_model(frames, 1, 32, seed=5, decide=False, augment=augment) for _ in range(2))
    finally:
        torch.set_num_threads(threads)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
