"""Numpy preprocessing shared by training and run time (so both see exactly the same input).

Audio: one-second mono segments at :data:`AUDIO_RATE_HZ` become level-normalised log-mel
spectrograms (:func:`log_mel`). Video: a frame's I420 planes become the model's 3-channel
float input at a fixed analysis size (:func:`video_input`).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

AUDIO_RATE_HZ = 16000
SEGMENT_SAMPLES = 16000
N_FFT = 1024
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
    """Return the (N_FFT//2+1, N_MELS) triangular mel filterbank (float32), built once on first use."""
    n_bins = N_FFT // 2 + 1
    freqs = np.linspace(0.0, AUDIO_RATE_HZ / 2, n_bins)
    mels = np.linspace(float(_hz_to_mel(FMIN_HZ)), float(_hz_to_mel(FMAX_HZ)), N_MELS + 2)
    edges = _mel_to_hz(mels)
    fb = np.zeros((n_bins, N_MELS), np.float64)
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


def log_mel(segments: np.ndarray) -> np.ndarray:
    """Return level-normalised log-mel features of mono segments.

    Args:
        segments: (k, SEGMENT_SAMPLES) float32 samples at AUDIO_RATE_HZ in [-1, 1].

    Returns:
        (k, 1, N_MELS, N_FRAMES) float32: power in dB relative to the loudest cell of the
        segment, floored at FLOOR_DB and divided by DB_SCALE (so values lie in [-3, 0]).
    """
    x = np.asarray(segments, np.float32)
    if x.ndim != 2 or x.shape[1] != SEGMENT_SAMPLES:
        raise ValueError(f"expected (k, {SEGMENT_SAMPLES}) segments, got {x.shape}")
    k = x.shape[0]
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(N_FRAMES)[:, None]
    frames = x[:, idx] * _window()  # (k, T, N_FFT)
    from scipy import fft  # single precision transform (numpy's is double precision)

    spec = fft.rfft(frames, axis=-1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    # sparse product: a dense BLAS matmul here is slow when BLAS threads compete for busy cores
    mel = np.asarray(_mel_sparse() @ power.reshape(-1, power.shape[-1]).T).T.reshape(k, N_FRAMES, N_MELS)  # type: ignore[operator]
    db = 10.0 * np.log10(mel + 1e-12)
    db -= db.reshape(k, -1).max(axis=1)[:, None, None]
    db = np.maximum(db, FLOOR_DB) / DB_SCALE
    return np.ascontiguousarray(db.transpose(0, 2, 1)[:, None]).astype(np.float32)


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
