"""Per-frame / per-chunk detector metrics exported as CSV, for tuning thresholds.

Every detector keeps its measurements apart from its decisions: after each frame or audio
chunk it was fed, ``detector.metrics()`` returns a record whose keys are the detector's
``metric_names`` (the frame ``index`` or the chunk's ``start_sample``, ``pts_s``, then the
measurements). :class:`MetricsRecorder` writes one CSV row per detector and item:

``path, detector, index, start_sample, pts_s, <metric columns...>``

The metric columns are the union of the selected detectors' metric names (sorted); a
detector leaves the columns it does not have empty, and a measurement that does not apply
to an item (a first frame has no difference) is empty too. So a table for one detector is a
filter on ``detector`` (``pandas.read_csv(f).query("detector == 'blur'").dropna(axis=1, how="all")``).

A detector that decides a frame only once later frames have come (``block_corruption`` with a median over
frames) has ``metric_records()``: the records of the frames its last ``feed()`` decided, each with its own
``index`` and ``pts_s``, and the last ones after its ``flush()`` (:meth:`MetricsRecorder.record_flushed`).
So every frame still gets one row, written when it is decided.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from typing import IO, Any

from detectors.base import Detector
from detectors.media import AudioChunk, Frame

KEY_COLUMNS = ("path", "detector", "index", "start_sample", "pts_s")
_ITEM_KEYS = frozenset(KEY_COLUMNS[2:])


def metric_columns(detectors: Iterable[Any]) -> list[str]:
    """Return the metric columns (after the key columns) for detector classes or instances: the union of their names, sorted."""
    names: set[str] = set()
    for d in detectors:
        names.update(n for n in getattr(d, "metric_names", ()) if n not in _ITEM_KEYS)
    return sorted(names)


def _cell(value: Any) -> str | int:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


def finished_records(detector: Any) -> list[dict[str, Any]]:
    """The metric records ``detector`` finished with the item just fed: those of ``metric_records()`` for a detector
    that decides late (none, one or several), else the one of ``metrics()`` (none without it)."""
    late = getattr(detector, "metric_records", None)
    if late is not None:
        return list(late())
    metrics = getattr(detector, "metrics", None)
    return [] if metrics is None else [metrics()]


def flushed_records(detector: Any) -> list[dict[str, Any]]:
    """The metric records a late-deciding ``detector`` finished at ``flush()`` (none for any other detector, whose
    last record was taken with its last item)."""
    late = getattr(detector, "metric_records", None)
    return [] if late is None else list(late())


class MetricsRecorder:
    """Write detectors' metric records after every item fed, as CSV rows.

    Args:
        stream: a text stream opened with ``newline=""``.
        detectors: detector classes or instances whose metric names fix the columns (all the
            detectors that may be recorded, so that several files share one header).
        write_header: write the header row now (False when appending to a file that has it).
    """

    def __init__(self, stream: IO[str], detectors: Iterable[Any], write_header: bool = True) -> None:
        self.columns = [*KEY_COLUMNS, *metric_columns(detectors)]
        self._known = set(self.columns)
        self._writer = csv.writer(stream, lineterminator="\n")
        self.rows = 0
        if write_header:
            self._writer.writerow(self.columns)

    def record(self, path: str, item: Frame | AudioChunk, detectors: Iterable[Detector]) -> None:
        """Write the rows the detectors of the item's medium finished (call after feeding ``item``): one per detector
        with ``metrics()``, or those a late-deciding detector's ``metric_records()`` gives (:func:`finished_records`)."""
        medium = "video" if isinstance(item, Frame) else "audio"
        for d in detectors:
            if d.medium != medium:
                continue
            late = hasattr(d, "metric_records")
            for record in finished_records(d):
                if late:  # the record names its own frame, fed earlier
                    self._write(path, d.name, record, record.get("index"), None, record.get("pts_s"))
                elif isinstance(item, Frame):
                    self._write(path, d.name, record, item.index, None, item.pts_s)
                else:
                    self._write(path, d.name, record, None, item.start_sample, item.pts_s)

    def record_flushed(self, path: str, detectors: Iterable[Detector]) -> None:
        """Write the rows of the frames late-deciding detectors decided at ``flush()`` (call after flushing)."""
        for d in detectors:
            for record in flushed_records(d):
                self._write(path, d.name, record, record.get("index"), None, record.get("pts_s"))

    def _write(
        self, path: str, detector: str, record: dict[str, Any], index: int | None, start_sample: int | None, pts_s: float | None
    ) -> None:
        row = dict.fromkeys(self.columns)
        row.update({k: v for k, v in record.items() if k in self._known})
        row.update({"path": path, "detector": detector, "index": index, "start_sample": start_sample, "pts_s": pts_s})
        self._writer.writerow([_cell(row[c]) for c in self.columns])
        self.rows += 1
