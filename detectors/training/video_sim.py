"""Video corruption: simulated decoder garbage on clean frames, and REAL corruption from damaged H.264 MPEG-TS.

Simulated (:func:`simulate_corruption`), in macroblock units of ``mb_px`` analysis pixels,
over a slice-like run of macroblocks (raster order, 4-200 MBs) or a rectangle:

- displaced: blocks copied from a random offset (-64..64 px) of the same or previous frame;
- flat: blocks of one random colour, or the grey (Y=U=V=128) / green (Y=U=V=0) that
  decoders show for missing macroblocks;
- smear: the row above the region repeated downwards, or motion-compensated garbage (the
  previous frame shifted, with per-block random offsets and DC errors).

Real (:func:`corrupt_bitstream`): the clip is encoded with libx264 into MPEG-TS in memory,
bursts of 188-byte TS packets of the video PID are dropped, and the damaged stream is decoded
with FFmpeg's error concealment; every frame is labelled by comparing it with the clean
decode of the same stream. Each frame also keeps the damaged frame shown just before it
(``prev``, in presentation order), as a detector fed the damaged decode in order sees it.

Labels are about *visible* damage. Each 16x16 analysis cell gets a difference score
(:func:`cell_scores`) against the clean decode: both frames are smoothed over 4x4 pixels
(chroma over the same area); for each displacement of the clean frame by up to
:data:`SHIFT_PX` (8) analysis pixels the cell's mean |dY|, its mean |dU| + |dV| and the change of
its horizontal and vertical luma detail (mean |difference| of neighbouring pixels, unsmoothed)
are taken, and the score is the largest of them at the best-matching displacement, in 8-bit
levels. A cell is corrupted when the score exceeds :data:`CELL_DIFF_LEVELS` (12 levels). Faint
error-concealment drift (a small DC shift), intact content that slid a few pixels (invisible
on one frame, though large in pixel differences) and film grain stay below it; garbage,
smears, wrong colours, content left far behind a moving picture and fine texture wiped out by
streaks (which the smoothing alone averages to the same grey) do not. Cells between :data:`CELL_IGNORE_LEVELS` and the threshold are neither corrupted
nor clean for training (their loss is ignored); an evaluation frame with no corrupted cell is
clean, whatever its faint drift.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import cv2
import numpy as np

CELL_PX = 16  # one cell of the corruption map, in analysis pixels
CELL_DIFF_LEVELS = 12.0  # cell score (8-bit levels, see cell_scores) above which a cell is corrupted
SHIFT_PX = 8  # displacement (analysis pixels) of intact content that is not called corruption, see cell_scores
CELL_IGNORE_LEVELS = 5.0  # cell scores in (this, CELL_DIFF_LEVELS] are ignored in training
POSITIVE_RATIO = 0.07  # a frame with at least this share of corrupted cells is a positive (the acceptance)
TS_PACKET = 188


@dataclass
class LabelledFrame:
    """One analysis frame (I420) with its per-cell corruption map (float 0..1) and provenance."""

    i420: np.ndarray
    cells: np.ndarray  # (ceil(H/16), ceil(W/16)) fraction/flag of corruption per cell
    source: str
    kind: str  # clean / simulated / bitstream / lowrate
    scores: np.ndarray | None = None  # per-cell difference score (levels) against the clean frame
    prev: np.ndarray | None = None  # the frame fed just before this one (same decode, stream order); None: first of a stream

    @property
    def ignore(self) -> np.ndarray:
        """Return 1.0 for cells whose label is uncertain (faint drift), to be left out of the loss."""
        if self.scores is None:
            return np.zeros_like(self.cells)
        return ((self.cells < 0.5) & (self.scores > CELL_IGNORE_LEVELS)).astype(np.float32)

    @property
    def area_ratio(self) -> float:
        return float((self.cells >= 0.5).mean())


FLAT_CELL_STD = 2.0  # luma standard deviation (8-bit levels) under which a cell is flat: nothing in it to see


def cell_luma_std(i420: np.ndarray, cell: int = CELL_PX) -> np.ndarray:
    """Return the luma standard deviation of each ``cell`` x ``cell`` cell of an I420 frame (edge cells padded with
    edge values), as (ceil(H/cell), ceil(W/cell)) float32."""
    h = i420.shape[0] * 2 // 3
    y = _pad_to_cells(np.ascontiguousarray(i420[:h]), cell).astype(np.float32)
    return y.reshape(y.shape[0] // cell, cell, y.shape[1] // cell, cell).std(axis=(1, 3))


def evidence_only(f: LabelledFrame) -> LabelledFrame:
    """Return ``f`` with its flat damaged interiors made ignore cells: damaged cells (>= 0.5) that are flat
    (:data:`FLAT_CELL_STD`) and whose eight neighbours are all damaged (frame edges count as damaged). A no-reference
    map has nothing to see there -- a grey or one-colour macroblock area shows only at its edges -- so such cells are
    left out of the loss instead of taught as corrupted: the training target of the evidence-only map (session 19,
    rule X; ``train-video --seed S --evidence-only``). Frames without such cells are returned as they are."""
    damaged = f.cells >= 0.5
    if not damaged.any():
        return f
    kernel = np.ones((3, 3), np.uint8)
    interior = cv2.erode(damaged.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE) > 0
    drop = damaged & interior & (cell_luma_std(f.i420) < FLAT_CELL_STD)
    if not drop.any():
        return f
    scores = np.zeros_like(f.cells) if f.scores is None else f.scores.copy()
    scores[drop] = CELL_DIFF_LEVELS  # above CELL_IGNORE_LEVELS: ignored once the cell is not labelled corrupted
    cells = f.cells.copy()
    cells[drop] = 0.0
    return replace(f, cells=cells, scores=scores)


def cell_map(diff: np.ndarray, cell: int = CELL_PX) -> np.ndarray:
    """Return mean of ``diff`` (H x W) over cells of ``cell`` px (edge cells padded with edge values)."""
    h, w = diff.shape
    hp, wp = -(-h // cell) * cell, -(-w // cell) * cell
    d = np.pad(diff.astype(np.float32), ((0, hp - h), (0, wp - w)), mode="edge")
    return d.reshape(hp // cell, cell, wp // cell, cell).mean(axis=(1, 3))


def _pad_to_cells(plane: np.ndarray, cell: int) -> np.ndarray:
    """Return ``plane`` (H, W[, C]) padded at the bottom and right with edge values to whole cells of ``cell`` pixels."""
    h, w = plane.shape[:2]
    return cv2.copyMakeBorder(plane, 0, -(-h // cell) * cell - h, 0, -(-w // cell) * cell - w, cv2.BORDER_REPLICATE)


def _planes_half(i420: np.ndarray, cell: int) -> np.ndarray:
    """Return Y, U, V of an I420 frame at half the luma size, smoothed over 4x4 luma pixels and padded (edge values)
    to whole cells of ``cell`` half-size pixels: (H', W', 3) float32."""
    h, w = i420.shape[0] * 2 // 3, i420.shape[1]
    y = cv2.resize(i420[:h], (w // 2, h // 2), interpolation=cv2.INTER_AREA).astype(np.float32)
    uv = i420[h:].reshape(2, h // 2, w // 2).astype(np.float32)
    out = cv2.blur(np.dstack([cv2.blur(y, (2, 2)), uv[0], uv[1]]), (2, 2))
    return _pad_to_cells(out, cell)


def _detail_half(i420: np.ndarray, cell: int) -> np.ndarray:
    """Return the horizontal and vertical detail of an I420 frame's luma (mean |difference| of neighbouring pixels,
    full resolution) averaged to half the luma size and padded like :func:`_planes_half`: (H', W', 2) float32."""
    h, w = i420.shape[0] * 2 // 3, i420.shape[1]
    y = i420[:h].astype(np.float32)
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :-1] = np.abs(np.diff(y, axis=1))
    gy[:-1] = np.abs(np.diff(y, axis=0))
    out = cv2.resize(np.dstack([gx, gy]), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return _pad_to_cells(out, cell)


def cell_scores(clean_i420: np.ndarray, bad_i420: np.ndarray) -> np.ndarray:
    """Return the per-cell difference score (8-bit levels) of two I420 frames of the same size.

    For one displacement of the clean frame a cell's score is the largest of: mean |dY| and mean
    |dU| + |dV| of both frames smoothed over 4x4 luma pixels (chroma over the same area), and the
    change of the cell's horizontal and of its vertical *detail* (mean |difference| of neighbouring
    luma pixels at full resolution). The cell's score is the smallest over displacements of the
    clean frame by up to :data:`SHIFT_PX` analysis pixels (2-pixel steps). Intact content that
    merely drifted a few pixels, and texture or grain replaced by texture of the same detail
    (concealment from the previous frame) therefore score low; garbage, smears, wrong colours,
    content displaced further, and fine texture wiped out by streaks or flat blocks (which the
    smoothing alone would average away) score high. Edge cells are padded with edge values.
    """
    if clean_i420.shape != bad_i420.shape or clean_i420.shape[0] % 3 or clean_i420.shape[1] % 4:
        raise ValueError(f"cell_scores: expected two I420 frames of one size, got {clean_i420.shape} and {bad_i420.shape}")
    cell = CELL_PX // 2
    ref, bad = _planes_half(clean_i420, cell), _planes_half(bad_i420, cell)
    r = SHIFT_PX // 2
    padded = cv2.copyMakeBorder(ref, r, r, r, r, cv2.BORDER_REPLICATE)
    hh, ww = bad.shape[:2]
    rows, cols = hh // cell, ww // cell
    # the clean frame's cell-mean detail for every window position (window starting at each pixel), taken once
    ref_detail = cv2.copyMakeBorder(_detail_half(clean_i420, cell), r, r, r, r, cv2.BORDER_REPLICATE)
    ref_detail = cv2.boxFilter(ref_detail, -1, (cell, cell), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    bad_detail = cv2.resize(_detail_half(bad_i420, cell), (cols, rows), interpolation=cv2.INTER_AREA)
    best = np.full((rows, cols), np.inf, np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            d = cv2.absdiff(padded[r + dy : r + dy + hh, r + dx : r + dx + ww], bad)
            m = cv2.resize(d, (cols, rows), interpolation=cv2.INTER_AREA)
            detail = np.abs(ref_detail[r + dy : r + dy + hh : cell, r + dx : r + dx + ww : cell] - bad_detail)
            score = np.maximum(np.maximum(m[..., 0], m[..., 1] + m[..., 2]), detail.max(axis=2))
            np.minimum(best, score, out=best)
    h, w = clean_i420.shape[0] * 2 // 3, clean_i420.shape[1]
    return best[: -(-h // CELL_PX), : -(-w // CELL_PX)]


def corrupted_cells(clean_i420: np.ndarray, bad_i420: np.ndarray) -> np.ndarray:
    """Return 1.0 for cells whose score (:func:`cell_scores`) exceeds :data:`CELL_DIFF_LEVELS`, else 0.0."""
    return (cell_scores(clean_i420, bad_i420) > CELL_DIFF_LEVELS).astype(np.float32)


def _region_mask(h: int, w: int, mb: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mbw, mbh = w // mb, h // mb
    if rng.random() < 0.6:  # slice-like run in raster order
        start = int(rng.integers(0, mbw * mbh))
        length = int(rng.integers(4, 200))
        for k in range(start, min(start + length, mbw * mbh)):
            r, c = divmod(k, mbw)
            mask[r * mb : (r + 1) * mb, c * mb : (c + 1) * mb] = True
    else:
        bw, bh = int(rng.integers(2, mbw // 2 + 2)), int(rng.integers(1, mbh // 2 + 2))
        c0, r0 = int(rng.integers(0, max(1, mbw - bw))), int(rng.integers(0, max(1, mbh - bh)))
        mask[r0 * mb : (r0 + bh) * mb, c0 * mb : (c0 + bw) * mb] = True
    return mask


def simulate_corruption(
    bgr: np.ndarray, prev: np.ndarray | None, rng: np.random.Generator, mb_px: int = 16
) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """Corrupt 1-3 regions of ``bgr``; return (corrupted BGR, pixel mask of changed areas, params)."""
    h, w = bgr.shape[:2]
    out = bgr.copy()
    prev = bgr if prev is None else prev
    total = np.zeros((h, w), bool)
    kinds = []
    for _ in range(int(rng.integers(1, 4))):
        mask = _region_mask(h, w, mb_px, rng)
        kind = str(rng.choice(["displaced", "flat", "smear", "mc_garbage"]))
        kinds.append(kind)
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        if kind == "displaced":
            src = bgr if rng.random() < 0.5 else prev
            dx, dy = rng.integers(-64, 65, 2)
            m = np.float32([[1, 0, -dx], [0, 1, -dy]])
            shifted = cv2.warpAffine(src, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            out[mask] = shifted[mask]
        elif kind == "flat":
            choice = rng.random()
            if choice < 0.3:
                color = np.array([128, 128, 128], np.uint8)
            elif choice < 0.5:
                color = np.array([0, 135, 0], np.uint8)  # YUV (0,0,0) is dark green in BGR
            else:
                color = rng.integers(0, 256, 3).astype(np.uint8)
            if rng.random() < 0.5:
                out[mask] = color
            else:  # per-macroblock colours (DC-only garbage)
                for by in range(y0, y1, mb_px):
                    for bx in range(x0, x1, mb_px):
                        sub = mask[by : by + mb_px, bx : bx + mb_px]
                        out[by : by + mb_px, bx : bx + mb_px][sub] = rng.integers(0, 256, 3).astype(np.uint8)
        elif kind == "smear":
            row = out[max(0, y0 - 1)]
            smear = np.broadcast_to(row, (h, w, 3))
            out[mask] = smear[mask]
        else:
            garbage = prev.copy()
            for by in range(y0, y1, mb_px):
                for bx in range(x0, x1, mb_px):
                    dx, dy = rng.integers(-24, 25, 2)
                    sy, sx = np.clip(by + dy, 0, h - mb_px), np.clip(bx + dx, 0, w - mb_px)
                    blk = prev[sy : sy + mb_px, sx : sx + mb_px].astype(np.int16) + rng.integers(-60, 61)
                    garbage[by : by + mb_px, bx : bx + mb_px] = np.clip(blk, 0, 255)[: min(mb_px, h - by), : min(mb_px, w - bx)]
            out[mask] = garbage[mask]
        total |= mask
    return out, total, {"kinds": kinds, "mb_px": mb_px}


# --------------------------------------------------------------------------- real bitstream corruption


def encode_ts(frames: list[np.ndarray], crf: int, gop: int, bframes: int, fps: int = 25) -> bytes:
    """Encode BGR ``frames`` with libx264 into an in-memory MPEG-TS; return its bytes."""
    import av

    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast", "g": str(gop), "bf": str(bframes), "threads": "1"}
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="bgr24")
            vf.pts = i
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return buf.getvalue()


def decode_ts(data: bytes) -> dict[int, np.ndarray]:
    """Decode an MPEG-TS (error concealment on); return I420 frames keyed by pts."""
    import av

    out: dict[int, np.ndarray] = {}
    try:
        with av.open(io.BytesIO(data), format="mpegts") as c:
            st = c.streams.video[0]
            st.thread_type = "NONE"
            for pkt in c.demux(st):
                try:
                    for f in pkt.decode():
                        if f.pts is not None:
                            out[int(f.pts)] = f.to_ndarray(format="yuv420p")
                except av.error.FFmpegError:
                    continue
    except av.error.FFmpegError:
        pass
    return out


def drop_packets(data: bytes, rng: np.random.Generator, bursts: int, max_burst: int) -> tuple[bytes, list[tuple[int, int]]]:
    """Drop ``bursts`` runs of 1-``max_burst`` TS packets of the video PID; return the stream and (packet, count) list."""
    pk = np.frombuffer(data, np.uint8).reshape(-1, TS_PACKET)
    pids = ((pk[:, 1] & 0x1F).astype(np.int32) << 8) | pk[:, 2]
    video_pid = int(np.bincount(pids).argmax())
    candidates = np.flatnonzero(pids == video_pid)
    keep = np.ones(len(pk), bool)
    dropped = []
    for start in rng.choice(candidates[5:], size=min(bursts, len(candidates) - 5), replace=False):
        n = int(rng.integers(1, max_burst + 1))
        idx = candidates[(candidates >= start)][:n]
        keep[idx] = False
        dropped.append((int(start), n))
    return pk[keep].tobytes(), dropped


def to_analysis(i420: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an I420 frame to the analysis size (area averaging)."""
    h = i420.shape[0] * 2 // 3
    w = i420.shape[1]
    if (w, h) == (width, height):
        return i420
    bgr = cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420)
    return cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)


def corrupt_bitstream(
    frames: list[np.ndarray],
    rng: np.random.Generator,
    source: str,
    width: int,
    height: int,
    crf: int,
    gop: int,
    bframes: int,
    bursts: int,
    max_burst: int = 8,
) -> list[LabelledFrame]:
    """Encode, damage and decode ``frames``; return every decodable frame at analysis size with its cell labels."""
    data = encode_ts(frames, crf, gop, bframes)
    clean = decode_ts(data)
    damaged, _ = drop_packets(data, rng, bursts, max_burst) if bursts else (data, [])
    bad = decode_ts(damaged) if bursts else clean
    out: list[LabelledFrame] = []
    for pts in sorted(bad):
        if pts not in clean:
            continue
        c = to_analysis(clean[pts], width, height)
        b = to_analysis(bad[pts], width, height)
        scores = cell_scores(c, b)
        cells = (scores > CELL_DIFF_LEVELS).astype(np.float32)
        kind = "bitstream" if bursts else ("lowrate" if crf >= 36 else "clean")
        out.append(LabelledFrame(b, cells, source, kind, scores, out[-1].i420 if out else None))
    return out
