"""Choose the audio_artifacts detector's smoothing on the *validation* sources (never on the evaluation ones).

The shipped model classifies every one-second segment (hop 0.5 s); the detector turns runs of
flagged segments into events (see :mod:`detectors.audio.audio_artifacts`). Two numbers set that
smoothing: ``min_confidence`` (a segment is flagged when its winning defect class has at least this
probability) and ``min_segments`` (consecutive flagged segments needed for an event). This module
measures, for a grid of both, on audio from the validation sources only:

- false events per hour of pristine programme (counted as the detector reports them: events of one kind
  whose spans touch are one event, ``merge_gap_s``);
- event recall on pristine programme with one defect of a given duration inserted (an event of the
  right kind must overlap the defect).

The choice: the grid point with the best mean recall over defects lasting at least
:data:`RECALL_DURATION_S`, among those with at most :data:`FALSE_EVENTS_PER_HOUR` false events per
hour (a margin under the 1/h goal, since validation is not evaluation: 3 events in the 6 validation
hours); ties go to fewer segments, then to the lower confidence. The result is stored in the model's metadata (``smoothing``), which
the detector reads for its defaults.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from detectors.audio.audio_artifacts import AudioArtifactsDetector
from detectors.media import AudioChunk, Event
from detectors.ml.features import AUDIO_RATE_HZ
from detectors.training.audio_sim import CLASSES, apply_defect
from detectors.training.audio_sources import AudioSource
from detectors.training.progress import progress, say

CONFIDENCES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98)
SEGMENTS = (1, 2, 3, 4, 5)
DURATIONS_S = (1.5, 2.5, 4.0)
RECALL_DURATION_S = 2.5
FALSE_EVENTS_PER_HOUR = 0.5
STREAM_S = 12.0


class _RecordingDetector(AudioArtifactsDetector):
    """The detector with every segment's probabilities kept (start and end in 16 kHz samples)."""

    def __init__(self) -> None:
        super().__init__(AudioArtifactsDetector.Params(min_confidence=1.0, min_segments=1))
        self.segments: list[tuple[int, int, np.ndarray]] = []

    def _decide(self, start: int, end: int, probs: np.ndarray) -> list:  # type: ignore[type-arg]
        self.segments.append((start, end, np.asarray(probs, np.float64)))
        return super()._decide(start, end, probs)


def feed_mono(det: AudioArtifactsDetector, x: np.ndarray, start_s: float = 0.0) -> list[Event]:
    """Feed mono 16 kHz ``x`` to ``det`` in 0.5 s chunks starting at capture time ``start_s``, then flush; return the events."""
    events: list[Event] = []
    for i in range(0, x.size, 8000):
        chunk = AudioChunk(
            pts_s=start_s + i / AUDIO_RATE_HZ, sample_rate_hz=AUDIO_RATE_HZ, samples=x[i : i + 8000, None], start_sample=i
        )
        events.extend(det.feed(chunk))
    return events + det.flush()


