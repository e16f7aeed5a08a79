"""The Detector contract, the detector registry and the pipeline that feeds detectors.

A detector never opens media, sleeps or reads config: it is fed frames or audio chunks in
order through ``feed`` and returns the events that closed; ``flush`` closes open events at
the end of the stream. Parameters are a frozen dataclass validated at construction.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from detectors.media import AudioChunk, Event, Frame, Medium


@runtime_checkable
class Detector(Protocol):
    """A streaming detector over one medium."""

    name: ClassVar[str]
    medium: ClassVar[Medium]

    def feed(self, item: Frame | AudioChunk) -> Sequence[Event]:
        """Consume the next frame or chunk (in capture order); return events that ended."""
        ...

    def flush(self) -> Sequence[Event]:
        """Close events still open at the end of the stream and return them."""
        ...


# Built-in detectors by name -> "module:Class", imported on first use so that importing the
# registry stays cheap.
_BUILTIN: dict[str, str] = {
    "black": "detectors.video.black:BlackDetector",
    "freeze": "detectors.video.freeze:FreezeDetector",
    "stutter": "detectors.video.stutter:StutterDetector",
    "tearing": "detectors.video.tearing:TearingDetector",
    "letterbox": "detectors.video.letterbox:LetterboxDetector",
    "nosignal": "detectors.video.nosignal:NoSignalDetector",
    "blur": "detectors.video.blur:BlurDetector",
    "blockiness": "detectors.video.blockiness:BlockinessDetector",
    "scenecut": "detectors.video.scenecut:SceneCutDetector",
    "silence": "detectors.audio.silence:SilenceDetector",
    "dropout": "detectors.audio.dropout:DropoutDetector",
    "loudness": "detectors.audio.loudness:LoudnessDetector",
    "clipping": "detectors.audio.clipping:ClippingDetector",
    "clicks": "detectors.audio.clicks:ClickDetector",
    "hum": "detectors.audio.hum:HumDetector",
    "hiss": "detectors.audio.hiss:HissDetector",
    "channels": "detectors.audio.channels:ChannelDetector",
    "tone": "detectors.audio.tone:ToneDetector",
    "block_corruption": "detectors.video.block_corruption:BlockCorruptionDetector",
    "audio_artifacts": "detectors.audio.audio_artifacts:AudioArtifactsDetector",
}


class DetectorRegistry:
    """Maps detector names to classes; a plain dict, lazily imported."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        self._paths: dict[str, str] = dict(_BUILTIN if entries is None else entries)
        self._classes: dict[str, type] = {}

    def names(self) -> list[str]:
        return sorted(self._paths)

    def register(self, name: str, cls: type) -> None:
        self._paths[name] = f"{cls.__module__}:{cls.__qualname__}"
        self._classes[name] = cls

    def get(self, name: str) -> type:
        """Return the detector class called ``name``; KeyError naming the choices otherwise."""
        if name not in self._paths:
            raise KeyError(f"unknown detector {name!r} (expected one of: {', '.join(self.names())})")
        if name not in self._classes:
            module, _, attr = self._paths[name].partition(":")
            self._classes[name] = getattr(importlib.import_module(module), attr)
        return self._classes[name]

    def params_type(self, name: str) -> type:
        return self.get(name).Params  # type: ignore[attr-defined,no-any-return]

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> Detector:
        """Instantiate detector ``name`` with parameter overrides (validated; ValueError if bad)."""
        cls = self.get(name)
        params_cls = cls.Params  # type: ignore[attr-defined]
        overrides = dict(params or {})
        if is_dataclass(params_cls):
            known = {f.name for f in fields(params_cls)}
            unknown = sorted(set(overrides) - known)
            if unknown:
                raise ValueError(
                    f"detector {name!r}: unknown parameter(s) {', '.join(unknown)} (expected: {', '.join(sorted(known))})"
                )
        return cls(params_cls(**overrides))  # type: ignore[no-any-return]

    def media(self, name: str) -> Medium:
        return self.get(name).medium  # type: ignore[attr-defined,no-any-return]


REGISTRY = DetectorRegistry()


def available() -> list[str]:
    """Names of the registered detectors."""
    return REGISTRY.names()


def create(name: str, params: Mapping[str, Any] | None = None) -> Detector:
    """Instantiate a registered detector by name (see :meth:`DetectorRegistry.create`)."""
    return REGISTRY.create(name, params)


class Pipeline:
    """Feeds one stream of frames and chunks to several detectors and collects their events.

    Live capture and file analysis both go through this class, so they behave the same.
    """

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.detectors = list(detectors)
        self._video = [d for d in self.detectors if d.medium == "video"]
        self._audio = [d for d in self.detectors if d.medium == "audio"]
        self.events: list[Event] = []

    def feed(self, item: Frame | AudioChunk) -> list[Event]:
        """Feed one item to every detector of its medium; return the events that closed."""
        targets = self._video if isinstance(item, Frame) else self._audio
        new: list[Event] = []
        for detector in targets:
            new.extend(detector.feed(item))
        self.events.extend(new)
        return new

    def flush(self) -> list[Event]:
        """Flush every detector; return the events that were still open."""
        new: list[Event] = []
        for detector in self.detectors:
            new.extend(detector.flush())
        self.events.extend(new)
        return new

    def sorted_events(self) -> list[Event]:
        return sorted(self.events, key=lambda e: (e.start_s, e.detector))
