"""Evidence clips cut from a recording without decoding it: seek to a keyframe, copy packets.

A clip starts at the keyframe at or before the requested start (at most one fragment,
``RecordingSettings.fragment_s``, early) and ends at the requested end; it is a regular MP4
(``faststart``) that browsers play. Times are on the capture clock: the recording's
``avqa_origin_s`` metadata maps them to file times.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capture.recorder import ORIGIN_KEY
from harness.errors import CaptureError

log = logging.getLogger(__name__)

_AUDIO_PREROLL = 2  # AAC packets before the keyframe kept, so that the sound at the keyframe decodes right
_AUDIO_PREROLL_S = 0.1


def _mux_shifted(dst: Any, packet: Any, stream: Any, base_s: float) -> None:
    shift = round(base_s / packet.time_base)
    packet.pts -= shift
    packet.dts -= shift
    packet.stream = stream
    dst.mux(packet)


@dataclass(frozen=True)
class Clip:
    """A cut clip: its file, the capture-clock span it covers and its number of pictures."""

    path: Path
    start_s: float
    end_s: float
    frames: int


def recording_origin_s(container: Any) -> float:
    """Capture time of a recording's first picture (0 when the file has no avqa metadata)."""
    try:
        return float(container.metadata.get(ORIGIN_KEY, 0.0))
    except ValueError:
        return 0.0


def _first_video_s(stream: Any) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def cut_clip(
    recording: str | os.PathLike[str], start_s: float, end_s: float, out: str | os.PathLike[str]
) -> Clip:
    """Copy the pictures and sound between capture times ``start_s`` and ``end_s`` of ``recording`` to ``out``.

    Raises:
        ValueError: ``end_s`` is not after ``start_s``.
        CaptureError: the recording cannot be read, or holds nothing in that span (names the file).
    """
    import av

    if end_s <= start_s:
        raise ValueError(f"clip end {end_s} s must be after its start {start_s} s")
    src_path, out_path = Path(recording), Path(out)
    try:
        src = av.open(str(src_path))
    except (av.error.FFmpegError, OSError) as e:
        raise CaptureError(f"{src_path}: cannot open recording: {e}") from e
    try:
        if not src.streams.video:
            raise CaptureError(f"{src_path}: recording has no video")
        video = src.streams.video[0]
        audio = src.streams.audio[0] if src.streams.audio else None
        origin = recording_origin_s(src)
        zero = _first_video_s(video)  # file time of the first picture (muxers may shift it a little)
        file_start, file_end = start_s - origin + zero, end_s - origin + zero
        src.seek(max(0, int(file_start / video.time_base)), stream=video, backward=True, any_frame=False)
        return _copy(src, video, audio, file_start, file_end, out_path, origin - zero, src_path)
    except av.error.FFmpegError as e:
        raise CaptureError(f"{src_path}: cannot cut {start_s:.3f}-{end_s:.3f} s: {e}") from e
    finally:
        src.close()


def _copy(src: Any, video: Any, audio: Any, file_start: float, file_end: float, out_path: Path, to_capture: float,
          src_path: Path) -> Clip:
    import av

    out_path.parent.mkdir(parents=True, exist_ok=True)
    dst = av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"})
    try:
        out_video = dst.add_stream_from_template(video)
        out_audio = dst.add_stream_from_template(audio) if audio is not None else None
        key_s: float | None = None
        base_s = 0.0  # file time of the clip's time 0: the keyframe, or the audio pre-roll just before it
        frames = 0
        last_video_s = -1.0
        held_audio: list[Any] = []  # the last audio packets before the keyframe (the AAC decoder's pre-roll)
        done = {video.index: False} | ({audio.index: False} if audio is not None else {})
        for packet in src.demux(*(s for s in (video, audio) if s is not None)):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            is_video = packet.stream is video
            if key_s is None:
                if not is_video:
                    held_audio = [*held_audio[-(_AUDIO_PREROLL - 1):], packet] if t < file_end else held_audio
                    continue
                if not packet.is_keyframe:
                    continue
                key_s = t
                pre = [p for p in held_audio if float(p.pts * p.time_base) > key_s - _AUDIO_PREROLL_S]
                base_s = min([key_s, *(float(p.pts * p.time_base) for p in pre)])
                dst.metadata[ORIGIN_KEY] = repr(base_s + to_capture)
                for p in pre:
                    _mux_shifted(dst, p, out_audio, base_s)
            if t >= file_end:
                done[packet.stream.index] = True
                if all(done.values()):
                    break
                continue
            if not is_video and t < base_s:
                continue
            _mux_shifted(dst, packet, out_video if is_video else out_audio, base_s)
            if is_video:
                frames += 1
                last_video_s = t
    finally:
        dst.close()
    fps = float(video.average_rate or video.guessed_rate or 30)
    if key_s is None or frames == 0 or last_video_s < file_start - 0.5 / fps:
        out_path.unlink(missing_ok=True)
        raise CaptureError(f"{src_path}: no pictures between {file_start + to_capture:.3f} and {file_end + to_capture:.3f} s")
    return Clip(out_path, base_s + to_capture, min(file_end, last_video_s + 1 / fps) + to_capture, frames)
