"""Network streams and files through PyAV/FFmpeg: udp, rtp, srt, rtsp, http(s), tcp, files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from detectors.media import AudioChunk, Frame
from harness.capture.source import SourceStats
from harness.errors import CaptureError, NoSignalError

log = logging.getLogger(__name__)

_PTS_WRAP_S = (1 << 33) / 90000.0  # MPEG-TS presentation times wrap after 2^33 ticks of 90 kHz

# Demuxer options for live streams: start decoding quickly (an encoder sends a keyframe at
# least every couple of seconds). Not fflags=nobuffer: it throws away the packets read while
# probing, that is every frame of the first second.
_LIVE_OPTIONS = {
    "probesize": "2000000",
    "analyzeduration": "2500000",
}
_UDP_OPTIONS = {"buffer_size": str(8 << 20), "fifo_size": str(1 << 20), "overrun_nonfatal": "1"}


def _strip_file_scheme(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


class PyAVSource:
    """Decode one stream (video plus its muxed audio) with FFmpeg on the calling thread.

    Presentation times come from the stream's pts, unwrapped across the 33-bit MPEG-TS wrap,
    and rebased so that the first video frame is at 0 s; audio shares that clock.
    """

    def __init__(self, uri: str, *, open_timeout_s: float = 10.0, read_timeout_s: float = 3.0, audio: bool = True) -> None:
        import av  # imported here: nothing heavy at import time

        self.uri = uri
        self.stats = SourceStats()
        self._closed = False
        self._iterating = False
        self._released = False
        url = _strip_file_scheme(uri)
        self.live = "://" in url
        options: dict[str, str] = dict(_LIVE_OPTIONS) if self.live else {}
        if url.startswith("udp://"):
            options.update(_UDP_OPTIONS)
        try:
            self._container: Any = av.open(url, options=options, timeout=(open_timeout_s, read_timeout_s))
        except av.error.ExitError as e:
            raise NoSignalError(f"{uri}: no stream within {open_timeout_s:g} s") from e
        except (av.error.FFmpegError, OSError) as e:
            raise CaptureError(f"{uri}: cannot open capture source: {e}") from e
        if not self._container.streams.video:
            self._container.close()
            raise CaptureError(f"{uri}: no video stream (streams: {[s.type for s in self._container.streams]})")
        self._video = self._container.streams.video[0]
        self._video.thread_type = "AUTO"
        self._audio = self._container.streams.audio[0] if audio and self._container.streams.audio else None
        self.read_timeout_s = read_timeout_s
        rate = self._video.average_rate or self._video.guessed_rate or self._video.base_rate
        self.fps = float(rate) if rate else 30.0
        self.width = self._video.codec_context.width
        self.height = self._video.codec_context.height
        self.has_audio = self._audio is not None
        self._origin_s: float | None = None
        self._last_raw = {id(self._video): None} | ({id(self._audio): None} if self._audio else {})
        self._wraps = dict.fromkeys(self._last_raw, 0)
        self._last_video_s: float | None = None  # on the spliced clock
        self._shift_s = 0.0  # added to stream times after a discontinuity to keep the clock monotonic
        log.info("opened %s: %dx%d @ %.3f fps, audio %s", uri, self.width, self.height, self.fps, bool(self._audio))

    def _seconds(self, stream: Any, frame: Any) -> float | None:
        """Unwrapped presentation time of ``frame`` in seconds on the stream's own clock."""
        if frame.pts is None:
            return None
        raw = float(frame.pts * stream.time_base)
        key = id(stream)
        last = self._last_raw[key]
        if last is not None and raw < last - _PTS_WRAP_S / 2:
            self._wraps[key] += 1
        self._last_raw[key] = raw
        return raw + self._wraps[key] * _PTS_WRAP_S

    def items(self) -> Iterator[Frame | AudioChunk]:
        import av

        from detectors.decode import chunk_from_av, frame_from_av

        self._iterating = True
        try:
            yield from self._decode(av, frame_from_av, chunk_from_av)
        finally:
            self._iterating = False
            self._release()

    def _decode(self, av: Any, frame_from_av: Any, chunk_from_av: Any) -> Iterator[Frame | AudioChunk]:
        streams = [s for s in (self._video, self._audio) if s is not None]
        pending_audio: list[tuple[float, Any]] = []
        index = 0
        try:
            for packet in self._container.demux(*streams):
                if self._closed:
                    return
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    self.stats.decode_errors += 1
                    continue
                for frame in decoded:
                    stream_s = self._seconds(packet.stream, frame)
                    if packet.stream is self._video:
                        if stream_s is None:  # no pts: keep the nominal cadence
                            stream_s = (self._last_video_s or 0.0) + 1.0 / self.fps - self._shift_s
                        if self._origin_s is None:
                            self._origin_s = stream_s
                        stream_s = self._continuous(stream_s + self._shift_s)
                        yield frame_from_av(frame, index, stream_s - self._origin_s)
                        index += 1
                        self.stats.frames += 1
                        for audio_s, audio_frame in pending_audio:
                            yield from self._audio_chunk(audio_s, audio_frame, chunk_from_av)
                        pending_audio.clear()
                    elif stream_s is not None:
                        if self._origin_s is None:
                            if len(pending_audio) < 500:
                                pending_audio.append((stream_s, frame))
                            continue
                        yield from self._audio_chunk(stream_s, frame, chunk_from_av)
        except av.error.ExitError as e:
            if self._closed:
                return
            raise NoSignalError(f"{self.uri}: no data for {self.read_timeout_s:g} s") from e
        except (av.error.FFmpegError, OSError) as e:
            if self._closed:
                return
            raise CaptureError(f"{self.uri}: stream failed: {e}") from e

    def _audio_chunk(self, stream_s: float, frame: Any, convert: Any) -> Iterator[AudioChunk]:
        assert self._origin_s is not None
        pts_s = stream_s + self._shift_s - self._origin_s
        if pts_s + frame.samples / frame.sample_rate <= 0:
            return  # entirely before the first picture
        self.stats.audio_chunks += 1
        yield convert(frame, pts_s, round(pts_s * frame.sample_rate))

    def _continuous(self, stream_s: float) -> float:
        """Count dropped frames from gaps; splice over discontinuities so the clock stays monotonic."""
        last = self._last_video_s
        if last is not None:
            step = (stream_s - last) * self.fps
            if step < 0.5 or step > 10 * self.fps:  # backwards, repeated or a jump of > 10 s
                self.stats.discontinuities += 1
                spliced = last + 1.0 / self.fps
                self._shift_s += spliced - stream_s
                if self.stats.discontinuities <= 10 or self.stats.discontinuities % 100 == 0:
                    log.warning("%s: timestamp discontinuity %.3f s -> %.3f s (#%d), clock continues at %.3f s",
                                self.uri, last, stream_s, self.stats.discontinuities, spliced)
                stream_s = spliced
            elif step > 1.5:
                self.stats.dropped_frames += round(step) - 1
        self._last_video_s = stream_s
        return stream_s

    def close(self) -> None:
        """Stop delivering; the decoding thread releases FFmpeg's context itself (never freed under it)."""
        self._closed = True
        if not self._iterating:
            self._release()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - closing a dead stream may fail; nothing to keep
            log.debug("closing %s failed", self.uri, exc_info=True)
