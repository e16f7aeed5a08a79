"""Capture sources by URI scheme (plain dict, imported lazily so config validation stays cheap)."""

from __future__ import annotations

import importlib
import re
from urllib.parse import urlsplit

_PYAV = "harness.capture.pyav_source:PyAVSource"
_V4L2 = "harness.capture.v4l2_source:V4L2Source"
_REPLAY = "harness.capture.replay_source:ReplaySource"
_ALSA = "harness.capture.alsa_source:AlsaSource"

SOURCES: dict[str, str] = {
    "udp": _PYAV,
    "rtp": _PYAV,
    "srt": _PYAV,
    "rtsp": _PYAV,
    "http": _PYAV,
    "https": _PYAV,
    "tcp": _PYAV,
    "file": _PYAV,
    "v4l2": _V4L2,
    "replay": _REPLAY,
    "alsa": _ALSA,  # audio only: CaptureConfig.audio / Capture(audio_uri=...)
}

AUDIO_ONLY = frozenset({"alsa"})

_DEVICE_PATH = re.compile(r"^/dev/video\d+$")


def scheme_of(uri: str) -> str:
    """Return the capture scheme of ``uri``: its URI scheme, ``v4l2`` for /dev/videoN or an index, ``file`` for a path."""
    if _DEVICE_PATH.match(uri) or uri.isdigit():
        return "v4l2"
    scheme = urlsplit(uri).scheme
    if not scheme or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        return "file"
    return scheme.lower()


def check_uri(uri: str) -> None:
    """Raise ValueError naming the known schemes if ``uri`` has none of them."""
    scheme = scheme_of(uri)
    if scheme not in SOURCES:
        raise ValueError(f"unknown scheme {scheme!r} (expected one of: {', '.join(sorted(SOURCES))}, or a file path)")


def check_video_uri(uri: str) -> None:
    """Like :func:`check_uri`, and reject audio-only schemes (they go in ``audio``)."""
    check_uri(uri)
    if scheme_of(uri) in AUDIO_ONLY:
        raise ValueError(f"{uri}: {scheme_of(uri)}:// is audio only; put it in 'audio' and a video URI in 'video'")


def source_class(uri: str) -> type:
    """Import and return the source class that handles ``uri``."""
    check_uri(uri)
    module, _, attr = SOURCES[scheme_of(uri)].partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
