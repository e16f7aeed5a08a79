"""Regenerate the reference header crops of the simulated screens: ``python -m harness.sim.snapshots devices/sim``.

Writes ``home.png``, ``details.png`` and ``settings.png``: the header band (x=0, y=0, w=1280,
h=96 at 720p) of each screen exactly as the simulator draws it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2

from harness.sim.app import Screen
from harness.sim.render import Renderer

log = logging.getLogger(__name__)

SCREENS: tuple[Screen, ...] = (Screen.HOME, Screen.DETAILS, Screen.SETTINGS)


def write_snapshots(directory: str | Path, *, width: int = 1280, height: int = 720) -> list[Path]:
    """Write one header PNG per identifiable screen into ``directory``; return their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(width, height, 30)
    paths = []
    for screen in SCREENS:
        path = out / f"{screen.value}.png"
        if not cv2.imwrite(str(path), renderer.header_bgr(screen)):
            raise OSError(f"{path}: cannot write PNG")
        log.info("wrote %s", path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sim.snapshots", description=__doc__.splitlines()[0])
    parser.add_argument("directory", help="where to write the PNGs, e.g. devices/sim")
    parser.add_argument("--resolution", default="1280x720", choices=("1280x720", "1920x1080"))
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    width, height = (int(v) for v in args.resolution.split("x"))
    write_snapshots(args.directory, width=width, height=height)
    return 0


if __name__ == "__main__":
    sys.exit(main())
