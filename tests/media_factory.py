"""Write small test clips with PyAV: moving content with black, frozen and silent stretches at known places.

Every picture is built directly in I420 (video range) so that the inserted defects are exact:
black frames are luma 16, frozen frames repeat the very same picture, silent samples are 0.
Normal frames are never identical (the content moves every frame) and never black.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from detectors.media import AudioChunk, Frame

VideoCodec = Literal["libx264", "ffv1"]
AudioCodec = Literal["aac", "pcm_s16le"]
Content = Literal["moving", "dark", "slow"]


@dataclass(frozen=True)
class ClipSpec:
    """What to write. Frame ranges are inclusive ``(first, last)``; sample ranges are ``[start, end)``.

    ``freeze`` runs: frames ``first..last`` all show the picture of frame ``first``.
    ``drop`` frames are not written at all (a gap in the presentation timestamps).
    ``keyframes`` are frame numbers forced to be H.264 IDR frames (on top of every ``gop`` frames).
    """

    width: int = 320
    height: int = 240
    fps: int = 25
    frames: int = 75
    content: Content = "moving"
    black: Sequence[tuple[int, int]] = ()
    freeze: Sequence[tuple[int, int]] = ()
    drop: Sequence[int] = ()
    keyframes: Sequence[int] = ()
    video_codec: VideoCodec | None = "libx264"
    crf: int = 23
    gop: int = 250
    audio_codec: AudioCodec | None = None
    sample_rate_hz: int = 48000
    channels: int = 2
    silence: Sequence[tuple[int, int]] = ()
    seed: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def audio_samples(self) -> int:
        return self.frames * self.sample_rate_hz // self.fps


def _container_for(path: Path) -> str | None:
    return {".mkv": "matroska", ".mov": "mov", ".mp4": "mp4", ".nut": "nut"}.get(path.suffix)


def picture(spec: ClipSpec, index: int, rng: np.random.Generator) -> np.ndarray:
    """Return frame ``index`` of the moving content as an I420 array (H*3/2, W)."""
    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w]
    if spec.content == "dark":
        # Dark scene: black background, a small dim moving object and faint texture; not black
        # (about 4 % of the pixels are above the black threshold) and never still.
        luma = np.full((h, w), 16, np.uint8)
        bx = (index * 5) % (w - 64)
        by = (h // 2 - 24 + int(20 * np.sin(index / 5))) % (h - 48)
        obj = 48 + ((xx[:48, :64] + index * 3) % 32).astype(np.uint8)
        luma[by : by + 48, bx : bx + 64] = obj
        luma[: h // 8] = (18 + ((xx[: h // 8] + 2 * index) % 16)).astype(np.uint8)
    elif spec.content == "slow":
        # Slow but real motion: a sharp pattern panning one pixel per frame.
        luma = (40 + 160 * (((xx + index) // 16 + yy // 16) % 2)).astype(np.uint8)
    else:
        phase = index * 4
        grad = (60 + (xx + phase) % 120 + (yy // 4) % 30).astype(np.uint8)
        box = 24 + (index * 7) % (w - 64)
        grad[h // 3 : h // 3 + 40, box : box + 40] = 220
        noise = rng.integers(0, 12, size=(h, w), dtype=np.uint8)
        luma = grad + noise
    chroma = np.full((h // 2, w // 2), 128, np.uint8)
    chroma_v = np.full((h // 2, w // 2), 128 + (index % 16), np.uint8)
    return np.concatenate([luma, chroma.reshape(-1, w), chroma_v.reshape(-1, w)], axis=0)


def black_picture(spec: ClipSpec) -> np.ndarray:
    """Return a video-range black I420 picture."""
    h, w = spec.height, spec.width
    out = np.full((h * 3 // 2, w), 128, np.uint8)
    out[:h] = 16
    return out


def pictures(spec: ClipSpec) -> list[tuple[int, np.ndarray]]:
    """Return ``(frame_number, i420)`` for every frame written (dropped frames left out)."""
    rng = np.random.default_rng(spec.seed)
    black = {i for a, b in spec.black for i in range(a, b + 1)}
    frozen = {i: a for a, b in spec.freeze for i in range(a, b + 1)}
    out: list[tuple[int, np.ndarray]] = []
    cache: dict[int, np.ndarray] = {}
    for i in range(spec.frames):
        if i in black:
            pic = black_picture(spec)
        elif i in frozen and frozen[i] != i:
            pic = cache[frozen[i]]
        else:
            pic = picture(spec, i, rng)
        cache[i] = pic
        if i not in spec.drop:
            out.append((i, pic))
    return out


def audio_samples(spec: ClipSpec) -> np.ndarray:
    """Return the audio as float32 (n, channels): a tone plus noise, zero in the silent ranges."""
    n = spec.audio_samples
    t = np.arange(n) / spec.sample_rate_hz
    rng = np.random.default_rng(spec.seed + 1)
    mono = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * rng.standard_normal(n)
    data = np.repeat(mono[:, None], spec.channels, axis=1).astype(np.float32)
    for a, b in spec.silence:
        data[a:b] = 0.0
    return data


def write_clip(path: Path, spec: ClipSpec) -> Path:
    """Write ``spec`` to ``path`` (container from the suffix) and return the path."""
    import av

    container = av.open(str(path), mode="w", format=_container_for(path))
    try:
        vstream = None
        if spec.video_codec is not None:
            vstream = container.add_stream(spec.video_codec, rate=spec.fps)
            vstream.width, vstream.height = spec.width, spec.height
            vstream.pix_fmt = "yuv420p"
            vstream.time_base = Fraction(1, spec.fps)
            vstream.codec_context.time_base = Fraction(1, spec.fps)
            if spec.video_codec == "libx264":
                vstream.codec_context.options = {
                    "crf": str(spec.crf),
                    "preset": "veryfast",
                    "x264-params": f"keyint={spec.gop}:min-keyint={min(spec.gop, 25)}",
                    **spec.extra,
                }
        astream = None
        if spec.audio_codec is not None:
            astream = container.add_stream(spec.audio_codec, rate=spec.sample_rate_hz)
            astream.layout = "stereo" if spec.channels == 2 else "mono"
            if spec.audio_codec == "aac":
                astream.bit_rate = 128000

        if vstream is not None:
            for number, pic in pictures(spec):
                frame = av.VideoFrame.from_ndarray(pic, format="yuv420p")
                frame.pts = number
                frame.time_base = Fraction(1, spec.fps)
                if number in spec.keyframes:
                    frame.pict_type = av.video.frame.PictureType.I
                for packet in vstream.encode(frame):
                    container.mux(packet)
            for packet in vstream.encode(None):
                container.mux(packet)
        if astream is not None:
            data = audio_samples(spec)
            fmt = "fltp" if spec.audio_codec == "aac" else "s16"
            block = 1024
            for start in range(0, data.shape[0], block):
                part = data[start : start + block]
                if fmt == "fltp":
                    arr = np.ascontiguousarray(part.T)
                else:
                    arr = np.round(part * 32767).astype(np.int16).reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout=astream.layout.name)
                frame.sample_rate = spec.sample_rate_hz
                frame.pts = start
                frame.time_base = Fraction(1, spec.sample_rate_hz)
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode(None):
                container.mux(packet)
    finally:
        container.close()
    return path


# --------------------------------------------------------------------------- in-memory items


def frame_of(spec: ClipSpec, index: int, pic: np.ndarray) -> Frame:
    """Wrap an I420 picture as frame ``index`` at ``spec.fps``."""
    return Frame(index, index / spec.fps, pic)


def frames(spec: ClipSpec) -> list[Frame]:
    """Return the clip's frames in memory (no encoding): exact pixels, pts = number / fps."""
    return [Frame(number, number / spec.fps, pic) for number, pic in pictures(spec)]


