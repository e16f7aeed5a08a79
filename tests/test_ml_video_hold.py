"""block_corruption can hold a run of corrupted frames on a weaker score (hold_decision): the rule and the detector."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from detectors.media import Frame
from detectors.video.block_corruption import BlockCorruptionDetector, corrupted_frames


class ScriptedModel:
    """Stands in for the ONNX session of a one-frame model: answers the next scripted decision probability."""

    def __init__(self, decisions: list[float]) -> None:
        self.decisions = list(decisions)
        self.session = SimpleNamespace(get_inputs=lambda: [SimpleNamespace(shape=["n", 3, "h", "w"])])

    def run(self, x: np.ndarray) -> list[Any]:
        d = self.decisions.pop(0)
        rows, cols = x.shape[2] // 16, x.shape[3] // 16
        cells = np.full((1, 1, rows, cols), 0.9 if d >= 0.5 else 0.0, np.float32)
        return [cells, np.zeros(1, np.float32), np.array([d], np.float32)]


def _detector(decisions: list[float], **params: Any) -> BlockCorruptionDetector:
    det = BlockCorruptionDetector(BlockCorruptionDetector.Params(threads=1, **params))
    det._model = ScriptedModel(decisions)  # type: ignore[assignment]
    return det


def _frame(index: int, w: int = 64, h: int = 48) -> Frame:
    return Frame(index, index / 25, np.zeros((h * 3 // 2, w), np.uint8))


def test_rule_starts_on_min_decision_and_holds_on_the_weaker_score() -> None:
    d = np.array([0.3, 0.6, 0.2, 0.06, 0.04, 0.3, 0.9, 0.1, 0.1])
    follows = np.array([False, True, True, True, True, True, True, False, True])
    got = corrupted_frames(d, follows, 0.5, 0.05)
    # 0.3 alone never starts a run; 0.2 and 0.06 continue one; 0.04 ends it, so the next 0.3 cannot restart it;
    # a frame that does not follow (a new stream) needs min_decision again
    assert got.tolist() == [False, True, True, True, False, False, True, False, False]
    assert not corrupted_frames(d, follows, 0.5, 0.5)[2:6].any()  # no hold: the plain threshold
    assert corrupted_frames(d, follows, 0.5, 0.9).tolist() == (d >= 0.5).tolist()  # a hold above min is capped


def test_detector_frames_equal_the_rule_across_a_gap_a_size_change_and_flush() -> None:
    d = [0.7, 0.2, 0.1, 0.05, 0.2, 0.6, 0.3, 0.8, 0.4, 0.9, 0.4]
    det = _detector(d, hold_decision=0.1)
    frames = [_frame(0), _frame(1), _frame(2), _frame(3), _frame(5), _frame(6), _frame(7, 80, 48), _frame(8, 80, 48)]
    got = []
    for f in frames:
        det.feed(f)
        got.append(bool(det.metrics()["corrupted"]))
    det.flush()
    det.feed(_frame(9, 80, 48))  # follows frame 8 by index, but flush() started a new stream
    got.append(bool(det.metrics()["corrupted"]))
    det.feed(_frame(10, 80, 48))
    got.append(bool(det.metrics()["corrupted"]))
    det.reset()
    det.feed(_frame(11, 80, 48))
    got.append(bool(det.metrics()["corrupted"]))
    follows = [False, True, True, True, False, True, False, True, False, True, False]
    assert got == corrupted_frames(np.array(d), np.array(follows), 0.5, 0.1).tolist()
    assert got == [True, True, True, False, False, True, False, True, False, True, False]


def test_a_run_held_through_a_dip_is_one_event() -> None:
    det = _detector([0.0, 0.9, 0.3, 0.2, 0.8, 0.0, 0.0], hold_decision=0.1)
    events = [e for i in range(7) for e in det.feed(_frame(i))] + det.flush()
    assert len(events) == 1
    assert (events[0].start_s, events[0].end_s) == (pytest.approx(1 / 25), pytest.approx(5 / 25))
    plain = _detector([0.0, 0.9, 0.3, 0.2, 0.8, 0.0, 0.0], hold_decision=0.5)
    assert len([e for i in range(7) for e in plain.feed(_frame(i))] + plain.flush()) == 2


def test_no_hold_by_default_and_never_above_min_decision() -> None:
    assert _detector([]).hold_decision == 0.5  # no hold: every frame needs min_decision
    assert _detector([], hold_decision=0.05).hold_decision == 0.05
    assert _detector([], hold_decision=0.3, min_decision=0.2).hold_decision == 0.2
    det = _detector([0.9, 0.4])
    det.feed(_frame(0))
    det.feed(_frame(1))
    assert det.metrics()["corrupted"] == 0


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_hold_decision_out_of_range_is_named(bad: float) -> None:
    with pytest.raises(ValueError, match=r"block_corruption: hold_decision must be in \(0, 1\]"):
        BlockCorruptionDetector.Params(hold_decision=bad)


def test_damage_runs_split_at_clean_frames_and_new_streams() -> None:
    pytest.importorskip("torch")
    from detectors.training.video_train import damage_runs

    pos = np.array([1, 1, 0, 1, 1, 1, 0, 0, 1], bool)
    follows = np.array([0, 1, 1, 1, 0, 1, 1, 1, 1], bool)
    assert damage_runs(pos, follows) == [(0, 2), (3, 4), (4, 6), (8, 9)]
    assert damage_runs(np.zeros(4, bool), np.ones(4, bool)) == []
