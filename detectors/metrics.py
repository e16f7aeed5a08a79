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
        """Write one row per detector of the item's medium that has ``metrics()`` (call after feeding ``item``)."""
        medium = "video" if isinstance(item, Frame) else "audio"
        for d in detectors:
            if d.medium != medium:
                continue
            metrics = getattr(d, "metrics", None)
            if metrics is None:
                continue
            row = dict.fromkeys(self.columns)
            row.update({k: v for k, v in metrics().items() if k in self._known})
            row["path"], row["detector"] = path, d.name
            if isinstance(item, Frame):
                row["index"], row["start_sample"] = item.index, None
            else:
                row["index"], row["start_sample"] = None, item.start_sample
            row["pts_s"] = item.pts_s
            self._writer.writerow([_cell(row[c]) for c in self.columns])
            self.rows += 1