def chunks(samples: np.ndarray, rate_hz: int, sizes: Sequence[int] | int = 1024, start_s: float = 0.0) -> list[AudioChunk]:
    """Cut float32 samples (n, channels) into chunks of the given size(s), cycling through ``sizes``."""
    size_list = [sizes] if isinstance(sizes, int) else list(sizes)
    out: list[AudioChunk] = []
    pos, k = 0, 0
    while pos < samples.shape[0]:
        size = size_list[k % len(size_list)]
        part = samples[pos : pos + size]
        out.append(AudioChunk(start_s + pos / rate_hz, rate_hz, part, pos))
        pos += part.shape[0]
        k += 1
    return out


# --------------------------------------------------------------------------- programme audio (hard negatives)


def music(seconds: float, rate_hz: int = 48000, seed: int = 3, level: float = 0.5) -> np.ndarray:
    """Return stereo "music": chords of harmonic notes with attacks and decays, slightly different L/R (float32)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    t = np.arange(n) / rate_hz
    out = np.zeros((n, 2))
    note_s = 0.5
    roots = [110.0, 130.81, 146.83, 164.81, 196.0, 220.0]
    for k in range(int(np.ceil(seconds / note_s))):
        a, b = int(k * note_s * rate_hz), min(n, int((k + 1.2) * note_s * rate_hz))
        if a >= n:
            break
        tt = t[a:b] - t[a]
        env = np.minimum(1.0, tt / 0.01) * np.exp(-tt / 0.4) * np.minimum(1.0, (tt[-1] - tt) / 0.03)
        root = roots[rng.integers(len(roots))]
        for ratio in (1.0, 1.25, 1.5):
            f = root * ratio
            tone = sum(np.sin(2 * np.pi * f * h * tt + rng.uniform(0, 6.28)) / h for h in (1, 2, 3, 4))
            pan = rng.uniform(0.3, 0.7)
            out[a:b, 0] += env * tone * pan
            out[a:b, 1] += env * tone * (1 - pan)
    out += 0.0003 * rng.standard_normal(out.shape)  # -70 dBFS floor
    out *= level / np.abs(out).max()
    return out.astype(np.float32)


def percussive(seconds: float, rate_hz: int = 48000, seed: int = 4, level: float = 0.9) -> np.ndarray:
    """Return stereo drums: kicks (decaying sweeps), snares and hi-hats (noise bursts with sharp onsets)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    out = np.zeros((n, 2))
    beat = int(0.25 * rate_hz)
    for k, a in enumerate(range(0, n, beat)):
        m = min(n - a, int(0.4 * rate_hz))
        tt = np.arange(m) / rate_hz
        if k % 4 == 0:
            f = 50 + 100 * np.exp(-tt / 0.03)
            hit = np.sin(2 * np.pi * np.cumsum(f) / rate_hz) * np.exp(-tt / 0.15)
            out[a : a + m] += hit[:, None]
        elif k % 4 == 2:
            hit = rng.standard_normal(m) * np.exp(-tt / 0.08) * 0.7
            out[a : a + m] += hit[:, None] * np.array([0.8, 1.0])
        else:
            hit = rng.standard_normal(m) * np.exp(-tt / 0.02) * 0.4
            out[a : a + m] += hit[:, None] * np.array([1.0, 0.6])
    out += 0.0003 * rng.standard_normal(out.shape)
    out *= level / np.abs(out).max()
    return out.astype(np.float32)


