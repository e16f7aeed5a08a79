"""Pristine programme audio rendered by Debian packages: speech (espeak-ng, flite), music (fluidsynth), UI sounds.

These give real voices, real instrument samples and real recorded effects, which the
procedural generators in :mod:`detectors.training.audio_sources` cannot. The packages are
installed by ``apt-get install espeak-ng flite fluidsynth fluid-soundfont-gm
sound-theme-freedesktop`` (see the README); a missing one raises :class:`ToolMissingError`
naming the package. Every renderer is deterministic for a given seed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from detectors.ml.features import AUDIO_RATE_HZ, resample_to_model

SR = AUDIO_RATE_HZ
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SOUND_THEME = Path("/usr/share/sounds/freedesktop/stereo")
APT_HINT = "apt-get install espeak-ng flite fluidsynth fluid-soundfont-gm sound-theme-freedesktop"

_WORDS = (  # noqa: SIM905 - the word list reads better as running text
    "the a and of to in is it you that he was for on are with as his they be at one have this from or had by not "
    "word but what some we can out other were all there when up use your how said an each she which do their time "
    "if will way about many then them write would like so these her long make thing see him two has look more day "
    "could go come did number sound no most people my over know water than call first who may down side been now "
    "find any new work part take get place made live where after back little only round man year came show every "
    "good me give our under name very through just form sentence great think say help low line differ turn cause "
    "much mean before move right boy old too same tell does set three want air well also play small end put home "
    "read hand port large spell add even land here must big high such follow act why ask men change went light "
    "kind off need house picture try us again animal point mother world near build self earth father head stand "
    "own page should country found answer school grow study still learn plant cover food sun four between state "
    "keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late run "
    "tonight weather news match goal season episode previously storm river mountain detective captain hospital"
).split()


class ToolMissingError(RuntimeError):
    """An external renderer (a Debian package) is not installed; the message names the package."""


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissingError(f"{tool} not found: install the Debian package {package} ({APT_HINT})")
    return path


def read_wav(path: Path) -> np.ndarray:
    """Return a 16-bit PCM WAV as mono float32 at :data:`SR` (channels averaged, resampled)."""
    try:
        with wave.open(str(path)) as w:
            rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: expected 16-bit PCM WAV ({e})") from e
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    x = np.frombuffer(raw, "<i2").astype(np.float32).reshape(-1, ch).mean(axis=1) / 32768.0
    return resample_to_model(x, rate)


def sentence(rng: np.random.Generator) -> str:
    """A random English-like sentence (real words, so the synthesiser speaks naturally)."""
    words = [str(_WORDS[int(i)]) for i in rng.integers(0, len(_WORDS), int(rng.integers(4, 15)))]
    words[0] = words[0].capitalize()
    return " ".join(words) + str(rng.choice([".", ".", ".", "?", "!", ","]))


def _loop_to(parts: Callable[[int], np.ndarray], duration_s: float) -> np.ndarray:
    n = int(duration_s * SR)
    out: list[np.ndarray] = []
    got, k = 0, 0
    while got < n:
        x = parts(k)
        out.append(x)
        got += x.size
        k += 1
    return np.concatenate(out)[:n]


def tts_renderer(engine: str, voice: str, speed: int, pitch: int) -> Callable[[float, int], np.ndarray]:
    """Return speech from ``engine`` ('espeak' or 'flite') in ``voice``; espeak also takes speed (wpm) and pitch (0-99)."""

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        with tempfile.TemporaryDirectory(prefix="avqa-tts-") as tmp:

            def paragraph(k: int) -> np.ndarray:
                text = " ".join(sentence(rng) for _ in range(8))
                out = Path(tmp) / f"p{k}.wav"
                if engine == "espeak":
                    cmd = [_need("espeak-ng", "espeak-ng"), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), text]
                elif engine == "flite":
                    cmd = [_need("flite", "flite"), "-voice", voice, "-t", text, "-o", str(out)]
                else:
                    raise ValueError(f"unknown speech engine {engine!r} (espeak or flite)")
                subprocess.run(cmd, check=True, capture_output=True, timeout=120)
                x = read_wav(out)
                gap = np.zeros(int(SR * rng.uniform(0.2, 1.2)), np.float32)  # turn-taking pause
                return np.concatenate([x * rng.uniform(0.5, 1.0), gap])

            x = _loop_to(paragraph, duration_s)
        return 0.1 * x / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)

    return render


# --------------------------------------------------------------------------- music

_SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9), (0, 3, 5, 7, 10), (0, 2, 3, 5, 7, 9, 10))
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 0, 3, 4), (1, 4, 0, 0))


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def midi_file(events: list[tuple[int, bytes]], bpm: float, tpq: int = 480) -> bytes:
    """Return a standard MIDI file (format 0) of (tick, message) ``events`` at ``bpm``."""
    data = b"\x00\xff\x51\x03" + int(60_000_000 / bpm).to_bytes(3, "big")
    last = 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        data += _vlq(tick - last) + msg
        last = tick
    data += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(data)) + data


def song(
    rng: np.random.Generator, programs: tuple[int, int, int], drums: bool, bars: int, tpq: int = 480
) -> list[tuple[int, bytes]]:
    """A generated song: lead melody, chords (block or arpeggio) and bass on GM ``programs``, optional drum kit."""
    lead, chords, bass = programs
    ev: list[tuple[int, bytes]] = [(0, bytes([0xC0, lead])), (0, bytes([0xC1, chords])), (0, bytes([0xC2, bass]))]
    scale = _SCALES[int(rng.integers(len(_SCALES)))]
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    key = 48 + int(rng.integers(0, 12))
    arpeggio = rng.random() < 0.5
    swing = rng.uniform(0.0, 0.15)

    def note(ch: int, t: int, n: int, dur: int, vel: int) -> None:
        n = int(np.clip(n, 0, 127))
        ev.append((t, bytes([0x90 | ch, n, int(np.clip(vel, 1, 127))])))
        ev.append((t + max(1, dur), bytes([0x80 | ch, n, 0])))

    def degree(d: int) -> int:
        return key + 12 * (d // len(scale)) + scale[d % len(scale)]

    bar = 4 * tpq
    dyn = rng.uniform(60, 110)
    for b in range(bars):
        t0 = b * bar
        root = prog[b % len(prog)]
        dyn = float(np.clip(dyn + rng.normal(0, 8), 40, 120))
        chord = [degree(root), degree(root + 2), degree(root + 4)]
        if arpeggio:
            for i in range(8):
                note(1, t0 + i * tpq // 2, chord[i % 3] + 12 * (i // 3 % 2), tpq // 2, int(dyn * 0.7))
        else:
            for n in chord:
                note(1, t0, n, bar - 10, int(dyn * 0.6))
        note(2, t0, degree(root) - 24, tpq * 2 - 10, int(dyn))
        note(2, t0 + 2 * tpq, degree(root) - 24 + int(rng.choice([0, 7, 12])), tpq * 2 - 10, int(dyn * 0.9))
        t = t0
        while t < t0 + bar:
            dur = int(rng.choice([tpq // 2, tpq, tpq, 2 * tpq]))
            if rng.random() < 0.8:
                d = root + int(rng.integers(-2, 8))
                note(
                    0,
                    t + int(swing * tpq * (t // (tpq // 2) % 2)),
                    degree(d) + 12,
                    int(dur * 0.9),
                    int(dyn + rng.integers(-10, 10)),
                )
            t += dur
        if drums:
            for i in range(8):
                tt = t0 + i * tpq // 2
                note(9, tt, 42, 60, int(50 + 20 * (i % 2 == 0)))
                if i in (0, 4) or (i == 5 and rng.random() < 0.3):
                    note(9, tt, 36, 60, 100)
                if i in (2, 6):
                    note(9, tt, 38, 60, 95)
    return ev


def fluidsynth_render(midi: bytes, reverb: bool) -> np.ndarray:
    """Render a standard MIDI file with fluidsynth and the GM soundfont: mono float32 at :data:`SR`."""
    fluidsynth = _need("fluidsynth", "fluidsynth")
    if not SOUNDFONT.exists():
        raise ToolMissingError(f"{SOUNDFONT} not found: install the Debian package fluid-soundfont-gm ({APT_HINT})")
    with tempfile.TemporaryDirectory(prefix="avqa-midi-") as tmp:
        mid, wav = Path(tmp) / "song.mid", Path(tmp) / "song.wav"
        mid.write_bytes(midi)
        cmd = [fluidsynth, "-ni", "-q", "-g", "0.5", "-r", str(SR), "-R", "1" if reverb else "0", "-C", "0"]
        subprocess.run([*cmd, "-F", str(wav), str(SOUNDFONT), str(mid)], check=True, capture_output=True, timeout=300)
        return read_wav(wav)


def room_tone(rng: np.random.Generator, n: int, rms: float, ambience_db: float) -> np.ndarray:
    """``n`` samples of soft, dark noise (a room's tone) ``ambience_db`` below RMS ``rms``."""
    from scipy import signal

    bed = signal.lfilter([1], [1, -0.97], rng.standard_normal(n))
    return bed / (np.sqrt(np.mean(bed**2)) + 1e-9) * rms * 10 ** (ambience_db / 20)


def midi_renderer(programs: tuple[int, int, int], drums: bool, bpm: float, reverb: bool) -> Callable[[float, int], np.ndarray]:
    """Return music: generated songs on the given GM programs (lead, chords, bass), rendered by fluidsynth."""

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        tempo = bpm * rng.uniform(0.9, 1.1)
        bars = int(np.ceil(duration_s * tempo / 240.0)) + 2
        x = fluidsynth_render(midi_file(song(rng, programs, drums, bars), tempo), reverb)
        x = np.tile(x, int(np.ceil(duration_s * SR / max(x.size, 1))) + 1)[: int(duration_s * SR)]
        return 0.12 * x / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)

    return render


