"""Recording to fragmented MP4: complete and aligned, survives SIGKILL, clips cut by seeking, replay as a source."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from detectors.media import Frame
from harness.capture.capture import Capture
from harness.capture.clips import cut_clip
from harness.capture.recorder import ORIGIN_KEY, Recorder, RecordingSettings
from harness.errors import CaptureError
from tests.streams import TcpStreamServer, encode_ts, read_index

FPS = 30
FRAMES = 90
BEEPS = (30, 60)
ROOT = Path(__file__).resolve().parents[1]


def decode(path: Path) -> tuple[list[int], list[float], list[float]]:
    """(bar codes, picture times, beep onset times) of a media file, on its own file clock."""
    indexes, times, onsets = [], [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            indexes.append(read_index(frame.to_ndarray(format="gray")))
            times.append(float(frame.time))
    with av.open(str(path)) as container:
        quiet_since = -1.0
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray()[0]
            loud = np.flatnonzero(np.abs(samples) > 0.05)
            if loud.size and frame.time - quiet_since > 0.1 + frame.samples / frame.sample_rate:
                onsets.append(float(frame.time) + loud[0] / frame.sample_rate)
            if loud.size:
                quiet_since = float(frame.time) + loud[-1] / frame.sample_rate
    return indexes, times, onsets


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Frame]]:
    """A 3 s stream recorded while it was captured, and the frames the capture delivered."""
    server = TcpStreamServer(encode_ts(frames=FRAMES, fps=FPS, beeps_at=BEEPS), duration_s=FRAMES / FPS)
    path = tmp_path_factory.mktemp("rec") / "session.mp4"
    capture = Capture(server.uri, no_signal_s=1.0).start()
    recorder = Recorder(capture, path, RecordingSettings(fragment_s=0.5)).start()
    cursor = capture.video_cursor(from_latest=False)
    try:
        frames = [capture.next_frame(cursor) for _ in range(FRAMES)]
        assert recorder.wait_written(frames[40].pts_s, timeout_s=5)  # complete on disk up to there while recording
    finally:
        capture.close()
        stats = recorder.close()
        server.close()
    assert stats.frames == FRAMES and stats.missed_frames == 0
    assert stats.audio_s == pytest.approx(FRAMES / FPS, abs=0.05)
    return path, frames


def test_recording_holds_every_frame_with_audio_aligned(recording: tuple[Path, list[Frame]]) -> None:
    path, frames = recording
    indexes, times, onsets = decode(path)
    assert indexes == list(range(FRAMES))
    assert np.allclose(times, [f.pts_s for f in frames], atol=1e-3)
    with av.open(str(path)) as container:
        assert float(container.metadata[ORIGIN_KEY]) == frames[0].pts_s
        video = container.streams.video[0]
        assert (video.codec_context.name, video.codec_context.format.name) == ("h264", "yuv420p")
        assert container.streams.audio[0].codec_context.name == "aac"
    assert len(onsets) == len(BEEPS)
    for beep, onset in zip(BEEPS, onsets):
        assert abs(onset - times[beep]) <= 1 / FPS, f"beep for frame {beep} at {onset:.4f}, picture at {times[beep]:.4f}"


def test_clip_is_cut_from_the_keyframe_before_without_decoding_everything(
    recording: tuple[Path, list[Frame]], tmp_path: Path
) -> None:
    path, frames = recording
    clip = cut_clip(path, frames[40].pts_s, frames[55].pts_s, tmp_path / "clip.mp4")
    assert clip.start_s <= frames[40].pts_s and frames[40].pts_s - clip.start_s <= 0.5 + 1e-6  # <= one fragment early
    indexes, times, onsets = decode(clip.path)
    assert indexes[0] == round((clip.start_s + times[0]) * FPS) and indexes[-1] == 54  # clip time 0 = clip.start_s
    assert indexes == list(range(indexes[0], 55)) and clip.frames == len(indexes)
    assert 0.0 <= times[0] <= 0.1  # the sound starts a little before the first keyframe (AAC pre-roll)
    beeps = [b for b in BEEPS if indexes[0] <= b <= indexes[-1]]
    assert beeps and len(onsets) == len(beeps)  # the sound is cut with the pictures, still aligned
    for beep, onset in zip(beeps, onsets):
        assert abs(onset - times[indexes.index(beep)]) <= 1 / FPS
    with av.open(str(clip.path)) as container:
        assert float(container.metadata[ORIGIN_KEY]) == pytest.approx(clip.start_s, abs=1e-6)
    with pytest.raises(CaptureError, match="no pictures between"):
        cut_clip(path, 100.0, 101.0, tmp_path / "none.mp4")


def test_replay_of_a_recording_gives_the_same_frames_and_times(recording: tuple[Path, list[Frame]]) -> None:
    path, frames = recording
    replay = Capture(f"replay://{path}?pace=fast", buffer_s=10).start()
    try:
        cursor = replay.video_cursor(from_latest=False)
        again = [replay.next_frame(cursor) for _ in range(FRAMES)]
    finally:
        replay.close()
    assert [read_index(f.luma) for f in again] == list(range(FRAMES))
    assert np.allclose([f.pts_s for f in again], [f.pts_s for f in frames], atol=1e-3)
    assert replay.stats().dropped_frames == 0


def test_replay_in_real_time_is_paced_and_rejects_bad_options(recording: tuple[Path, list[Frame]]) -> None:
    path, _ = recording
    replay = Capture(f"replay://{path}", buffer_s=10).start()
    try:
        cursor = replay.video_cursor(from_latest=False)
        replay.next_frame(cursor)
        started = time.monotonic()
        for _ in range(30):
            replay.next_frame(cursor)
        assert 0.85 < time.monotonic() - started < 1.5
    finally:
        replay.close()
    with pytest.raises(CaptureError, match=r"pace must be one of realtime, fast"):
        Capture(f"replay://{path}?pace=slow")
    with pytest.raises(CaptureError, match=r"unknown option\(s\) speed"):
        Capture(f"replay://{path}?speed=2")


def test_recording_killed_with_sigkill_keeps_all_but_the_last_fragment(tmp_path: Path) -> None:
    server = TcpStreamServer(encode_ts(frames=8 * FPS, fps=FPS), duration_s=8.0, hold_open=True)
    out = tmp_path / "killed.mp4"
    fragment_s = 0.5
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.commands.capture", server.uri, "--seconds", "60", "--out", str(out),
         "--fragment", str(fragment_s)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True, cwd=ROOT,
    )
    received = 0
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        while received < 3 * FPS and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if "frames=" in line:
                received = int(line.split("frames=")[1].split()[0])
        assert received >= 3 * FPS, "the capture never got going"
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.close()
    assert proc.returncode == -signal.SIGKILL
    indexes, _times, _ = decode(out)  # playable: PyAV decodes it to the end without error
    assert indexes == list(range(len(indexes)))
    # everything up to the last complete fragment before the kill; frames received after the progress line only add
    assert len(indexes) >= received - fragment_s * FPS - 3, f"{len(indexes)} frames kept of {received} received"