def speech(seconds: float, rate_hz: int = 48000, seed: int = 5, level: float = 0.9) -> np.ndarray:
    """Return loud speech-like stereo audio: voiced syllables (pulse trains through formants), fricatives, pauses over a -65 dBFS room floor."""
    from scipy import signal

    rng = np.random.default_rng(seed)
    n = int(seconds * rate_hz)
    mono = np.zeros(n)
    pos = int(0.1 * rate_hz)
    while pos < n:
        syl = int(rng.uniform(0.12, 0.3) * rate_hz)
        m = min(syl, n - pos)
        tt = np.arange(m) / rate_hz
        f0 = rng.uniform(100, 220) * (1 + 0.1 * np.sin(2 * np.pi * 3 * tt))
        pulses = (np.diff(np.floor(np.cumsum(f0) / rate_hz), prepend=0) > 0).astype(float)
        voiced = np.zeros(m)
        for fc in (rng.uniform(300, 800), rng.uniform(900, 2200), 2800.0):
            b, a = signal.iirpeak(fc, 8, fs=rate_hz)
            voiced += signal.lfilter(b, a, pulses)
        env = np.sin(np.pi * np.arange(m) / m) ** 0.7
        mono[pos : pos + m] += voiced * env
        pos += m
        if rng.random() < 0.4:  # a fricative ("s")
            f = min(int(0.12 * rate_hz), n - pos)
            if f > 0:
                b, a = signal.butter(4, 4000, "highpass", fs=rate_hz)
                mono[pos : pos + f] += 0.3 * signal.lfilter(b, a, rng.standard_normal(f)) * np.hanning(f)
                pos += f
        pos += int(rng.uniform(0.05, 0.4) * rate_hz)
    mono *= level / np.abs(mono).max()
    out = np.stack([mono, mono], axis=1) + 0.00056 * rng.standard_normal((n, 2))
    return np.clip(out, -1, 1).astype(np.float32)


