"""A bounded ring buffer that one writer never blocks on and many readers follow by cursor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Ring(Generic[T]):
    """Keeps the last ``capacity`` items; items are numbered by a sequence number from 0.

    The writer (the capture thread) appends and never waits. A reader that falls more than
    ``capacity`` items behind skips forward to the oldest item still held, and the number of
    items it missed is counted on its :class:`Cursor`, never lost silently.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: list[T | None] = [None] * capacity
        self._head = 0  # sequence number of the next item to be written
        self._closed = False
        self._cond = threading.Condition()

    @property
    def head(self) -> int:
        """Sequence number the next item will get (= number of items ever appended)."""
        return self._head

    @property
    def oldest(self) -> int:
        """Sequence number of the oldest item still held."""
        return max(0, self._head - self.capacity)

    def append(self, item: T) -> None:
        with self._cond:
            self._items[self._head % self.capacity] = item
            self._head += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every reader: no more items will come."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def latest(self) -> T | None:
        with self._cond:
            return None if self._head == 0 else self._items[(self._head - 1) % self.capacity]

    def get(self, seq: int, timeout_s: float | None) -> tuple[int, T | None]:
        """Return (seq actually read, item) for item ``seq`` or the oldest held if it was overwritten.

        Waits up to ``timeout_s`` for an item not yet written; returns (seq, None) on time-out
        or when the ring is closed and drained.
        """
        with self._cond:
            if seq >= self._head and not self._closed:
                self._cond.wait_for(lambda: seq < self._head or self._closed, timeout_s)
            if seq >= self._head:
                return seq, None
            seq = max(seq, self._head - self.capacity)
            return seq, self._items[seq % self.capacity]

    def find(self, predicate: Callable[[T], bool]) -> int:
        """Return the sequence number of the oldest held item for which ``predicate`` is true, else head."""
        with self._cond:
            lo, hi = self.oldest, self._head
            items = [(s, self._items[s % self.capacity]) for s in range(lo, hi)]
        for s, item in items:
            if item is not None and predicate(item):
                return s
        return hi


class Cursor(Generic[T]):
    """One reader's position in a :class:`Ring`, with the count of items it missed.

    ``on_missed(cursor, count)`` is called (on the reader's thread) each time the reader finds
    that ``count`` items were overwritten before it could read them.
    """

    def __init__(
        self, ring: Ring[T], seq: int, *, name: str = "", on_missed: Callable[[Cursor[T], int], None] | None = None
    ) -> None:
        self.ring = ring
        self.seq = seq
        self.missed = 0
        self.name = name
        self.on_missed = on_missed
        self.lag_warned = False  # set by the capture while this reader is reported as lagging

    def next(self, timeout_s: float | None) -> T | None:
        """Return the next item, waiting up to ``timeout_s``; None on time-out or end."""
        seq, item = self.ring.get(self.seq, timeout_s)
        if item is None:
            return None
        skipped = seq - self.seq
        self.seq = seq + 1
        if skipped:
            self.missed += skipped
            if self.on_missed is not None:
                self.on_missed(self, skipped)
        return item

    @property
    def lag(self) -> int:
        """Items written but not yet read by this cursor."""
        return self.ring.head - self.seq
