"""Per-item metrics to CSV: MetricsRecorder and ``avqa analyze --metrics FILE``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from detectors.analyze import main
from detectors.base import REGISTRY, Pipeline, create
from detectors.metrics import KEY_COLUMNS, MetricsRecorder, metric_columns
from tests.media_factory import ClipSpec, chunks, frames, music, write_clip


def test_every_detector_declares_its_metrics() -> None:
    for name in ("black", "freeze", "stutter", "tearing", "letterbox", "nosignal", "blur", "blockiness", "scenecut"):
        cls = REGISTRY.get(name)
        det = cls()
        record = det.metrics()
        assert tuple(record) == cls.metric_names, name
        assert cls.metric_names[:2] == ("index", "pts_s") and det.last_metric is None, name


def test_recorder_rows_and_columns() -> None:
    detectors = [create("black"), create("freeze"), create("silence")]
    out = io.StringIO(newline="")
    recorder = MetricsRecorder(out, detectors)
    pipeline = Pipeline(detectors)
    items = frames(ClipSpec(frames=20, black=[(5, 9)]))
    audio = chunks(music(0.5), 48000, 4800)
    for item in [*items, *audio]:
        pipeline.feed(item)
        recorder.record("mem", item, pipeline.detectors)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert recorder.columns == [*KEY_COLUMNS, *metric_columns(detectors)]
    assert list(rows[0]) == recorder.columns
    assert len(rows) == recorder.rows == 2 * 20 + len(audio)
    black = [r for r in rows if r["detector"] == "black"]
    assert [int(r["index"]) for r in black] == list(range(20))
    assert [r["black"] for r in black[4:11]] == ["0", "1", "1", "1", "1", "1", "0"]
    assert all(r["start_sample"] == "" and r["mean_diff_levels"] == "" for r in black)
    freeze = [r for r in rows if r["detector"] == "freeze"]
    assert freeze[0]["mean_diff_levels"] == "0" and float(freeze[1]["mean_diff_levels"]) > 1
    silence = [r for r in rows if r["detector"] == "silence"]
    assert [int(r["start_sample"]) for r in silence] == [c.start_sample for c in audio]
    assert all(r["index"] == "" and r["peak_db"] != "" for r in silence)


def test_a_detector_that_decides_late_gets_one_row_per_frame_with_its_own_frame() -> None:
    from tests.test_ml_video_hold import _detector

    late = _detector([0.9, 0.1, 0.9, 0.9, 0.2], median_frames=3)
    detectors = [create("black"), late]
    out = io.StringIO(newline="")
    recorder = MetricsRecorder(out, detectors)
    pipeline = Pipeline(detectors)
    items = frames(ClipSpec(frames=5))
    for item in items:
        pipeline.feed(item)
        recorder.record("mem", item, pipeline.detectors)
    pipeline.flush()
    recorder.record_flushed("mem", pipeline.detectors)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert recorder.rows == len(rows) == 10
    bc = [r for r in rows if r["detector"] == "block_corruption"]
    assert [int(r["index"]) for r in bc] == [f.index for f in items]  # frame 4's row comes at flush
    assert [float(r["pts_s"]) for r in bc] == pytest.approx([f.pts_s for f in items])
    assert [r["corrupted"] for r in bc] == ["1", "1", "1", "1", "0"]  # 0.1 lies between two 0.9s; 0.2 ends the stream
    assert [r["decision_score"] for r in bc][:2] == ["0.9", "0.1"] and bc[1]["median_decision"] == "0.9"
    assert [int(r["index"]) for r in rows if r["detector"] == "black"] == [f.index for f in items]


def test_a_watch_window_collects_a_late_detectors_records_by_frame() -> None:
    from harness.av import AVView
    from tests.test_ml_video_hold import _detector

    pipeline = Pipeline([_detector([0.9, 0.1, 0.9], median_frames=3)])
    series: dict[str, list[dict[str, object]]] = {"block_corruption": []}
    for item in frames(ClipSpec(frames=3)):
        pipeline.feed(item)
        AVView._record_metrics(pipeline, "video", series)
    assert [r["index"] for r in series["block_corruption"]] == [0, 1]  # frame 2 waits for the flush
    assert series["block_corruption"][1]["median_decision"] == pytest.approx(0.9)


def test_analyze_metrics_file_keeps_the_json(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "a.mp4", ClipSpec(frames=30, black=[(10, 14)], audio_codec="aac"))
    other = write_clip(tmp_path / "b.mkv", ClipSpec(frames=10, video_codec="ffv1"))
    names = "black,blur,stutter,silence"
    plain_out, plain_err = io.StringIO(), io.StringIO()
    assert main([str(clip), "-d", names], stdout=plain_out, stderr=plain_err) == 0
    metrics = tmp_path / "m.csv"
    out, err = io.StringIO(), io.StringIO()
    assert main([str(clip), str(other), "-d", names, "--metrics", str(metrics)], stdout=out, stderr=err) == 0, err.getvalue()
    records = json.loads(out.getvalue())
    assert records[0] == json.loads(plain_out.getvalue())[0]  # the JSON contract is unchanged
    with metrics.open(newline="") as f:
        rows = list(csv.DictReader(f))
    by = {(r["path"], r["detector"]): 0 for r in rows}
    for r in rows:
        by[(r["path"], r["detector"])] += 1
    assert by[(str(clip), "black")] == by[(str(clip), "blur")] == by[(str(clip), "stutter")] == 30
    assert by[(str(other), "black")] == 10 and (str(other), "silence") not in by  # no audio in b.mkv
    assert by[(str(clip), "silence")] > 0
    black = [r for r in rows if r["path"] == str(clip) and r["detector"] == "black"]
    assert [r["black"] for r in black[9:16]] == ["0", "1", "1", "1", "1", "1", "0"]
    sharp = [float(r["sharpness"]) for r in rows if r["detector"] == "blur" and r["sharpness"]]
    assert len(sharp) > 20 and min(sharp) > 0.5


def test_unwritable_metrics_file_is_exit_2(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "a.mkv", ClipSpec(frames=5, video_codec="ffv1"))
    out, err = io.StringIO(), io.StringIO()
    rc = main([str(clip), "-d", "black", "--metrics", str(tmp_path / "missing" / "m.csv")], stdout=out, stderr=err)
    assert rc == 2 and "metrics" in err.getvalue() and out.getvalue() == ""


@pytest.mark.parametrize("value", [float("nan"), None])
def test_missing_values_are_empty_cells(value: float | None) -> None:
    class Fake:
        name = "fake"
        medium = "video"
        metric_names = ("index", "pts_s", "x")

        def metrics(self) -> dict[str, object]:
            return {"index": 0, "pts_s": 0.0, "x": value}

    out = io.StringIO(newline="")
    recorder = MetricsRecorder(out, [Fake()])
    recorder.record("p", frames(ClipSpec(frames=1))[0], [Fake()])  # type: ignore[list-item]
    assert out.getvalue().splitlines()[1] == "p,fake,0,,0,"
