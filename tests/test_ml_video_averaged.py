"""The block corruption model that averages several maps (AveragedNet): mirror symmetry, saving and loading, and
rebuilding it from its exported ONNX for refitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from detectors.training.video_train import (
    AveragedNet,
    CorruptionNet,
    combined_net,
    export,
    load_net,
    member_path,
)


def _maps(n: int, seed: int = 0) -> list[CorruptionNet]:
    torch.manual_seed(seed)
    nets = [CorruptionNet().eval() for _ in range(n)]
    with torch.no_grad():  # BatchNorm away from identity, so that the export's folding is exercised
        for net in nets:
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 2.0)
    return nets


def _x(n: int = 2, h: int = 96, w: int = 160) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(5).uniform(-1, 1, (n, 3, h, w)).astype(np.float32))


def test_average_is_the_mean_of_the_members_maps() -> None:
    a, b = _maps(2)
    net = AveragedNet([a, b]).eval()
    x = _x()
    with torch.no_grad():
        want = (torch.sigmoid(a.logits(x)) + torch.sigmoid(b.logits(x))) / 2
        assert torch.allclose(net(x)[0], want, atol=1e-6)


def test_mirrored_views_make_the_map_mirror_symmetric() -> None:
    """A frame and its mirror image get mirrored maps and the same decision; a single map does not (so the test can fail)."""
    (a,) = _maps(1)
    x = _x()
    with torch.no_grad():
        plain = a(x)[0], a(x.flip(3))[0].flip(3)
        assert (plain[0] - plain[1]).abs().max() > 1e-3
        net = AveragedNet([a], mirror=True).eval()
        p, ratio, decision = net(x)
        pm, ratio_m, decision_m = net(x.flip(3))
    assert torch.allclose(pm.flip(3), p, atol=1e-6)
    assert torch.allclose(ratio_m, ratio, atol=1e-6) and torch.allclose(decision_m, decision, atol=1e-6)


def test_saved_average_loads_with_its_members_mirror_and_seeds(tmp_path: Path) -> None:
    net = AveragedNet(_maps(3), mirror=True, seeds=(7, 8, 7), evidence=(False, False, True), augmented=(True, False, False))
    net.eval()
    with torch.no_grad():
        net.decision.bias.fill_(-1.25)
    torch.save(net.state_dict(), tmp_path / "avg.pt")
    got = load_net(tmp_path / "avg.pt")
    assert isinstance(got, AveragedNet) and len(got.members) == 3 and got.mirror and got.seeds == (7, 8, 7)
    assert got.evidence == (False, False, True) and got.augmented == (True, False, False)
    with pytest.raises(ValueError, match="evidence flags need one seed each"):
        AveragedNet(_maps(2), seeds=(7, 8), evidence=(True,))
    with pytest.raises(ValueError, match="augmented flags need one seed each"):
        AveragedNet(_maps(2), seeds=(7, 8), augmented=(True,))
    x = _x()
    with torch.no_grad():
        for want, have in zip(net(x), got(x), strict=True):
            assert torch.equal(want, have)


def test_exported_average_rebuilds_from_its_onnx(tmp_path: Path) -> None:
    """calibrate-video and decision-cv accept an exported average: the net rebuilt from it gives onnxruntime's outputs."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    net = AveragedNet(_maps(2, seed=3), mirror=True, seeds=(11, 11), evidence=(False, True), augmented=(True, False)).eval()
    path, _digest, diff = export(net, tmp_path)
    assert diff < 1e-4
    got = load_net(path)
    assert isinstance(got, AveragedNet) and len(got.members) == 2 and got.mirror and got.seeds == (11, 11)
    assert got.evidence == (False, True) and got.augmented == (True, False)
    x = np.random.default_rng(9).uniform(-1, 1, (1, 3, 360, 640)).astype(np.float32)
    cells, _ratio, decision = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    with torch.no_grad():
        p, _r, d = got(torch.from_numpy(x))
    assert np.abs(p.numpy() - cells).max() < 1e-4 and np.abs(d.numpy() - decision).max() < 1e-4


