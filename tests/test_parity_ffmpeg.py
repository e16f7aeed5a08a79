"""Parity with FFmpeg's analysis filters run on the very same decoded items (PyAV filter graphs).

black vs blackdetect and freeze vs freezedetect within one frame, silence vs silencedetect
within 10 ms, loudness vs ebur128 within 0.1 LU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors import ffmpeg_reference as ff
from detectors.audio.loudness import LoudnessDetector
from detectors.audio.silence import SilenceDetector
from detectors.decode import iter_media
from detectors.media import AudioChunk, Frame
from detectors.video.black import BlackDetector
from detectors.video.freeze import FreezeDetector
from tests.media_factory import ClipSpec, chunks, music, speech, write_clip

RATE = 48000
FPS = 25


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> list[Frame]:
    # No IDR inside a freeze: freezedetect's -60 dB noise floor splits a freeze at a re-encoded
    # keyframe, which the freeze detector tolerates on purpose (see test_detectors_freeze).
    spec = ClipSpec(frames=150, black=[(10, 14), (80, 95)], freeze=[(40, 70), (110, 149)], crf=18)
    path = write_clip(tmp_path_factory.mktemp("parity") / "p.mp4", spec)
    return [f for f in iter_media(path, want_audio=False) if isinstance(f, Frame)]


def _run(det, items):  # type: ignore[no-untyped-def]
    events = [e for it in items for e in det.feed(it)]
    return events + det.flush()


def test_black_matches_blackdetect(decoded: list[Frame]) -> None:
    ours = _run(BlackDetector(), decoded)
    theirs = ff.blackdetect(decoded)
    assert len(ours) == len(theirs) == 2
    for e, s in zip(ours, theirs, strict=True):
        assert e.start_s == pytest.approx(s.start_s, abs=1 / FPS + 1e-6)
        assert s.end_s is not None and e.end_s == pytest.approx(s.end_s, abs=1 / FPS + 1e-6)


def test_freeze_matches_freezedetect(decoded: list[Frame]) -> None:
    ours = _run(FreezeDetector(FreezeDetector.Params(ignore_black=False)), decoded)
    theirs = ff.freezedetect(decoded)
    assert len(ours) == len(theirs) == 3  # the black run 80-95 is also an unchanged picture for both
    for e, s in zip(ours, theirs, strict=True):
        assert e.start_s == pytest.approx(s.start_s, abs=1 / FPS + 1e-6)
        assert s.end_s is not None and e.end_s == pytest.approx(s.end_s, abs=1 / FPS + 1e-6)


@pytest.mark.parametrize("sizes", [1024, [1000, 7, 4096]])
def test_silence_matches_silencedetect(sizes: int | list[int]) -> None:
    data = speech(8.0)
    data[RATE * 2 : RATE * 3] = 0.0
    data[int(RATE * 6.5) :] = 0.0
    items = chunks(data, RATE, sizes)
    ours = _run(SilenceDetector(), items)
    theirs = ff.silencedetect(items)
    assert len(ours) == len(theirs) >= 2
    for e, s in zip(ours, theirs, strict=True):
        assert e.start_s == pytest.approx(s.start_s, abs=0.010)
        assert s.end_s is not None and e.end_s == pytest.approx(s.end_s, abs=0.010)


@pytest.mark.parametrize("make", [music, speech])
def test_loudness_matches_ebur128(make) -> None:  # type: ignore[no-untyped-def]
    data = make(12.0)
    data[RATE * 6 :] *= np.float32(0.3)
    items = chunks(data, RATE, 4800)  # 100 ms: ebur128 reports its 10 Hz values on these frames
    det = LoudnessDetector()
    ours: list[tuple[float, float, float]] = []
    for c in items:
        det.feed(c)
        ours.append((c.pts_s + c.duration_s, det.momentary_lufs, det.short_term_lufs))
    theirs = ff.ebur128(items)
    assert det.integrated_lufs == pytest.approx(theirs.integrated_lufs, abs=0.1)
    assert det.true_peak_dbtp == pytest.approx(theirs.true_peak_dbtp, abs=0.3)
    pairs = [(a, b) for a, b in zip(ours, theirs.momentary, strict=True) if a[0] >= 3.0]
    assert len(pairs) > 50
    assert max(abs(a[1] - b[1]) for a, b in pairs) <= 0.1
    assert max(abs(a[2] - b[2]) for a, b in pairs) <= 0.1


def test_loudness_matches_ebur128_on_a_decoded_aac_file(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "a.mp4", ClipSpec(frames=200, video_codec=None, audio_codec="aac", silence=[(96000, 150000)]))
    items = [c for c in iter_media(path) if isinstance(c, AudioChunk)]
    det = LoudnessDetector()
    _run(det, items)
    assert det.integrated_lufs == pytest.approx(ff.ebur128(items).integrated_lufs, abs=0.1)
