"""Audio detectors (one module per detector), fed :class:`~detectors.media.AudioChunk` items."""

from __future__ import annotations