# GM drum kits of FluidR3 (bank 128): Standard, Room, Power, Electronic, TR-808, Jazz, Brush, Orchestra, SFX
FOLEY_KITS = (0, 8, 16, 24, 25, 32, 40, 48, 56)
# Struck and noise-like GM programs: chromatic percussion, percussive and sound effects (never one that an
# evaluation or validation band plays; audio_sources checks that)
FOLEY_PROGRAMS = (8, 9, 12, 13, 14, 15, 47, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127)


def foley(
    rng: np.random.Generator, kit: int, programs: tuple[int, ...], seconds: float, density: float
) -> list[tuple[int, bytes]]:
    """Irregular struck sounds (no beat): single hits, flams, rolls and clusters on drum ``kit`` and on melodic
    ``programs`` (up to four), ``density`` gestures a second on average, at 960 ticks a second (120 bpm, 480 tpq).

    Natural transients (a snare, a woodblock, a gunshot, a tom roll) are what a click detector must not call
    clicks: they have a body, a resonance and a decay where a digital click has none.
    """
    tps = 960
    ev: list[tuple[int, bytes]] = [(0, bytes([0xC9, kit]))]
    chans = list(range(min(4, len(programs))))
    for ch in chans:
        ev.append((0, bytes([0xC0 | ch, programs[ch]])))

    def hit(t: float, vel: float, ch: int, n: int, dur_s: float) -> None:
        tick = int(t * tps)
        v = int(np.clip(vel, 1, 127))
        ev.append((tick, bytes([0x90 | ch, n, v])))
        ev.append((tick + max(1, int(dur_s * tps)), bytes([0x80 | ch, n, 0])))

    t = float(rng.uniform(0.0, 0.5))
    while t < seconds:
        drum = not chans or rng.random() < 0.6
        ch = 9 if drum else int(rng.choice(chans))
        n = int(rng.integers(35, 82)) if drum else int(rng.integers(36, 97))
        vel = float(rng.uniform(30, 127))
        dur = float(rng.uniform(0.05, 1.5))
        shape = rng.random()
        if shape < 0.55:  # one hit
            hit(t, vel, ch, n, dur)
        elif shape < 0.7:  # a flam: two hits a few tens of ms apart
            hit(t, vel * 0.6, ch, n, dur)
            hit(t + rng.uniform(0.015, 0.05), vel, ch, n, dur)
        elif shape < 0.85:  # a roll, getting louder or softer
            k = int(rng.integers(4, 16))
            step = float(rng.uniform(0.03, 0.1))
            ramp = np.linspace(rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.0), k)
            for i in range(k):
                hit(t + i * step + rng.normal(0, 0.004), vel * ramp[i], ch, n, step)
            t += k * step
        else:  # a cluster: several sounds nearly at once (a crash, a clatter)
            for _ in range(int(rng.integers(2, 6))):
                d = not chans or rng.random() < 0.6
                hit(
                    t + rng.uniform(0.0, 0.12),
                    rng.uniform(30, 127),
                    9 if d else int(rng.choice(chans)),
                    int(rng.integers(35, 82)) if d else int(rng.integers(36, 97)),
                    dur,
                )
        t += float(rng.exponential(1.0 / density)) + 0.03
    return [(max(0, tk), m) for tk, m in ev]


