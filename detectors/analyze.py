"""``avqa analyze``: run detectors over recorded media files and print their events.

Usage: ``avqa analyze PATH [PATH...] [--detector NAME ...] [--format json|jsonl|table]
[--metrics FILE]`` (also ``python -m detectors.analyze``). ``--metrics`` also writes every
detector's per-frame / per-chunk measurements to a CSV file (see :mod:`detectors.metrics`). Every file is decoded and fed, frame by frame and
chunk by chunk, through :class:`detectors.base.Pipeline`, the code path of live analysis.
Exit status: 0 when every file was analysed, 2 when a file could not be read (the others are
still analysed and printed) or a detector name is unknown.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from detectors.base import REGISTRY, Pipeline
from detectors.decode import MediaError, MediaReader

if TYPE_CHECKING:
    from detectors.metrics import MetricsRecorder

log = logging.getLogger(__name__)

FORMATS = ("json", "jsonl", "table")
EXIT_OK = 0
EXIT_ERROR = 2


def resolve_detectors(names: Sequence[str] | None) -> list[str] | None:
    """Validate detector names (commas allowed inside an item); None stays None (= all that apply).

    Raises:
        KeyError: a name is not registered; the message lists the registered names.
    """
    if names is None:
        return None
    out: list[str] = []
    for item in names:
        for name in item.split(","):
            name = name.strip()
            if not name:
                continue
            REGISTRY.get(name)  # KeyError naming the choices
            if name not in out:
                out.append(name)
    return out or None


def default_detectors() -> list[str]:
    """Names of the detectors run when none is named: every defect detector.

    Measurement detectors (tone, scene cuts, letterbox...) declare ``run_by_default = False``
    and run only when named.
    """
    return [n for n in REGISTRY.names() if getattr(REGISTRY.get(n), "run_by_default", True)]


def analyze_path(
    path: str | os.PathLike[str],
    detectors: list[str] | None = None,
    metrics: MetricsRecorder | None = None,
) -> dict[str, Any]:
    """Decode ``path``, run the detectors over it and return the ``avqa analyze`` record.

    Args:
        path: the media file.
        detectors: names of registered detectors; None runs every default (defect)
            detector whose medium (video/audio) the file has, see :func:`default_detectors`.
        metrics: receives the detectors' per-item measurements (CSV rows); None records
            nothing.

    Returns:
        ``{"path", "fps", "frames", "duration_s", "dropped_frames", "events": [...]}`` with
        events sorted by start time, each in :meth:`detectors.media.Event.to_dict` form.

    Raises:
        MediaError: the file cannot be opened or decoded (the message names it).
        KeyError: a detector name is unknown.
    """
    names = resolve_detectors(detectors)
    if names is None:
        reader = MediaReader(path)
        present = {"video": reader.has_video, "audio": reader.has_audio}
        names = [n for n in default_detectors() if present[REGISTRY.media(n)]]
    else:
        media = {REGISTRY.media(n) for n in names}
        reader = MediaReader(path, want_video="video" in media, want_audio="audio" in media)
        present = {"video": reader.has_video, "audio": reader.has_audio}
        for n in names:
            if not present[REGISTRY.media(n)]:
                log.info("%s: no %s stream, detector %r sees nothing", reader.path, REGISTRY.media(n), n)
    with reader:
        pipeline = Pipeline(REGISTRY.create(n) for n in names)
        for item in reader:
            pipeline.feed(item)
            if metrics is not None:
                metrics.record(str(path), item, pipeline.detectors)
    pipeline.flush()
    if metrics is not None:
        metrics.record_flushed(str(path), pipeline.detectors)
    record = reader.info.to_dict()
    record["events"] = [e.to_dict() for e in pipeline.sorted_events()]
    return record


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(record: dict[str, Any]) -> str:
    """Render one record as a human-readable block: a summary line and one row per event."""
    head = (
        f"{record['path']}: fps={_fmt(record['fps'])} frames={record['frames']} "
        f"duration={_fmt(record['duration_s'])} s dropped={record['dropped_frames']} events={len(record['events'])}"
    )
    if not record["events"]:
        return head
    cols = ("detector", "kind", "start_s", "end_s", "start_frame", "end_frame", "score")
    rows = [[_fmt(e.get(c)) for c in cols] for e in record["events"]]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = [head, "  " + "  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``avqa analyze``."""
    parser = argparse.ArgumentParser(
        prog="avqa analyze",
        description="Run A/V defect detectors over media files and print the events found.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="media file(s) to analyse")
    parser.add_argument(
        "--detector",
        "-d",
        action="append",
        metavar="NAME",
        help=f"detector to run (repeatable or comma-separated; default: every defect detector that applies; measurement detectors such as tone run only when named): {', '.join(REGISTRY.names())}",
    )
    parser.add_argument("--format", "-f", choices=FORMATS, default="json", help="output format (default: json)")
    parser.add_argument(
        "--metrics",
        metavar="FILE",
        help="also write every detector's per-frame/per-chunk measurements to FILE as CSV (one row per detector and item)",
    )
    return parser


def main(argv: list[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run ``avqa analyze`` with ``argv`` (without the program name); return the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        detectors = resolve_detectors(args.detector)
    except KeyError as e:
        print(f"avqa analyze: {e.args[0]}", file=err)
        return EXIT_ERROR
    records: list[dict[str, Any]] = []
    metrics_file: IO[str] | None = None
    recorder: MetricsRecorder | None = None
    if args.metrics:
        from detectors.metrics import MetricsRecorder

        try:
            metrics_file = open(args.metrics, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed below)
        except OSError as e:
            print(f"avqa analyze: cannot write metrics file {args.metrics}: {e}", file=err)
            return EXIT_ERROR
        recorder = MetricsRecorder(metrics_file, [REGISTRY.get(n) for n in (detectors or default_detectors())])
    try:
        status = _analyze_all(args.paths, args.format, detectors, out, err, records, recorder)
    finally:
        if metrics_file is not None:
            metrics_file.close()
    if args.format == "json":
        out.write(json.dumps(records, indent=2) + "\n")
        out.flush()
    return status


def _analyze_all(
    paths: Sequence[str],
    fmt: str,
    detectors: list[str] | None,
    out: IO[str],
    err: IO[str],
    records: list[dict[str, Any]],
    recorder: MetricsRecorder | None,
) -> int:
    status = EXIT_OK
    for path in paths:
        try:
            record = analyze_path(path, detectors, metrics=recorder)
        except MediaError as e:
            print(f"avqa analyze: {e}", file=err)
            status = EXIT_ERROR
            continue
        if fmt == "jsonl":
            out.write(json.dumps(record) + "\n")
            out.flush()
        elif fmt == "table":
            out.write(format_table(record) + "\n")
            out.flush()
        else:
            records.append(record)
    return status


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    raise SystemExit(main())