def test_maps_are_averaged_from_files_with_their_seeds(tmp_path: Path) -> None:
    a, b, c = _maps(3)
    paths = [tmp_path / member_path(20240611).name, tmp_path / member_path(20240612).name]
    paths.append(tmp_path / member_path(20240611, evidence=True).name)
    paths.append(tmp_path / member_path(20240611, augmented=True).name)
    assert len({p.name for p in paths}) == 4  # one seed in three recipes (three files) and a second seed
    for net, path in zip((a, b, c, a), paths, strict=True):
        torch.save(net.state_dict(), path)
    got = combined_net(paths, mirror=False)
    assert isinstance(got, AveragedNet) and got.seeds == (20240611, 20240612, 20240611, 20240611) and not got.mirror
    assert got.evidence == (False, False, True, False) and got.augmented == (False, False, False, True)
    unnamed = tmp_path / "some_map.pt"
    torch.save(a.state_dict(), unnamed)
    assert combined_net([paths[0], unnamed]).seeds == ()  # seeds only when every file names one
    torch.save(AveragedNet([a, b]).state_dict(), tmp_path / "avg.pt")  # records no seeds: the result records none
    got = combined_net([tmp_path / "avg.pt", paths[0]])
    assert isinstance(got, AveragedNet) and len(got.members) == 3 and got.seeds == ()
    torch.save(AveragedNet([a], mirror=True).state_dict(), tmp_path / "mirrored.pt")
    with pytest.raises(ValueError, match=r"mirrored\.pt: its maps also run on the mirrored frame"):
        combined_net([paths[0], tmp_path / "mirrored.pt"])
    torch.save(CorruptionNet(3, "wide").state_dict(), tmp_path / "wide.pt")
    with pytest.raises(ValueError, match=r"wide\.pt: maps of different archs or input channels cannot be averaged"):
        combined_net([paths[0], tmp_path / "wide.pt"])


def test_an_exported_average_and_a_new_map_average_member_by_member(tmp_path: Path) -> None:
    """A new map is judged or calibrated beside the shipped ones read back from their ONNX: the seven-member net is
    the plain mean of the six maps and the new one (each weighs the same, not the six 1:1 against it), with every
    member's seed and recipe flags kept for the export."""
    pytest.importorskip("onnx")
    a, b, c = _maps(3, seed=4)
    shipped = AveragedNet([a, b], seeds=(21, 22), evidence=(False, True), augmented=(True, False)).eval()
    onnx_path, _digest, _diff = export(shipped, tmp_path)
    new = tmp_path / member_path(20240640).name
    torch.save(c.state_dict(), new)
    got = combined_net([onnx_path, new])
    assert isinstance(got, AveragedNet) and len(got.members) == 3 and not got.mirror
    assert got.seeds == (21, 22, 20240640) and got.evidence == (False, True, False) and got.augmented == (True, False, False)
    x = _x()
    with torch.no_grad():
        want = (torch.sigmoid(a.logits(x)) + torch.sigmoid(b.logits(x)) + torch.sigmoid(c.logits(x))) / 3
        assert torch.allclose(got.probabilities(x), want, atol=1e-4)
        pair = (torch.sigmoid(a.logits(x)) + torch.sigmoid(b.logits(x))) / 2
        assert not torch.allclose(got.probabilities(x), (pair + torch.sigmoid(c.logits(x))) / 2, atol=1e-4)


