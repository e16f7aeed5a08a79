"""A device session's timeline: key presses, detector events and state changes on the capture clock."""

from __future__ import annotations

import threading

from detectors.media import Event


class Timeline:
    """Thread-safe, append-only list of events in capture-clock order of arrival."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, event: Event) -> Event:
        with self._lock:
            self._events.append(event)
        return event

    def extend(self, events: list[Event]) -> None:
        with self._lock:
            self._events.extend(events)

    def events(self, since_s: float | None = None, detector: str | None = None) -> list[Event]:
        """Events (sorted by start) from ``since_s`` on, optionally of one detector."""
        with self._lock:
            events = list(self._events)
        return sorted(
            (e for e in events if (since_s is None or e.end_s >= since_s) and (detector is None or e.detector == detector)),
            key=lambda e: e.start_s,
        )

    def __len__(self) -> int:
        return len(self._events)
