"""Audio defect simulation: hum, hiss, distortion and clicks added to pristine segments, parameters kept as labels.

Documented parameter ranges (drawn uniformly unless said otherwise). Hum and hiss levels are
relative to the *reference* level max(segment RMS, programme RMS - 12 dB): a defect is as
loud against the passage it sits in as a viewer would hear it, and a quiet passage (a pause
in dialogue) still gets a defect at an audible level rather than one buried 60 dB down.
The ranges stop where a defect becomes inaudible under programme (a label must be true): below
-24 dB, hum under full-band music is masked (a model trained down to -30 dB recalled 75 % there).

- hum: mains 50 or 60 Hz (+-0.5 %), 1-8 harmonics with a random spectral tilt (the
  fundamental absent in 30 % of cases: buzz), hum-to-reference ratio -24 to -6 dB.
- hiss: white, pink, brown, high-passed (tape) or tilted (-6..+3 dB/octave) noise,
  noise-to-reference ratio -24 to -6 dB.
- distortion: hard clipping of 3-30 % of the samples (symmetric or not), soft clipping
  (tanh, 9-24 dB drive) or bit-crushing (3-6 bits of the segment peak, optional
  sample-and-hold decimation 1-4x); re-normalised to the original RMS so loudness does not
  give it away.
- clicks: Poisson rate 1-20 per second (at least one per segment), impulses of 1-3 samples
  or decaying bursts of 0.5-5 ms, amplitude 0.3-1.0 of max(segment peak, half the programme
  peak).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from detectors.ml.features import AUDIO_RATE_HZ

CLASSES: tuple[str, ...] = ("none", "hum", "hiss", "distortion", "clicks")
SR = AUDIO_RATE_HZ


@dataclass(frozen=True)
class AudioDefect:
    """The label of one simulated segment: its class and the parameters drawn."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> int:
        return CLASSES.index(self.kind)


REFERENCE_BELOW_PROGRAMME_DB = 12.0
HUM_RATIO_DB = (-24.0, -6.0)  # hum level against the reference (reference_rms), dB: the documented range


def reference_rms(x: np.ndarray, programme_rms: float) -> float:
    """The level hum and hiss are set against: max(segment RMS, programme RMS - 12 dB), at least 1e-3."""
    seg = float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))
    return max(seg, float(programme_rms) * 10 ** (-REFERENCE_BELOW_PROGRAMME_DB / 20), 1e-3)


def add_hum(
    x: np.ndarray, rng: np.random.Generator, programme_rms: float, ratio_db_range: tuple[float, float] = HUM_RATIO_DB
) -> tuple[np.ndarray, AudioDefect]:
    """Add mains hum (50/60 Hz and harmonics) to ``x`` at a level drawn from ``ratio_db_range`` (dB against
    :func:`reference_rms`); return the result and its label."""
    mains = float(rng.choice([50.0, 60.0]))
    f0 = mains * (1 + rng.uniform(-0.005, 0.005))
    n_harm = int(rng.integers(1, 9))
    tilt = rng.uniform(0.0, 1.5)
    amps = np.array([(k + 1) ** -tilt * rng.uniform(0.3, 1.0) for k in range(n_harm)])
    if n_harm >= 2 and rng.random() < 0.3:
        amps[0] = 0.0
    ratio_db = rng.uniform(*ratio_db_range)
    ref = reference_rms(x, programme_rms)
    t = np.arange(x.size) / SR
    hum = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 2 * np.pi)) for k, a in enumerate(amps) if a > 0)
    hum = np.asarray(hum)
    hum *= ref * 10 ** (ratio_db / 20) / (np.sqrt(np.mean(hum**2)) + 1e-12)
    return (x + hum).astype(np.float32), AudioDefect(
        "hum",
        {
            "mains_hz": mains,
            "f0_hz": round(f0, 3),
            "harmonics": n_harm,
            "fundamental": bool(amps[0] > 0),
            "ratio_db": round(ratio_db, 2),
            "reference_rms": round(ref, 6),
        },
    )


def _colored_noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(n)
    if color == "white":
        return w
    if color == "pink":  # Paul Kellet's economy filter
        return signal.lfilter(
            [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400], w
        )
    if color == "brown":
        return signal.lfilter([1], [1, -0.98], w)
    if color == "tape":
        b, a = signal.butter(2, rng.uniform(1500, 5000) / (SR / 2), "high")
        return signal.lfilter(b, a, w)
    slope = rng.uniform(-6.0, 3.0)  # dB per octave, applied in the frequency domain
    spec = np.fft.rfft(w)
    f = np.maximum(np.fft.rfftfreq(n, 1 / SR), 50.0)
    spec *= (f / 1000.0) ** (slope / 6.02)
    return np.fft.irfft(spec, n)