def test_a_high_pass_map_sees_only_what_its_blur_leaves() -> None:
    """A high-pass map gives the same map for a frame and that frame plus a constant per plane (a reflected-edge
    Gaussian blur keeps a constant), a plain map does not (so the test can fail); its front end adds no trained weight."""
    (plain,) = _maps(1, seed=2)
    high = CorruptionNet(high_pass=True).eval()
    high.load_state_dict({**plain.state_dict(), "high_pass_sigma": high.high_pass_sigma})
    assert set(high.state_dict()) - set(plain.state_dict()) == {"high_pass_sigma"}
    assert sum(p.numel() for p in high.parameters()) == sum(p.numel() for p in plain.parameters())
    x = _x() * 0.5
    shift = torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1)
    with torch.no_grad():
        moved = (high.logits(x + shift) - high.logits(x)).abs().max()
        assert moved < 1e-4 and moved * 100 < (plain.logits(x + shift) - plain.logits(x)).abs().max()
        blur = x - high.high_passed(x)  # what the map does not see: smooth, each plane on its own
        assert (blur[:, :, :, 1:] - blur[:, :, :, :-1]).abs().mean() < 0.2 * (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()
        one_plane = x.clone()
        one_plane[:, 1:] = 0
        assert torch.equal(high.high_passed(one_plane)[:, 1:], torch.zeros_like(one_plane[:, 1:]))


def test_an_average_with_a_high_pass_member_saves_exports_and_rebuilds(tmp_path: Path) -> None:
    """The member stays high-pass through its saved state, through combined_net (file name and weights must agree) and
    through the exported ONNX (rebuilt for refitting), and onnxruntime gives torch's outputs."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    plain, high = _maps(2, seed=4)
    hp = CorruptionNet(high_pass=True).eval()
    hp.load_state_dict({**high.state_dict(), "high_pass_sigma": hp.high_pass_sigma})
    paths = [tmp_path / member_path(20240611).name, tmp_path / member_path(20240629, high_pass=True).name]
    for net, path in zip((plain, hp), paths, strict=True):
        torch.save(net.state_dict(), path)
    net = combined_net(paths)
    assert isinstance(net, AveragedNet) and net.high_pass == (False, True) and net.seeds == (20240611, 20240629)
    torch.save(net.state_dict(), tmp_path / "avg.pt")
    assert load_net(tmp_path / "avg.pt", map_only=True).high_pass == (False, True)
    path, _digest, diff = export(net, tmp_path)
    assert diff < 1e-4
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["map_high_pass"] == "[false, true]"
    got = load_net(path)
    assert isinstance(got, AveragedNet) and got.high_pass == (False, True)
    x = np.random.default_rng(9).uniform(-1, 1, (1, 3, 360, 640)).astype(np.float32)
    cells, _ratio, decision = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    with torch.no_grad():
        p, _r, d = got(torch.from_numpy(x))
    assert np.abs(p.numpy() - cells).max() < 1e-4 and np.abs(d.numpy() - decision).max() < 1e-4
    wrong = tmp_path / member_path(20240612, high_pass=True).name
    torch.save(plain.state_dict(), wrong)
    with pytest.raises(
        ValueError, match=r"block_map_20240612_highpass\.pt: the name says a high-pass map, its weights are a plain"
    ):
        combined_net([paths[0], wrong])


def test_contrast_normalised_front_end_divides_the_high_pass_by_its_local_rms() -> None:
    """Each plane minus its 2-px Gaussian blur, divided by the root of that difference's squares blurred at 4 px plus
    the floor squared, edges reflected: computed here with OpenCV's separable filter, independently of the net."""
    cv2 = pytest.importorskip("cv2")
    from detectors.training.video_train import CONTRAST_FLOOR

    x = _x(1, 64, 96)
    g2, g4 = cv2.getGaussianKernel(13, 2.0), cv2.getGaussianKernel(25, 4.0)
    want = np.empty_like(x.numpy())
    for c, plane in enumerate(x.numpy()[0]):
        h = plane - cv2.sepFilter2D(plane, -1, g2, g2, borderType=cv2.BORDER_REFLECT_101)
        energy = cv2.sepFilter2D(h * h, -1, g4, g4, borderType=cv2.BORDER_REFLECT_101)
        want[0, c] = h / np.sqrt(energy + CONTRAST_FLOOR**2)
    with torch.no_grad():
        got = CorruptionNet(high_pass=True, contrast_norm=True).high_passed(x).numpy()
        high_passed_only = CorruptionNet(high_pass=True).high_passed(x).numpy()
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(high_passed_only - want).max() > 0.1  # the normalisation is what makes them agree
    with pytest.raises(ValueError, match="contrast_norm normalises the high-passed planes; it needs high_pass"):
        CorruptionNet(contrast_norm=True)


def test_an_average_with_a_contrast_normalised_member_saves_exports_and_rebuilds(tmp_path: Path) -> None:
    """The member stays contrast-normalised through its saved state (``contrast_floor``), combined_net and the exported
    ONNX, rebuilt from what each map's first convolution reads: next to a high-pass map, as shipped, the export computes
    their common high-pass once, so the contrast-normalised map has no blur convolutions of its own. onnxruntime gives
    torch's outputs."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    plain, high, other = _maps(3, seed=6)
    hp = CorruptionNet(high_pass=True).eval()
    hp.load_state_dict({**high.state_dict(), "high_pass_sigma": hp.high_pass_sigma})
    cn = CorruptionNet(high_pass=True, contrast_norm=True).eval()
    cn.load_state_dict({**other.state_dict(), "high_pass_sigma": cn.high_pass_sigma, "contrast_floor": cn.contrast_floor})
    paths = [
        tmp_path / member_path(20240611).name,
        tmp_path / member_path(20240629, high_pass=True).name,
        tmp_path / member_path(20240634, high_pass=True, contrast_norm=True).name,
    ]
    assert paths[2].name == "block_map_20240634_highpass_contrast.pt"
    for net, path in zip((plain, hp, cn), paths, strict=True):
        torch.save(net.state_dict(), path)
    net = combined_net(paths)
    assert isinstance(net, AveragedNet) and net.seeds == (20240611, 20240629, 20240634)
    assert net.high_pass == (False, True, True) and net.contrast_norm == (False, False, True)
    path, _digest, diff = export(net, tmp_path)
    assert diff < 1e-4
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["map_contrast_norm"] == "[false, false, true]"
    got = load_net(path)
    assert isinstance(got, AveragedNet) and got.high_pass == (False, True, True)
    assert got.contrast_norm == (False, False, True)
    x = np.random.default_rng(9).uniform(-1, 1, (1, 3, 360, 640)).astype(np.float32)
    cells, _ratio, decision = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    with torch.no_grad():
        p, _r, d = got(torch.from_numpy(x))
    assert np.abs(p.numpy() - cells).max() < 1e-4 and np.abs(d.numpy() - decision).max() < 1e-4
    hp_only = CorruptionNet(high_pass=True).eval()
    hp_only.load_state_dict({**other.state_dict(), "high_pass_sigma": hp_only.high_pass_sigma})
    wrong = tmp_path / member_path(20240612, high_pass=True, contrast_norm=True).name
    torch.save(hp_only.state_dict(), wrong)
    with pytest.raises(ValueError, match=r"20240612_highpass_contrast\.pt: the name says a contrast-normalised map"):
        combined_net([paths[0], wrong])


def test_the_onnxruntime_map_runner_gives_torchs_maps_at_any_size() -> None:
    """map_runner (what judging and calibrating use) computes the average's map, high-pass and contrast-normalised
    members included, at a size other than its check's, and leaves the mode of every part of the net as it found it
    (combined_net builds an average in training mode around members in eval mode)."""
    pytest.importorskip("onnxruntime")
    from detectors.training.video_train import map_runner

    plain, other = _maps(2, seed=6)
    cn = CorruptionNet(high_pass=True, contrast_norm=True).eval()
    cn.load_state_dict({**other.state_dict(), "high_pass_sigma": cn.high_pass_sigma, "contrast_floor": cn.contrast_floor})
    net = AveragedNet([plain, cn])
    modes = {name: m.training for name, m in net.named_modules()}
    assert net.training and not plain.training  # a mixed net, so that a blanket eval() or train() shows
    x = _x(3, 144, 256)
    got = map_runner(net)(x.numpy())
    assert {name: m.training for name, m in net.named_modules()} == modes
    with torch.no_grad():
        want = net.eval().probabilities(x).numpy()
    assert got.shape == want.shape == (3, 1, 9, 16)
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.parametrize("channels, mirror", [(6, False), (3, True)])
def test_the_map_runner_takes_temporal_and_mirrored_averages(channels: int, mirror: bool) -> None:
    pytest.importorskip("onnxruntime")
    from detectors.training.video_train import map_runner

    torch.manual_seed(8)
    net = AveragedNet([CorruptionNet(channels).eval(), CorruptionNet(channels).eval()], mirror=mirror).eval()
    x = np.random.default_rng(3).uniform(-1, 1, (2, channels, 96, 160)).astype(np.float32)
    with torch.no_grad():
        want = net.probabilities(torch.from_numpy(x)).numpy()
    assert np.abs(map_runner(net)(x) - want).max() < 1e-5


def test_a_map_runner_that_departs_from_torch_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    from detectors.training import video_train

    monkeypatch.setattr(video_train, "MAP_RUNNER_TOLERANCE", -1.0)
    with pytest.raises(RuntimeError, match=r"the onnxruntime map differs from torch's by .* \(over -1.0\)"):
        video_train.map_runner(_maps(1)[0])
