"""Control backends by URI scheme (plain dict, imported lazily so config validation stays cheap)."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

BACKENDS: dict[str, str] = {
    "roku": "harness.control.roku_ecp:RokuECPRemote",
    "lirc": "harness.control.lirc:LircRemote",
    "itach": "harness.control.itach:ITachRemote",
    "irserial": "harness.control.irserial:IrToyRemote",
    "cec": "harness.control.cec:CecRemote",
    "adb": "harness.control.adb:AdbRemote",
}


def scheme_of(uri: str) -> str:
    return urlsplit(uri).scheme.lower()


def check_uri(uri: str) -> None:
    """Raise ValueError naming the known schemes if ``uri`` has none of them."""
    scheme = scheme_of(uri)
    if scheme not in BACKENDS:
        raise ValueError(f"unknown scheme {scheme!r} (expected one of: {', '.join(sorted(BACKENDS))})")


def backend_class(uri: str) -> type:
    """Import and return the backend class that handles ``uri``."""
    check_uri(uri)
    module, _, attr = BACKENDS[scheme_of(uri)].partition(":")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
