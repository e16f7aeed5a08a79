"""The avqa key vocabulary, shared by every control backend, device key maps and the simulator."""

from __future__ import annotations

from enum import Enum


class Key(str, Enum):
    """A remote-control key, named the same on every channel."""

    POWER = "POWER"
    UP = "UP"
    DOWN = "DOWN"
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    OK = "OK"
    BACK = "BACK"
    HOME = "HOME"
    MENU = "MENU"
    INFO = "INFO"
    PLAY_PAUSE = "PLAY_PAUSE"
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    STOP = "STOP"
    FF = "FF"
    REW = "REW"
    VOL_UP = "VOL_UP"
    VOL_DOWN = "VOL_DOWN"
    MUTE = "MUTE"
    CH_UP = "CH_UP"
    CH_DOWN = "CH_DOWN"
    CC = "CC"
    SEARCH = "SEARCH"
    DIGIT_0 = "DIGIT_0"
    DIGIT_1 = "DIGIT_1"
    DIGIT_2 = "DIGIT_2"
    DIGIT_3 = "DIGIT_3"
    DIGIT_4 = "DIGIT_4"
    DIGIT_5 = "DIGIT_5"
    DIGIT_6 = "DIGIT_6"
    DIGIT_7 = "DIGIT_7"
    DIGIT_8 = "DIGIT_8"
    DIGIT_9 = "DIGIT_9"

    @classmethod
    def parse(cls, name: str | Key) -> Key:
        """Return the key called ``name`` (case-insensitive, ``KEY_`` prefix allowed)."""
        if isinstance(name, Key):
            return name
        text = name.strip().upper()
        if text.startswith("KEY_"):
            text = text[4:]
        if text.isdigit() and len(text) == 1:
            text = f"DIGIT_{text}"
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown key {name!r} (expected one of: {', '.join(k.value for k in cls)})") from None


# Roku External Control Protocol key names (https://developer.roku.com ECP reference).
ROKU_ECP_KEYS: dict[Key, str] = {
    Key.POWER: "Power",
    Key.UP: "Up",
    Key.DOWN: "Down",
    Key.LEFT: "Left",
    Key.RIGHT: "Right",
    Key.OK: "Select",
    Key.BACK: "Back",
    Key.HOME: "Home",
    Key.INFO: "Info",
    Key.MENU: "Info",
    Key.PLAY_PAUSE: "Play",
    Key.PLAY: "Play",
    Key.PAUSE: "Play",
    Key.FF: "Fwd",
    Key.REW: "Rev",
    Key.VOL_UP: "VolumeUp",
    Key.VOL_DOWN: "VolumeDown",
    Key.MUTE: "VolumeMute",
    Key.CH_UP: "ChannelUp",
    Key.CH_DOWN: "ChannelDown",
    Key.SEARCH: "Search",
}
