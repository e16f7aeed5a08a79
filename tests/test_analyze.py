"""`avqa analyze` over generated clips: frame-exact events, formats, errors, file facts."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from detectors.analyze import analyze_path, main
from detectors.decode import MediaError, MediaReader, chunk_from_av, frame_from_av, iter_media, probe
from detectors.media import AudioChunk, Frame
from tests.media_factory import ClipSpec, write_clip

FPS = 25
RATE = 48000

# 4 s at 25 fps: black 10-14, freeze 40-60 across a forced IDR at 50, silence 2.4-3.2 s.
DEFECTS = ClipSpec(
    frames=100,
    black=[(10, 14)],
    freeze=[(40, 60)],
    keyframes=[50],
    audio_codec="aac",
    silence=[(115200, 153600)],
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "defects": write_clip(d / "defects.mp4", DEFECTS),
        "clean": write_clip(d / "clean.mp4", ClipSpec(frames=50, audio_codec="aac")),
        "dark": write_clip(d / "dark.mp4", ClipSpec(frames=50, content="dark", audio_codec="aac")),
        "lossless": write_clip(
            d / "lossless.mkv",
            ClipSpec(frames=60, video_codec="ffv1", audio_codec="pcm_s16le", black=[(45, 59)], silence=[(0, 30000)]),
        ),
        "dropped": write_clip(d / "dropped.mkv", ClipSpec(frames=50, drop=[20, 21, 35])),
        "video_only": write_clip(d / "video_only.mp4", ClipSpec(frames=30, black=[(0, 29)])),
    }


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def by_kind(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in record["events"]:
        out.setdefault(e["kind"], []).append(e)
    return out


def test_defects_are_reported_frame_exactly(clips: dict[str, Path]) -> None:
    rc, out, err = run_main([str(clips["defects"])])
    assert rc == 0, err
    (record,) = json.loads(out)
    assert record["path"] == str(clips["defects"])
    assert (record["fps"], record["frames"], record["dropped_frames"]) == (25.0, 100, 0)
    assert record["duration_s"] == pytest.approx(4.0)
    kinds = by_kind(record)
    assert sorted(kinds) == ["black", "freeze", "silence"]
    (black,) = kinds["black"]
    assert (black["start_frame"], black["end_frame"]) == (10, 14)
    assert (black["start_s"], black["end_s"]) == pytest.approx((10 / FPS, 15 / FPS), abs=1e-6)
    (freeze,) = kinds["freeze"]  # one event although an IDR frame re-encodes the still picture
    assert (freeze["start_frame"], freeze["end_frame"]) == (40, 60)
    assert (freeze["start_s"], freeze["end_s"]) == pytest.approx((40 / FPS, 61 / FPS), abs=1e-6)
    (silence,) = kinds["silence"]
    assert silence["start_frame"] is None and silence["end_frame"] is None
    assert silence["start_s"] == pytest.approx(115200 / RATE, abs=0.010)
    assert silence["end_s"] == pytest.approx(153600 / RATE, abs=0.010)
    for e in record["events"]:
        assert set(e) >= {"detector", "kind", "start_s", "end_s", "start_frame", "end_frame", "score"}
        assert 0.0 <= e["score"] <= 1.0
    assert [e["start_s"] for e in record["events"]] == sorted(e["start_s"] for e in record["events"])


def test_event_times_are_frame_pts(clips: dict[str, Path]) -> None:
    pts = {f.index: f.pts_s for f in iter_media(clips["defects"], want_audio=False) if isinstance(f, Frame)}
    record = analyze_path(clips["defects"])
    for e in record["events"]:
        if e["start_frame"] is not None:
            assert e["start_s"] == pytest.approx(pts[e["start_frame"]], abs=1e-6)
            assert e["end_s"] == pytest.approx(pts[e["end_frame"] + 1], abs=1e-6)


def test_lossless_and_events_running_to_the_end(clips: dict[str, Path]) -> None:
    record = analyze_path(clips["lossless"])
    kinds = by_kind(record)
    (black,) = kinds["black"]
    assert (black["start_frame"], black["end_frame"]) == (45, 59)
    assert black["end_s"] == pytest.approx(60 / FPS)  # last pts + one frame duration
    (silence,) = kinds["silence"]
    assert (silence["start_s"], silence["end_s"]) == pytest.approx((0.0, 30000 / RATE), abs=1e-6)
    # The black run is also an unchanged picture, but black is the defect: no freeze event for it.
    assert "freeze" not in kinds


@pytest.mark.parametrize("name", ["clean", "dark"])
def test_no_false_events(clips: dict[str, Path], name: str) -> None:
    record = analyze_path(clips[name])
    assert record["events"] == []
    assert record["frames"] == 50


def test_detector_selection(clips: dict[str, Path]) -> None:
    rc, out, _ = run_main([str(clips["defects"]), "--detector", "black", "-d", "silence"])
    assert rc == 0
    assert sorted(by_kind(json.loads(out)[0])) == ["black", "silence"]
    rc, out, _ = run_main([str(clips["defects"]), "--detector", "freeze,black"])
    assert sorted(by_kind(json.loads(out)[0])) == ["black", "freeze"]
    # Only audio decoded: the file facts still come from the headers.
    record = analyze_path(clips["defects"], ["silence"])
    assert record["fps"] == 25.0 and record["frames"] == 100 and len(record["events"]) == 1


def test_default_detectors_follow_the_streams(clips: dict[str, Path]) -> None:
    record = analyze_path(clips["video_only"])
    assert [e["kind"] for e in record["events"]] == ["black"]
    # Asking for silence on a file without audio is not an error; it just sees nothing.
    assert analyze_path(clips["video_only"], ["silence"])["events"] == []


def test_jsonl_format(clips: dict[str, Path]) -> None:
    rc, out, _ = run_main([str(clips["clean"]), str(clips["defects"]), "--format", "jsonl"])
    assert rc == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert [r["path"] for r in records] == [str(clips["clean"]), str(clips["defects"])]
    assert records[0]["events"] == [] and len(records[1]["events"]) == 3


def test_table_format(clips: dict[str, Path]) -> None:
    rc, out, _ = run_main([str(clips["defects"]), "--format", "table"])
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith(str(clips["defects"])) and "frames=100" in lines[0] and "events=3" in lines[0]
    assert "START_FRAME" in lines[1]
    black = next(line for line in lines if line.split()[:2] == ["black", "black"])
    assert black.split()[2:6] == ["0.400", "0.600", "10", "14"]
    silence = next(line for line in lines if line.split()[:2] == ["silence", "silence"])
    assert silence.split()[4:6] == ["-", "-"]


def test_missing_file_gives_exit_2_and_the_others_are_printed(clips: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a media file" * 100)
    rc, out, err = run_main([str(missing), str(clips["clean"]), str(garbage)])
    assert rc == 2
    assert str(missing) in err and str(garbage) in err
    records = json.loads(out)
    assert [r["path"] for r in records] == [str(clips["clean"])]
    with pytest.raises(MediaError, match="nope.mp4"):
        analyze_path(missing)


def test_unknown_detector_gives_exit_2_with_the_names(clips: dict[str, Path]) -> None:
    rc, out, err = run_main([str(clips["clean"]), "--detector", "blak"])
    assert rc == 2 and out == ""
    assert "blak" in err and "black" in err and "freeze" in err and "silence" in err


def test_bad_format_is_a_usage_error(clips: dict[str, Path]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_main([str(clips["clean"]), "--format", "xml"])
    assert exc.value.code == 2


def test_dropped_frames_and_file_facts(clips: dict[str, Path]) -> None:
    record = analyze_path(clips["dropped"])
    assert (record["frames"], record["dropped_frames"], record["fps"]) == (47, 3, 25.0)
    assert record["duration_s"] == pytest.approx(2.0)
    assert record["events"] == []
    info = probe(clips["dropped"])
    assert (info.frames, info.dropped_frames, info.width, info.height) == (47, 3, 320, 240)
    info = probe(clips["defects"])
    assert (info.frames, info.sample_rate_hz, info.channels) == (100, RATE, 2)
    assert info.duration_s == pytest.approx(4.0)


def test_iter_media_is_interleaved_and_starts_at_zero(clips: dict[str, Path]) -> None:
    items = list(iter_media(clips["defects"]))
    times = [i.pts_s for i in items]
    assert times == sorted(times) and min(times) == 0.0
    chunks = [i for i in items if isinstance(i, AudioChunk)]
    assert sum(c.samples.shape[0] for c in chunks) == DEFECTS.audio_samples
    assert all(b.start_sample == a.start_sample + a.samples.shape[0] for a, b in itertools.pairwise(chunks))
    frames = [i for i in items if isinstance(i, Frame)]
    assert [f.index for f in frames] == list(range(100))
    assert frames[0].i420.shape == (360, 320)
    with MediaReader(clips["defects"], want_audio=False) as reader:
        assert all(isinstance(i, Frame) for i in reader)
        assert reader.info.frames == 100


def test_python_dash_m_subprocess(clips: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [sys.executable, "-m", "detectors.analyze", str(clips["video_only"]), str(missing), "--format", "jsonl"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert str(missing) in proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    assert json.loads(line)["path"] == str(clips["video_only"])


# --------------------------------------------------------------------------- conversions


def _i420(width: int, height: int, luma: int = 16) -> np.ndarray:
    pic = np.full((height * 3 // 2, width), 128, np.uint8)
    pic[:height] = luma
    return pic


def test_frame_from_av_yuv420p_is_exact() -> None:
    import av

    rng = np.random.default_rng(5)
    pic = rng.integers(16, 236, (360, 320), dtype=np.uint8)
    frame = frame_from_av(av.VideoFrame.from_ndarray(pic, format="yuv420p"), 7, 1.5)
    assert (frame.index, frame.pts_s) == (7, 1.5)
    assert np.array_equal(frame.i420, pic) and frame.i420.flags.c_contiguous


@pytest.mark.parametrize("fmt", ["yuvj420p", "nv12", "yuv422p", "yuyv422", "rgb24", "gray", "yuv420p10le"])
def test_frame_from_av_converts_to_video_range_i420(fmt: str) -> None:
    import av

    pic = _i420(64, 48, luma=16)
    pic[:8] = 235  # white band on top
    src = av.VideoFrame.from_ndarray(pic, format="yuv420p").reformat(format=fmt)
    frame = frame_from_av(src, 0, 0.0)
    assert frame.i420.shape == (72, 64)
    assert abs(int(frame.luma[20:].mean()) - 16) <= 1 and abs(int(frame.luma[:8].mean()) - 235) <= 1


def test_frame_from_av_full_range_flag_and_odd_sizes() -> None:
    import av

    full = av.VideoFrame.from_ndarray(_i420(64, 48, luma=0), format="yuv420p")
    full.color_range = 2  # full range (JPEG): 0 is black, 16 in video range
    assert frame_from_av(full, 0, 0.0).luma.max() == 16
    for width, height in [(321, 241), (320, 241), (321, 240)]:
        rgb = np.zeros((height, width, 3), np.uint8)
        frame = frame_from_av(av.VideoFrame.from_ndarray(rgb, format="rgb24"), 0, 0.0)
        assert (frame.width, frame.height) == (width & ~1, height & ~1)
        odd = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        assert frame_from_av(odd, 0, 0.0).i420.shape == ((height & ~1) * 3 // 2, width & ~1)


@pytest.mark.parametrize(
    ("fmt", "dtype", "full_scale"),
    [
        ("s16", np.int16, 32768),
        ("s16p", np.int16, 32768),
        ("s32", np.int32, 2**31),
        ("s32p", np.int32, 2**31),
        ("flt", np.float32, 1),
        ("fltp", np.float32, 1),
        ("dbl", np.float64, 1),
        ("u8", np.uint8, 128),
    ],
)
def test_chunk_from_av_formats(fmt: str, dtype: type, full_scale: int) -> None:
    import av

    n, channels = 64, 2
    half = np.full((n, channels), 0.5)
    half[:, 1] = -0.25
    values = half * full_scale + (128 if fmt == "u8" else 0)
    arr = values.astype(dtype)
    arr = np.ascontiguousarray(arr.T) if fmt.endswith("p") else arr.reshape(1, -1)
    src = av.AudioFrame.from_ndarray(arr, format=fmt, layout="stereo")
    src.sample_rate = RATE
    chunk = chunk_from_av(src, 2.0, 96000)
    assert (chunk.pts_s, chunk.start_sample, chunk.sample_rate_hz, chunk.channels) == (2.0, 96000, RATE, 2)
    assert chunk.samples.dtype == np.float32 and chunk.samples.shape == (n, channels)
    assert np.allclose(chunk.samples[:, 0], 0.5) and np.allclose(chunk.samples[:, 1], -0.25)


def test_non_yuv420p_file(tmp_path: Path) -> None:
    import av

    path = tmp_path / "mjpeg.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(20):
            pic = _i420(64, 48, luma=16 if 5 <= i <= 9 else 60 + 5 * i)
            frame = av.VideoFrame.from_ndarray(pic, format="yuv420p").reformat(format="yuvj420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    record = analyze_path(path, ["black"])
    assert [(e["start_frame"], e["end_frame"]) for e in record["events"]] == [(5, 9)]