def add_hiss(x: np.ndarray, rng: np.random.Generator, programme_rms: float) -> tuple[np.ndarray, AudioDefect]:
    """Add broadband noise (white or shaped) to ``x``; return the result and its label."""
    color = str(rng.choice(["white", "pink", "brown", "tape", "tilt"]))
    ratio_db = rng.uniform(-24.0, -6.0)
    ref = reference_rms(x, programme_rms)
    noise = _colored_noise(x.size, color, rng)
    noise *= ref * 10 ** (ratio_db / 20) / (np.sqrt(np.mean(noise**2)) + 1e-12)
    return (x + noise).astype(np.float32), AudioDefect(
        "hiss", {"color": color, "ratio_db": round(ratio_db, 2), "reference_rms": round(ref, 6)}
    )


def add_distortion(x: np.ndarray, rng: np.random.Generator, programme_rms: float) -> tuple[np.ndarray, AudioDefect]:
    """Clip, soft-clip or bit-crush ``x`` (re-normalised to its RMS); return the result and its label."""
    kind = str(rng.choice(["hard_clip", "soft_clip", "bitcrush"]))
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12
    peak = float(np.abs(x).max()) + 1e-12
    params: dict[str, Any] = {"type": kind}
    if kind == "hard_clip":
        frac = rng.uniform(0.03, 0.30)
        thr = float(np.quantile(np.abs(x), 1.0 - frac))
        lo = -thr * (rng.uniform(0.5, 1.0) if rng.random() < 0.3 else 1.0)
        y = np.clip(x, lo, thr)
        params["clipped_fraction"] = round(frac, 4)
    elif kind == "soft_clip":
        drive_db = rng.uniform(9.0, 24.0)
        g = 10 ** (drive_db / 20) / peak
        y = np.tanh(g * x)
        params["drive_db"] = round(drive_db, 2)
    else:
        bits = int(rng.integers(3, 7))
        hold = int(rng.integers(1, 5))
        step = peak / 2 ** (bits - 1)
        y = np.round(x / step) * step
        if hold > 1:
            y = np.repeat(y[::hold], hold)[: x.size]
        params.update(bits=bits, hold=hold)
    y = y * (rms / (np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12))
    return np.clip(y, -1, 1).astype(np.float32), AudioDefect("distortion", params)


def add_clicks(
    x: np.ndarray, rng: np.random.Generator, programme_rms: float, programme_peak: float
) -> tuple[np.ndarray, AudioDefect]:
    """Add impulses and short bursts to ``x``; return the result and its label (with click positions)."""
    rate = rng.uniform(1.0, 20.0)
    n_clicks = max(1, int(rng.poisson(rate * x.size / SR)))
    amp_ref = max(float(np.abs(x).max()), 0.5 * programme_peak, 0.05)
    y = x.astype(np.float64).copy()
    where = np.sort(rng.integers(64, x.size - 256, n_clicks))
    for p in where:
        a = amp_ref * rng.uniform(0.3, 1.0) * rng.choice([-1.0, 1.0])
        if rng.random() < 0.5:
            w = int(rng.integers(1, 4))
            y[p : p + w] += a
        else:
            m = max(2, int(SR * rng.uniform(0.0005, 0.005)))
            y[p : p + m] += a * rng.standard_normal(m) * np.exp(-np.arange(m) / (m / 3))
    return np.clip(y, -1, 1).astype(np.float32), AudioDefect("clicks", {"rate_hz": round(rate, 2), "positions": where.tolist()})


def apply_defect(
    kind: str,
    x: np.ndarray,
    rng: np.random.Generator,
    programme_rms: float,
    programme_peak: float,
    hum_ratio_db: tuple[float, float] = HUM_RATIO_DB,
) -> tuple[np.ndarray, AudioDefect]:
    """Apply defect ``kind`` (one of :data:`CLASSES`) to a pristine segment; return it with its label
    (``hum_ratio_db``: the hum level range, see :func:`add_hum`)."""
    if kind == "none":
        return x.astype(np.float32), AudioDefect("none")
    if kind == "hum":
        return add_hum(x, rng, programme_rms, hum_ratio_db)
    if kind == "hiss":
        return add_hiss(x, rng, programme_rms)
    if kind == "distortion":
        return add_distortion(x, rng, programme_rms)
    if kind == "clicks":
        return add_clicks(x, rng, programme_rms, programme_peak)
    raise ValueError(f"unknown audio defect {kind!r} (expected one of {', '.join(CLASSES)})")
