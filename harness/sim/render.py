"""Draw the simulated app's screens with OpenCV.

Layout is designed on a 1280x720 canvas and scaled for 1080p. Static screens (logo, home with
each focus position, details, settings) are drawn once and cached as I420 pictures; the player
draws a scrolling texture, moving shapes, a burnt-in timecode and optional captions per frame.

Pictures are I420 (``(height * 3 // 2, width)`` uint8), video range BT.601, as produced by
``cv2.COLOR_BGR2YUV_I420``; black is Y=16, U=V=128.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from harness.sim.app import CATALOG, HOME_COLUMNS, HOME_ROWS, HOME_SETTINGS, SETTING_NAMES, Screen, View

DESIGN_WIDTH = 1280
DESIGN_HEIGHT = 720
HEADER_HEIGHT = 96  # on the design canvas; scaled with the picture
APP_NAME = "avqa TV"

_BG_BGR = (38, 28, 22)
_TEXT_BGR = (245, 245, 245)
_DIM_TEXT_BGR = (190, 180, 170)
_FOCUS_BGR = (40, 215, 255)
_FONT = cv2.FONT_HERSHEY_DUPLEX
_AA = cv2.LINE_AA
_STATIC_CACHE_MAX = 64

_CAPTIONS: tuple[str, ...] = (
    "Where does the river go at night?",
    "Follow the lights, they always lead home.",
    "We have been walking for hours.",
    "Look - over there, by the water!",
    "It is only the wind. Keep going.",
    "Tomorrow we reach the coast.",
)
_CAPTION_S = 2.5


def header_region(width: int, height: int) -> tuple[int, int, int, int]:
    """The header's ``(x, y, w, h)`` in pixels at this resolution (0, 0, 1280, 96 at 720p)."""
    scale = height / DESIGN_HEIGHT
    return 0, 0, width, round(HEADER_HEIGHT * scale)


