"""select-video: map sets judged on selection sources with the head and threshold of the validation sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from detectors.training import __main__ as cli
from detectors.training import video_selection
from detectors.training.video_sim import LabelledFrame
from detectors.training.video_sources import video_sources
from detectors.training.video_train import CorruptionNet


def test_selection_sources_are_none_of_the_training_validation_or_evaluation_sources() -> None:
    chosen = video_selection.selection_sources()
    names = [s.name for s in chosen]
    split = video_sources()
    used = {s.name for part in (split.train, split.validation, split.evaluation) for s in part}
    assert len(names) == 13 == len(set(names)) and not set(names) & used
    assert {s.family for s in chosen} == {"pan", "ui", "text", "lavfi"}


def _stats(n: int, shift: float, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
    """One informative statistic (damaged frames about 3, clean ones about ``shift``) and one of noise."""
    pos = rng.random(n) < 0.3
    informative = np.where(pos, rng.normal(3.0, 0.5, n), rng.normal(shift, 0.5, n))
    return torch.tensor(np.column_stack([informative, rng.normal(0, 1, n)]), dtype=torch.float32), pos


def test_the_threshold_comes_from_the_validation_frames_not_the_selection_frames() -> None:
    """Selection clean frames that look more damaged than the validation ones are flagged at the validation threshold
    (the judge does not refit on the frames it judges)."""
    rng = np.random.default_rng(0)
    vs, vp = _stats(6000, 0.0, rng)
    runs = []
    for shift in (0.0, 1.5):
        ss, sp = _stats(4000, shift, rng)
        sources = np.repeat(["a", "b"], 2000)
        follows = np.ones(4000, bool)
        follows[::40] = False  # clips of 40 frames
        runs.append(video_selection.judge(vs, vp, np.ones(6000, bool), ss, sp, np.ones(4000, bool), follows, sources))
    same, harder = runs
    assert same["fpr"] < 0.01 and same["recall"] > 0.95 and same["f1"] > 0.95
    assert harder["fpr"] > 0.05 and harder["f1"] < same["f1"]
    assert set(same["by_source"]) == {"a", "b"} and same["by_source"]["a"]["clean"] > 1000
    low, high = same["clip_bootstrap"]["f1_95"]
    assert low <= same["f1"] <= high


def _frame(rng: np.random.Generator, source: str, damaged: bool, prev: np.ndarray | None) -> LabelledFrame:
    i420 = rng.integers(0, 256, (540, 640), dtype=np.uint8)
    cells = np.zeros((23, 40), np.float32)
    if damaged:
        cells[10:, :] = 1.0
    return LabelledFrame(i420, cells, source, "bitstream", None, prev)


def test_select_video_judges_saved_maps_and_writes_its_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command end to end on a few real frames through a real (untrained) map: the figures are printed and
    written to reports/training/video_selection.json."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)

    def frames(source: str) -> list[LabelledFrame]:
        out: list[LabelledFrame] = []
        for k in range(8):
            out.append(_frame(rng, source, k % 2 == 1, out[-1].i420 if out else None))
        return out

    monkeypatch.setattr(video_selection, "validation_frames", lambda: frames("val"))
    monkeypatch.setattr(video_selection, "selection_frames", lambda: frames("sel"))
    torch.manual_seed(0)
    torch.save(CorruptionNet().state_dict(), tmp_path / "map.pt")
    assert cli.main(["select-video", "--weights", str(tmp_path / "map.pt"), "--threads", "1"]) == 0
    got = json.loads((tmp_path / "reports/training/video_selection.json").read_text())
    assert got["weights"] == [str(tmp_path / "map.pt")] and got["positives"] == 4 and got["clean"] == 4
    assert set(got["by_source"]) == {"sel"} and 0.0 <= got["fpr"] <= 1.0
