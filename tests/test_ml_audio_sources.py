"""Pristine training audio: real renderers (espeak-ng, flite, fluidsynth, the sound theme), the source split, variations."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors.training import audio_render
from detectors.training.audio_augment import SPEED_RANGE, change_speed, draw_speed, limit
from detectors.training.audio_render import ToolMissingError, midi_file, read_wav, sentence, song

SR = 16000


def needs(*tools: str) -> pytest.MarkDecorator:
    missing = [t for t in tools if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed ({audio_render.APT_HINT})")


def active(x: np.ndarray) -> float:
    """Share of 20 ms frames above -50 dBFS."""
    frames = x[: x.size // 320 * 320].reshape(-1, 320)
    return float((np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) > 10 ** (-50 / 20)).mean())


@needs("espeak-ng")
def test_espeak_speech_is_deterministic_speech_with_pauses() -> None:
    render = audio_render.tts_renderer("espeak", "en-us+f2", 160, 60)
    x = render(6.0, 7)
    assert x.shape == (6 * SR,) and np.isfinite(x).all()
    assert 0.5 < active(x) < 1.0  # words and pauses
    assert np.array_equal(x, render(6.0, 7)) and not np.array_equal(x, render(6.0, 8))


@needs("flite")
def test_flite_voice_renders() -> None:
    x = audio_render.tts_renderer("flite", "slt", 0, 0)(3.0, 1)
    assert x.shape == (3 * SR,) and active(x) > 0.5


@needs("fluidsynth")
def test_fluidsynth_renders_the_generated_song() -> None:
    if not audio_render.SOUNDFONT.exists():
        pytest.skip(f"{audio_render.SOUNDFONT} not installed")
    x = audio_render.midi_renderer((0, 48, 32), True, 120, True)(4.0, 3)
    assert x.shape == (4 * SR,) and active(x) > 0.9
    spec = np.abs(np.fft.rfft(x)) ** 2
    assert spec[: 200 * 4].sum() > 0.05 * spec.sum()  # a bass line and drums, not just a lead


def test_foley_is_irregular_gestures_on_its_kit_and_programs() -> None:
    events = audio_render.foley(np.random.default_rng(5), 56, (115, 126, 9, 47), 60.0, 1.5)
    changes = {m[0] & 0x0F: m[1] for _, m in events if m[0] & 0xF0 == 0xC0}
    assert changes == {9: 56, 0: 115, 1: 126, 2: 9, 3: 47}
    ons = sorted(t for t, m in events if m[0] & 0xF0 == 0x90)
    assert {m[0] & 0x0F for _, m in events if m[0] & 0xF0 == 0x90} <= {0, 1, 2, 3, 9}
    assert 60 < len(ons) < 600 and ons[-1] < 61 * 960  # about 1.5 gestures a second, some of them rolls
    gaps = np.diff(ons) / 960
    assert gaps.std() > 0.5 * gaps.mean()  # no beat: a click train is regular, foley is not
    assert (gaps < 0.06).sum() > 10  # flams, rolls and clusters


@needs("fluidsynth")
def test_fluidsynth_renders_foley_deterministically() -> None:
    if not audio_render.SOUNDFONT.exists():
        pytest.skip(f"{audio_render.SOUNDFONT} not installed")
    render = audio_render.foley_renderer((0, 25), (113, 115, 127, 9), 1.0, False, -60.0)
    x = render(8.0, 4)
    assert x.shape == (8 * SR,) and np.isfinite(x).all()
    assert np.array_equal(x, render(8.0, 4))
    frames = np.sqrt(np.mean(x[: x.size // 320 * 320].reshape(-1, 320).astype(np.float64) ** 2, axis=1))
    assert np.percentile(frames, 95) > 10 * np.percentile(frames, 20)  # struck sounds over a quiet bed


def test_foley_sources_train_only_and_never_use_a_held_out_program() -> None:
    from detectors.training.audio_sources import audio_split, held_out_programs

    assert {10, 40, 104} <= held_out_programs()  # a validation and an evaluation lead, read from the band lists
    assert not held_out_programs() & set(audio_render.FOLEY_PROGRAMS)
    split = audio_split()
    foley = [s.name for s in split.train if s.name.startswith("foley")]
    assert len(foley) == 8
    assert not any(s.name.startswith("foley") for s in split.validation + split.evaluation)


def test_midi_file_is_a_valid_standard_midi_file(tmp_path: Path) -> None:
    events = song(np.random.default_rng(0), (0, 48, 32), True, 2)
    data = midi_file(events, 100.0)
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert int.from_bytes(data[18:22], "big") == len(data) - 22
    assert data.endswith(b"\xff\x2f\x00")
    note_ons = [m for _, m in events if m[0] & 0xF0 == 0x90]
    assert {m[0] & 0x0F for m in note_ons} == {0, 1, 2, 9}  # lead, chords, bass, drums


def test_missing_tool_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_render.shutil, "which", lambda tool: None)
    with pytest.raises(ToolMissingError, match="Debian package espeak-ng"):
        audio_render.tts_renderer("espeak", "en-us", 160, 50)(1.0, 0)
    with pytest.raises(ToolMissingError, match="Debian package fluidsynth"):
        audio_render.midi_renderer((0, 0, 32), False, 100, False)(1.0, 0)


def test_read_wav_mixes_down_and_resamples(tmp_path: Path) -> None:
    from scipy.io import wavfile

    t = np.arange(22050) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    wavfile.write(tmp_path / "a.wav", 22050, np.stack([tone, tone], 1))
    x = read_wav(tmp_path / "a.wav")
    assert x.size == SR
    assert int(np.argmax(np.abs(np.fft.rfft(x)))) == 440  # 1 Hz bins
    wavfile.write(tmp_path / "b.wav", 8000, np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="b.wav: expected 16-bit PCM"):
        read_wav(tmp_path / "b.wav")


def test_sentences_are_words() -> None:
    s = sentence(np.random.default_rng(3))
    assert s[0].isupper() and s[-1] in ".?!," and 4 <= len(s.split()) <= 14


def test_split_by_source_never_shares_a_source() -> None:
    from detectors.training.audio_sources import audio_split

    for programme in (False, True):
        split = audio_split(programme=programme)
        train, validation, evaluation = ({s.name for s in part} for part in (split.train, split.validation, split.evaluation))
        assert not train & evaluation and not train & validation and not validation & evaluation
        assert {s.family for s in split.evaluation} >= {"speech", "music", "effects"}
        assert {s.family for s in split.validation} >= {"speech", "music"}
    # programme mixes are built only from sources of their own side
    split = audio_split()
    train = {s.name for s in split.train}
    for side in (split.validation, split.evaluation):
        others = train | {s.name for s in (split.evaluation if side is split.validation else split.validation)}
        for mix in (s for s in side if s.family == "mix"):
            assert not any(part in mix.name for part in others if part.startswith(("espeak_", "flite_", "gm_")))


def test_speed_change_moves_pitch_by_the_speed() -> None:
    t = np.arange(3 * SR) / SR
    x = np.sin(2 * np.pi * 500 * t).astype(np.float32)
    for speed in (0.84, 1.2):
        y = change_speed(x, 4000, speed)
        assert y.size == SR
        assert int(np.argmax(np.abs(np.fft.rfft(y * np.hanning(SR))))) == pytest.approx(500 * speed, abs=1)
    assert np.array_equal(change_speed(x, 4000, 1.0), x[4000 : 4000 + SR])
    speeds = {draw_speed(np.random.default_rng(i)) for i in range(50)}
    assert all(SPEED_RANGE[0] - 0.01 <= s <= SPEED_RANGE[1] + 0.01 for s in speeds)
    semitones = {round(12 * np.log2(s), 2) for s in speeds}  # music stays on the A440 grid
    assert all(abs(k - round(k)) < 0.02 for k in semitones) and 0.0 not in semitones


def test_limiter_lowers_peaks_without_waveshaping() -> None:
    t = np.arange(SR) / SR
    x = (np.sin(2 * np.pi * 1000 * t) * np.where(t < 0.5, 0.1, 0.8)).astype(np.float32)  # a loud second half
    y, params = limit(x, np.random.default_rng(1))
    assert params["limit_db"] >= 3.0
    crest = lambda z: np.abs(z).max() / np.sqrt(np.mean(z.astype(np.float64) ** 2))
    assert crest(y) < crest(x)
    assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(np.sqrt(np.mean(x.astype(np.float64) ** 2)), rel=1e-3)
    # gain changes slowly: the steady loud part has no harmonics (clipping would put energy at 3 kHz)
    seg = y[int(0.7 * SR) : int(0.7 * SR) + 4000].astype(np.float64)
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2
    assert spec[int(2900 / 4) : int(3100 / 4)].sum() < 1e-6 * spec.sum()


def test_training_set_hum_levels_follow_the_range_it_is_given() -> None:
    pytest.importorskip("torch")  # build_set lives with the training code (the train extra)
    from detectors.ml.features import AUDIO_RATE_HZ
    from detectors.training.audio_sources import AudioSource
    from detectors.training.audio_train import build_set

    def tone_bed(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        t = np.arange(int(duration_s * AUDIO_RATE_HZ)) / AUDIO_RATE_HZ
        return 0.2 * np.sin(2 * np.pi * 440.0 * t) + 0.01 * rng.standard_normal(t.size)

    sources = [AudioSource(f"bed{i}", "music", 900 + i, tone_bed) for i in range(2)]
    wide = build_set(sources, 12, 5, vary=True, source_s=6.0, hum_ratio_db=(-28.0, -26.0))
    levels = [p["ratio_db"] for p, y in zip(wide.params, wide.labels, strict=True) if y == 1]
    assert len(levels) == 12 and all(-28.0 <= r <= -26.0 for r in levels)
    plain = build_set(sources, 12, 5, source_s=6.0)
    assert all(-24.0 <= p["ratio_db"] <= -6.0 for p, y in zip(plain.params, plain.labels, strict=True) if y == 1)