def black_picture(width: int, height: int) -> np.ndarray:
    """A video-range black I420 picture."""
    pic = np.empty((height * 3 // 2, width), dtype=np.uint8)
    pic[:height] = 16
    pic[height:] = 128
    return pic


def timecode(frame: int, fps: int) -> str:
    """``HH:MM:SS:FF`` of a content frame."""
    seconds, ff = divmod(frame, fps)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


class Renderer:
    """Turn :class:`~harness.sim.app.View` decisions into I420 pictures."""

    def __init__(self, width: int, height: int, fps: int, *, build: str = "", model: str = "avqa SimTV") -> None:
        if width % 2 or height % 2:
            raise ValueError(f"picture size must be even, got {width}x{height}")
        self.width = width
        self.height = height
        self.fps = fps
        self.build = build
        self.model = model
        self.scale = height / DESIGN_HEIGHT
        self._black = black_picture(width, height)
        self._static: dict[View, np.ndarray] = {}
        self._last_player: tuple[tuple[int, int, bool], np.ndarray] | None = None
        self._texture: np.ndarray | None = None
        self._header_cache: dict[str, np.ndarray] = {}

    # -- public -----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Draw everything that is drawn once (player texture, static screens) now, not on the first frame that needs it.

        Building the player texture takes about 0.1 s at 720p: done lazily it would stall playback's first frame.
        """
        self._player_texture()
        views = [View(Screen.BOOT_LOGO)]
        views += [View(Screen.HOME, focus=f) for f in range(HOME_SETTINGS + 1)]
        views += [View(Screen.DETAILS, title=t) for t in range(len(CATALOG))]
        views += [View(Screen.SETTINGS, focus=f, captions=c) for f in range(len(SETTING_NAMES)) for c in (False, True)]
        for view in views:
            self.render(view)

    def render(self, view: View) -> np.ndarray:
        """Return the I420 picture for ``view`` (cached arrays: do not modify)."""
        if view.screen in (Screen.STANDBY, Screen.BOOT_BLACK):
            return self._black
        if view.screen is Screen.PLAYER:
            if view.black:
                return self._black
            key = (view.title, view.content_frame, view.captions)
            if self._last_player is not None and self._last_player[0] == key:
                return self._last_player[1]
            pic = cv2.cvtColor(self._player_bgr(view), cv2.COLOR_BGR2YUV_I420)
            self._last_player = (key, pic)
            return pic
        pic = self._static.get(view)
        if pic is None:
            if len(self._static) >= _STATIC_CACHE_MAX:
                self._static.clear()
            pic = cv2.cvtColor(self.render_bgr(view), cv2.COLOR_BGR2YUV_I420)
            self._static[view] = pic
        return pic

    def render_bgr(self, view: View) -> np.ndarray:
        """Draw ``view`` as a fresh BGR image (uncached; for snapshots and tests)."""
        screen = view.screen
        if screen in (Screen.STANDBY, Screen.BOOT_BLACK) or (screen is Screen.PLAYER and view.black):
            return np.zeros((self.height, self.width, 3), dtype=np.uint8)
        if screen is Screen.BOOT_LOGO:
            return self._logo()
        if screen is Screen.HOME:
            return self._home(view.focus)
        if screen is Screen.DETAILS:
            return self._details(view.title)
        if screen is Screen.SETTINGS:
            return self._settings(view.focus, view.captions)
        return self._player_bgr(view)

    def header_bgr(self, screen: Screen) -> np.ndarray:
        """The header band of ``screen`` exactly as drawn on the panel."""
        x, y, w, h = header_region(self.width, self.height)
        return self.render_bgr(View(screen))[y : y + h, x : x + w].copy()

    # -- drawing helpers --------------------------------------------------------------------

    def _p(self, value: float) -> int:
        return round(value * self.scale)

    def _canvas(self) -> np.ndarray:
        img = np.empty((self.height, self.width, 3), dtype=np.uint8)
        img[:] = _BG_BGR
        return img

    def _text(
        self, img: np.ndarray, text: str, x: float, y: float, size: float, colour: tuple[int, int, int], thickness: float = 2
    ) -> None:
        cv2.putText(img, text, (self._p(x), self._p(y)), _FONT, size * self.scale, colour, max(1, self._p(thickness)), _AA)

    def _text_width(self, text: str, size: float, thickness: float = 2) -> int:
        (w, _), _ = cv2.getTextSize(text, _FONT, size * self.scale, max(1, self._p(thickness)))
        return w

    def _rect(
        self, img: np.ndarray, x: float, y: float, w: float, h: float, colour: tuple[int, int, int], thickness: float = -1
    ) -> None:
        t = -1 if thickness < 0 else max(1, self._p(thickness))
        cv2.rectangle(img, (self._p(x), self._p(y)), (self._p(x + w) - 1, self._p(y + h) - 1), colour, t, _AA)

    def _focus_ring(self, img: np.ndarray, x: float, y: float, w: float, h: float) -> None:
        gap = 7
        self._rect(img, x - gap, y - gap, w + 2 * gap, h + 2 * gap, _FOCUS_BGR, thickness=6)

    # -- header -----------------------------------------------------------------------------

    def _header(self, img: np.ndarray, screen: Screen) -> None:
        """Draw the static, per-screen distinct header band (gradient direction, icon, title)."""
        x, y, w, h = header_region(self.width, self.height)
        band = self._header_cache.get(screen.value)
        if band is None:
            band = self._draw_header(screen, w, h)
            self._header_cache[screen.value] = band
        img[y : y + h, x : x + w] = band

    def _draw_header(self, screen: Screen, w: int, h: int) -> np.ndarray:
        dark = np.array((70, 25, 12), dtype=np.float32)
        light = np.array((200, 150, 40), dtype=np.float32)
        if screen is Screen.HOME:
            ramp = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None].repeat(h, axis=0)
        elif screen is Screen.DETAILS:
            ramp = np.linspace(1.0, 0.0, w, dtype=np.float32)[None, :, None].repeat(h, axis=0)
        else:
            ramp = np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None, None].repeat(w, axis=1)
        band = (dark + (light - dark) * ramp).astype(np.uint8)
        band = np.ascontiguousarray(band)
        title = {Screen.HOME: "Home", Screen.DETAILS: "Details", Screen.SETTINGS: "Settings"}[screen]
        cx, cy = self._p(56), self._p(48)
        r = self._p(26)
        if screen is Screen.HOME:
            pts = np.array(
                [
                    (cx - r, cy),
                    (cx, cy - r),
                    (cx + r, cy),
                    (cx + r - self._p(6), cy),
                    (cx + r - self._p(6), cy + r),
                    (cx - r + self._p(6), cy + r),
                    (cx - r + self._p(6), cy),
                ],
                np.int32,
            )
            cv2.fillPoly(band, [pts], _TEXT_BGR, _AA)
        elif screen is Screen.DETAILS:
            cv2.circle(band, (cx, cy), r, _TEXT_BGR, max(1, self._p(4)), _AA)
            cv2.putText(
                band, "i", (cx - self._p(6), cy + self._p(13)), _FONT, 1.2 * self.scale, _TEXT_BGR, max(1, self._p(3)), _AA
            )
        else:
            for k in range(8):
                a = k * math.pi / 4
                p1 = (int(cx + 0.6 * r * math.cos(a)), int(cy + 0.6 * r * math.sin(a)))
                p2 = (int(cx + 1.0 * r * math.cos(a)), int(cy + 1.0 * r * math.sin(a)))
                cv2.line(band, p1, p2, _TEXT_BGR, max(1, self._p(8)), _AA)
            cv2.circle(band, (cx, cy), int(0.62 * r), _TEXT_BGR, -1, _AA)
            cv2.circle(band, (cx, cy), int(0.28 * r), (120, 80, 30), -1, _AA)
        self._text(band, title, 104, 66, 1.6, _TEXT_BGR, 3)
        name_w = self._text_width(APP_NAME, 0.9, 2)
        cv2.putText(
            band, APP_NAME, (w - name_w - self._p(32), self._p(60)), _FONT, 0.9 * self.scale, _TEXT_BGR, max(1, self._p(2)), _AA
        )
        return band

    # -- static screens ---------------------------------------------------------------------

    def _logo(self) -> np.ndarray:
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        cx, cy = self.width // 2, self.height // 2 - self._p(20)
        cv2.circle(img, (cx, cy), self._p(120), (200, 120, 30), self._p(14), _AA)
        cv2.ellipse(img, (cx, cy), (self._p(120), self._p(120)), 0, -60, 60, (40, 200, 250), self._p(14), _AA)
        w = self._text_width("avqa", 2.4, 4)
        cv2.putText(img, "avqa", (cx - w // 2, cy + self._p(28)), _FONT, 2.4 * self.scale, _TEXT_BGR, self._p(4), _AA)
        w = self._text_width(self.model, 0.9, 2)
        cv2.putText(
            img, self.model, (cx - w // 2, cy + self._p(200)), _FONT, 0.9 * self.scale, _DIM_TEXT_BGR, max(1, self._p(2)), _AA
        )
        return img

    @staticmethod
    def _tile_geometry(index: int) -> tuple[float, float, float, float]:
        margin, gap, top = 64.0, 32.0, 136.0
        w = (DESIGN_WIDTH - 2 * margin - (HOME_COLUMNS - 1) * gap) / HOME_COLUMNS
        h = 170.0
        row, col = divmod(index, HOME_COLUMNS)
        return margin + col * (w + gap), top + row * (h + 48.0), w, h

    _SETTINGS_BUTTON = (64.0, 588.0, 240.0, 60.0)

    def _glyph(self, img: np.ndarray, index: int, cx: float, cy: float, r: float) -> None:
        colour = (235, 235, 235)
        x, y, rr = self._p(cx), self._p(cy), self._p(r)
        kind = index % 4
        if kind == 0:
            cv2.circle(img, (x, y), rr, colour, -1, _AA)
        elif kind == 1:
            pts = np.array([(x, y - rr), (x + rr, y + rr), (x - rr, y + rr)], np.int32)
            cv2.fillConvexPoly(img, pts, colour, _AA)
        elif kind == 2:
            cv2.rectangle(img, (x - rr, y - rr), (x + rr, y + rr), colour, -1, _AA)
        else:
            pts = np.array([(x, y - rr), (x + rr, y), (x, y + rr), (x - rr, y)], np.int32)
            cv2.fillConvexPoly(img, pts, colour, _AA)
        if index >= 4:
            cv2.circle(img, (x, y), max(2, rr // 3), (40, 40, 40), -1, _AA)

    def _home(self, focus: int) -> np.ndarray:
        img = self._canvas()
        self._header(img, Screen.HOME)
        for index, item in enumerate(CATALOG[: HOME_COLUMNS * HOME_ROWS]):
            x, y, w, h = self._tile_geometry(index)
            self._rect(img, x, y, w, h, item.colour_bgr)
            self._rect(img, x, y + h - 44, w, 44, tuple(int(c * 0.45) for c in item.colour_bgr))  # type: ignore[arg-type]
            self._glyph(img, index, x + w / 2, y + (h - 44) / 2, 36)
            self._text(img, item.name, x + 14, y + h - 14, 0.8, _TEXT_BGR, 2)
            if index == focus:
                self._focus_ring(img, x, y, w, h)
        bx, by, bw, bh = self._SETTINGS_BUTTON
        self._rect(img, bx, by, bw, bh, (90, 70, 60))
        self._text(img, "Settings", bx + 44, by + 41, 0.9, _TEXT_BGR, 2)
        if focus == HOME_SETTINGS:
            self._focus_ring(img, bx, by, bw, bh)
        self._text(img, "OK: open    MENU: settings    BACK: back", 760, 628, 0.6, _DIM_TEXT_BGR, 1)
        return img

    def _details(self, title: int) -> np.ndarray:
        img = self._canvas()
        self._header(img, Screen.DETAILS)
        item = CATALOG[title]
        self._rect(img, 64, 140, 420, 420, item.colour_bgr)
        self._glyph(img, title, 64 + 210, 140 + 190, 90)
        self._text(img, item.name, 540, 210, 1.7, _TEXT_BGR, 3)
        self._text(img, item.description, 540, 270, 0.75, _DIM_TEXT_BGR, 1.5)
        self._text(img, "2026   |   1 h 32 min   |   HD   |   CC", 540, 320, 0.7, _DIM_TEXT_BGR, 1.5)
        bx, by, bw, bh = 540.0, 440.0, 240.0, 76.0
        self._rect(img, bx, by, bw, bh, (235, 235, 235))
        pts = np.array(
            [(self._p(bx + 50), self._p(by + 20)), (self._p(bx + 50), self._p(by + 56)), (self._p(bx + 80), self._p(by + 38))],
            np.int32,
        )
        cv2.fillConvexPoly(img, pts, (30, 30, 30), _AA)
        self._text(img, "Play", bx + 100, by + 52, 1.2, (30, 30, 30), 2.5)
        self._focus_ring(img, bx, by, bw, bh)
        return img

    def _settings(self, focus: int, captions: bool) -> np.ndarray:
        img = self._canvas()
        self._header(img, Screen.SETTINGS)
        values = {
            "Captions": "On" if captions else "Off",
            "Audio": "Stereo 48 kHz",
            "Resolution": f"{self.width}x{self.height} @ {self.fps}",
            "Software": self.build or "unknown",
        }
        for row, name in enumerate(SETTING_NAMES):
            x, y, w, h = 64.0, 140.0 + row * 88.0, DESIGN_WIDTH - 128.0, 68.0
            self._rect(img, x, y, w, h, (80, 62, 52) if row == focus else (55, 44, 36))
            self._text(img, name, x + 28, y + 45, 1.0, _TEXT_BGR, 2)
            value = values[name]
            vw = self._text_width(value, 0.9, 2)
            cv2.putText(
                img,
                value,
                (self._p(x + w - 28) - vw, self._p(y + 45)),
                _FONT,
                0.9 * self.scale,
                _DIM_TEXT_BGR,
                max(1, self._p(2)),
                _AA,
            )
            if row == focus:
                self._focus_ring(img, x, y, w, h)
        return img

    # -- player -----------------------------------------------------------------------------

    def _player_texture(self) -> np.ndarray:
        """A bright, colourful tile-and-stripe texture, periodic in x and y, stored twice over in each direction."""
        if self._texture is None:
            w, h = self.width, self.height
            tile = self._p(40)
            rng = np.random.default_rng(7)
            cols, rows = w // tile, h // tile
            colours = rng.integers(70, 236, size=(rows, cols, 3), dtype=np.uint8)
            tex = cv2.resize(colours, (cols * tile, rows * tile), interpolation=cv2.INTER_NEAREST)
            if tex.shape[:2] != (h, w):
                tex = cv2.resize(colours, (w, h), interpolation=cv2.INTER_NEAREST)
            period = self._p(80)
            yy, xx = np.mgrid[0:h, 0:w]
            stripes = ((xx + yy) % period) < period // 4
            tex = tex.astype(np.int16)
            tex[stripes] += 28
            tex = np.clip(tex, 0, 255).astype(np.uint8)
            self._texture = np.ascontiguousarray(np.tile(tex, (2, 2, 1)))
        return self._texture

    def _player_bgr(self, view: View) -> np.ndarray:
        k = view.content_frame
        w, h, fps = self.width, self.height, self.fps
        tex = self._player_texture()
        speed_x = self._p(240) / fps
        speed_y = self._p(90) / fps
        ox = int(k * speed_x) % w
        oy = int(k * speed_y) % h
        img = tex[oy : oy + h, ox : ox + w].copy()
        t = k / fps
        item = CATALOG[view.title % len(CATALOG)]
        # Moving shapes: Lissajous orbits, each a distinct colour.
        for i, colour in enumerate(((255, 255, 255), (30, 30, 230), (240, 200, 40), (60, 220, 60), item.colour_bgr)):
            phase = i * 1.3
            cx = int(w / 2 + (w * 0.38) * math.sin(0.9 * t * (1 + 0.2 * i) + phase))
            cy = int(h / 2 + (h * 0.30) * math.sin(1.3 * t * (1 + 0.15 * i) + 2 * phase))
            cv2.circle(img, (cx, cy), self._p(46 + 8 * i), colour, -1, _AA)
            cv2.circle(img, (cx, cy), self._p(46 + 8 * i), (20, 20, 20), max(1, self._p(3)), _AA)
        # A rotating bar through the centre.
        angle = 2.0 * math.pi * t / 3.0
        dx, dy = math.cos(angle) * self._p(220), math.sin(angle) * self._p(220)
        nx, ny = -math.sin(angle) * self._p(14), math.cos(angle) * self._p(14)
        cx, cy = w / 2, h / 2
        bar = np.array(
            [
                (cx - dx - nx, cy - dy - ny),
                (cx + dx - nx, cy + dy - ny),
                (cx + dx + nx, cy + dy + ny),
                (cx - dx + nx, cy - dy + ny),
            ],
            np.int32,
        )
        cv2.fillConvexPoly(img, bar, (250, 250, 250), _AA)
        # Burnt-in timecode.
        tc = f"{timecode(k, fps)}  #{k:06d}"
        self._rect(img, 24, 24, 360, 48, (25, 25, 25))
        self._text(img, tc, 36, 58, 0.85, _TEXT_BGR, 2)
        self._text(img, item.name, 24, 100, 0.8, (250, 250, 250), 2)
        if view.captions:
            cue = _CAPTIONS[int(t // _CAPTION_S) % len(_CAPTIONS)]
            tw = self._text_width(cue, 1.0, 2)
            bx = (w - tw) // 2
            by = h - self._p(56)
            pad = self._p(12)
            cv2.rectangle(img, (bx - pad, by - self._p(34)), (bx + tw + pad, by + pad), (0, 0, 0), -1)
            cv2.putText(img, cue, (bx, by), _FONT, 1.0 * self.scale, _TEXT_BGR, max(1, self._p(2)), _AA)
        return img
