"""``avqa capture URI --seconds N --out FILE``: record any capture source and report what arrived.

Prints frames received, the measured frame rate, dropped frames (never delivered by the
source), frames the recorder missed, the measured A/V offset and any signal loss; a progress
line goes to stderr while it runs. Ctrl-C (or SIGTERM) stops early and still finishes the file.
Exit status: 0 done, 1 the capture failed (no signal, source gone), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register ``capture`` on ``subparsers``."""
    parser = subparsers.add_parser(
        "capture",
        help="record a capture source to fragmented MP4 and report frames, fps, drops and A/V offset",
        description="Record a capture URI (udp://, rtp://, tcp://, http://, rtsp://, /dev/video0, replay:///rec.mp4, "
        "a file...) to fragmented MP4 (H.264 + AAC) and report what arrived.",
    )
    parser.add_argument("uri", help="capture URI")
    parser.add_argument("--seconds", type=float, required=True, metavar="N", help="how long to record")
    parser.add_argument("--out", metavar="FILE", help="recording to write (.mp4); omit to only measure")
    parser.add_argument("--audio", metavar="URI", help="separate audio device, e.g. alsa://hw:1,0")
    parser.add_argument("--no-signal", type=float, default=3.0, metavar="S", help="no frames for this long is a signal loss")
    parser.add_argument("--reconnect", type=float, default=10.0, metavar="S", help="keep reconnecting this long (0: fail at once)")
    parser.add_argument("--open-timeout", type=float, default=10.0, metavar="S")
    parser.add_argument("--buffer", type=float, default=5.0, metavar="S", help="ring buffer length")
    parser.add_argument("--crf", type=int, default=23, help="x264 quality (0-51, lower is better)")
    parser.add_argument("--preset", default="ultrafast", help="x264 speed preset")
    parser.add_argument("--fragment", type=float, default=1.0, metavar="S", help="fragment length (a kill loses at most this)")
    parser.add_argument("--max-height", type=int, default=None, metavar="PX", help="scale the recording down to this height")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


class _Progress:
    """One status line on stderr: rewritten in place on a terminal, one line a second otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < (0.25 if self.tty else 1.0):
            return
        self._last = now
        if self.tty:
            sys.stderr.write("\r" + text.ljust(100)[:100])
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    """Capture (and record) ``args.uri`` for ``args.seconds``; print the summary."""
    from harness.capture.capture import Capture
    from harness.capture.recorder import Recorder, RecordingSettings
    from harness.errors import CaptureError

    if args.seconds <= 0:
        print("avqa capture: --seconds must be > 0", file=sys.stderr)
        return 2
    try:
        settings = RecordingSettings(fragment_s=args.fragment, crf=args.crf, preset=args.preset, max_height_px=args.max_height)
    except ValueError as e:
        print(f"avqa capture: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if threading.current_thread() is threading.main_thread() else None
    capture = recorder = None
    progress = _Progress()
    failure: str | None = None
    try:
        try:
            capture = Capture(args.uri, buffer_s=args.buffer, no_signal_s=args.no_signal, open_timeout_s=args.open_timeout,
                              reconnect_s=args.reconnect, audio_uri=args.audio, name=args.uri)
        except ValueError as e:
            print(f"avqa capture: {e}", file=sys.stderr)
            return 2
        capture.start()
        if args.out:
            recorder = Recorder(capture, args.out, settings).start()
        capture.wait_started(args.open_timeout)
        started = time.monotonic()
        cursor = capture.video_cursor(from_latest=False, name="avqa capture")
        try:
            while not stop.is_set():
                elapsed = time.monotonic() - started
                if elapsed >= args.seconds:
                    break
                frame = cursor.next(0.2)
                if frame is None:
                    capture.raise_if_failed()
                    if capture.ended:
                        break
                st = capture.stats()
                progress.show(f"{elapsed:6.1f}/{args.seconds:g} s  frames={st.frames} dropped={st.dropped_frames} "
                              f"missed={_missed(recorder)} {'RECONNECTING' if capture.reconnecting else ''}")
        except KeyboardInterrupt:
            pass
    except CaptureError as e:
        failure = str(e)
    finally:
        progress.done()
        summary: dict[str, Any] = {"uri": args.uri}
        rec_error = None
        if capture is not None:
            capture.close()
            if recorder is not None:
                try:
                    recorder.close()
                except CaptureError as e:
                    rec_error = str(e)
            summary |= _summary(capture, recorder)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if failure or rec_error:
        summary["error"] = failure or rec_error
    _print(summary, args.json)
    return 1 if failure or rec_error else 0


def _missed(recorder: Any) -> int:
    return recorder.stats().missed_frames if recorder is not None else 0


def _summary(capture: Any, recorder: Any) -> dict[str, Any]:
    st = capture.stats()
    frames = capture.video.head
    first = capture.video.get(capture.video.oldest, 0)[1] if frames else None
    last = capture.video.latest()
    span = (last.pts_s - first.pts_s + 1.0 / max(st.fps, 1.0)) if first is not None and last is not None else 0.0
    out: dict[str, Any] = {
        "frames": st.frames,
        "fps": round(frames / span, 3) if span > 0 and capture.video.oldest == 0 else round(st.fps, 3),
        "nominal_fps": round(st.fps, 3),
        "size": f"{st.width}x{st.height}",
        "dropped_frames": st.dropped_frames,
        "decode_errors": st.decode_errors,
        "discontinuities": st.discontinuities,
        "no_signal": st.no_signal,
        "reconnects": st.reconnects,
        "audio_chunks": st.audio_chunks,
        "av_offset_ms": None if st.av_offset_s is None else round(st.av_offset_s * 1000, 1),
        "audio_latency_ms": round(st.audio_latency_s * 1000, 1),
    }
    if recorder is not None:
        rs = recorder.stats()
        out |= {"recording": str(recorder.path), "recorded_frames": rs.frames, "recorder_missed": rs.missed_frames,
                "recorded_audio_s": round(rs.audio_s, 3), "bytes": rs.bytes}
    return out


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    for key, value in summary.items():
        print(f"{key:<18} {value}")


def main(argv: list[str] | None = None) -> int:
    """Run ``capture`` on its own (``python -m harness.commands.capture URI --seconds N``)."""
    parser = argparse.ArgumentParser(prog="avqa")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["capture", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    raise SystemExit(main())
