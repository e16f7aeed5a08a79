"""Evidence kept for detector events so that a failure can show what was seen."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from detectors.media import Event, Frame
from harness.report.plots import MetricSeries


@dataclass(frozen=True)
class EventEvidence:
    event: Event
    frame: Frame | None
    series: MetricSeries | None


class EvidenceStore:
    """The evidence of the most recent events (bounded: frames are big)."""

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._items: OrderedDict[int, EventEvidence] = OrderedDict()

    def add(self, event: Event, frame: Frame | None, series: MetricSeries | None) -> None:
        self._items[id(event)] = EventEvidence(event, frame, series)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, event: Event) -> EventEvidence | None:
        item = self._items.get(id(event))
        return item if item is not None and item.event is event else None
