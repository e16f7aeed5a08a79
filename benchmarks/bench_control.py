"""Control benchmark: per-press overhead of each backend against its local fake, and press-to-first-change
latency on the simulated device through ECP, LIRC and iTach.

    python benchmarks/bench_control.py [--presses 200] [--sim-presses 10] [--no-sim]

Overhead is the time ``backend.press`` takes against a loopback fake that answers at once (so it
measures the protocol and our code, not the device): median and p99 in milliseconds. The iTach
row also shows the real signal time (the fake waits for the NEC frame to "play", as an iTach
does before ``completeir``). Press-to-first-change is measured on the capture clock: from the
moment the key was sent to the first captured frame that differs from the one shown before.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.control.ir import format_pronto, nec_code
from harness.control.keys import Key


def summarise(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def time_presses(press: Callable[[], None], count: int) -> list[float]:
    press()  # warm up (connections, first reply)
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        press()
        samples.append(time.perf_counter() - start)
    return samples


def bench_backends(count: int) -> list[tuple[str, str, float, float]]:
    from harness.control.adb import AdbRemote
    from harness.control.cec import CecRemote
    from harness.control.irserial import IrToyRemote
    from harness.control.itach import ITachRemote
    from harness.control.lirc import LircRemote
    from harness.control.power import TasmotaPower
    from harness.control.roku_ecp import RokuECPRemote
    from harness.sim.ecp_server import DeviceInfo, EcpServer
    from tests.fakes.adb_server import FakeAdbServer
    from tests.fakes.irtoy import FakeIrToy
    from tests.fakes.itach import FakeITach
    from tests.fakes.lircd import FakeLircd
    from tests.fakes.tasmota import FakeTasmota

    rows: list[tuple[str, str, float, float]] = []

    def add(name: str, fake: str, samples: list[float]) -> None:
        median, p99 = summarise(samples)
        rows.append((name, fake, median, p99))
        print(f"  {name:<14} {median:8.3f} {p99:8.3f}  ({fake})", file=sys.stderr)

    info = DeviceInfo("bench", "bench", "1", True, 0.0, "1280x720")
    ecp = EcpServer(lambda item: None, lambda: info)
    ecp.start()
    roku = RokuECPRemote(ecp.url)
    add("roku-ecp", "harness.sim.ecp_server (HTTP/1.1 keep-alive)", time_presses(lambda: roku.press("Select"), count))
    roku.close()
    ecp.close()

    lircd = FakeLircd(remote="tv")
    lircd.start()
    for label, uri in (("lirc (unix)", lircd.url), ("lirc (tcp)", lircd.tcp_url)):
        lirc = LircRemote(uri)
        add(label, "tests.fakes.lircd", time_presses(lambda lirc=lirc: lirc.press("KEY_OK"), count))
        lirc.close()
    lircd.close()

    for play, label in ((False, "itach"), (True, "itach+signal")):
        itach = FakeITach(play_signals=play)
        itach.start()
        remote = ITachRemote(itach.url)
        n = count if not play else max(10, count // 10)
        add(label, "tests.fakes.itach" + (" (waits for the 108 ms NEC frame)" if play else ""), time_presses(lambda remote=remote: remote.press("KEY_OK"), n))
        remote.close()
        itach.close()

    toy = FakeIrToy()
    with tempfile.TemporaryDirectory() as tmp:
        codes = Path(tmp) / "tv.codes"
        codes.write_text(f"KEY_OK: {format_pronto(nec_code(4, 0x44))}\n")
        blaster = IrToyRemote(f"irserial:{toy.path}?codes={codes}")
        add("irserial", "tests.fakes.irtoy (pty, 62-byte handshake)", time_presses(lambda: blaster.press("KEY_OK"), count))
        blaster.close()
    toy.close()

    cec = CecRemote(f"cec:?client={REPO / 'tests' / 'fakes' / 'cec-client'}")
    add("cec", "tests/fakes/cec-client (press = 2 frames)", time_presses(lambda: cec.press("00"), count))
    cec.close()

    adb_server = FakeAdbServer()
    adb = AdbRemote(f"adb://SERIAL123?server={adb_server.server}")
    add("adb", "tests.fakes.adb_server (new connection per key)", time_presses(lambda: adb.press("KEYCODE_DPAD_CENTER"), count))
    adb.close()
    adb_server.close()

    plug = FakeTasmota()
    power = TasmotaPower(plug.uri())
    add("tasmota power", "tests.fakes.tasmota (HTTP per command)", time_presses(power.power_on, max(10, count // 4)))
    plug.close()
    return rows


def bench_simulator(device: str, presses: int) -> tuple[list[float], list[float]]:
    """(press ack times, press-to-first-change times) in seconds on ``devices/<device>.yaml``."""
    from detectors.media import Frame
    from harness.av import AVView
    from harness.config import resolve_device
    from harness.session import DeviceSession
    from harness.waits import change_score, wait_for

    session = DeviceSession.open(resolve_device(device, REPO / "devices"))
    try:
        assert session.remote is not None
        av = AVView(session)
        remote = session.remote
        remote.key_delay_s = 0.0
        remote.press(Key.HOME)
        av.wait_for_screen("home", timeout_s=10)
        acks, changes = [], []
        for i in range(presses):
            time.sleep(0.3)  # let the screen settle
            before = av.screenshot()

            def changed(since_s: float, timeout_s: float, before: Frame = before) -> float | None:
                t0 = av.capture.to_capture_time(since_s)
                result = wait_for(av.frames(since_s=t0), change_score(before), timeout_s=timeout_s, what="change")
                return since_s + (result.at_s - t0)

            result = remote.press_and_wait(Key.RIGHT if i % 2 == 0 else Key.LEFT, changed=changed, timeout_s=3.0)
            acks.append(result.press.took_s)
            if result.first_change_s is not None:
                changes.append(result.first_change_s)
        return acks, changes
    finally:
        session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200, help="presses per backend against its fake")
    parser.add_argument("--sim-presses", type=int, default=10, help="presses per simulated device")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulator latency part")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    print("per-press overhead against local fakes (ms):", file=sys.stderr)
    rows = bench_backends(args.presses)
    print("\n| backend | fake | median ms | p99 ms |\n|---|---|---:|---:|")
    for name, fake, median, p99 in rows:
        print(f"| {name} | {fake} | {median:.3f} | {p99:.3f} |")
    if args.no_sim:
        return 0
    print("\n| simulator channel | presses | ack median ms | first change median ms | first change p99 ms |\n|---|---:|---:|---:|---:|")
    for device in ("sim", "sim-lirc", "sim-itach"):
        acks, changes = bench_simulator(device, args.sim_presses)
        ack_median, _ = summarise(acks)
        if changes:
            median, p99 = summarise(changes)
            print(f"| {device} | {len(changes)}/{len(acks)} | {ack_median:.1f} | {median:.1f} | {p99:.1f} |", flush=True)
        else:
            print(f"| {device} | 0/{len(acks)} | {ack_median:.1f} | - | - |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