def foley_renderer(
    kits: tuple[int, ...], programs: tuple[int, ...], density: float, reverb: bool, ambience_db: float
) -> Callable[[float, int], np.ndarray]:
    """Return foley-like programme: :func:`foley` gestures on one of ``kits`` and four of ``programs`` (drawn per
    passage), rendered by fluidsynth, over a room-tone bed ``ambience_db`` below the sounds."""

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        kit = int(rng.choice(kits))
        chosen = tuple(int(p) for p in rng.choice(programs, size=min(4, len(programs)), replace=False))
        x = fluidsynth_render(midi_file(foley(rng, kit, chosen, duration_s + 1.0, density), 120.0), reverb).astype(np.float64)
        n = int(duration_s * SR)
        x = np.pad(x, (0, max(0, n - x.size)))[:n]
        rms = np.sqrt(np.mean(x**2)) + 1e-9
        x += room_tone(rng, n, rms, ambience_db)
        return 0.12 * x / (np.sqrt(np.mean(x**2)) + 1e-9)

    return render


# --------------------------------------------------------------------------- effects


def theme_sounds() -> list[Path]:
    """The freedesktop sound theme's files (sorted), or ToolMissingError naming the package."""
    files = sorted(SOUND_THEME.glob("*.oga")) if SOUND_THEME.is_dir() else []
    if not files:
        raise ToolMissingError(f"no sounds in {SOUND_THEME}: install the Debian package sound-theme-freedesktop ({APT_HINT})")
    return files


