"""The simulator as a real process: ready line, TCP/UDP MPEG-TS, Roku ECP, serial console, signals."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import serial

from harness.sim.streamer import NULL_PACKET, TS_PACKET, TcpBroadcaster, UdpSender

ROOT = Path(__file__).resolve().parents[1]
SIM_YAML = ROOT / "devices" / "sim.yaml"
# Receiver options: small probe (a client joins at a keyframe, so SPS/PPS come first); no
# fflags=nobuffer, which would throw away the probed packets, keyframe included.
OPEN_OPTIONS = {"probesize": "65536", "analyzeduration": "200000"}

pytestmark = pytest.mark.slow


@dataclass
class Sim:
    proc: subprocess.Popen[str]
    ready: dict[str, object]

    @property
    def ecp(self) -> str:
        return "http://" + str(self.ready["control"]).removeprefix("roku://")

    def stop(self, timeout_s: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_sim(config: Path, *extra: str) -> Sim:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.sim.server", str(config), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"simulator gave no ready line; stderr:\n{err}")
    threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]  # keep the pipe drained
    return Sim(proc, json.loads(line))


def ecp(sim: Sim, method: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(sim.ecp + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class LiveVideo:
    """Decode a stream on a thread, keeping the latest picture (grey and BGR) and counts."""

    def __init__(self, url: str) -> None:
        self.container = av.open(url, options=OPEN_OPTIONS, timeout=(5.0, 5.0))
        self.lock = threading.Lock()
        self.frames = 0
        self.latest: np.ndarray | None = None
        self.latest_at_s = 0.0
        self.audio_samples = 0
        self.error: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.container.decode(video=0, audio=0):
                if self.closed:
                    break
                if isinstance(frame, av.AudioFrame):
                    with self.lock:
                        self.audio_samples += frame.samples
                    continue
                bgr = frame.to_ndarray(format="bgr24")
                with self.lock:
                    self.frames += 1
                    self.latest = bgr
                    self.latest_at_s = time.monotonic()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            if not self.closed:
                self.error = e

    def wait_for(self, predicate: Callable[[np.ndarray], bool], timeout_s: float = 5.0) -> np.ndarray:
        deadline = time.monotonic() + timeout_s
        seen = -1
        while time.monotonic() < deadline:
            with self.lock:
                frames, latest = self.frames, self.latest
            if latest is not None and frames != seen:
                seen = frames
                if predicate(latest):
                    return latest
            assert self.error is None, f"decoding failed: {self.error!r}"
            time.sleep(0.01)
        raise AssertionError(f"no matching picture within {timeout_s} s ({self.frames} frames decoded)")

    def close(self) -> None:
        self.closed = True
        self.thread.join(timeout=6.0)  # the decoder stops at its next frame; closing under it would crash
        if not self.thread.is_alive():
            self.container.close()


class Console:
    """Collect lines from the sim's pty with pyserial."""

    def __init__(self, path: str) -> None:
        self.port = serial.serial_for_url(path, baudrate=115200, timeout=0.1)
        self.lines: list[str] = []
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending = b""
        while not self.closed:
            try:
                pending += self.port.read(4096)
            except (serial.SerialException, OSError, TypeError):
                return
            *complete, pending = pending.split(b"\n")
            self.lines.extend(raw.decode().rstrip("\r") for raw in complete)

    def wait_for(self, pattern: str, timeout_s: float = 5.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no console line matching {pattern!r} within {timeout_s} s; got {self.lines[-10:]}")

    def close(self) -> None:
        self.closed = True
        self.thread.join(timeout=1)
        self.port.close()


def header_score(picture: np.ndarray, screen: str) -> float:
    template = cv2.imread(str(ROOT / "devices" / "sim" / f"{screen}.png"))
    return float(cv2.matchTemplate(picture[:96], template, cv2.TM_CCOEFF_NORMED).max())


def on_screen(screen: str) -> Callable[[np.ndarray], bool]:
    return lambda picture: header_score(picture, screen) >= 0.9


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    running = start_sim(SIM_YAML)
    yield running
    running.stop()


def test_ready_line(sim: Sim) -> None:
    ready = sim.ready
    assert ready["event"] == "ready"
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", str(ready["video"]))
    assert re.fullmatch(r"roku://127\.0\.0\.1:\d+", str(ready["control"]))
    assert str(ready["console"]).startswith("/dev/")
    assert ready["build"] == "sim-2026.11.0"
    assert ready["pid"] == sim.proc.pid
    assert (ready["width"], ready["height"], ready["fps"]) == (1280, 720, 30)


def test_tcp_stream_decodes_video_and_audio(sim: Sim) -> None:
    with av.open(str(sim.ready["video"]), options=OPEN_OPTIONS, timeout=(5.0, 5.0)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert audio.codec_context.sample_rate == 48000 and audio.codec_context.channels == 2
        frames: list[av.VideoFrame] = []
        samples = 0
        began = time.monotonic()
        for frame in container.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                frames.append(frame)
            else:
                samples += frame.samples
            if len(frames) >= 60:
                break
        elapsed = time.monotonic() - began
    assert (frames[0].width, frames[0].height) == (1280, 720)
    assert frames[0].key_frame  # a client joins at a keyframe
    steps = set(np.diff([f.pts for f in frames]))
    assert steps == {3000}  # 90 kHz ticks: exactly 30 fps, no gaps
    assert 1.3 < elapsed < 3.5  # real-time pacing (a little burst from the probe buffer)
    assert samples > 1.5 * 48000


def test_two_clients_at_once(sim: Sim) -> None:
    views = [LiveVideo(str(sim.ready["video"])) for _ in range(2)]
    try:
        for view in views:
            view.wait_for(lambda picture: True, timeout_s=5.0)
        time.sleep(1.0)
        assert all(view.frames >= 20 and view.audio_samples > 0 for view in views)
    finally:
        for view in views:
            view.close()


def test_ecp_queries(sim: Sim) -> None:
    status, body = ecp(sim, "GET", "/query/device-info")
    assert status == 200
    info = {child.tag: child.text for child in ET.fromstring(body)}
    assert info["software-version"] == "sim-2026.11.0"
    assert info["model-name"] == "avqa SimTV 720p"
    assert info["power-mode"] == "PowerOn"
    status, body = ecp(sim, "GET", "/query/active-app")
    assert status == 200 and ET.fromstring(body).find("app") is not None
    assert ecp(sim, "POST", "/keypress/Teleport")[0] == 400
    assert ecp(sim, "GET", "/no/such/thing")[0] == 404
    assert ecp(sim, "POST", "/keyup/Home") == (200, b"")


def test_keys_drive_the_picture_and_the_console(sim: Sim) -> None:
    console = Console(str(sim.ready["console"]))
    view = LiveVideo(str(sim.ready["video"]))
    try:
        assert ecp(sim, "POST", "/keypress/Home") == (200, b"")
        home = view.wait_for(on_screen("home"), timeout_s=6.0)
        console.wait_for(r"^input: key HOME$")
        assert ecp(sim, "POST", "/keypress/Right") == (200, b"")
        view.wait_for(lambda picture: np.abs(picture.astype(np.int16) - home).mean() > 1.0)
        console.wait_for(r"^input: key RIGHT$")
        ecp(sim, "POST", "/keypress/Select")
        details = view.wait_for(on_screen("details"))
        console.wait_for(r"^details: City Lights$")
        assert header_score(details, "home") < 0.8
        ecp(sim, "POST", "/keypress/Select")
        console.wait_for(r"^player: start City Lights$")
        view.wait_for(lambda picture: header_score(picture, "details") < 0.5 and picture.mean() > 60)
        ecp(sim, "POST", "/keypress/Info")  # MENU / INFO: nothing in the player
        ecp(sim, "POST", "/keypress/Back")
        view.wait_for(on_screen("details"))
        console.wait_for(r"^player: stop$")
        ecp(sim, "POST", "/keypress/Info")
        view.wait_for(on_screen("settings"))
        ecp(sim, "POST", "/keypress/Home")
        view.wait_for(on_screen("home"))
        console.port.write(b"version\n")
        console.wait_for(r"^build: sim-2026\.11\.0$")
        console.port.write(b"uptime\r")
        console.wait_for(r"^up \d+\.\d+ s")
        console.port.write(b"frobnicate\n")
        console.wait_for(r"^sh: frobnicate: not found$")
    finally:
        view.close()
        console.close()


def test_power_off_and_on_over_ecp(sim: Sim) -> None:
    console = Console(str(sim.ready["console"]))
    view = LiveVideo(str(sim.ready["video"]))
    try:
        ecp(sim, "POST", "/keypress/Power")
        view.wait_for(lambda picture: picture.max() < 20)  # standby: black
        console.wait_for(r"^power: standby$")
        info = {child.tag: child.text for child in ET.fromstring(ecp(sim, "GET", "/query/device-info")[1])}
        assert info["power-mode"] == "DisplayOff"
        ecp(sim, "POST", "/keypress/Power")
        console.wait_for(r"avqa-sim build: sim-2026\.11\.0")
        view.wait_for(on_screen("home"), timeout_s=6.0)
        console.wait_for(r"^home: ready$")
    finally:
        view.close()
        console.close()


def test_udp_transport_and_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "sim-udp.yaml"
    config.write_text(
        SIM_YAML.read_text().replace("transport: tcp", "transport: udp").replace("fps: 30", "fps: 60"), encoding="utf-8"
    )
    sim = start_sim(config)
    try:
        url = str(sim.ready["video"])
        assert re.fullmatch(r"udp://127\.0\.0\.1:\d+", url)
        assert sim.ready["fps"] == 60
        with av.open(url, options=OPEN_OPTIONS, timeout=(5.0, 5.0)) as container:
            pts = []
            samples = 0
            for frame in container.decode(video=0, audio=0):
                if isinstance(frame, av.VideoFrame):
                    assert (frame.width, frame.height) == (1280, 720)
                    pts.append(frame.pts)
                else:
                    samples += frame.samples
                if len(pts) >= 60:
                    break
        assert set(np.diff(pts)) == {1500}  # 60 fps in 90 kHz ticks
        assert samples > 0
        began = time.monotonic()
        assert sim.stop(timeout_s=5.0) == 0
        assert time.monotonic() - began < 2.0
    finally:
        if sim.proc.poll() is None:
            sim.proc.kill()


def test_stop_after_exits_zero() -> None:
    began = time.monotonic()
    sim = start_sim(SIM_YAML, "--stop-after", "0.5")
    assert sim.proc.wait(timeout=10) == 0
    assert time.monotonic() - began < 8


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such device file"), ("simulator:\n  fps: 25\n", "simulator.fps")],
)
def test_bad_config_exits_2(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "broken.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "harness.sim.server", str(path)], check=False, cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr and str(path) in result.stderr


SIM_MODULES = ("__init__", "app", "audio", "render", "streamer", "ecp_server", "console", "server", "snapshots")


def test_sim_does_not_import_capture_session_or_plugin() -> None:
    import ast

    for name in SIM_MODULES:
        path = ROOT / "harness" / "sim" / f"{name}.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                assert not module.startswith(("harness.capture", "harness.session", "harness.plugin")), (
                    f"{path}: imports {module}"
                )


def ts_packets(count: int, pid: int = 0x100, pusi: bool = False) -> bytes:
    header = bytes([0x47, (0x40 if pusi else 0) | (pid >> 8), pid & 0xFF, 0x10])
    return (header + b"\xaa" * (TS_PACKET - 4)) * count


def test_tcp_clients_join_at_a_pat_and_a_stalled_client_is_dropped() -> None:
    broadcaster = TcpBroadcaster(max_queued_chunks=4, send_buffer_bytes=4096)
    received = bytearray()
    try:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", broadcaster.port))
        good = socket.create_connection(("127.0.0.1", broadcaster.port))
        deadline = time.monotonic() + 3
        while broadcaster.client_count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

        def read() -> None:
            while chunk := good.recv(65536):
                received.extend(chunk)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        broadcaster.send(ts_packets(5))  # no PAT yet: nobody gets it
        joined = ts_packets(3) + ts_packets(1, pid=0, pusi=True) + ts_packets(2)
        broadcaster.send(joined)
        worst_s = 0.0
        for _ in range(200):
            began = time.monotonic()
            broadcaster.send(ts_packets(100))
            worst_s = max(worst_s, time.monotonic() - began)
            time.sleep(0.002)
            if broadcaster.dropped_clients:
                break
        assert broadcaster.dropped_clients == 1
        assert worst_s < 0.05  # sending never waits for a client
        assert broadcaster.client_count == 1
        time.sleep(0.3)
        assert received[:TS_PACKET] == ts_packets(1, pid=0, pusi=True)
        assert len(received) % TS_PACKET == 0
    finally:
        broadcaster.close()
        stalled.close()
        good.close()


def test_udp_sender_pads_datagrams_and_ignores_missing_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(2)
        sender = UdpSender("127.0.0.1", listener.getsockname()[1])
        sender.send(ts_packets(9))
        first, second = listener.recv(4096), listener.recv(4096)
        assert len(first) == len(second) == 7 * TS_PACKET
        assert second[2 * TS_PACKET : 3 * TS_PACKET] == NULL_PACKET
        sender.close()
    nobody = UdpSender()  # a free port nobody listens on
    for _ in range(3):
        nobody.send(ts_packets(7))
    nobody.close()
