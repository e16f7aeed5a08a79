"""devices/*.yaml -> a typed, validated :class:`DeviceConfig` (unknown keys rejected).

Every problem becomes one :class:`~harness.errors.ConfigError` line naming the file and the
field, for example ``devices/tv01.yaml: control.uri: unknown scheme 'lric' (expected one of: roku)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.capture import registry as capture_registry
from harness.control import registry as control_registry
from harness.control.keys import Key
from harness.errors import ConfigError

DEFAULT_DEVICE = "sim"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordingConfig(_Strict):
    """The session recording (fragmented MP4, H.264 yuv420p + AAC) that evidence clips are cut from."""

    enabled: bool = True
    fragment_s: float = Field(default=1.0, ge=0.1, le=10, description="keyframe/fragment interval; a crash loses at most this")
    crf: int = Field(default=23, ge=0, le=51, description="x264 quality: lower is better and bigger")
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = "ultrafast"
    max_height_px: int | None = Field(default=None, ge=16, description="scale the recording down to this height")
    audio_bitrate_bps: int = Field(default=128_000, ge=16_000)

    def settings(self) -> Any:
        """The :class:`~harness.capture.recorder.RecordingSettings` these values describe."""
        from harness.capture.recorder import RecordingSettings

        return RecordingSettings(fragment_s=self.fragment_s, crf=self.crf, preset=self.preset,
                                 max_height_px=self.max_height_px, audio_bitrate_bps=self.audio_bitrate_bps)


class CaptureConfig(_Strict):
    """Where the device's picture and sound come from."""

    video: str = Field(description="capture URI for video (and muxed audio): udp://, rtp://, tcp://, http://, rtsp://, /dev/video0, replay:///rec.mp4, a file...")
    audio: str | None = Field(default=None, description="separate audio URI (alsa://hw:1,0); default: the audio muxed in `video`")
    buffer_s: float = Field(default=10.0, gt=0, le=600, description="ring buffer length in seconds")
    no_signal_s: float = Field(default=3.0, gt=0, description="no frames for this long -> no_signal")
    open_timeout_s: float = Field(default=10.0, gt=0, description="give up opening the source after this long")
    reconnect_s: float = Field(default=30.0, ge=0, le=3600, description="after a signal loss keep reconnecting this long (0: fail at once)")
    recording: RecordingConfig = Field(default_factory=RecordingConfig)

    @field_validator("video")
    @classmethod
    def _video_scheme(cls, uri: str) -> str:
        capture_registry.check_video_uri(uri)
        return uri

    @field_validator("audio")
    @classmethod
    def _known_scheme(cls, uri: str | None) -> str | None:
        if uri is not None:
            capture_registry.check_uri(uri)
        return uri


class ChannelConfig(_Strict):
    """One more control channel of a device that combines several (IR for keys, CEC for power...)."""

    uri: str = Field(description="control URI: lirc://, itach://, irserial:, cec:, roku://, adb://")
    keymap: dict[str, str] = Field(default_factory=dict, description="avqa key -> channel key name overrides ('' removes a key)")
    keys: list[str] | None = Field(default=None, description="only these avqa keys go to this channel (default: every key it knows)")
    timeout_s: float = Field(default=3.0, gt=0, description="per-request time-out")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        control_registry.check_uri(uri)
        return uri

    @field_validator("keymap")
    @classmethod
    def _known_keys(cls, keymap: dict[str, str]) -> dict[str, str]:
        return {Key.parse(name).value: value for name, value in keymap.items()}

    @field_validator("keys")
    @classmethod
    def _known_key_names(cls, keys: list[str] | None) -> list[str] | None:
        return None if keys is None else [Key.parse(name).value for name in keys]


class ControlConfig(ChannelConfig):
    """How keys reach the device: ``uri`` first, then each of ``channels`` for keys it lacks."""

    uri: str = Field(description="control URI, for example roku://192.168.1.20:8060 or lirc:///var/run/lirc/lircd?remote=tv")
    key_delay_s: float = Field(default=0.3, ge=0, le=10, description="minimum time between two key presses")
    retries: int = Field(default=0, ge=0, le=5, description="press_and_wait: extra presses when a key had no visible effect")
    channels: list[ChannelConfig] = Field(default_factory=list, description="further channels, tried in order")


