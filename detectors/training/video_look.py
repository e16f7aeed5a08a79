"""Blind look at the block-corruption labels: would a viewer without the reference see the damage?

The labels (:mod:`detectors.training.video_sim`) call a frame corrupted from its difference against
the clean decode; a no-reference detector can only find what the damaged picture shows. This
measures that gap by eye, blind:

1. :func:`write_look` draws labelled positives (area ratio >= 0.07) and clean frames (no corrupted
   cell) at random, shuffles them and writes each as an anonymous picture (``00.png``, ...; the
   analysis frame at twice its size, nearest neighbour, so block edges stay sharp). Which picture
   is which goes to :data:`KEY_FILE`, not to be opened before judging.
2. The viewer writes one line per picture to :data:`JUDGMENTS_FILE`: ``NN V note`` (would report
   it as corruption) or ``NN N note``.
3. :func:`score_look` unblinds: the share of positives judged visible (with a 95 % Wilson
   interval), the viewer's false alarms on clean frames, the same by source family, and the
   shipped detector's decision on each picture (each frame fed alone) against what was seen.

    python -m detectors.training look-video --look reports/training/look   # then judge
    python -m detectors.training score-look --look reports/training/look

Session 19 (48 positives and 16 clean frames of the validation sources, seed 19): 48 of 48
positives judged visible, 0 of 16 clean; on the validation pans alone (30 + 10, seed 1902) 27 of
30 visible, and 3 of 10 clean pan frames taken for corruption (heavy compression). The detector then
shipped (session 16's) flagged 36 of the 48 and 20 of the 27 visible pans, the one that replaced it (no mirrored
views) 34 and 19: its misses are mostly visible damage.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.training.video_sim import POSITIVE_RATIO, LabelledFrame

KEY_FILE = "key_DO_NOT_OPEN.json"
JUDGMENTS_FILE = "judgments.txt"
_LINE = re.compile(r"^\s*(\d+)\s+([VN])(?:\s+(.*))?$")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k`` of ``n`` (95 % with the default ``z``)."""
    if n <= 0:
        raise ValueError(f"wilson: need n > 0, got {n}")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def families() -> dict[str, str]:
    """Source name -> the family evaluations report it under (pan, clip, lavfi, ui, text; grain for grain variants)."""
    from detectors.training.video_sources import video_sources

    split = video_sources()
    return {s.name: ("grain" if s.grain else s.family) for s in (*split.train, *split.validation, *split.evaluation)}


def refuse_used(out: Path) -> None:
    """Raise FileExistsError if ``out`` already holds a look (a key or judgments): a judged look is evidence, never
    overwritten."""
    for name in (JUDGMENTS_FILE, KEY_FILE):
        if (out / name).exists():
            raise FileExistsError(f"{out / name}: this folder already holds a look; choose another --look folder")


