"""Capture benchmark (not a test): a loopback 1080p stream captured while recording and running detectors.

    python benchmarks/bench_capture.py --fps 60 --seconds 60
    python benchmarks/bench_capture.py --fps 30 --seconds 60

A separate process plays the part of an HDMI-to-IP encoder: it loops a pre-encoded 1080p
H.264 + AAC clip (made once, cached under the temp directory) and sends it as MPEG-TS over
UDP to 127.0.0.1 in real time, re-stamping each loop so the stream's clock runs on. UDP is
what encoders send and it is honest: if the capture cannot keep up, datagrams are lost and
the frames show up as dropped, never as silently late.

In this process: :class:`~harness.capture.capture.Capture` (grabber thread, rings),
:class:`~harness.capture.recorder.Recorder` (fragmented MP4, own thread) and the foundation
detectors (black, freeze, silence through ``detectors.base.create``/``Pipeline``, own thread).
Prints frames received and expected, dropped (source gaps + undecodable), frames each
consumer missed, CPU per process and memory (RSS every 10 s and the peak).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = Path(tempfile.gettempdir()) / "avqa-bench"
CLIP_S = 10


def make_clip(fps: int, width: int, height: int) -> Path:
    """A 10 s H.264 (GOP 1 s, no B-frames, like an encoder) + AAC clip with motion, text and sound."""
    import av
    import cv2
    import numpy as np

    path = CACHE / f"clip_{width}x{height}_{fps}.ts"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), np.uint8)
    base = cv2.resize(cv2.GaussianBlur(base, (5, 5), 0), (width, height), interpolation=cv2.INTER_LINEAR)
    print(f"making {path} ...", file=sys.stderr)
    with av.open(str(tmp), "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = {"preset": "veryfast", "crf": "23",
                                       "x264-params": f"keyint={fps}:min-keyint={fps}:bframes=0:scenecut=0"}
        audio = out.add_stream("aac", rate=48000, layout="stereo")
        per_frame = 48000 // fps
        for n in range(CLIP_S * fps):
            img = np.roll(base, 6 * n, axis=1)
            x = int((n * 13) % (width - 300))
            cv2.rectangle(img, (x, height // 3), (x + 300, height // 3 + 200), (40, 200, 240), -1)
            cv2.putText(img, f"frame {n:05d}", (60, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            out.mux(video.encode(frame))
            t = (np.arange(per_frame) + n * per_frame) / 48000
            tone = (0.2 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 48000, n * per_frame, Fraction(1, 48000)
            out.mux(audio.encode(af))
        out.mux(video.encode())
        out.mux(audio.encode())
    tmp.rename(path)
    return path


def serve(clip: Path, uri: str, seconds: float) -> None:
    """Send ``clip`` in a loop to ``uri`` in real time for ``seconds`` (the encoder process)."""
    import av

    src = av.open(str(clip))  # kept open while its packets are used (they refer to its streams)
    streams = [src.streams.video[0], src.streams.audio[0]]
    packets = [p for p in src.demux(*streams) if p.dts is not None]
    first = min(float(p.dts * p.time_base) for p in packets if p.stream.type == "video")
    period = CLIP_S
    # whole loops: drop the audio that runs past the clip's end (AAC padding), so each loop follows the last
    packets = [p for p in packets if p.stream.type == "video"
               or float(p.dts * p.time_base) - first + float((p.duration or 0) * p.time_base) <= period + 1e-6]
    out = av.open(uri, "w", format="mpegts", options={"flush_packets": "1", "max_delay": "0", "max_interleave_delta": "1",
                                                      "pat_period": "0.5"})
    out_streams = {s.index: out.add_stream_from_template(s) for s in streams}
    start = time.monotonic()
    loop = 0
    while time.monotonic() - start < seconds:
        for p in packets:
            shift = round(loop * period / p.time_base)
            t = float(p.dts * p.time_base) - first + loop * period
            delay = start + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            q = av.Packet(bytes(p))
            q.pts, q.dts, q.time_base = p.pts + shift, p.dts + shift, p.time_base
            q.is_keyframe = p.is_keyframe
            q.stream = out_streams[p.stream.index]
            out.mux(q)
        loop += 1
    out.close()
    src.close()


def _rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def detect(capture: object, names: list[str], stop: threading.Event, result: dict[str, object]) -> None:
    """Feed every frame and chunk to the detectors (a consumer on its own thread, like a watch)."""
    from detectors.base import Pipeline, create

    pipeline = Pipeline([create(n) for n in names])
    video = capture.video_cursor(from_latest=False, name="detectors")  # type: ignore[attr-defined]
    audio = capture.audio_cursor_at(-math.inf, name="detectors audio")  # type: ignore[attr-defined]
    fed = 0
    while not stop.is_set():
        frame = video.next(0.2)
        if frame is None:
            continue
        pipeline.feed(frame)
        fed += 1
        while (chunk := audio.ring.get(audio.seq, 0)[1]) is not None and chunk.pts_s < frame.pts_s:
            audio.next(0)
            pipeline.feed(chunk)
    pipeline.flush()
    result.update(fed=fed, missed=video.missed, events=len(pipeline.sorted_events()))


def run(args: argparse.Namespace) -> dict[str, object]:
    from harness.capture.capture import Capture
    from harness.capture.recorder import Recorder, RecordingSettings

    clip = make_clip(args.fps, args.width, args.height)
    from tests.streams import free_udp_port

    port = free_udp_port()
    uri = f"udp://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(clip), f"{uri}?pkt_size=1316", str(args.seconds + 15)])
    try:
        time.sleep(0.5)
        capture = Capture(uri, buffer_s=args.buffer, no_signal_s=3.0, reconnect_s=5.0, open_timeout_s=10).start()
        capture.wait_started(10)
        rec_path = CACHE / f"rec_{args.fps}.mp4"
        recorder = Recorder(capture, rec_path, RecordingSettings(preset=args.preset)).start() if not args.no_record else None
        stop = threading.Event()
        det: dict[str, object] = {}
        detector_thread = threading.Thread(target=detect, args=(capture, [n for n in args.detectors.split(",") if n], stop, det))
        detector_thread.start()
        cpu0, srv0, t0 = resource.getrusage(resource.RUSAGE_SELF), _cpu_s(server.pid), time.monotonic()
        frames0 = capture.stats().frames
        rss: list[tuple[int, float]] = []
        while (elapsed := time.monotonic() - t0) < args.seconds:
            time.sleep(1.0)
            rss.append((round(elapsed), _rss_mb()))
            st = capture.stats()
            print(f"\r{elapsed:5.0f} s frames={st.frames - frames0} dropped={st.dropped_frames} "
                  f"rss={rss[-1][1]:.0f} MB", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        wall = time.monotonic() - t0
        cpu1, srv1 = resource.getrusage(resource.RUSAGE_SELF), _cpu_s(server.pid)
        st = capture.stats()
        stop.set()
        detector_thread.join()
        capture.close()
        rs = recorder.close() if recorder is not None else None
    finally:
        server.terminate()
        server.wait(10)
    frames = st.frames - frames0
    expected = round(wall * args.fps)
    lost = st.dropped_frames + st.decode_errors
    return {
        "stream": f"{args.width}x{args.height}@{args.fps} H.264+AAC MPEG-TS over UDP loopback",
        "seconds": round(wall, 1),
        "frames_received": frames,
        "frames_expected": expected,
        "dropped_frames": st.dropped_frames,
        "decode_errors": st.decode_errors,
        "dropped_pct": round(100 * lost / max(1, frames + st.dropped_frames), 4),
        "discontinuities": st.discontinuities,
        "no_signal": st.no_signal,
        "recorder_frames": rs.frames if rs else None,
        "recorder_missed": rs.missed_frames if rs else None,
        "recording_mb": round(rs.bytes / 1e6, 1) if rs else None,
        "detector_frames": det.get("fed"),
        "detector_missed": det.get("missed"),
        "av_offset_ms": None if st.av_offset_s is None else round(st.av_offset_s * 1000, 1),
        "cpu_capture_process_pct": round(100 * ((cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)) / wall, 1),
        "cpu_encoder_process_pct": round(100 * (srv1 - srv0) / wall, 1),
        "rss_mb_by_time": {f"{t}s": round(m) for t, m in rss if t in (5, 10, 20, 30, 40, 50, 60) or t == rss[-1][0]},
        "peak_rss_mb": round(max([m for _, m in rss] + [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024])),
        "ring_mb": round(capture.video.capacity * args.width * args.height * 1.5 / 1e6),
        "cores": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fps", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--buffer", type=float, default=2.0, help="capture ring length (s)")
    parser.add_argument("--preset", default="ultrafast", help="recorder x264 preset")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--detectors", default="black,freeze,silence", help="comma-separated detector names ('' for none)")
    parser.add_argument("--serve", nargs=3, metavar=("CLIP", "URI", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), args.serve[1], float(args.serve[2]))
        return 0
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