class ConsoleConfig(_Strict):
    """The serial debug console."""

    uri: str = Field(description="pyserial URL: /dev/ttyUSB0, socket://host:port, rfc2217://host:port")
    baud: int = Field(default=115200, gt=0)
    failure_patterns: list[str] = Field(default_factory=list, description="regexes that mark a device failure")

    @field_validator("failure_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"invalid regex {pattern!r}: {e}") from e
        return patterns


class PowerConfig(_Strict):
    """How to switch the device's power (reboot and boot-time scenarios)."""

    uri: str = Field(description="tasmota://HOST?relay=N (mains), or soft power: roku://HOST, cec:ADAPTER, adb://SERIAL")
    off_s: float = Field(default=2.0, ge=0, le=120, description="time off during a power cycle")
    timeout_s: float = Field(default=5.0, gt=0, description="per-request time-out")

    @field_validator("uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        from harness.control.power import check_power_uri

        check_power_uri(uri)
        return uri


class BuildConfig(_Strict):
    """How to learn the device's build or firmware version."""

    source: Literal["static", "console"] = "static"
    version: str | None = Field(default=None, description="the build, when source is static")
    pattern: str = Field(default=r"build[:=]\s*(\S+)", description="regex with one group, matched on console lines")

    @model_validator(mode="after")
    def _static_has_version(self) -> BuildConfig:
        if self.source == "static" and not self.version:
            raise ValueError("source 'static' needs a 'version'")
        return self


class ScreenConfig(_Strict):
    """A reference image that identifies a screen of the app (matched in ``region``)."""

    image: str = Field(description="PNG path, relative to the device file")
    region: tuple[int, int, int, int] = Field(description="x, y, width, height in pixels where the image is found")
    threshold: float = Field(default=0.9, gt=0, le=1, description="minimum normalised correlation")


FaultKind = Literal["black", "freeze", "audio_dropout"]


class FaultConfig(_Strict):
    """A defect the simulated build injects during playback."""

    kind: FaultKind
    at_s: float = Field(ge=0, description="seconds after playback starts")
    duration_s: float = Field(gt=0, description="how long the fault lasts")


class SimulatorConfig(_Strict):
    """Settings of a simulated device (harness/sim)."""

    resolution: Literal["1280x720", "1920x1080"] = "1280x720"
    fps: Literal[30, 60] = 30
    transport: Literal["tcp", "udp"] = "tcp"
    build: str = "sim-1.0.0"
    audio: Literal["music", "speech"] = "music"
    captions: bool = False
    boot_black_s: float = Field(default=0.5, ge=0)
    boot_logo_s: float = Field(default=1.5, ge=0)
    standby_on_start: bool = Field(default=False, description="start in standby (POWER turns it on)")
    control: Literal["ecp", "lirc", "itach"] = Field(default="ecp", description="the channel its ready line offers for keys")
    faults: list[FaultConfig] = Field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.resolution.split("x")
        return int(width), int(height)


class DeviceConfig(_Strict):
    """One device of the inventory."""

    name: str
    model: str = "unknown"
    platform: str = "unknown"
    description: str = ""
    build: BuildConfig | None = None
    capture: CaptureConfig | None = None
    control: ControlConfig | None = None
    console: ConsoleConfig | None = None
    power: PowerConfig | None = None
    screens: dict[str, ScreenConfig] = Field(default_factory=dict)
    detectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="detector name -> parameter overrides for this device (thresholds, regions, masks)"
    )
    simulator: SimulatorConfig | None = None
    source_path: Annotated[Path | None, Field(exclude=True)] = None

    @field_validator("detectors")
    @classmethod
    def _valid_detector_params(cls, detectors: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from harness.detector_params import coerce

        checked = {}
        for name, params in detectors.items():
            try:
                checked[name] = coerce(name, params)
            except (KeyError, TypeError) as e:
                raise ValueError(str(e).strip("'\"")) from e
        return checked

    @model_validator(mode="after")
    def _wired(self) -> DeviceConfig:
        if self.simulator is None:
            missing = [name for name in ("capture", "control") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"a real device needs {' and '.join(missing)} (or a 'simulator' section)")
        return self

    @property
    def is_simulated(self) -> bool:
        return self.simulator is not None

    def declared_build(self) -> str | None:
        """The build known without talking to the device, if any."""
        if self.build is not None and self.build.source == "static":
            return self.build.version
        if self.simulator is not None:
            return self.simulator.build
        return None

    def screen_image_path(self, screen: str) -> Path:
        """Absolute path of the reference image of ``screen``."""
        if screen not in self.screens:
            raise ConfigError(
                f"{self.source_path}: screens: no screen {screen!r} (defined: {', '.join(sorted(self.screens)) or 'none'})"
            )
        base = self.source_path.parent if self.source_path else Path.cwd()
        return (base / self.screens[screen].image).resolve()


def _format_error(path: Path | str, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return f"{path}: " + "; ".join(parts)


def load_device(path: str | Path) -> DeviceConfig:
    """Read and validate one device file; ConfigError naming the file and field otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such device file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read device file: {e.strerror}") from e
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of device settings, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    try:
        config = DeviceConfig.model_validate({**data, "source_path": path})
    except ValidationError as e:
        raise ConfigError(_format_error(path, e)) from e
    return config


def resolve_device(name_or_path: str | None, devices_dir: str | Path = "devices") -> DeviceConfig:
    """Resolve ``--device``: a name under ``devices_dir`` or a path to a YAML file; None means ``sim``."""
    name = name_or_path or DEFAULT_DEVICE
    devices_dir = Path(devices_dir)
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return load_device(Path(name))
    path = devices_dir / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in devices_dir.glob("*.yaml")) if devices_dir.is_dir() else []
        raise ConfigError(
            f"{path}: unknown device {name!r} (known in {devices_dir}: {', '.join(known) or 'none'}); "
            "pass --device NAME or --device path/to/device.yaml"
        )
    return load_device(path)