def write_look(
    frames: Sequence[LabelledFrame],
    out: Path,
    positives: int = 48,
    clean: int = 16,
    seed: int = 19,
    sources: Sequence[str] | None = None,
) -> dict[int, int]:
    """Write a blind sample of ``frames`` (of ``sources`` only, when given) to ``out``; return the key
    (picture number -> frame index), also written to :data:`KEY_FILE`.

    Refuses a folder that already holds judgments or a key (:func:`refuse_used`)."""
    refuse_used(out)
    allowed = set(sources) if sources else None
    pool = [i for i, f in enumerate(frames) if allowed is None or f.source in allowed]
    pos = [i for i in pool if frames[i].area_ratio >= POSITIVE_RATIO]
    neg = [i for i in pool if not frames[i].cells.any()]
    if len(pos) < positives or len(neg) < clean:
        raise ValueError(
            f"look: asked for {positives} positives and {clean} clean frames, the frames hold {len(pos)} and {len(neg)}"
            + (f" (sources {', '.join(sorted(allowed))})" if allowed else "")
        )
    rng = np.random.default_rng(seed)
    pick = [int(i) for i in rng.choice(pos, positives, replace=False)] + [int(i) for i in rng.choice(neg, clean, replace=False)]
    order = rng.permutation(len(pick))
    out.mkdir(parents=True, exist_ok=True)
    key: dict[int, int] = {}
    for number, j in enumerate(order):
        index = pick[int(j)]
        bgr = cv2.cvtColor(frames[index].i420, cv2.COLOR_YUV2BGR_I420)
        big = cv2.resize(bgr, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        if not cv2.imwrite(str(out / f"{number:02d}.png"), big):
            raise OSError(f"{out / f'{number:02d}.png'}: could not write the picture")
        key[number] = index
    (out / KEY_FILE).write_text(json.dumps({"frames": len(frames), "seed": seed, "key": key}, indent=1) + "\n")
    return key


def read_judgments(path: Path, numbers: Sequence[int]) -> dict[int, bool]:
    """Parse a judgments file (``NN V|N note`` per line; blank lines and ``#`` comments skipped): picture number ->
    judged visible. Every picture of ``numbers`` must be judged exactly once."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no judgments; write one line 'NN V note' or 'NN N note' per picture")
    wanted = set(numbers)
    out: dict[int, bool] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            raise ValueError(f"{path}:{lineno}: expected 'NN V note' or 'NN N note', got {line!r}")
        number = int(m.group(1))
        if number not in wanted:
            raise ValueError(f"{path}:{lineno}: picture {number} is not in this look (0-{max(wanted)})")
        if number in out:
            raise ValueError(f"{path}:{lineno}: picture {number} judged twice")
        out[number] = m.group(2) == "V"
    missing = sorted(wanted - set(out))
    if missing:
        raise ValueError(f"{path}: pictures not judged: {', '.join(f'{n:02d}' for n in missing)}")
    return out


def detector_flags(frames: Sequence[LabelledFrame]) -> np.ndarray:
    """The shipped block-corruption detector's decision on each frame, each fed alone (a new stream per frame)."""
    from detectors.media import Frame
    from detectors.video.block_corruption import BlockCorruptionDetector

    det = BlockCorruptionDetector(BlockCorruptionDetector.Params(threads=1))
    out = []
    for f in frames:
        det.feed(Frame(0, 0.0, f.i420))
        det.flush()  # a stream of one frame: judged alone, as the viewer saw it, and decided now
        out.append(bool(det.metrics()["corrupted"]))
    return np.array(out, bool)


def score_look(
    frames: Sequence[LabelledFrame],
    look: Path,
    flags: Callable[[Sequence[LabelledFrame]], np.ndarray] = detector_flags,
) -> dict[str, object]:
    """Unblind the look in ``look`` against ``frames`` (the same frames it was drawn from): per picture its frame,
    label and judgment, and the totals (see the module docstring)."""
    key_path = look / KEY_FILE
    if not key_path.exists():
        raise FileNotFoundError(f"{key_path}: no look here; write one with look-video first")
    saved = json.loads(key_path.read_text())
    if saved.get("frames") != len(frames):
        raise ValueError(f"{key_path}: drawn from {saved.get('frames')} frames, these are {len(frames)}: not the same data")
    key = {int(k): int(v) for k, v in saved["key"].items()}
    seen = read_judgments(look / JUDGMENTS_FILE, list(key))
    numbers = sorted(key)
    family = families()
    picked = [frames[key[n]] for n in numbers]
    flagged = flags(picked)
    rows = [
        {
            "picture": n,
            "frame": key[n],
            "source": f.source,
            "family": family.get(f.source, "other"),
            "area_ratio": round(f.area_ratio, 3),
            "positive": f.area_ratio >= POSITIVE_RATIO,
            "seen": seen[n],
            "flagged": bool(flagged[i]),
        }
        for i, (n, f) in enumerate(zip(numbers, picked, strict=True))
    ]
    pos = [r for r in rows if r["positive"]]
    neg = [r for r in rows if not r["positive"]]
    k = sum(bool(r["seen"]) for r in pos)
    by_family: dict[str, dict[str, int]] = {}
    for r in pos:
        tally = by_family.setdefault(str(r["family"]), {"positives": 0, "seen": 0, "flagged": 0})
        tally["positives"] += 1
        tally["seen"] += bool(r["seen"])
        tally["flagged"] += bool(r["flagged"])
    result: dict[str, object] = {
        "positives": len(pos),
        "positives_seen": k,
        "seen_share": round(k / len(pos), 4) if pos else None,
        "seen_share_95": [round(v, 4) for v in wilson(k, len(pos))] if pos else None,
        "clean": len(neg),
        "clean_seen": sum(bool(r["seen"]) for r in neg),
        "by_family": dict(sorted(by_family.items())),
        "flagged_of_seen": [sum(bool(r["flagged"]) for r in pos if r["seen"]), k],
        "flagged_of_unseen": [sum(bool(r["flagged"]) for r in pos if not r["seen"]), len(pos) - k],
        "flagged_of_clean": [sum(bool(r["flagged"]) for r in neg), len(neg)],
        "pictures": rows,
    }
    return result
