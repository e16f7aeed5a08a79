"""block_corruption judges each frame on the median of its decision and its neighbours' (median_frames, one frame
late) and holds a run of corrupted frames on a weaker score (hold_decision) until the score falls sharply
(hold_fall): the rule, the detector, its defaults and the choice of both on validation frames."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from detectors.media import Frame
from detectors.video.block_corruption import BlockCorruptionDetector, corrupted_frames


class ScriptedModel:
    """Stands in for the ONNX session of a one-frame model: answers the next scripted decision probability."""

    def __init__(self, decisions: list[float], metadata: dict[str, str] | None = None) -> None:
        self.decisions = list(decisions)
        self.metadata = metadata or {}
        self.session = SimpleNamespace(get_inputs=lambda: [SimpleNamespace(shape=["n", 3, "h", "w"])])

    def run(self, x: np.ndarray) -> list[Any]:
        d = self.decisions.pop(0)
        rows, cols = x.shape[2] // 16, x.shape[3] // 16
        cells = np.full((1, 1, rows, cols), 0.9 if d >= 0.5 else 0.0, np.float32)
        return [cells, np.zeros(1, np.float32), np.array([d], np.float32)]


def _detector(decisions: list[float], metadata: dict[str, str] | None = None, **params: Any) -> BlockCorruptionDetector:
    det = BlockCorruptionDetector(BlockCorruptionDetector.Params(threads=1, **params))
    det._model = ScriptedModel(decisions, metadata)  # type: ignore[assignment]
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
    det = _detector(d, hold_decision=0.1, hold_fall=None)
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
    det = _detector([0.0, 0.9, 0.3, 0.2, 0.8, 0.0, 0.0], hold_decision=0.1, hold_fall=None)
    events = [e for i in range(7) for e in det.feed(_frame(i))] + det.flush()
    assert len(events) == 1
    assert (events[0].start_s, events[0].end_s) == (pytest.approx(1 / 25), pytest.approx(5 / 25))
    plain = _detector([0.0, 0.9, 0.3, 0.2, 0.8, 0.0, 0.0], hold_decision=0.5)
    assert len([e for i in range(7) for e in plain.feed(_frame(i))] + plain.flush()) == 2


def test_the_default_hold_and_no_hold() -> None:
    from detectors.video.block_corruption import HOLD_DECISION, HOLD_FALL, decision_logit

    det = _detector([])
    assert (det.params.hold_decision, det.params.hold_fall) == (HOLD_DECISION, HOLD_FALL) == (None, None)
    assert det.hold_decision == 0.5  # validate-video chose no hold for the shipped model: every frame needs min_decision
    assert _detector([], hold_decision=None).hold_decision == 0.5
    assert decision_logit(0.182426) == pytest.approx(-1.5, abs=1e-5)  # the four-map model's floor
    assert _detector([], hold_decision=0.05).hold_decision == 0.05
    assert _detector([], hold_decision=0.3, min_decision=0.2).hold_decision == 0.2

    def second(decisions: list[float], **params: Any) -> int:
        det = _detector(decisions, **params)
        det.feed(_frame(0))
        det.feed(_frame(1))
        return int(det.metrics()["corrupted"])

    four_map = {"hold_decision": 0.182426, "hold_fall": 1.0}
    assert second([0.6, 0.4], **four_map) == 1  # logit 0.41 -> -0.41: a fall of 0.81, above the floor: held
    assert second([0.6, 0.4]) == 0  # the default: no hold
    assert second([0.9, 0.4], **four_map) == 0  # logit 2.2 -> -0.4: a fall of 2.6 ends it
    assert second([0.6, 0.15], **four_map) == 0  # logit -1.73: under the floor


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


def _probabilities(z: list[float]) -> np.ndarray:
    """The decision probabilities of decision logits ``z``."""
    return 1.0 / (1.0 + np.exp(-np.array(z, np.float64)))


def test_a_sharp_fall_of_the_decision_ends_the_hold() -> None:
    # logits: a run at +2, a slow decay under 0 (the damage persists), then a fall of 3 (the refresh that ended it),
    # then scores that would still pass the floor
    d = _probabilities([-5.0, 2.0, 2.2, -0.5, -1.2, -1.8, -4.8, -1.0, -0.9])
    follows = np.ones(len(d), bool)
    floor = float(_probabilities([-2.0])[0])
    got = corrupted_frames(d, follows, 0.5, floor, 1.5)
    # -0.5 (fall 2.7 from +2.2: too sharp) ends the run at once
    assert got.tolist() == [False, True, True, False, False, False, False, False, False]
    gentle = _probabilities([-5.0, 2.0, 1.0, -0.2, -1.0, -1.8, -2.5, -1.0, 0.5])
    got = corrupted_frames(gentle, follows, 0.5, floor, 1.5)
    # falls of at most 1.2 keep it going down to the floor; -2.5 is under it; -1.0 cannot restart a run; 0.5 does
    assert got.tolist() == [False, True, True, True, True, True, False, False, True]
    # without a fall the floor alone decides, as before
    assert corrupted_frames(d, follows, 0.5, floor, None).tolist() == [False, True, True, True, True, True, False, False, False]


def test_the_fall_is_measured_from_the_frame_before_not_the_run_peak() -> None:
    d = _probabilities([3.0, 1.8, 0.6, -0.6, -1.8])  # falls of 1.2 each: 4.8 below the peak by the end
    assert corrupted_frames(d, np.ones(5, bool), 0.5, float(_probabilities([-2.0])[0]), 1.5).all()
    assert corrupted_frames(d, np.ones(5, bool), 0.5, float(_probabilities([-2.0])[0]), 1.0).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_detector_holds_with_a_fall_as_the_rule_does() -> None:
    d = _probabilities([-5.0, 2.0, 2.2, -0.5, 3.0, 1.0, -0.4, -1.2, -4.0, -1.0]).tolist()
    floor = float(_probabilities([-2.0])[0])
    det = _detector(d, hold_decision=floor, hold_fall=1.5)
    got = []
    for i in range(len(d)):
        det.feed(_frame(i))
        got.append(bool(det.metrics()["corrupted"]))
    assert got == corrupted_frames(np.array(d), np.ones(len(d), bool), 0.5, floor, 1.5).tolist()
    assert got == [False, True, True, False, True, True, True, True, False, False]


def test_decision_logit_is_clipped_where_float32_saturates() -> None:
    from detectors.video.block_corruption import decision_logit

    assert decision_logit(0.5) == pytest.approx(0.0)
    assert decision_logit(float(_probabilities([-2.0])[0])) == pytest.approx(-2.0)
    assert decision_logit(1.0) == pytest.approx(16.118, abs=1e-3)
    assert decision_logit(0.0) == pytest.approx(-16.118, abs=1e-3)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_hold_fall_out_of_range_is_named(bad: float) -> None:
    with pytest.raises(ValueError, match=r"block_corruption: hold_fall must be > 0"):
        BlockCorruptionDetector.Params(hold_fall=bad)


# stream A: a damage run the model flags at its start, then decays by 0.8 a frame (logits +1, +0.2, -0.6, -1.4);
# stream B: clean, one false entry then a fall of 1.3 (+0.3, -1.0, -1.9); many clean frames far below
HOLD_CASE_Z = [1.0, 0.2, -0.6, -1.4, -9.0] + [0.3, -1.0, -1.9, -9.0] + [-9.0] * 2000
HOLD_CASE_FOLLOWS = np.array([False, True, True, True, True, False, True, True, True] + [True] * 2000)


def test_choose_hold_takes_the_best_recall_that_adds_no_clean_frame() -> None:
    pytest.importorskip("torch")
    from detectors.training import video_train

    pos = np.zeros(len(HOLD_CASE_Z), bool)
    pos[:4] = True
    table, choice = video_train.choose_hold(_probabilities(HOLD_CASE_Z), HOLD_CASE_FOLLOWS, pos, ~pos)
    assert table[0]["floor_logit"] is None and table[0]["recall"] == 0.5  # no hold: the two frames at logit >= 0
    assert table[0]["fpr"] == pytest.approx(1 / 2005)  # B's false entry
    assert len(table) == 1 + len(video_train.HOLD_FLOORS) * len(video_train.HOLD_FALLS)
    # falls >= 1.5 also keep B's -1.0 (a clean frame added); fall 0.5 stops A at once; fall 1.0 with a floor of
    # -1.5 or lower holds all of A and drops B: the higher floor wins the tie
    assert (choice["floor_logit"], choice["hold_fall"], choice["recall"]) == (-1.5, 1.0, 1.0)
    assert choice["fpr"] == table[0]["fpr"]
    # a run whose decision falls at once cannot be held without holding B: no hold is chosen
    z = [1.0, -3.0, -3.5, -9.0, -9.0] + HOLD_CASE_Z[5:]
    _, choice = video_train.choose_hold(_probabilities(z), HOLD_CASE_FOLLOWS, pos, ~pos)
    assert choice["floor_logit"] is None and choice["hold_fall"] is None


def test_hold_options_are_refused_outside_evaluate_video(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from detectors.training import __main__ as cli

    with pytest.raises(SystemExit) as exc:
        cli.main(["validate-video", "--hold-fall", "1.5", "--threads", "1"])
    assert exc.value.code == 2
    assert "--hold, --hold-fall and --no-hold set the detector's hold for evaluate-video only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["evaluate-video", "--no-hold", "--hold", "0.1", "--threads", "1"])
    assert exc.value.code == 2
    assert "--no-hold cannot be given with --hold or --hold-fall" in capsys.readouterr().err


def test_evaluate_video_passes_the_hold_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    pytest.importorskip("torch")
    from detectors.training import __main__ as cli
    from detectors.training import video_train

    seen: list[dict[str, Any]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(video_train, "evaluate_video", lambda quick=False, **hold: seen.append(hold) or {})
    for argv in ([], ["--no-hold"], ["--hold", "0.2"], ["--hold-fall", "2"]):
        assert cli.main(["evaluate-video", *argv, "--threads", "1"]) == 0
    assert seen == [{}, {"hold_decision": None, "hold_fall": None}, {"hold_decision": 0.2}, {"hold_fall": 2.0}]


def test_validate_video_writes_the_table_and_says_whether_the_default_is_the_choice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    pytest.importorskip("torch")
    import json

    from detectors.training import video_train
    from detectors.training.video_sim import LabelledFrame

    # the choose_hold case above as labelled frames: 4 damaged (all cells), 2005 clean
    img = np.zeros((24, 32), np.uint8)
    frames = [LabelledFrame(img, np.full((1, 2), float(i < 4), np.float32), "s", "bitstream") for i in range(len(HOLD_CASE_Z))]
    run = {"decision": _probabilities(HOLD_CASE_Z), "follows": HOLD_CASE_FOLLOWS, "median_frames": np.array(1)}
    monkeypatch.setattr(video_train, "detector_pass", lambda fr, **params: run)
    monkeypatch.chdir(tmp_path)
    result = video_train.validate_video(frames)
    saved = json.loads((tmp_path / "reports/training/video_validation.json").read_text())
    assert saved["chosen"]["floor_logit"] == -1.5 and saved["chosen"]["hold_fall"] == 1.0
    # the shipped default is no hold (validate-video chose none for the five- and six-map models), not this case's choice
    assert saved["default"] == {"hold_decision": None, "hold_fall": None} and saved["default_is_chosen"] is False
    assert result["criterion"] == "no clean frame added" and len(saved["table"]) == 1 + 8 * 7  # no hold, then 8 floors x 7 falls


def test_metrics_say_which_frames_only_the_hold_kept() -> None:
    # the four-map model's hold; logits -1.39, 0.41, -0.20, -0.85 (falls under 1), -2.94
    det = _detector([0.2, 0.6, 0.45, 0.3, 0.05], hold_decision=0.182426, hold_fall=1.0)
    rows = []
    for i in range(5):
        det.feed(_frame(i))
        m = det.metrics()
        rows.append((m["corrupted"], m["held"]))
    assert rows == [(0, 0), (1, 0), (1, 1), (1, 1), (0, 0)]
    assert "held" in BlockCorruptionDetector.metric_names


def test_evaluate_video_pools_its_draws_and_reports_its_hold_and_where_its_false_positives_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("torch")
    from detectors.training import video_train
    from detectors.training.video_sim import LabelledFrame

    img = np.zeros((24, 32), np.uint8)
    damaged, clean = np.ones((1, 2), np.float32), np.zeros((1, 2), np.float32)
    # each draw: source a 2 damaged frames and 2 clean ones; source b 4 clean frames
    frames = [LabelledFrame(img, damaged if i < 2 else clean, "a", "bitstream") for i in range(4)]
    frames += [LabelledFrame(img, clean, "b", "clean") for _ in range(4)]
    # first draw: both damaged frames and one clean frame of b flagged; second draw: one damaged frame flagged
    flagged = np.array([1, 1, 0, 0, 0, 1, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0], bool)
    run = {
        "decision": flagged * 0.9,
        "area_ratio": flagged * 1.0,
        "corrupted": flagged,
        "follows": np.array([0, 1, 1, 1, 0, 1, 1, 1] * 2, bool),
        "median_frames": np.array(3),
    }
    seen: list[dict[str, Any]] = []
    keys: list[str] = []
    sources = SimpleNamespace(
        evaluation=[SimpleNamespace(name="a", grain=False, family="pan"), SimpleNamespace(name="b", grain=False, family="ui")]
    )
    monkeypatch.setattr(video_train, "video_sources", lambda: sources)
    monkeypatch.setattr(video_train, "_cached_frames", lambda key, make: keys.append(key) or frames)
    monkeypatch.setattr(video_train, "detector_pass", lambda fr, **hold: seen.append(hold) or run)
    monkeypatch.setattr(video_train, "blockdetect_scores", lambda fr: np.zeros(len(fr)))
    result = video_train.evaluate_video(hold_fall=2.0)
    # the first draw keeps the cache entry it had before draws were pooled; the second has its own
    assert keys == ["evaluation_12x40_clean192", "evaluation_12x40_clean192_draw1001"]
    assert seen == [{"hold_fall": 2.0}]  # one detector pass over both draws
    assert result["detector_hold"] == {"hold_decision": None, "hold_fall": 2.0}  # the default floor (none), the fall asked for
    assert result["detector_median_frames"] == 3  # the median the detector judged on (the model's)
    assert result["draws"] == [video_train.SEED + 1, video_train.SEED + 1001]
    by_draw: Any = result["by_draw"]
    first, second = by_draw[str(video_train.SEED + 1)], by_draw[str(video_train.SEED + 1001)]
    assert (first["positives"], first["negatives"]) == (2, 6) and (second["positives"], second["negatives"]) == (2, 6)
    assert first["detector"]["f1"] == pytest.approx(0.8) and first["detector"]["fpr"] == pytest.approx(1 / 6, abs=1e-5)
    assert second["detector"]["f1"] == pytest.approx(2 / 3, abs=1e-4) and second["detector"]["fpr"] == 0.0
    # pooled: 3 true, 1 false positive, 1 missed; 1 of 12 clean frames
    assert result["detector"]["f1"] == pytest.approx(0.75) and result["detector"]["fpr"] == pytest.approx(1 / 12, abs=1e-5)  # type: ignore[index]
    assert result["detector_fpr_by_source"] == {"a": 0.0, "b": 0.125}
    assert result["detector_recall_by_source"] == {"a": 0.75}
    assert result["damage_runs"] == {"runs": 2, "mean_frames": 2.0, "detected": 1.0}
    assert set(result["detector_clip_bootstrap"]) == {"f1_95", "fpr_95"}  # type: ignore[arg-type]


def test_clip_bootstrap_resamples_whole_clips_within_each_source() -> None:
    from detectors.training.video_clip_bootstrap import clip_bootstrap

    # source a: two clean clips of 10 frames, one false positive in the first; source b: one clip of 4 damaged
    # frames, all flagged. Drawing a's clips again gives 0, 1 or 2 false positives in 20 frames; b is always the same.
    pred = np.array([1] + [0] * 19 + [1] * 4, bool)
    pos = np.array([0] * 20 + [1] * 4, bool)
    follows = np.array([1] * 10 + [0] + [1] * 9 + [0, 1, 1, 1], bool)  # the first frame starts a stream all the same
    sources = np.array(["a"] * 20 + ["b"] * 4)
    out = clip_bootstrap(pred, pos, ~pos, follows, sources)
    assert out["fpr_95"] == [0.0, 0.1]
    assert out["f1_95"] == [pytest.approx(8 / 10), 1.0]  # 4 true positives and 2 false ones at worst
    # one clip per source: every resample is the data itself
    same = clip_bootstrap(pred, pos, ~pos, np.array([0] + [1] * 19 + [0, 1, 1, 1], bool), sources)
    assert same["fpr_95"] == [0.05, 0.05] and same["f1_95"] == [pytest.approx(8 / 9, abs=1e-4)] * 2


def test_a_median_of_three_drops_single_frames_and_keeps_runs_of_two_whole() -> None:
    from detectors.video.block_corruption import median_decisions

    d = np.array([0.2, 0.7, 0.3, 0.8, 0.9, 0.1])
    follows = np.array([False, True, True, True, True, True])
    # (0.2, 0.2, 0.7) (0.2, 0.7, 0.3) (0.7, 0.3, 0.8) (0.3, 0.8, 0.9) (0.8, 0.9, 0.1) (0.9, 0.1, 0.1)
    assert median_decisions(d, follows, 3).tolist() == [0.2, 0.3, 0.7, 0.8, 0.8, 0.1]
    assert median_decisions(d, follows, 1).tolist() == d.tolist()
    spike_then_run = np.array([0.1, 0.9, 0.1, 0.1, 0.9, 0.9, 0.1])
    got = corrupted_frames(spike_then_run, np.r_[False, np.ones(6, bool)], 0.5, 0.5, None, median_frames=3)
    assert got.tolist() == [False, False, False, False, True, True, False]  # the run keeps its first and last frame
    dip = np.array([0.9, 0.9, 0.2, 0.9, 0.9])
    assert corrupted_frames(dip, np.r_[False, np.ones(4, bool)], 0.5, 0.5, None, median_frames=3).all()


def test_the_median_does_not_reach_across_a_new_stream() -> None:
    from detectors.video.block_corruption import median_decisions

    d = np.array([0.9, 0.1, 0.9, 0.9, 0.1])
    follows = np.array([False, True, False, True, True])  # streams [0, 1] and [2, 3, 4]
    # frame 1 is its stream's last: (0.9, 0.1, 0.1); frame 2 its stream's first: (0.9, 0.9, 0.9)
    assert median_decisions(d, follows, 3).tolist() == [0.9, 0.1, 0.9, 0.9, 0.1]
    assert median_decisions(np.array([0.9]), np.array([False]), 3).tolist() == [0.9]  # a one-frame stream keeps its own
    assert median_decisions(np.array([0.1, 0.9, 0.9, 0.1, 0.1]), np.r_[False, np.ones(4, bool)], 5).tolist() == [
        0.1, 0.1, 0.1, 0.1, 0.1,
    ]  # fmt: skip


@pytest.mark.parametrize("bad", [0, 2, -1])
def test_median_frames_must_be_odd_and_positive(bad: int) -> None:
    from detectors.video.block_corruption import median_decisions

    with pytest.raises(ValueError, match=r"block_corruption: median_frames must be an odd number >= 1"):
        BlockCorruptionDetector.Params(median_frames=bad)
    with pytest.raises(ValueError, match=r"block_corruption: median_frames must be an odd number >= 1"):
        median_decisions(np.zeros(3), np.ones(3, bool), bad)


def test_detector_decides_one_frame_late_as_the_rule_does_across_a_gap_a_reset_and_flush() -> None:
    d = [0.9, 0.1, 0.8, 0.7, 0.2, 0.6, 0.1, 0.9, 0.9, 0.3, 0.8]
    det = _detector(d, median_frames=3)
    frames = [_frame(0), _frame(1), _frame(2), _frame(3), _frame(5), _frame(6), _frame(7, 80, 48), _frame(8, 80, 48)]
    records = []
    for k, f in enumerate(frames):
        det.feed(f)
        got = det.metric_records()
        records += got
        # each frame decides the one before it: as its median's third frame, or (5; the size change) as a new stream
        assert [r["index"] for r in got] == ([] if k == 0 else [frames[k - 1].index])
    assert [r["index"] for r in records] == [0, 1, 2, 3, 5, 6, 7]  # frame 8 waits for its next frame
    det.flush()
    records += det.metric_records()
    det.feed(_frame(9, 80, 48))  # follows frame 8 by index, but flush() started a new stream
    det.feed(_frame(10, 80, 48))
    records += det.metric_records()
    det.reset()
    det.feed(_frame(11, 80, 48))  # a new stream: frame 10 is decided now, as the last of its own
    records += det.metric_records()
    assert det.metric_records() == []  # each record is given once
    det.flush()
    records += det.metric_records()
    assert [r["index"] for r in records] == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    assert [r["pts_s"] for r in records] == [pytest.approx(r["index"] / 25) for r in records]
    follows = [False, True, True, True, False, True, False, True, False, True, False]
    want = corrupted_frames(np.array(d), np.array(follows), 0.5, 0.5, None, median_frames=3)
    assert [bool(r["corrupted"]) for r in records] == want.tolist()
    # streams [0-3] [5, 6] [7, 8] [9, 10] [11]: 0.1 between 0.9 and 0.8 is lifted; in a stream of one or two frames
    # each frame keeps its own decision
    assert want.tolist() == [True, True, True, True, False, True, False, True, True, False, True]
    assert [r["decision_score"] for r in records] == pytest.approx(d)
    assert det.metrics() == records[-1]


def test_a_one_frame_blip_makes_no_event_and_a_two_frame_run_one_with_exact_frames() -> None:
    d = [0.1, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1]
    det = _detector(d, median_frames=3)
    events = [e for i in range(len(d)) for e in det.feed(_frame(i))] + det.flush()
    assert len(events) == 1
    (e,) = events
    assert (e.start_frame, e.end_frame) == (5, 6)
    assert (e.start_s, e.end_s) == (pytest.approx(5 / 25), pytest.approx(7 / 25))


def test_the_median_comes_from_the_model_unless_given() -> None:
    assert _detector([], {"median_frames": "3"}).median_frames == 3
    assert _detector([]).median_frames == 1  # a model that says nothing: each frame on its own decision
    assert _detector([], {"median_frames": "3"}, median_frames=1).median_frames == 1
    with pytest.raises(ValueError, match=r"model 'block_corruption' has median_frames 2"):
        _ = _detector([], {"median_frames": "2"}).median_frames
    det = _detector([0.9, 0.9, 0.1, 0.1], {"median_frames": "3"})
    det.feed(_frame(0))
    assert det.metric_records() == [] and det.metrics()["index"] is None  # nothing decided yet
    det.feed(_frame(1))
    assert det.metrics()["index"] == 0 and det.metrics()["corrupted"] == 1
    det.feed(_frame(2))
    det.feed(_frame(3))
    assert [r["index"] for r in det.metric_records()] == [2]  # only what the last feed decided: nothing piles up


def test_choose_hold_judges_the_median_as_the_detector_does() -> None:
    pytest.importorskip("torch")
    from detectors.training import video_train

    # one clean frame over the threshold between two far below; a damaged run of two frames ends the stream
    z = [-9.0, 1.0, -9.0, -9.0] + [-9.0] * 994 + [3.0, 3.0]
    pos = np.zeros(len(z), bool)
    pos[-2:] = True
    follows = np.r_[False, np.ones(len(z) - 1, bool)]
    table, _ = video_train.choose_hold(_probabilities(z), follows, pos, ~pos)
    assert (table[0]["fpr"], table[0]["recall"]) == (pytest.approx(1 / 998), 1.0)
    table, _ = video_train.choose_hold(_probabilities(z), follows, pos, ~pos, median_frames=3)
    assert (table[0]["fpr"], table[0]["recall"]) == (0.0, 1.0)


def test_the_decision_threshold_is_set_on_the_validation_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    import torch

    from detectors.training import video_train
    from detectors.training.video_sim import LabelledFrame

    img = np.zeros((24, 32), np.uint8)
    clean = np.zeros((1, 2), np.float32)

    def frame(first: bool, cells: np.ndarray = clean) -> LabelledFrame:
        return LabelledFrame(img, cells, "v", "clean" if cells is clean else "bitstream", None, None if first else img)

    # 1000 clean validation frames: one stream of logits -2, with single-frame spikes to +1 at every 100th frame
    # (ten spikes: 1 % of them, over the 0.2 % target), then a damaged stream of three at +5; 4000 clean training
    # frames far below
    val_z = np.r_[np.full(1000, -2.0), np.full(3, 5.0)]
    val_z[50:1000:100] = 1.0
    train = [frame(True) for _ in range(4000)]
    validation = [frame(i == 0) for i in range(1000)] + [frame(i == 0, np.ones((1, 2), np.float32)) for i in range(3)]
    stats = torch.from_numpy(np.r_[np.full(4000, -9.0), val_z].astype(np.float32))[:, None].repeat(1, video_train.N_STATS)
    monkeypatch.setattr(video_train, "_frame_stats", lambda net, frames, label: stats)

    def identity_head(head: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            head.weight.zero_()
            head.weight[0, 0] = 1.0
            head.bias.zero_()  # decision logit = the first statistic
        return torch.zeros(())

    monkeypatch.setattr(video_train, "fit_logistic", identity_head)
    net = SimpleNamespace(decision=torch.nn.Linear(video_train.N_STATS, 1))
    monkeypatch.setattr(video_train, "MEDIAN_FRAMES", 1)
    z1 = video_train.fit_decision(net, train, validation)  # type: ignore[arg-type]
    assert z1[:1000].max() < 0 and (z1[1000:] > 0).all()  # the spikes had to go under
    assert float(net.decision.bias.detach()) == pytest.approx(-1.0 - 1e-3, abs=1e-5)
    monkeypatch.setattr(video_train, "MEDIAN_FRAMES", 3)
    z3 = video_train.fit_decision(net, train, validation)  # type: ignore[arg-type]
    # the median drops every spike: no clean validation frame reaches 0, so the bias is not raised (never lowered)
    assert z3[:1000] == pytest.approx(np.full(1000, -2.0)) and (z3[1000:] > 0).all()
    assert float(net.decision.bias.detach()) == 0.0