# --------------------------------------------------------------------------- video hard negatives and defects


def i420(luma: np.ndarray, u: int | np.ndarray = 128, v: int | np.ndarray = 128) -> np.ndarray:
    """Build an I420 array from a luma plane and constant (or half-size plane) chroma."""
    h, w = luma.shape
    planes = []
    for c in (u, v):
        plane = np.full((h // 2, w // 2), c, np.uint8) if np.isscalar(c) else np.asarray(c, np.uint8)
        planes.append(plane.reshape(-1, w))
    return np.concatenate([luma.astype(np.uint8), *planes], axis=0)


def moving_luma(index: int, width: int = 320, height: int = 240, seed: int = 1) -> np.ndarray:
    """Return the luma of frame ``index`` of the factory's moving content (deterministic per frame)."""
    spec = ClipSpec(width=width, height=height)
    return picture(spec, index, np.random.default_rng(seed * 100_003 + index))[:height]


def high_motion_luma(index: int, width: int = 320, height: int = 240, seed: int = 7) -> np.ndarray:
    """Return fast, busy content: a textured background panning 13 px/frame with a varying speed,
    and a dozen objects crossing at different speeds (never still, no cut)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0, size=(height, width + 512)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), 3.0)
    tex = np.clip(115 + tex * (85 / (3 * tex.std())), 30, 200).astype(np.uint8)
    shift = int(13 * index + 6 * np.sin(index / 7.0))
    luma = np.roll(tex, -shift, axis=1)[:height, :width].copy()
    for k in range(12):
        x = int((k * 53 + index * (9 + 2 * k)) % (width - 24))
        y = int((k * 37 + index * (3 + k)) % (height - 24))
        luma[y : y + 24, x : x + 24] = 40 + 15 * k
    return luma


def ui_grid_luma(index: int, width: int = 320, height: int = 240) -> np.ndarray:
    """Return a TV home screen: a grid of flat tiles with text-like stripes on a flat background,
    still except for a focus highlight that moves to the next tile every 10 frames."""
    luma = np.full((height, width), 40, np.uint8)
    cols, rows = 4, 3
    tw, th = width // (cols + 1), height // (rows + 1)
    focus = (index // 10) % (cols * rows)
    for r in range(rows):
        for c in range(cols):
            x, y = 12 + c * (tw + 8), 20 + r * (th + 10)
            luma[y : y + th, x : x + tw] = 90 + 10 * ((r + c) % 3)
            luma[y + th - 10 : y + th - 6, x + 4 : x + tw - 8] = 200  # a title line
            if r * cols + c == focus:
                luma[y - 2 : y, x : x + tw] = 235
                luma[y + th : y + th + 2, x : x + tw] = 235
    return luma


def with_grain(luma: np.ndarray, index: int, sigma: float = 6.0, seed: int = 11) -> np.ndarray:
    """Return ``luma`` with Gaussian film grain (new grain every frame)."""
    rng = np.random.default_rng(seed * 7919 + index)
    return np.clip(luma + rng.normal(0, sigma, luma.shape), 16, 235).astype(np.uint8)


def colour_bars_bgr(width: int = 320, height: int = 240) -> np.ndarray:
    """Return 75 % EBU colour bars (white, yellow, cyan, green, magenta, red, blue, black) over a
    lower third of PLUGE-like grey steps, as 8-bit BGR."""
    bars = [(191, 191, 191), (0, 191, 191), (191, 191, 0), (0, 191, 0), (191, 0, 191), (0, 0, 191), (191, 0, 0), (0, 0, 0)]
    img = np.zeros((height, width, 3), np.uint8)
    top = int(height * 0.67)
    for k, colour in enumerate(bars):
        img[:top, k * width // 8 : (k + 1) * width // 8] = colour
    for k in range(6):
        img[top:, k * width // 6 : (k + 1) * width // 6] = 20 + 30 * k
    return img
