"""A tiny progress display on stderr for the training commands (the library itself never prints)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], total: int | None, label: str) -> Iterator[T]:
    """Yield ``items`` while drawing ``label [#####.....] i/total elapsed`` on stderr."""
    t0 = time.perf_counter()
    tty = sys.stderr.isatty()
    last = -1.0
    i = 0
    for i, item in enumerate(items, 1):
        yield item
        now = time.perf_counter()
        if tty or now - last >= 5.0 or (total is not None and i == total):
            last = now
            frac = i / total if total else 0.0
            bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
            end = "\r" if tty and (total is None or i < total) else "\n"
            sys.stderr.write(f"{label} [{bar}] {i}/{total or '?'} {now - t0:6.1f} s{end}")
            sys.stderr.flush()
    if tty and total and i < total:
        sys.stderr.write("\n")


def say(message: str) -> None:
    """Print one status line on stderr."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
