"""Network streams and files through PyAV/FFmpeg: udp, rtp, srt, rtsp, http(s), tcp, files.

``rtp://host:port`` is MPEG-TS over RTP (payload type 33, what HDMI-to-IP encoders send): it is
opened through a generated SDP, so that the first packets are not lost while FFmpeg guesses
the payload type (opening ``rtp://`` directly re-binds the port and loses up to a GOP). Any
other RTP payload needs the encoder's SDP: pass the ``.sdp`` file as the URI. FFmpeg's own URL
options (``udp://...?fifo_size=``, ``srt://...?latency=``) pass through unchanged; SRT needs an
FFmpeg built with libsrt (the PyAV wheel is not).
"""

from __future__ import annotations

import io
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


_SDP_OPTIONS = {"protocol_whitelist": "file,udp,rtp,crypto,data"}
_RATE_VOTE_FRAMES = 8  # consecutive frames at another steady interval -> the frame rate changed


def _strip_file_scheme(uri: str) -> str:
    return uri.removeprefix("file://")


def _rtp_sdp(uri: str) -> bytes:
    """An SDP that describes MPEG-TS over RTP arriving at ``rtp://host:port``."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.port is None or parts.hostname is None:
        raise ValueError(f"{uri}: expected rtp://HOST:PORT (MPEG-TS over RTP), or the path of the encoder's .sdp file")
    host = parts.hostname
    lines = [
        "v=0",
        f"o=- 0 0 IN IP4 {host}",
        "s=avqa capture",
        f"c=IN IP4 {host}" + ("/32" if host.split(".")[0].isdigit() and 224 <= int(host.split(".")[0]) <= 239 else ""),
        "t=0 0",
        f"m=video {parts.port} RTP/AVP 33",
        "a=rtpmap:33 MP2T/90000",
        "",
    ]
    return "\r\n".join(lines).encode()


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
        target: Any = url
        fmt: str | None = None
        if url.startswith("udp://"):
            options.update(_UDP_OPTIONS)
        elif url.startswith("rtp://"):
            try:
                target, fmt = io.BytesIO(_rtp_sdp(url)), "sdp"
            except ValueError as e:
                raise CaptureError(str(e)) from e
            options.update(_SDP_OPTIONS)
        elif url.lower().endswith(".sdp"):
            self.live, fmt = True, "sdp"
            options.update(_LIVE_OPTIONS | _SDP_OPTIONS)
        try:
            self._container: Any = av.open(target, format=fmt, options=options, timeout=(open_timeout_s, read_timeout_s))
        except av.error.ExitError as e:
            raise NoSignalError(f"{uri}: no stream within {open_timeout_s:g} s") from e
        except av.error.ProtocolNotFoundError as e:
            if url.startswith("srt://"):  # FFmpeg's "Protocol not found" would not say what is missing
                raise CaptureError(
                    f"{uri}: this FFmpeg build has no SRT support (PyAV wheel without libsrt); "
                    "install PyAV built against an FFmpeg with libsrt, or have the encoder send udp://, rtp:// or rtsp://"
                ) from e
            raise CaptureError(f"{uri}: cannot open capture source: {e}") from e
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
        self.flushing = False  # True while the decoders hand over what they held when the stream stopped
        self._odd_intervals: list[float] = []  # consecutive intervals that do not fit the frame rate
        self._tentative_drops = 0  # drops counted during that run (taken back if the rate changed)
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
        self._pending_audio: list[tuple[float, Any]] = []
        self._index = 0
        try:
            for packet in self._container.demux(*streams):
                if self._closed:
                    return
                if packet.size == 0:  # the demuxer's end-of-stream flush packets
                    self.flushing = True
                try:
                    decoded = packet.decode()
                except av.error.InvalidDataError:
                    self.stats.decode_errors += 1
                    continue
                for frame in decoded:
                    yield from self._deliver(packet.stream, frame, frame_from_av, chunk_from_av)
        except av.error.ExitError as e:
            if self._closed:
                return
            # The signal stopped: what the decoders still hold are real frames, deliver them first.
            yield from self._flush(av, frame_from_av, chunk_from_av)
            raise NoSignalError(f"{self.uri}: no data for {self.read_timeout_s:g} s") from e
        except (av.error.FFmpegError, OSError) as e:
            if self._closed:
                return
            yield from self._flush(av, frame_from_av, chunk_from_av)
            raise CaptureError(f"{self.uri}: stream failed: {e}") from e

    def _flush(self, av: Any, frame_from_av: Any, chunk_from_av: Any) -> Iterator[Frame | AudioChunk]:
        self.flushing = True  # these frames come out early: their arrival says nothing about the stream's clock
        for stream in (self._video, self._audio):
            if stream is None:
                continue
            try:
                frames = stream.codec_context.decode(None)
            except (av.error.FFmpegError, ValueError):
                continue
            for frame in frames:
                yield from self._deliver(stream, frame, frame_from_av, chunk_from_av)

    def _deliver(self, stream: Any, frame: Any, frame_from_av: Any, chunk_from_av: Any) -> Iterator[Frame | AudioChunk]:
        stream_s = self._seconds(stream, frame)
        if stream is self._video:
            if stream_s is None:  # no pts: keep the nominal cadence
                stream_s = (self._last_video_s or 0.0) + 1.0 / self.fps - self._shift_s
            if self._origin_s is None:
                self._origin_s = stream_s
            stream_s = self._continuous(stream_s + self._shift_s)
            yield frame_from_av(frame, self._index, stream_s - self._origin_s)
            self._index += 1
            self.stats.frames += 1
            for audio_s, audio_frame in self._pending_audio:
                yield from self._audio_chunk(audio_s, audio_frame, chunk_from_av)
            self._pending_audio.clear()
        elif stream_s is not None:
            if self._origin_s is None:
                if len(self._pending_audio) < 500:
                    self._pending_audio.append((stream_s, frame))
                return
            yield from self._audio_chunk(stream_s, frame, chunk_from_av)

    def _audio_chunk(self, stream_s: float, frame: Any, convert: Any) -> Iterator[AudioChunk]:
        assert self._origin_s is not None
        pts_s = stream_s + self._shift_s - self._origin_s
        if pts_s + frame.samples / frame.sample_rate <= 0:
            return  # entirely before the first picture
        self.stats.audio_chunks += 1
        yield convert(frame, pts_s, round(pts_s * frame.sample_rate))

    def _continuous(self, stream_s: float) -> float:
        """Count dropped frames from gaps; splice over discontinuities so the clock stays monotonic.

        A run of frames at another steady interval is a frame-rate change: ``fps`` follows it
        and the drops counted during the run are taken back.
        """
        last = self._last_video_s
        if last is not None:
            interval = stream_s - last
            if interval <= 1e-4 or interval > 10.0:  # backwards, repeated or a jump of > 10 s
                self.stats.discontinuities += 1
                spliced = last + 1.0 / self.fps
                self._shift_s += spliced - stream_s
                if self.stats.discontinuities <= 10 or self.stats.discontinuities % 100 == 0:
                    log.warning("%s: timestamp discontinuity %.3f s -> %.3f s (#%d), clock continues at %.3f s",
                                self.uri, last, stream_s, self.stats.discontinuities, spliced)
                stream_s = spliced
                self._odd_intervals.clear()
            else:
                self._count_interval(interval)
        self._last_video_s = stream_s
        return stream_s

    def _count_interval(self, interval: float) -> None:
        step = interval * self.fps
        if abs(step - 1.0) < 0.25:
            self._odd_intervals.clear()
            self._tentative_drops = 0
            return
        if step > 1.5:
            missing = round(step) - 1
            self.stats.dropped_frames += missing
            self._tentative_drops += missing
        odd = self._odd_intervals
        if odd and abs(interval - odd[0]) > 0.1 * odd[0]:
            odd.clear()
            self._tentative_drops = max(0, round(step) - 1) if step > 1.5 else 0
        odd.append(interval)
        if len(odd) >= _RATE_VOTE_FRAMES:
            new_fps = 1.0 / (sum(odd) / len(odd))
            log.warning("%s: frame rate changed from %.3f to %.3f fps", self.uri, self.fps, new_fps)
            self.stats.dropped_frames -= self._tentative_drops
            self.fps = new_fps
            odd.clear()
            self._tentative_drops = 0

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
        except Exception:
            log.debug("closing %s failed", self.uri, exc_info=True)
