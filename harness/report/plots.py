"""PNG plots for the report: a detector's metric around an event, and a test's timeline."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.media import Event

# Which metric column shows each detector's decision, and which parameter is its threshold.
PLOTTED_METRIC: dict[str, tuple[str, str | None, str]] = {
    "black": ("black_ratio", "picture_black_ratio", "share of black pixels"),
    "freeze": ("mean_diff_levels", "max_mean_diff_levels", "mean luma change vs run start (levels)"),
    "silence": ("peak_db", "threshold_db", "chunk peak (dBFS)"),
}


@dataclass(frozen=True)
class MetricSeries:
    """One detector's per-frame (or per-chunk) metric over a watch window."""

    detector: str
    column: str
    label: str
    times_s: tuple[float, ...]
    values: tuple[float, ...]
    threshold: float | None


def series_for(detector: str, rows: Sequence[Mapping[str, Any]], params: Any) -> MetricSeries | None:
    """Pick the plotted metric out of a detector's metric rows (None if it has none to plot)."""
    column, threshold_attr, label = PLOTTED_METRIC.get(detector, ("", None, ""))
    if not rows:
        return None
    if not column:
        numeric = [k for k, v in rows[0].items() if k not in ("index", "pts_s", "start_sample") and isinstance(v, float)]
        if not numeric:
            return None
        column, label = numeric[0], numeric[0]
    points = [(float(r["pts_s"]), float(r[column])) for r in rows if r.get(column) is not None and r.get("pts_s") is not None]
    threshold = getattr(params, threshold_attr) if threshold_attr and params is not None else None
    return MetricSeries(detector, column, label, tuple(t for t, _ in points), tuple(v for _, v in points), threshold)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def metric_plot(series: MetricSeries, event: Event, margin_s: float = 3.0) -> bytes:
    """The metric around ``event`` with the threshold drawn and the event shaded, as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3))
    lo, hi = event.start_s - margin_s, event.end_s + margin_s
    points = [(t, v) for t, v in zip(series.times_s, series.values) if lo <= t <= hi]
    if points:
        ax.plot([t for t, _ in points], [v for _, v in points], drawstyle="steps-post", color="#1f77b4", lw=1.2, label=series.column)
    if series.threshold is not None:
        ax.axhline(series.threshold, color="#d62728", ls="--", lw=1, label=f"threshold {series.threshold:g}")
    ax.axvspan(event.start_s, event.end_s, color="#ff7f0e", alpha=0.25, label=f"{event.kind} {event.duration_s:.3f} s")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("capture time (s)")
    ax.set_ylabel(series.label)
    ax.set_title(f"{series.detector}: {event.kind} at t={event.start_s:.3f} s for {event.duration_s:.3f} s")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def timeline_plot(events: Sequence[Event], title: str, kpis: Mapping[str, float] | None = None) -> bytes:
    """Key presses and detector events of one test on the capture clock, as PNG."""
    plt = _pyplot()
    detectors = sorted({e.detector for e in events if e.detector != "remote"})
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.5 * (len(detectors) + 1)))
    rows = {name: i + 1 for i, name in enumerate(detectors)}
    colours = plt.get_cmap("tab10")
    for e in events:
        if e.detector == "remote":
            ax.axvline(e.start_s, color="#555555", lw=0.8)
            ax.text(e.start_s, 0, f" {e.details.get('key', '?')}", rotation=90, va="bottom", fontsize=7)
        else:
            row = rows[e.detector]
            width = max(e.end_s - e.start_s, 0.02)
            ax.broken_barh([(e.start_s, width)], (row - 0.35, 0.7), color=colours(row % 10))
            ax.text(e.start_s, row + 0.4, f"{e.kind} {e.duration_s:.2f}s", fontsize=7)
    ax.set_yticks([0, *rows.values()], ["keys", *rows])
    ax.set_ylim(-0.5, len(rows) + 1)
    ax.set_xlabel("capture time (s)")
    if kpis:
        title += "   " + ", ".join(f"{k}={v:.3f}" for k, v in kpis.items())
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