def segment_probs(x: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Run the shipped model over mono 16 kHz ``x`` exactly as the detector does; return (start, end, probs) per segment."""
    det = _RecordingDetector()
    feed_mono(det, x)
    return det.segments


@dataclass(frozen=True)
class Run:
    """One smoothed event: segment span in 16 kHz samples and its kind."""

    start: int
    end: int
    kind: str


def smoothed_runs(
    segments: list[tuple[int, int, np.ndarray]], min_confidence: float, min_segments: int, merge_gap_s: float = 0.0
) -> list[Run]:
    """The events :class:`AudioArtifactsDetector` would report with this smoothing (streams longer than
    ``min_segments`` segments; checked against the detector by a test): runs of flagged segments, then runs of
    one kind within ``merge_gap_s`` of each other joined."""
    runs: list[Run] = []
    current: list[tuple[int, int, np.ndarray]] = []
    gap = round(merge_gap_s * AUDIO_RATE_HZ)

    def close() -> None:
        if len(current) >= min_segments:
            total = np.sum([p for _, _, p in current], axis=0)
            total[0] = -1.0
            run = Run(current[0][0], max(e for _, e, _ in current), CLASSES[int(np.argmax(total))])
            if runs and runs[-1].kind == run.kind and run.start <= runs[-1].end + gap:
                prev = runs.pop()
                run = Run(prev.start, max(prev.end, run.end), run.kind)
            runs.append(run)
        current.clear()

    for s, e, p in segments:
        k = int(np.argmax(p))
        if k != 0 and p[k] >= min_confidence:
            current.append((s, e, p))
        else:
            close()
    close()
    return runs


def choose_smoothing(
    false_events: dict[tuple[float, int], int], recall: dict[tuple[float, int], float], max_events: int
) -> tuple[tuple[float, int], bool]:
    """The (min_confidence, min_segments) with the best recall among those with at most ``max_events`` false events
    (ties: fewer segments, then lower confidence), and whether any point was within; with none, the fewest false events."""
    allowed = [key for key in false_events if false_events[key] <= max_events]
    if not allowed:
        fewest = min(false_events.values())
        allowed = [key for key in false_events if false_events[key] == fewest]
    best = max(allowed, key=lambda key: (round(recall[key], 6), -key[1], -key[0]))
    return best, any(n <= max_events for n in false_events.values())


def _grid() -> list[tuple[float, int]]:
    return list(itertools.product(CONFIDENCES, SEGMENTS))


def validate_smoothing(sources: list[AudioSource], hours: float, streams_per_case: int = 30, seed: int = 91) -> dict[str, object]:
    """Measure false events per hour and event recall for the smoothing grid on ``sources``; return the table and choice."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    share = hours * 3600.0 / len(sources)
    false: dict[tuple[float, int], int] = dict.fromkeys(_grid(), 0)
    by_source: dict[str, dict[str, int]] = {}
    seconds = 0.0
    programme: dict[str, np.ndarray] = {}
    for k, src in enumerate(progress(sources, len(sources), "validation programme")):
        x = src.audio(share, take=200 + k)
        programme[src.name] = x
        seconds += x.size / AUDIO_RATE_HZ
        segs = segment_probs(x)
        for key in false:
            n = len(smoothed_runs(segs, *key))
            false[key] += n
            if n:
                by_source.setdefault(f"{key[0]}/{key[1]}", {})[src.name] = n
    per_hour = {key: n / (seconds / 3600.0) for key, n in false.items()}
    # one defect of a given duration inserted into a 12 s passage of validation programme
    hits = {(key, kind, d): 0 for key in _grid() for kind in CLASSES[1:] for d in DURATIONS_S}
    cases = [(kind, d, i) for kind in CLASSES[1:] for d in DURATIONS_S for i in range(streams_per_case)]
    names = list(programme)
    n_stream = int(STREAM_S * AUDIO_RATE_HZ)
    for kind, d, _ in progress(cases, len(cases), "validation defects"):
        x = programme[names[int(rng.integers(len(names)))]]
        off = int(rng.integers(0, x.size - n_stream))
        stream = x[off : off + n_stream].copy()
        a = int(rng.uniform(2.0, STREAM_S - d - 2.0) * AUDIO_RATE_HZ)
        b = a + int(d * AUDIO_RATE_HZ)
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        stream[a:b], _ = apply_defect(kind, stream[a:b], rng, rms, float(np.abs(x).max()))
        segs = segment_probs(stream)
        for key in _grid():
            if any(r.kind == kind and r.start < b and r.end > a for r in smoothed_runs(segs, *key)):
                hits[(key, kind, d)] += 1
    recall = {
        key: {f"{kind}@{d:g}s": hits[(key, kind, d)] / streams_per_case for kind in CLASSES[1:] for d in DURATIONS_S}
        for key in _grid()
    }

    def mean_recall(key: tuple[float, int]) -> float:
        return float(
            np.mean(
                [hits[(key, kind, d)] / streams_per_case for kind in CLASSES[1:] for d in DURATIONS_S if d >= RECALL_DURATION_S]
            )
        )

    max_events = math.floor(FALSE_EVENTS_PER_HOUR * hours + 1e-9)  # counted, not compared as a rate (rounding)
    choice, within = choose_smoothing(false, {key: mean_recall(key) for key in _grid()}, max_events)
    table = [
        {
            "min_confidence": c,
            "min_segments": n,
            "false_events_per_hour": round(per_hour[(c, n)], 3),
            f"mean_recall_defects_ge_{RECALL_DURATION_S:g}s": round(mean_recall((c, n)), 4),
            "recall": recall[(c, n)],
        }
        for c, n in _grid()
    ]
    say(f"smoothing on validation sources (false events/h | mean event recall, defects >= {RECALL_DURATION_S:.1f} s):")
    say("conf  " + "  ".join(f"{n} seg        " for n in SEGMENTS))
    for c in CONFIDENCES:
        say(f"{c:<5} " + "  ".join(f"{per_hour[(c, n)]:6.2f} | {mean_recall((c, n)):.3f}" for n in SEGMENTS))
    say(
        f"chosen: min_confidence {choice[0]}, min_segments {choice[1]} ({'within' if within else 'NO point within'} {FALSE_EVENTS_PER_HOUR}/h)"
    )
    return {
        "sources": [s.name for s in sources],
        "pristine_hours": round(seconds / 3600.0, 3),
        "streams_per_case": streams_per_case,
        "chosen": {"min_confidence": choice[0], "min_segments": choice[1]},
        "within_limit": within,
        "false_events_limit_per_hour": FALSE_EVENTS_PER_HOUR,
        "false_events_by_source": by_source,
        "table": table,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
