"""Variations of pristine programme for training (applied before a defect is simulated, to every class alike).

Broadcast audio reaches a viewer through chains the pristine renderers do not have, and held-out
voices and instruments differ from the trained ones. Two label-preserving variations widen what
"pristine" looks like:

- :func:`change_speed`: play a passage -3 to +3 semitones faster or slower (pitch and formants
  move together, as a new voice or instrument would), by polyphase resampling. Whole semitones
  keep music on the A440 grid: tuned notes stay off the mains harmonics, as in real programme,
  so a speed change never turns a bass note into something only hum should look like;
- :func:`limit`: a broadcast limiter (look-ahead peak detection, smooth release 30-300 ms,
  3-15 dB of gain reduction on peaks). It lowers the crest factor the way loudness processing
  does, without waveshaping, so "compressed but clean" is not mistaken for soft clipping.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

from detectors.ml.features import AUDIO_RATE_HZ, SEGMENT_SAMPLES

SR = AUDIO_RATE_HZ
SEMITONES = (-3, -2, -1, 1, 2, 3)
_SPEED_DEN = 1000  # speeds are multiples of 1/1000: a semitone step within 0.05 % (under 1 cent)
SPEED_RANGE = (2 ** (min(SEMITONES) / 12), 2 ** (max(SEMITONES) / 12))


def draw_speed(rng: np.random.Generator) -> float:
    """A speed factor of a whole number of semitones (:data:`SEMITONES`), on the grid the resampler uses exactly."""
    return round(2 ** (int(rng.choice(SEMITONES)) / 12) * _SPEED_DEN) / _SPEED_DEN


def change_speed(source: np.ndarray, offset: int, speed: float, n: int = SEGMENT_SAMPLES) -> np.ndarray:
    """Return ``n`` samples of ``source`` from ``offset`` played at ``speed`` (reads about ``n * speed`` samples)."""
    up = round(speed * _SPEED_DEN)
    pad = 256
    need = int(np.ceil(n * speed)) + 2 * pad
    lo = max(0, offset - pad)
    chunk = np.asarray(source[lo : lo + need], np.float64)
    if chunk.size < need:
        chunk = np.pad(chunk, (0, need - chunk.size))
    y = signal.resample_poly(chunk, _SPEED_DEN, up)
    first = round((offset - lo) * _SPEED_DEN / up)
    return y[first : first + n].astype(np.float32)


def limit(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """Peak-limit ``x`` (smooth gain, no waveshaping), keeping its RMS; return it with the parameters drawn."""
    x64 = np.asarray(x, np.float64)
    a = np.abs(x64)
    peak = float(a.max())
    rms = float(np.sqrt(np.mean(x64**2)))
    if peak < 1e-4:
        return np.asarray(x, np.float32), {}
    reduction_db = float(rng.uniform(3.0, 15.0))
    release_s = float(rng.uniform(0.03, 0.3))
    lookahead = int(0.005 * SR)
    threshold = peak * 10 ** (-reduction_db / 20)
    env = ndimage.maximum_filter1d(a, size=2 * lookahead + 1)
    gain = np.minimum(1.0, threshold / np.maximum(env, 1e-12))
    # attack: a ramp over the look-ahead (continuous, so no step in the waveform); release: a slow one-pole
    attack = ndimage.uniform_filter1d(ndimage.minimum_filter1d(gain, size=2 * lookahead + 1), size=lookahead)
    pole = np.exp(-1.0 / (release_s * SR))
    release = signal.lfilter([1 - pole], [1, -pole], attack - 1.0, zi=[0.0])[0] + 1.0
    y = x64 * np.minimum(attack, release)
    y *= rms / (np.sqrt(np.mean(y**2)) + 1e-12)
    top = float(np.abs(y).max())
    if top > 0.89:
        y *= 0.89 / top
    return y.astype(np.float32), {"limit_db": round(reduction_db, 2), "release_s": round(release_s, 3)}
