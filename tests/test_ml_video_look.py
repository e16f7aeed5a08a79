"""Blind look at the block-corruption labels (detectors.training.video_look): anonymous pictures, a key kept apart,
judgments parsed strictly, and the unblinding tally."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.training import video_look
from detectors.training.__main__ import main
from detectors.training.video_sim import LabelledFrame

W, H = 64, 48  # small frames: 4 x 3 cells of 16 px


def _frames(n_pos: int = 6, n_clean: int = 5, n_faint: int = 2) -> list[LabelledFrame]:
    """Positives (half the cells corrupted), clean frames and faint ones (neither), each frame a
    different grey level so that pictures can be traced back to frames."""
    out = []
    for k in range(n_pos + n_clean + n_faint):
        grey = np.full((H * 3 // 2, W), 128, np.uint8)  # neutral chroma
        grey[:H] = 20 + 9 * k
        cells = np.zeros((H // 16, W // 16), np.float32)
        if k < n_pos:
            cells[:, :2] = 1.0
            source = "pan_horse" if k % 2 else "ui7"
        elif k >= n_pos + n_clean:
            cells[0, 0] = 0.3  # damage in part of one cell: under the 0.07 area ratio, yet not clean
            source = "pan_horse"
        else:
            source = "pan_horse" if k % 2 else "text2"
        out.append(LabelledFrame(grey, cells, source, "bitstream"))
    return out


def _grey_of(bgr: np.ndarray) -> int:
    return int(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[0, 0])


def test_the_pictures_are_anonymous_and_the_key_traces_them_back(tmp_path: Path) -> None:
    frames = _frames()
    key = video_look.write_look(frames, tmp_path, positives=4, clean=3, seed=5)
    pictures = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pictures == [f"{n:02d}.png" for n in range(7)]  # names say nothing about the frame or its label
    chosen = [frames[i] for i in key.values()]
    assert sum(f.area_ratio >= 0.07 for f in chosen) == 4 and sum(not f.cells.any() for f in chosen) == 3
    for number, index in key.items():  # each picture is its frame, twice the size
        img = cv2.imread(str(tmp_path / f"{number:02d}.png"))
        assert img.shape[:2] == (2 * H, 2 * W)
        assert _grey_of(img) == _grey_of(cv2.cvtColor(frames[index].i420, cv2.COLOR_YUV2BGR_I420))
    saved = json.loads((tmp_path / video_look.KEY_FILE).read_text())
    assert saved["frames"] == len(frames) and {int(k): v for k, v in saved["key"].items()} == key


def test_the_draw_is_fixed_by_its_seed_and_shuffles_labels(tmp_path: Path) -> None:
    frames = _frames(n_pos=10, n_clean=10)
    a = video_look.write_look(frames, tmp_path / "a", positives=6, clean=6, seed=1)
    b = video_look.write_look(frames, tmp_path / "b", positives=6, clean=6, seed=1)
    c = video_look.write_look(frames, tmp_path / "c", positives=6, clean=6, seed=2)
    assert a == b and a != c
    labels = [frames[a[n]].cells.any() for n in sorted(a)]
    assert labels != sorted(labels, reverse=True)  # not all positives first


def test_sources_restrict_the_draw_and_too_few_frames_say_how_many_there_are(tmp_path: Path) -> None:
    frames = _frames()
    key = video_look.write_look(frames, tmp_path / "pans", positives=3, clean=2, seed=0, sources=["pan_horse"])
    assert {frames[i].source for i in key.values()} == {"pan_horse"}
    with pytest.raises(
        ValueError, match=r"asked for 4 positives and 3 clean frames, the frames hold 3 and 2 \(sources pan_horse\)"
    ):
        video_look.write_look(frames, tmp_path / "more", positives=4, clean=3, sources=["pan_horse"])


def test_a_judged_look_is_never_overwritten(tmp_path: Path) -> None:
    frames = _frames()
    video_look.write_look(frames, tmp_path, positives=2, clean=2)
    (tmp_path / video_look.JUDGMENTS_FILE).write_text("00 V blocks\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(FileExistsError, match="already holds a look"):
        video_look.write_look(frames, tmp_path, positives=2, clean=2, seed=3)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("00 V\n01 maybe\n", r"judgments.txt:2: expected 'NN V note' or 'NN N note', got '01 maybe'"),
        ("00 V\n00 N second thoughts\n01 N\n", r"judgments.txt:2: picture 0 judged twice"),
        ("00 V\n01 N\n07 V\n", r"judgments.txt:3: picture 7 is not in this look \(0-1\)"),
        ("# two pictures\n\n01 N fine\n", r"judgments.txt: pictures not judged: 00"),
    ],
)
def test_judgments_are_read_strictly_naming_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / video_look.JUDGMENTS_FILE
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        video_look.read_judgments(path, [0, 1])


def test_unblinding_crosses_labels_judgments_and_detector(tmp_path: Path) -> None:
    frames = _frames()
    key = video_look.write_look(frames, tmp_path, positives=4, clean=3, seed=7)
    # the viewer sees every positive but one, and takes one clean frame for corruption
    positives = [n for n in sorted(key) if frames[key[n]].cells.any()]
    clean = [n for n in sorted(key) if not frames[key[n]].cells.any()]
    seen = set(positives[1:]) | {clean[0]}
    (tmp_path / video_look.JUDGMENTS_FILE).write_text("".join(f"{n:02d} {'V' if n in seen else 'N'} x\n" for n in key))
    flagged_frames = {key[positives[0]], key[positives[1]]}  # the detector: the unseen positive and one seen one

    def flags(picked: list[LabelledFrame]) -> np.ndarray:
        return np.array([any(f is frames[i] for i in flagged_frames) for f in picked])

    got = video_look.score_look(frames, tmp_path, flags)
    assert (got["positives"], got["positives_seen"], got["clean"], got["clean_seen"]) == (4, 3, 3, 1)
    assert got["seen_share"] == 0.75
    assert got["flagged_of_seen"] == [1, 3] and got["flagged_of_unseen"] == [1, 1] and got["flagged_of_clean"] == [0, 3]
    assert sum(v["positives"] for v in got["by_family"].values()) == 4  # type: ignore[union-attr]
    assert set(got["by_family"]) <= {"pan", "ui"}  # type: ignore[arg-type]


def test_unblinding_refuses_other_frames_than_the_look_was_drawn_from(tmp_path: Path) -> None:
    frames = _frames()
    video_look.write_look(frames, tmp_path, positives=2, clean=2)
    (tmp_path / video_look.JUDGMENTS_FILE).write_text("00 V\n01 V\n02 N\n03 N\n")
    with pytest.raises(ValueError, match=r"drawn from 13 frames, these are 12: not the same data"):
        video_look.score_look(frames[:-1], tmp_path, lambda picked: np.zeros(len(picked), bool))


def test_wilson_interval_matches_known_values() -> None:
    lo, hi = video_look.wilson(48, 48)
    assert (round(lo, 3), round(hi, 6)) == (0.926, 1.0)
    lo, hi = video_look.wilson(27, 30)
    assert (round(lo, 3), round(hi, 3)) == (0.744, 0.965)
    with pytest.raises(ValueError, match="need n > 0"):
        video_look.wilson(0, 0)


def test_detector_flags_runs_the_shipped_detector_once_per_picture() -> None:
    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    h, w = 360, 640
    calm = np.full((h * 3 // 2, w), 128, np.uint8)
    calm[:h] = np.clip(cv2.GaussianBlur(rng.normal(128, 40, (h, w)), (0, 0), 12), 0, 255).astype(np.uint8)
    frames = [LabelledFrame(calm, np.zeros((23, 40), np.float32), "pan_horse", "clean")] * 2
    got = video_look.detector_flags(frames)
    assert got.dtype == bool and got.shape == (2,) and got[0] == got[1]  # one flag a picture; the same frame, the same flag


def test_score_look_without_a_look_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"key_DO_NOT_OPEN.json: no look here; write one with look-video first"):
        main(["score-look", "--look", str(tmp_path)])
