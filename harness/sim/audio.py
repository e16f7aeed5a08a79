"""Procedural audio of the simulated device: music, speech, a quiet menu ambience and UI clicks.

Every generator is a pure function of the absolute sample index on its clock, so any chunk
can be rendered on its own and the same index always gives the same samples (tests and fault
injection rely on that). Output is planar float32, shape ``(2, count)``, at 48 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

SAMPLE_RATE_HZ = 48000
CHANNELS = 2

ContentKind = Literal["music", "speech"]

_TWO_PI = 2.0 * np.pi


def _midi_hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _hash(values: np.ndarray | int, salt: int) -> np.ndarray:
    """Deterministic pseudo-random uint32 per integer (a small integer hash, no global RNG)."""
    x = (np.asarray(values, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(salt * 97 + 13)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(3266489917)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    return x


# I - vi - IV - V in C, voiced around the third octave (MIDI note numbers).
_CHORDS: tuple[tuple[int, ...], ...] = (
    (48, 55, 60, 64),  # C
    (45, 52, 57, 60),  # Am
    (41, 53, 57, 60),  # F
    (43, 50, 55, 59),  # G
)
_MELODY_SCALE = (72, 74, 76, 79, 81, 84, 86, 88)  # C major pentatonic, two octaves
_PAD_HARMONICS = ((1.0, 1.0), (2.0, 0.3), (3.0, 0.12))
_PAD_NOTE_AMP = 0.085  # four notes -> about -18 dBFS RMS for the pad alone
_CHORD_S = 2.0
_CROSSFADE_S = 0.3
_MELODY_NOTE_S = 0.25
_MELODY_AMP = 0.16


@dataclass(frozen=True)
class _Syllable:
    start: int
    length: int
    f0_start_hz: float
    f0_end_hz: float
    formants_hz: tuple[float, float, float]
    voiced: bool


# Vowel formants (F1, F2, F3) in Hz, roughly /a/ /e/ /i/ /o/ /u/.
_VOWELS: tuple[tuple[float, float, float], ...] = (
    (730.0, 1090.0, 2440.0),
    (530.0, 1840.0, 2480.0),
    (270.0, 2290.0, 3010.0),
    (570.0, 840.0, 2410.0),
    (300.0, 870.0, 2240.0),
)
_SPEECH_CYCLE_S = 24.0
_ROOM_TONE_RMS = 10 ** (-42.0 / 20.0)  # the floor between syllables stays above -50 dBFS
_SYLLABLE_PEAK = 0.25


class AudioSynth:
    """Render the device's sound: ``content`` for the player, ``ambient`` for menus, ``click`` for keys."""

    def __init__(self, kind: ContentKind = "music", sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        if kind not in ("music", "speech"):
            raise ValueError(f"unknown audio kind {kind!r} (expected music or speech)")
        self.kind = kind
        self.sample_rate_hz = sample_rate_hz
        rng = np.random.default_rng(20261)
        self._noise = rng.standard_normal(1 << 16).astype(np.float64)
        self._noise /= np.sqrt(np.mean(self._noise**2))
        self._syllables: tuple[_Syllable, ...] = ()
        self._syllable_starts = np.zeros(0, dtype=np.int64)
        self._cycle = int(_SPEECH_CYCLE_S * sample_rate_hz)
        if kind == "speech":
            self._syllables = self._speech_schedule(rng)
            self._syllable_starts = np.array([s.start for s in self._syllables], dtype=np.int64)

    # -- public -----------------------------------------------------------------------------

    def render(
        self, mode: str, start: int, count: int, *, mute: tuple[tuple[int, int], ...] = (), click_age: int | None = None
    ) -> np.ndarray:
        """One chunk for an app audio plan: ``silent``, ``content`` (with ``mute`` ranges zeroed) or ``ambient``."""
        if mode == "silent":
            return self.silence(count)
        if mode == "content":
            chunk = self.content(start, count)
            for lo, hi in mute:
                chunk[:, lo:hi] = 0.0
            return chunk
        if mode != "ambient":
            raise ValueError(f"unknown audio mode {mode!r} (expected silent, content or ambient)")
        chunk = self.ambient(start, count)
        if click_age is not None:
            chunk += self.click(click_age, count)
        return chunk

    def silence(self, count: int) -> np.ndarray:
        """Digital silence, shape (2, count)."""
        return np.zeros((CHANNELS, count), dtype=np.float32)

    def content(self, start: int, count: int) -> np.ndarray:
        """Content audio for samples ``[start, start + count)`` of the content clock."""
        if self.kind == "music":
            return self._music(start, count)
        return self._speech(start, count)

    def ambient(self, start: int, count: int) -> np.ndarray:
        """A quiet, slowly breathing two-note tone for menus (about -46 dBFS RMS)."""
        t = np.arange(start, start + count, dtype=np.float64) / self.sample_rate_hz
        swell = 0.75 + 0.25 * np.sin(_TWO_PI * 0.2 * t)
        left = 0.004 * swell * (np.sin(_TWO_PI * 220.0 * t) + 0.7 * np.sin(_TWO_PI * 329.63 * t))
        right = 0.004 * swell * (np.sin(_TWO_PI * 220.0 * t + 0.5) + 0.7 * np.sin(_TWO_PI * 329.63 * t + 0.3))
        return np.stack([left, right]).astype(np.float32)

    def click(self, age: int, count: int) -> np.ndarray:
        """A short UI tick that began ``age`` samples before this chunk (zeros once it has decayed)."""
        n = np.arange(age, age + count, dtype=np.float64)
        t = n / self.sample_rate_hz
        tick = 0.08 * np.exp(-t / 0.006) * np.sin(_TWO_PI * 1800.0 * t)
        tick[n < 0] = 0.0
        return np.stack([tick, tick]).astype(np.float32)

    @property
    def click_length(self) -> int:
        """Samples after which a click has decayed to nothing audible."""
        return int(0.05 * self.sample_rate_hz)

    # -- music ------------------------------------------------------------------------------

    def _music(self, start: int, count: int) -> np.ndarray:
        sr = self.sample_rate_hz
        n = np.arange(start, start + count, dtype=np.int64)
        t = n / sr
        left = np.zeros(count)
        right = np.zeros(count)

        chord_len = int(_CHORD_S * sr)
        half_xf = int(_CROSSFADE_S * sr) // 2
        first = (start - half_xf) // chord_len
        last = (start + count - 1 + half_xf) // chord_len
        for index in range(first, last + 1):
            weight = self._chord_weight(n, index, chord_len, half_xf)
            if not weight.any():
                continue
            notes = _CHORDS[index % len(_CHORDS)]
            for voice, note in enumerate(notes):
                f = _midi_hz(note)
                for mult, amp in _PAD_HARMONICS:
                    a = _PAD_NOTE_AMP * amp * weight
                    left += a * np.sin(_TWO_PI * f * mult * 0.999 * t + voice)
                    right += a * np.sin(_TWO_PI * f * mult * 1.001 * t + 2 * voice)
            # A soft bass pulse on every beat keeps it music-like.
            beat_s = (n % (chord_len // 4)) / sr
            pulse = np.minimum(beat_s / 0.005, 1.0) * np.exp(-beat_s / 0.18) * np.clip((_CHORD_S / 4 - beat_s) / 0.02, 0.0, 1.0)
            bass = 0.08 * weight * pulse * np.sin(_TWO_PI * _midi_hz(notes[0] - 12) * t)
            left += bass
            right += bass

        note_len = int(_MELODY_NOTE_S * sr)
        for index in range(start // note_len, (start + count - 1) // note_len + 1):
            h = int(_hash(index, 7))
            if h % 5 == 0:  # a rest now and then; the pad carries on
                continue
            pitch = _MELODY_SCALE[(h >> 3) % len(_MELODY_SCALE)]
            f = _midi_hz(pitch)
            lo = max(index * note_len, start)
            hi = min((index + 1) * note_len, start + count)
            tau = (np.arange(lo, hi) - index * note_len) / sr
            env = np.minimum(tau / 0.008, 1.0) * np.exp(-tau / 0.11)
            env *= np.clip((_MELODY_NOTE_S - tau) / 0.01, 0.0, 1.0)  # reach zero before the next note
            tt = np.arange(lo, hi) / sr
            tone = np.sin(_TWO_PI * f * tt) + 0.35 * np.sin(_TWO_PI * 2 * f * tt) + 0.1 * np.sin(_TWO_PI * 3 * f * tt)
            pan = 0.3 + 0.4 * ((h >> 8) % 100) / 100.0
            left[lo - start : hi - start] += _MELODY_AMP * env * tone * (1.0 - pan) * 2
            right[lo - start : hi - start] += _MELODY_AMP * env * tone * pan * 2
        return np.stack([left, right]).astype(np.float32)

    @staticmethod
    def _chord_weight(n: np.ndarray, index: int, chord_len: int, half_xf: int) -> np.ndarray:
        """Power-complementary window of chord ``index``: sin/cos ramps across each boundary."""
        begin = index * chord_len
        end = begin + chord_len
        w = np.zeros(n.shape, dtype=np.float64)
        inside = (n >= begin + half_xf) & (n < end - half_xf)
        w[inside] = 1.0
        rise = (n >= begin - half_xf) & (n < begin + half_xf)
        w[rise] = np.sin(0.5 * np.pi * (n[rise] - (begin - half_xf)) / (2 * half_xf))
        fall = (n >= end - half_xf) & (n < end + half_xf)
        w[fall] = np.cos(0.5 * np.pi * (n[fall] - (end - half_xf)) / (2 * half_xf))
        return w

    # -- speech -----------------------------------------------------------------------------

    def _speech_schedule(self, rng: np.random.Generator) -> tuple[_Syllable, ...]:
        sr = self.sample_rate_hz
        out: list[_Syllable] = []
        pos = 0
        word_left = 0
        while pos < self._cycle:
            if word_left == 0:
                pause = int(rng.uniform(0.06, 0.22) * sr)
                word_left = int(rng.integers(1, 4))
                pos += pause
                continue
            length = int(rng.uniform(0.14, 0.30) * sr)
            if pos + length > self._cycle:
                break
            f0 = float(rng.uniform(105.0, 190.0))
            glide = float(rng.uniform(-0.18, 0.12))
            vowel = _VOWELS[int(rng.integers(len(_VOWELS)))]
            out.append(_Syllable(pos, length, f0, f0 * (1.0 + glide), vowel, voiced=True))
            pos += length
            word_left -= 1
        return tuple(out)

    def _speech(self, start: int, count: int) -> np.ndarray:
        sr = self.sample_rate_hz
        n = np.arange(start, start + count, dtype=np.int64)
        room = _ROOM_TONE_RMS * self._noise[n % self._noise.size]
        # Soften the room tone's hiss a little: average with the previous sample.
        room = 0.5 * (room + _ROOM_TONE_RMS * self._noise[(n - 1) % self._noise.size]) * np.sqrt(2.0)
        voice = np.zeros(count)
        # Syllables overlapping this chunk; a chunk may wrap around the cycle end.
        for offset in {int(start - (start % self._cycle)), int((start + count - 1) - ((start + count - 1) % self._cycle))}:
            lo_c = max(start, offset) - offset
            hi_c = min(start + count, offset + self._cycle) - offset
            if hi_c <= lo_c:
                continue
            first = max(int(np.searchsorted(self._syllable_starts, lo_c, side="right")) - 1, 0)
            for syl in self._syllables[first:]:
                if syl.start >= hi_c:
                    break
                lo = max(syl.start, lo_c)
                hi = min(syl.start + syl.length, hi_c)
                if hi <= lo:
                    continue
                tau = (np.arange(lo, hi) - syl.start) / sr
                voice[lo + offset - start : hi + offset - start] += self._syllable(syl, tau)
        mono = (room + voice).astype(np.float32)
        return np.stack([mono, mono])

    def _syllable(self, syl: _Syllable, tau: np.ndarray) -> np.ndarray:
        sr = self.sample_rate_hz
        length_s = syl.length / sr
        f_a, f_b = syl.f0_start_hz, syl.f0_end_hz
        phase = _TWO_PI * (f_a * tau + (f_b - f_a) * tau * tau / (2.0 * length_s))
        f_mean = 0.5 * (f_a + f_b)
        harmonics = np.arange(1, int(3800.0 / f_mean) + 1, dtype=np.float64)
        freqs = harmonics * f_mean
        gain = np.zeros_like(freqs)
        for centre, width in zip(syl.formants_hz, (90.0, 120.0, 170.0)):
            gain += 1.0 / (1.0 + ((freqs - centre) / width) ** 2)
        gain *= 1.0 / np.sqrt(harmonics)
        gain /= np.sqrt(np.sum(gain**2))
        buzz = np.sin(np.outer(harmonics, phase)).T @ gain
        attack = np.clip(tau / 0.025, 0.0, 1.0)
        release = np.clip((length_s - tau) / 0.04, 0.0, 1.0)
        env = np.sin(0.5 * np.pi * attack) * np.sin(0.5 * np.pi * release)
        env *= 0.8 + 0.2 * np.sin(np.pi * tau / length_s)
        return _SYLLABLE_PEAK * env * buzz


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of ``samples`` in dBFS (-inf for digital silence)."""
    value = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return float("-inf") if value == 0.0 else 20.0 * np.log10(value)
