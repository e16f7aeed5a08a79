"""Numpy preprocessing shared by training and run time (so both see exactly the same input).

Audio: one-second mono segments at :data:`AUDIO_RATE_HZ` become level-normalised log-mel
spectrograms (:func:`log_mel`), waveform and fine-spectrum statistics (:func:`aux_features`) and
the 0.25 Hz spectrum from 30 to 540 Hz (:func:`fine_spectrum`), all from :func:`audio_features`. Video: a frame's I420 planes become the model's 3-channel
float input at a fixed analysis size (:func:`video_input`).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import cv2
import numpy as np

AUDIO_RATE_HZ = 16000
SEGMENT_SAMPLES = 16000
N_FFT = 1024
N_BINS = N_FFT // 2 + 1  # STFT bins of a frame
HOP = 160
N_MELS = 64
FMIN_HZ = 20.0
FMAX_HZ = 8000.0
FLOOR_DB = -90.0
DB_SCALE = 30.0
N_FRAMES = 1 + (SEGMENT_SAMPLES - N_FFT) // HOP


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray | float:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@functools.cache
def mel_filterbank() -> np.ndarray:
    """Return the (N_BINS, N_MELS) triangular mel filterbank (float32), built once on first use."""
    freqs = np.linspace(0.0, AUDIO_RATE_HZ / 2, N_BINS)
    mels = np.linspace(float(_hz_to_mel(FMIN_HZ)), float(_hz_to_mel(FMAX_HZ)), N_MELS + 2)
    edges = _mel_to_hz(mels)
    fb = np.zeros((N_BINS, N_MELS), np.float64)
    for m in range(N_MELS):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[:, m] = np.clip(np.minimum(up, down), 0.0, None)
        if fb[:, m].sum() == 0:  # narrower than a bin at low frequencies: take the nearest bin
            fb[int(np.argmin(np.abs(freqs - mid))), m] = 1.0
    return fb.astype(np.float32)


@functools.cache
def _mel_sparse() -> object:
    """The filterbank as a sparse (N_MELS, bins) matrix: a few multiply-adds per bin, no BLAS threads."""
    from scipy.sparse import csr_matrix

    return csr_matrix(mel_filterbank().T)


@functools.cache
def _window() -> np.ndarray:
    return np.hanning(N_FFT + 1)[:-1].astype(np.float32)


def frame_power(x: np.ndarray) -> np.ndarray:
    """STFT power (Hann window) of float32 samples ``x`` (..., n): (..., 1 + (n - N_FFT) // HOP, N_BINS) float32.

    Frame j covers ``x[..., j * HOP : j * HOP + N_FFT]``, so two overlapping segments whose starts differ by a
    multiple of HOP share rows: a stream analyser can compute each row once (the detector does).
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy import fft  # single precision transform (numpy's is double precision)

    frames = sliding_window_view(x, N_FFT, axis=-1)[..., ::HOP, :] * _window()  # (..., frames, N_FFT), one copy
    spec = fft.rfft(frames, axis=-1)
    return (spec.real**2 + spec.imag**2).astype(np.float32)


def _check_segments(segments: np.ndarray) -> np.ndarray:
    x = np.asarray(segments, np.float32)
    if x.ndim != 2 or x.shape[1] != SEGMENT_SAMPLES:
        raise ValueError(f"expected (k, {SEGMENT_SAMPLES}) segments, got {x.shape}")
    return x


def _mel_db(power: np.ndarray) -> np.ndarray:
    k = power.shape[0]
    # sparse product: a dense BLAS matmul here is slow when BLAS threads compete for busy cores
    mel = np.asarray(_mel_sparse() @ power.reshape(-1, power.shape[-1]).T).T.reshape(k, N_FRAMES, N_MELS)  # type: ignore[operator]
    db = 10.0 * np.log10(mel + 1e-12)
    db -= db.reshape(k, -1).max(axis=1)[:, None, None]
    db = np.maximum(db, FLOOR_DB) / DB_SCALE
    return np.ascontiguousarray(db.transpose(0, 2, 1)[:, None]).astype(np.float32)


def log_mel(segments: np.ndarray) -> np.ndarray:
    """Return level-normalised log-mel features of mono segments.

    Args:
        segments: (k, SEGMENT_SAMPLES) float32 samples at AUDIO_RATE_HZ in [-1, 1].

    Returns:
        (k, 1, N_MELS, N_FRAMES) float32: power in dB relative to the loudest cell of the
        segment, floored at FLOOR_DB and divided by DB_SCALE (so values lie in [-3, 0]).
    """
    return _mel_db(frame_power(_check_segments(segments)))


# Waveform and fine-spectrum statistics the log-mel image cannot show: the 1 Hz spectrum at the
# mains harmonics (hum vs. bass notes), flat tops and quantisation levels (clipping, bit
# crushing), impulsiveness (clicks) and the noise floor of the quietest frames (hiss).
HUM_BASES_HZ = (50.0, 60.0, 45.0, 55.0, 65.0)  # mains, and off-mains combs as a contrast for tonal programme
HUM_HARMONICS = 8
HUM_TOLERANCE = 0.006  # relative mains frequency deviation covered (the simulation draws +-0.5 %)
_COMB_DECIMATE = 8  # the combs end below 600 Hz: look at them at 2 kHz
_FINE_FFT = 4 * SEGMENT_SAMPLES // _COMB_DECIMATE  # zero-padded: 0.25 Hz bins, a peak's centre is located well within 1 Hz
AUX_NAMES: tuple[str, ...] = (
    *(f"comb{int(b)}_h{h}" for b in HUM_BASES_HZ for h in range(1, HUM_HARMONICS + 1)),
    *(f"comb{int(b)}_centred_h{h}" for b in HUM_BASES_HZ for h in range(1, HUM_HARMONICS + 1)),
    *(f"comb{int(b)}_level" for b in HUM_BASES_HZ),
    "crest",
    "near_peak",
    "near_max",
    "near_min",
    "flat_top",
    "repeats",
    "levels",
    "impulse_max",
    "impulse_count",
    "floor_high",
    "floor_flatness",
    "rms_db",
)
N_AUX = len(AUX_NAMES)


def _log_frac(count: np.ndarray, n: float) -> np.ndarray:
    """A fraction on a log scale mapped to [0, 1]: 1e-5 -> 0, 1 -> 1."""
    return np.clip((np.log10(count / n + 1e-5) + 5.0) / 5.0, 0.0, 1.0)


@functools.cache
def _comb_filter() -> np.ndarray:
    """The anti-aliasing filter ``scipy.signal.resample_poly(x, 1, _COMB_DECIMATE)`` designs for float64 input, designed once."""
    from scipy.signal import firwin

    return firwin(2 * 10 * _COMB_DECIMATE + 1, 1.0 / _COMB_DECIMATE, window=("kaiser", 5.0))


@functools.cache
def _comb_bins() -> tuple[np.ndarray, np.ndarray, tuple[tuple[np.ndarray, np.ndarray], ...]]:
    """Fine-spectrum bin indices of every (comb base, harmonic), built once.

    Returns (peak, local, near): ``peak`` and ``local`` are (bases * harmonics, width) index arrays of the
    tolerance band and of the band 4 Hz wider (rows padded by repeating their first bin, which leaves a
    maximum unchanged); ``near`` groups the neighbourhood bins (5..12 Hz away on both sides) by count, as
    (pair numbers, (pairs, count) bin indices), so that each group's median is one vectorised call.
    """
    bins_per_hz = _FINE_FFT / (AUDIO_RATE_HZ / _COMB_DECIMATE)

    def band(lo_hz: float, hi_hz: float) -> np.ndarray:
        return np.arange(round(lo_hz * bins_per_hz), round(hi_hz * bins_per_hz) + 1)

    peaks, locals_, nears = [], [], []
    for base in HUM_BASES_HZ:
        for h in range(1, HUM_HARMONICS + 1):
            f = base * h
            tol = HUM_TOLERANCE * f + 0.3
            peaks.append(band(f - tol, f + tol))
            locals_.append(band(f - tol - 4.0, f + tol + 4.0))
            nears.append(np.concatenate([band(f - tol - 12.0, f - tol - 5.0), band(f + tol + 5.0, f + tol + 12.0)]))

    def padded(rows: list[np.ndarray]) -> np.ndarray:
        width = max(r.size for r in rows)
        return np.stack([np.concatenate([r, np.full(width - r.size, r[0])]) for r in rows])

    groups = []
    for count in sorted({r.size for r in nears}):
        pairs = np.array([i for i, r in enumerate(nears) if r.size == count])
        groups.append((pairs, np.stack([nears[i] for i in pairs])))
    return padded(peaks), padded(locals_), tuple(groups)


def _fine_power(x: np.ndarray) -> np.ndarray:
    """(k, SEGMENT_SAMPLES) -> (k, _FINE_FFT//2+1) float64 power below 1 kHz at 0.25 Hz bins (Hann, zero-padded)."""
    from scipy.signal import resample_poly

    low = resample_poly(x.astype(np.float64), 1, _COMB_DECIMATE, axis=1, window=_comb_filter())
    spec = np.fft.rfft(low * np.hanning(low.shape[1]), n=_FINE_FFT, axis=1)
    return spec.real**2 + spec.imag**2 + 1e-20


def _comb(x: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
    """Per comb base and harmonic: the peak within the mains tolerance against the neighbourhood median (dB/50),
    and against the strongest bin within 4 Hz around (0 dB: the local peak sits on the harmonic, as hum does; a
    bass note 1 Hz off does not); then each comb's share of the power below 1 kHz."""
    k = x.shape[0]
    if p is None:
        p = _fine_power(x)
    total = p.sum(axis=1)
    peak_idx, local_idx, near_groups = _comb_bins()
    n_pairs = len(HUM_BASES_HZ) * HUM_HARMONICS
    peak = p[:, peak_idx].max(axis=2)  # (k, pairs)
    local = p[:, local_idx].max(axis=2)
    near = np.empty((k, n_pairs))
    for pairs, idx in near_groups:
        near[:, pairs] = np.median(p[:, idx], axis=2)
    ratios = (10.0 * np.log10(peak / near)).reshape(k, len(HUM_BASES_HZ), HUM_HARMONICS)
    centred = (10.0 * np.log10(peak / local)).reshape(k, len(HUM_BASES_HZ), HUM_HARMONICS)
    by_base = peak.reshape(k, len(HUM_BASES_HZ), HUM_HARMONICS)
    peak_sum = np.zeros((k, len(HUM_BASES_HZ)))
    for h in range(HUM_HARMONICS):  # in harmonic order, as the statistics were defined
        peak_sum += by_base[:, :, h]
    levels = 10.0 * np.log10(peak_sum / total[:, None] * 4.0)  # 4 bins per Hz: about a tone's share
    out = np.concatenate(
        [
            np.clip(ratios, 0.0, 50.0).reshape(k, -1) / 50.0,
            np.clip(centred + 20.0, 0.0, 20.0).reshape(k, -1) / 20.0,
            np.clip(levels + 60.0, 0.0, 60.0) / 60.0,
        ],
        axis=1,
    )
    return out.astype(np.float32)


def aux_features(segments: np.ndarray, power: np.ndarray | None = None, fine_power: np.ndarray | None = None) -> np.ndarray:
    """Return the (k, N_AUX) float32 statistics named in :data:`AUX_NAMES`, each roughly in [0, 1].

    All are level-invariant except ``rms_db`` (the segment level, dBFS/90 + 1). ``power`` (the STFT
    power) and ``fine_power`` (the 0.25 Hz power spectrum) are computed here unless given.
    """
    x = _check_segments(segments)
    if power is None:
        power = frame_power(x)
    k, n = x.shape
    a = np.abs(x)
    peak = a.max(axis=1) + 1e-9
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1)) + 1e-9
    crest = np.clip(20.0 * np.log10(peak / rms) / 30.0, 0.0, 1.0)
    near_peak = _log_frac((a >= 0.98 * peak[:, None]).sum(axis=1), n)
    xmax, xmin = x.max(axis=1), x.min(axis=1)
    near_max = _log_frac((x >= 0.98 * xmax[:, None]).sum(axis=1) * (xmax > 0), n)
    near_min = _log_frac((x <= 0.98 * xmin[:, None]).sum(axis=1) * (xmin < 0), n)
    same = x[:, 1:] == x[:, :-1]
    loud = a[:, 1:] > 0.5 * peak[:, None]
    flat_top = _log_frac((same & loud).sum(axis=1), n)
    audible = a[:, 1:] > 0.01 * peak[:, None]
    repeats = _log_frac((same & audible).sum(axis=1), np.maximum(audible.sum(axis=1), 1))
    # distinct sample values among the audible samples (one sort for all segments)
    ordered = np.sort(np.where(a > 0.01 * peak[:, None], x, np.inf), axis=1)
    distinct = np.isfinite(ordered[:, 0]) + ((ordered[:, 1:] != ordered[:, :-1]) & np.isfinite(ordered[:, 1:])).sum(axis=1)
    levels = np.log10(distinct + 1.0) / 4.3
    d2 = x[:, 2:] - 2.0 * x[:, 1:-1] + x[:, :-2]
    win = d2[:, : (d2.shape[1] // 160) * 160].reshape(k, -1, 160)
    wmax = np.abs(win).max(axis=2)
    wrms = np.sqrt(np.mean(win.astype(np.float64) ** 2, axis=2)) + 1e-12
    typical = np.median(wrms, axis=1)[:, None] + 1e-9
    impulse = wmax / np.maximum(wrms, typical)  # a lone spike in a window with otherwise typical energy
    impulse_max = np.clip(np.log10(np.maximum(impulse.max(axis=1), 1.0)) / 2.0, 0.0, 1.0)
    impulse_count = _log_frac((impulse > 6.0).sum(axis=1), impulse.shape[1])
    # noise floor: the quietest 20 % of frames, power above 3 kHz relative to the loudest frame, and its flatness
    hz = AUDIO_RATE_HZ / N_FFT
    hi = power[:, :, int(3000 / hz) :].astype(np.float64) + 1e-20
    frame_total = power.sum(axis=2).astype(np.float64) + 1e-20
    q = max(1, N_FRAMES // 5)
    quiet = np.argsort(frame_total, axis=1)[:, :q]
    hi_quiet = np.take_along_axis(hi, quiet[:, :, None], axis=1)
    floor_high = 10.0 * np.log10(hi_quiet.sum(axis=2).mean(axis=1) / frame_total.max(axis=1))
    flatness = np.exp(np.mean(np.log(hi_quiet), axis=2)) / hi_quiet.mean(axis=2)
    aux = np.column_stack(
        [
            _comb(x, fine_power),
            crest,
            near_peak,
            near_max,
            near_min,
            flat_top,
            repeats,
            levels,
            impulse_max,
            impulse_count,
            np.clip(floor_high + 90.0, 0.0, 90.0) / 90.0,
            flatness.mean(axis=1),
            np.clip(20.0 * np.log10(rms) + 90.0, 0.0, 90.0) / 90.0,
        ]
    )
    return aux.astype(np.float32)


# The fine low-frequency spectrum itself, as a model input: 0.25 Hz bins from FINE_LO_HZ to FINE_HI_HZ (every
# mains and contrast harmonic with its neighbourhood), in dB against the strongest bin of the band, floored.
FINE_LO_HZ = 30.0
FINE_HI_HZ = 540.0
FINE_BINS_PER_HZ = _FINE_FFT / (AUDIO_RATE_HZ / _COMB_DECIMATE)
FINE_FIRST_BIN = round(FINE_LO_HZ * FINE_BINS_PER_HZ)
N_FINE = round(FINE_HI_HZ * FINE_BINS_PER_HZ) - FINE_FIRST_BIN + 1
FINE_FLOOR_DB = -80.0
FINE_DB_SCALE = 40.0


def fine_spectrum(segments: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
    """Return the (k, N_FINE) float32 fine spectrum of mono segments: dB against the band's peak, floored at
    FINE_FLOOR_DB, divided by FINE_DB_SCALE (values in [-2, 0]); bin i is FINE_LO_HZ + i / FINE_BINS_PER_HZ Hz."""
    if p is None:
        p = _fine_power(_check_segments(segments))
    band = p[:, FINE_FIRST_BIN : FINE_FIRST_BIN + N_FINE]
    db = 10.0 * np.log10(band / band.max(axis=1, keepdims=True))
    return (np.maximum(db, FINE_FLOOR_DB) / FINE_DB_SCALE).astype(np.float32)


class AudioFeatures(NamedTuple):
    """The audio model's inputs for k segments, in the order of the ONNX inputs ("input", "aux", "fine")."""

    mel: np.ndarray  # (k, 1, N_MELS, N_FRAMES)
    aux: np.ndarray  # (k, N_AUX)
    fine: np.ndarray  # (k, N_FINE)


AUDIO_INPUT_NAMES = ("input", "aux", "fine")


def audio_features(segments: np.ndarray, power: np.ndarray | None = None) -> AudioFeatures:
    """Return the model inputs of mono segments (log-mel, statistics, fine spectrum), each transform computed once.

    ``power``: the segments' (k, N_FRAMES, N_BINS) STFT power when the caller already has it
    (:func:`frame_power` rows shared between overlapping segments); computed here otherwise.
    """
    x = _check_segments(segments)
    if power is None:
        power = frame_power(x)
    elif power.shape != (x.shape[0], N_FRAMES, N_BINS):
        raise ValueError(f"expected power of shape {(x.shape[0], N_FRAMES, N_BINS)}, got {power.shape}")
    fine_power = _fine_power(x)
    return AudioFeatures(_mel_db(power), aux_features(x, power, fine_power), fine_spectrum(x, fine_power))


def resample_to_model(mono: np.ndarray, rate_hz: int) -> np.ndarray:
    """Resample mono float samples from ``rate_hz`` to AUDIO_RATE_HZ (polyphase; exact for 48/32/16 kHz)."""
    if rate_hz == AUDIO_RATE_HZ:
        return np.asarray(mono, np.float32)
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_hz), AUDIO_RATE_HZ)
    return resample_poly(mono, AUDIO_RATE_HZ // g, int(rate_hz) // g).astype(np.float32)


# --------------------------------------------------------------------------- video

VIDEO_WIDTH_PX = 640
VIDEO_HEIGHT_PX = 360
MAP_STRIDE_PX = 16


def video_input(i420: np.ndarray, width: int = VIDEO_WIDTH_PX, height: int = VIDEO_HEIGHT_PX) -> np.ndarray:
    """Return the model input of one I420 frame: (1, 3, height, width) float32 Y, U, V in [-1, 1].

    Luma is resized with area averaging to ``width`` x ``height``; chroma planes likewise.
    """
    h = i420.shape[0] * 2 // 3
    w = i420.shape[1]
    y = i420[:h]
    chroma = i420[h:].reshape(2, h // 2, w // 2)
    interp = cv2.INTER_AREA if w >= width else cv2.INTER_LINEAR
    out = np.empty((1, 3, height, width), np.float32)
    out[0, 0] = cv2.resize(y, (width, height), interpolation=interp)
    out[0, 1] = cv2.resize(chroma[0], (width, height), interpolation=interp)
    out[0, 2] = cv2.resize(chroma[1], (width, height), interpolation=interp)
    out *= np.float32(1.0 / 128.0)
    out -= np.float32(1.0)
    return out


VIDEO_TEMPORAL_CHANNELS = 6


def video_temporal_input(current: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Return the temporal model input: (1, 6, H, W) float32, the current frame's Y, U, V then current - previous.

    Both arguments are :func:`video_input` outputs of one size; ``previous`` is the frame shown
    just before ``current`` in the same stream, or None at the start of a stream or after a gap
    (the difference planes are then zero, as for a still picture).
    """
    out = np.empty((current.shape[0], 6) + current.shape[2:], np.float32)
    out[:, :3] = current
    if previous is None:
        out[:, 3:] = 0.0
    else:
        np.subtract(current, previous, out=out[:, 3:])
    return out