def decode_mono(path: Path | str) -> np.ndarray:
    """Decode the first audio stream of a media file to mono float32 at :data:`SR`."""
    import av

    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=SR)
        parts = [r.to_ndarray().reshape(-1) for f in c.decode(audio=0) for r in res.resample(f)]
        parts += [r.to_ndarray().reshape(-1) for r in res.resample(None)]
    return np.concatenate(parts).astype(np.float32)


def effects_bank_renderer(files: tuple[str, ...], ambience_db: float) -> Callable[[float, int], np.ndarray]:
    """Return UI/notification sounds from the sound theme (``files``: names) over a room-tone bed ``ambience_db`` below."""
    cache: dict[str, np.ndarray] = {}

    def render(duration_s: float, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        paths = {p.name: p for p in theme_sounds()}
        n = int(duration_s * SR)
        x = np.zeros(n)
        pos = int(rng.integers(0, SR // 2))
        while pos < n:
            name = files[int(rng.integers(len(files)))]
            if name not in cache:
                cache[name] = decode_mono(paths[name])
            s = cache[name] * rng.uniform(0.3, 1.0)
            m = min(s.size, n - pos)
            x[pos : pos + m] += s[:m]
            pos += m + int(SR * rng.uniform(0.1, 2.0))
        rms = np.sqrt(np.mean(x**2)) + 1e-9
        x += room_tone(rng, n, rms, ambience_db)
        return 0.12 * x / (np.sqrt(np.mean(x**2)) + 1e-9)

    return render
