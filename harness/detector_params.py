"""Detector thresholds from the device YAML, a test's marker and the call, merged and validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from detectors.base import REGISTRY
from detectors.media import Region

Overrides = Mapping[str, Mapping[str, Any]]  # detector name -> parameter -> value


def coerce(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` for detector ``name`` with YAML-friendly values converted (``[x, y, w, h]`` -> Region).

    Raises:
        KeyError: unknown detector (the message lists the known ones).
        ValueError: unknown parameter or invalid value (the detector's own message).
    """
    params_type = REGISTRY.params_type(name)
    types = {f.name: str(f.type) for f in fields(params_type)}
    out: dict[str, Any] = {}
    for key, value in params.items():
        if "Region" in types.get(key, "") and isinstance(value, (list, tuple)) and len(value) == 4:
            value = Region(*(int(v) for v in value))
        out[key] = value
    REGISTRY.create(name, out)  # validates names and values now, not in the middle of a test
    return out


def merge(*layers: Overrides | None) -> dict[str, dict[str, Any]]:
    """Later layers win, parameter by parameter."""
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for name, params in (layer or {}).items():
            merged.setdefault(name, {}).update(params)
    return merged
