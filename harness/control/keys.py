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
        text = text.removeprefix("KEY_")
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


# Linux input-event key names, the namespace lircd.conf files use (`irrecord --list-namespace`).
# Also the default names in iTach / IR code files.
LIRC_KEYS: dict[Key, str] = {
    Key.POWER: "KEY_POWER",
    Key.UP: "KEY_UP",
    Key.DOWN: "KEY_DOWN",
    Key.LEFT: "KEY_LEFT",
    Key.RIGHT: "KEY_RIGHT",
    Key.OK: "KEY_OK",
    Key.BACK: "KEY_BACK",
    Key.HOME: "KEY_HOME",
    Key.MENU: "KEY_MENU",
    Key.INFO: "KEY_INFO",
    Key.PLAY_PAUSE: "KEY_PLAYPAUSE",
    Key.PLAY: "KEY_PLAY",
    Key.PAUSE: "KEY_PAUSE",
    Key.STOP: "KEY_STOP",
    Key.FF: "KEY_FASTFORWARD",
    Key.REW: "KEY_REWIND",
    Key.VOL_UP: "KEY_VOLUMEUP",
    Key.VOL_DOWN: "KEY_VOLUMEDOWN",
    Key.MUTE: "KEY_MUTE",
    Key.CH_UP: "KEY_CHANNELUP",
    Key.CH_DOWN: "KEY_CHANNELDOWN",
    Key.CC: "KEY_SUBTITLE",
    Key.SEARCH: "KEY_SEARCH",
    **{Key(f"DIGIT_{d}"): f"KEY_{d}" for d in range(10)},
}

# HDMI-CEC <User Control Pressed> operands (CEC 1.4 "UI Command Codes"), as two hex digits.
CEC_UI_CODES: dict[Key, str] = {
    Key.OK: "00",  # Select
    Key.UP: "01",
    Key.DOWN: "02",
    Key.LEFT: "03",
    Key.RIGHT: "04",
    Key.HOME: "09",  # Root Menu
    Key.MENU: "0a",  # Setup Menu
    Key.BACK: "0d",  # Exit
    **{Key(f"DIGIT_{d}"): f"{0x20 + d:02x}" for d in range(10)},
    Key.CH_UP: "30",
    Key.CH_DOWN: "31",
    Key.INFO: "35",  # Display Information
    Key.POWER: "40",
    Key.VOL_UP: "41",
    Key.VOL_DOWN: "42",
    Key.MUTE: "43",
    Key.PLAY: "44",
    Key.STOP: "45",
    Key.PAUSE: "46",
    Key.REW: "48",
    Key.FF: "49",
    Key.CC: "51",  # Sub picture
    Key.PLAY_PAUSE: "61",  # Pause-Play Function
}

# Android KeyEvent names for `input keyevent` (android.view.KeyEvent constants).
ANDROID_KEYCODES: dict[Key, str] = {
    Key.POWER: "KEYCODE_POWER",
    Key.UP: "KEYCODE_DPAD_UP",
    Key.DOWN: "KEYCODE_DPAD_DOWN",
    Key.LEFT: "KEYCODE_DPAD_LEFT",
    Key.RIGHT: "KEYCODE_DPAD_RIGHT",
    Key.OK: "KEYCODE_DPAD_CENTER",
    Key.BACK: "KEYCODE_BACK",
    Key.HOME: "KEYCODE_HOME",
    Key.MENU: "KEYCODE_MENU",
    Key.INFO: "KEYCODE_INFO",
    Key.PLAY_PAUSE: "KEYCODE_MEDIA_PLAY_PAUSE",
    Key.PLAY: "KEYCODE_MEDIA_PLAY",
    Key.PAUSE: "KEYCODE_MEDIA_PAUSE",
    Key.STOP: "KEYCODE_MEDIA_STOP",
    Key.FF: "KEYCODE_MEDIA_FAST_FORWARD",
    Key.REW: "KEYCODE_MEDIA_REWIND",
    Key.VOL_UP: "KEYCODE_VOLUME_UP",
    Key.VOL_DOWN: "KEYCODE_VOLUME_DOWN",
    Key.MUTE: "KEYCODE_VOLUME_MUTE",
    Key.CH_UP: "KEYCODE_CHANNEL_UP",
    Key.CH_DOWN: "KEYCODE_CHANNEL_DOWN",
    Key.CC: "KEYCODE_CAPTIONS",
    Key.SEARCH: "KEYCODE_SEARCH",
    **{Key(f"DIGIT_{d}"): f"KEYCODE_{d}" for d in range(10)},
}

# The simulated TV's own IR remote: NEC protocol, one address, one command byte per key.
SIM_NEC_ADDRESS = 0x7A
SIM_NEC_COMMANDS: dict[Key, int] = {key: 0x10 + index for index, key in enumerate(Key)}
