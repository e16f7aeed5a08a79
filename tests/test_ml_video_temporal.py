"""block_corruption sees the previous frame: what it is fed at the start of a stream, in order, after gaps."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from detectors.media import Frame
from detectors.ml.features import VIDEO_HEIGHT_PX, VIDEO_WIDTH_PX, video_input, video_temporal_input
from detectors.video.block_corruption import BlockCorruptionDetector


class FakeModel:
    """Stands in for the ONNX session: records every input, answers a clean map."""

    def __init__(self, channels: int) -> None:
        self.inputs: list[np.ndarray] = []
        shape = ["n", channels, "h", "w"]
        self.session = SimpleNamespace(get_inputs=lambda: [SimpleNamespace(shape=shape)])

    def run(self, x: np.ndarray) -> list[Any]:
        self.inputs.append(x)
        rows, cols = x.shape[2] // 16, x.shape[3] // 16
        return [np.zeros((1, 1, rows, cols), np.float32), np.zeros(1, np.float32), np.zeros(1, np.float32)]


def _frames(n: int, w: int = 320, h: int = 180, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h * 3 // 2, w), dtype=np.uint8) for _ in range(n)]


def _detector(channels: int = 6) -> tuple[BlockCorruptionDetector, FakeModel]:
    det = BlockCorruptionDetector(BlockCorruptionDetector.Params(threads=1))
    fake = FakeModel(channels)
    det._model = fake  # type: ignore[assignment]
    return det, fake


def _expected(cur: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    p = None if prev is None else video_input(prev, VIDEO_WIDTH_PX, VIDEO_HEIGHT_PX)
    return video_temporal_input(video_input(cur, VIDEO_WIDTH_PX, VIDEO_HEIGHT_PX), p)


def test_temporal_input_is_current_then_difference() -> None:
    rng = np.random.default_rng(1)
    cur = rng.uniform(-1, 1, (1, 3, 8, 12)).astype(np.float32)
    prev = rng.uniform(-1, 1, (1, 3, 8, 12)).astype(np.float32)
    x = video_temporal_input(cur, prev)
    assert x.shape == (1, 6, 8, 12) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, :3], cur)
    np.testing.assert_allclose(x[:, 3:], cur - prev, atol=1e-7)
    still = video_temporal_input(cur, None)
    np.testing.assert_array_equal(still[:, :3], cur)
    assert not still[:, 3:].any()


def test_detector_feeds_the_previous_frame_in_order_and_none_after_gaps() -> None:
    det, fake = _detector()
    f = _frames(7)
    det.feed(Frame(0, 0.0, f[0]))  # first frame of the stream: no previous frame
    det.feed(Frame(1, 0.04, f[1]))  # follows frame 0
    det.feed(Frame(2, 0.08, f[2]))  # follows frame 1
    det.feed(Frame(5, 0.20, f[3]))  # index gap (frames lost): analysed alone
    det.feed(Frame(6, 0.24, f[4]))  # follows the frame after the gap
    det.flush()
    det.feed(Frame(7, 0.28, f[5]))  # after flush a new stream starts, even with a following index
    det.reset()
    det.feed(Frame(8, 0.32, f[6]))  # after reset likewise
    want = [None, f[0], f[1], None, f[3], None, None]
    assert len(fake.inputs) == 7
    for i, (x, prev) in enumerate(zip(fake.inputs, want, strict=True)):
        assert x.shape == (1, 6, VIDEO_HEIGHT_PX, VIDEO_WIDTH_PX), i
        np.testing.assert_allclose(x, _expected(f[i], prev), atol=1e-6, err_msg=f"frame {i}")
        assert (prev is None) == (not x[:, 3:].any()), i


def test_a_size_change_starts_a_new_stream() -> None:
    det, fake = _detector()
    small, big = _frames(1, 320, 180)[0], _frames(1, 640, 360, seed=2)[0]
    det.feed(Frame(0, 0.0, small))
    det.feed(Frame(1, 0.04, big))
    assert not fake.inputs[1][:, 3:].any()


def test_a_single_frame_model_gets_three_planes() -> None:
    det, fake = _detector(channels=3)
    f = _frames(2)
    det.feed(Frame(0, 0.0, f[0]))
    det.feed(Frame(1, 0.04, f[1]))
    assert [x.shape[1] for x in fake.inputs] == [3, 3]
    np.testing.assert_array_equal(fake.inputs[1], video_input(f[1], VIDEO_WIDTH_PX, VIDEO_HEIGHT_PX))


def test_shipped_model_input_planes_match_its_metadata() -> None:
    pytest.importorskip("onnxruntime")
    from detectors.ml import session
    from detectors.ml.features import VIDEO_TEMPORAL_CHANNELS

    model = session("block_corruption")
    channels = model.session.get_inputs()[0].shape[1]
    assert channels in (3, VIDEO_TEMPORAL_CHANNELS)
    assert model.meta_json("input")["channels"] == channels


def test_temporal_model_exports_to_onnx_with_the_same_outputs(tmp_path: Any) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from detectors.training.export import export_onnx, max_abs_diff_vs_onnx
    from detectors.training.video_train import TEMPORAL_CHANNELS, CorruptionNet

    model = CorruptionNet(TEMPORAL_CHANNELS).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(5).uniform(-1, 1, (2, TEMPORAL_CHANNELS, 96, 160)).astype(np.float32)
    dyn = {"input": {0: "n", 2: "h", 3: "w"}, "map": {0: "n", 2: "mh", 3: "mw"}, "area_ratio": {0: "n"}, "decision": {0: "n"}}
    path, _ = export_onnx(
        model, (torch.from_numpy(x[:1]),), "t", ["map", "area_ratio", "decision"], {"labels": ["a"]}, dyn,
        out_dir=tmp_path, input_names=("input",),
    )  # fmt: skip
    assert max_abs_diff_vs_onnx(model, path, x) < 1e-4


def test_bitstream_frames_carry_the_previous_frame_of_the_same_damaged_decode() -> None:
    pytest.importorskip("av")
    from detectors.training.video_sim import corrupt_bitstream
    from detectors.training.video_sources import ui_renderer

    frames = ui_renderer(1)(12, 320, 192, 0)
    got = corrupt_bitstream(frames, np.random.default_rng(3), "ui1", 320, 192, 30, 6, 0, 2)
    assert len(got) >= 8
    assert got[0].prev is None
    for a, b in itertools.pairwise(got):
        assert b.prev is a.i420  # the damaged frame shown just before, not the clean decode


def test_shipped_model_equals_trained_torch_weights_when_available() -> None:
    torch = pytest.importorskip("torch")
    from pathlib import Path

    weights = Path("reports/training/block_corruption.pt")
    if not weights.exists():
        pytest.skip("no trained torch weights here (run python -m detectors.training train-video)")
    from detectors.ml import session
    from detectors.training.video_train import load_net

    try:
        net = load_net(weights)  # one map or an average of maps, arch and channels read from the weights
    except ValueError:
        pytest.skip("the weights in reports/ are from another model than this code builds")
    channels = net.in_channels
    x = np.random.default_rng(4).uniform(-1, 1, (2, channels, VIDEO_HEIGHT_PX, VIDEO_WIDTH_PX)).astype(np.float32)
    with torch.no_grad():
        ref = [t.numpy() for t in net(torch.from_numpy(x))]
    got = session("block_corruption").run(x)
    if np.abs(ref[0] - got[0]).max() > 1e-4:
        pytest.skip("the weights in reports/ are from another training run than the shipped model")
    for r, g in zip(ref, got, strict=True):
        assert np.abs(r - g).max() < 1e-4
