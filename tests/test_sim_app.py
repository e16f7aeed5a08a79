"""The simulated app without I/O: state machine, faults, pictures, sound, header crops, encoder."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from harness.config import FaultConfig, SimulatorConfig
from harness.control.keys import Key
from harness.sim.app import HOME_SETTINGS, PowerCommand, Screen, SimApp, TextInput, Tick, View
from harness.sim.audio import SAMPLE_RATE_HZ, AudioSynth, rms_dbfs
from harness.sim.ecp_server import DeviceInfo, parse_ecp_key
from harness.sim.render import Renderer, header_region, timecode
from harness.sim.streamer import TS_PACKET, TsEncoder, find_pat

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = ROOT / "devices" / "sim"
FPS = 30
SPF = SAMPLE_RATE_HZ // FPS


def make_app(**overrides: object) -> SimApp:
    settings: dict[str, object] = {"boot_black_s": 0.5, "boot_logo_s": 1.0, "captions": True}
    settings.update(overrides)
    return SimApp(SimulatorConfig.model_validate(settings), model="test TV")


def run(app: SimApp, frames: int) -> list[Tick]:
    return [app.tick() for _ in range(frames)]


def boot_to_home(app: SimApp) -> None:
    for _ in range(10 * FPS):
        if app.tick().view.screen is Screen.HOME:
            return
    raise AssertionError("the app never reached home")


def press(app: SimApp, *keys: Key) -> Tick:
    """Press ``keys`` (one per frame); return the tick of the frame after the last one."""
    tick = None
    for key in keys:
        app.press(key)
        tick = app.tick()
    assert tick is not None
    return tick


def start_player(app: SimApp) -> Tick:
    boot_to_home(app)
    press(app, Key.OK)
    return press(app, Key.OK)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(1280, 720, FPS, build="sim-test")


def luma(picture: np.ndarray, height: int = 720) -> np.ndarray:
    return picture[:height].astype(np.int16)


# -- state machine ------------------------------------------------------------------------------


def test_boot_goes_black_then_logo_then_home_at_exact_frames() -> None:
    app = make_app()
    ticks = run(app, 60)
    screens = [t.view.screen for t in ticks]
    assert screens[:15] == [Screen.BOOT_BLACK] * 15
    assert screens[15:45] == [Screen.BOOT_LOGO] * 30
    assert screens[45:] == [Screen.HOME] * 15
    log = [line for t in ticks for line in t.log]
    assert any("Booting avqa-sim" in line for line in log)
    assert any(line.endswith("avqa-sim build: sim-1.0.0") for line in log)
    assert ticks[45].log[-1] == "home: ready"
    assert all(t.audio.mode == "silent" for t in ticks[:15])


def test_standby_on_start_waits_for_power_and_power_toggles() -> None:
    app = make_app(standby_on_start=True)
    ticks = run(app, 10)
    assert {t.view.screen for t in ticks} == {Screen.STANDBY}
    assert all(t.audio.mode == "silent" for t in ticks)
    app.press(Key.OK)  # ignored in standby
    assert app.tick().view.screen is Screen.STANDBY
    tick = press(app, Key.POWER)
    assert tick.view.screen is Screen.BOOT_BLACK
    assert any("build:" in line for line in tick.log)
    boot_to_home(app)
    tick = press(app, Key.POWER)
    assert tick.view.screen is Screen.STANDBY
    assert "power: standby" in tick.log
    assert not app.powered
    tick = press(app, Key.POWER)
    assert tick.view.screen is Screen.BOOT_BLACK  # boots again: black -> logo -> home


def test_discrete_power_commands() -> None:
    app = make_app()
    boot_to_home(app)
    app.press(PowerCommand(True))
    assert app.tick().view.screen is Screen.HOME  # already on
    app.press(PowerCommand(False))
    assert app.tick().view.screen is Screen.STANDBY
    app.press(PowerCommand(False))
    assert app.tick().view.screen is Screen.STANDBY


def test_keys_during_boot_are_ignored() -> None:
    app = make_app()
    app.press(Key.OK)
    tick = app.tick()
    assert tick.view.screen is Screen.BOOT_BLACK
    assert "input: key OK" in tick.log


def test_focus_moves_with_arrows_and_stops_at_edges() -> None:
    app = make_app()
    boot_to_home(app)
    assert press(app, Key.RIGHT).view.focus == 1
    assert press(app, Key.DOWN).view.focus == 5
    assert press(app, Key.LEFT).view.focus == 4
    assert press(app, Key.UP).view.focus == 0
    assert press(app, Key.LEFT).view.focus == 0
    assert press(app, Key.UP).view.focus == 0
    assert press(app, Key.RIGHT, Key.RIGHT, Key.RIGHT, Key.RIGHT).view.focus == 3
    assert press(app, Key.DOWN, Key.DOWN).view.focus == HOME_SETTINGS
    assert press(app, Key.UP).view.focus == 7  # back to the column it came from
    tick = press(app, Key.HOME)
    assert tick.view == View(Screen.HOME, focus=0)  # HOME resets the focus


def test_screen_transitions() -> None:
    app = make_app()
    boot_to_home(app)
    tick = press(app, Key.RIGHT, Key.OK)
    assert tick.view.screen is Screen.DETAILS and tick.view.title == 1
    tick = press(app, Key.OK)
    assert tick.view.screen is Screen.PLAYER and tick.view.content_frame == 0
    assert "player: start City Lights" in tick.log
    assert press(app, Key.DOWN).view.content_frame == 1  # playback runs on
    tick = press(app, Key.BACK)
    assert tick.view.screen is Screen.DETAILS and "player: stop" in tick.log
    tick = press(app, Key.BACK)
    assert tick.view == View(Screen.HOME, focus=1)  # BACK keeps the focus
    assert press(app, Key.MENU).view.screen is Screen.SETTINGS
    assert press(app, Key.BACK).view.screen is Screen.HOME
    tick = press(app, Key.DOWN, Key.DOWN, Key.OK)
    assert tick.view.screen is Screen.SETTINGS
    tick = press(app, Key.OK)  # toggles captions
    assert not tick.view.captions and "settings: captions off" in tick.log
    tick = press(app, Key.OK, Key.OK, Key.HOME)
    assert tick.view.screen is Screen.HOME
    tick = press(app, Key.OK, Key.OK, Key.HOME)
    assert tick.view.screen is Screen.HOME and "player: stop" in tick.log


def test_text_input_is_logged_and_ignored() -> None:
    app = make_app()
    boot_to_home(app)
    app.press(TextInput("a"))
    tick = app.tick()
    assert tick.view.screen is Screen.HOME and "input: text 'a'" in tick.log


def test_ambient_audio_in_menus_and_a_click_on_keys() -> None:
    app = make_app()
    boot_to_home(app)
    tick = press(app, Key.RIGHT)
    assert tick.audio.mode == "ambient" and tick.audio.click_age == 0
    assert app.tick().audio.click_age == SPF


# -- faults -------------------------------------------------------------------------------------


def faulty_app() -> SimApp:
    faults = [
        FaultConfig(kind="black", at_s=1.0, duration_s=0.5),
        FaultConfig(kind="freeze", at_s=2.0, duration_s=1.0),
        FaultConfig(kind="audio_dropout", at_s=3.01, duration_s=0.25),
    ]
    return make_app(faults=faults)


def test_faults_hit_exact_content_frames() -> None:
    app = faulty_app()
    start = start_player(app)
    ticks = [start, *run(app, 4 * FPS)]
    views = [t.view for t in ticks]
    assert [v.content_frame for v in views[:30]] == list(range(30))
    assert not views[29].black and all(v.black for v in views[30:45]) and not views[45].black
    assert all(v.content_frame == 60 for v in views[60:90])
    assert views[59].content_frame == 59 and views[90].content_frame == 90
    logs = {i: t.log for i, t in enumerate(ticks) if t.log}
    assert logs[30] == ("hdmi: ERROR video output lost, panel blanked",)
    assert logs[60] == ("player: ERROR video decoder stalled",)
    assert "audio: ERROR underrun, output muted" in logs[(round(3.01 * SAMPLE_RATE_HZ)) // SPF]


def test_audio_dropout_is_exact_to_the_sample() -> None:
    app = faulty_app()
    synth = AudioSynth("music")
    start = start_player(app)
    ticks = [start, *run(app, 4 * FPS)]
    audio = np.concatenate([synth.render(t.audio.mode, t.audio.start, t.audio.count, mute=t.audio.mute) for t in ticks], axis=1)
    first, end = round(3.01 * SAMPLE_RATE_HZ), round(3.26 * SAMPLE_RATE_HZ)
    assert not audio[:, first:end].any()
    assert np.all(np.abs(audio[:, first - 1]) > 0) or np.any(audio[:, first - 4 : first] != 0)
    assert np.any(audio[:, end : end + 4] != 0)
    assert rms_dbfs(audio[:, first - 2400 : first]) > -30 and rms_dbfs(audio[:, end : end + 2400]) > -30
    assert ticks[0].audio.start == 0  # content sample 0 is the first player frame's first sample


def test_fault_pictures_black_and_frozen(renderer: Renderer) -> None:
    app = faulty_app()
    start = start_player(app)
    ticks = [start, *run(app, 4 * FPS)]
    pics = [renderer.render(t.view).copy() for t in ticks]
    for pic in pics[30:45]:
        assert np.all(pic[:720] == 16) and np.all(pic[720:] == 128)
    assert pics[29][:720].mean() > 60 and pics[45][:720].mean() > 60
    for pic in pics[61:90]:
        assert np.array_equal(pic, pics[60])
    assert np.abs(luma(pics[60]) - luma(pics[59])).mean() > 5
    assert np.abs(luma(pics[90]) - luma(pics[60])).mean() > 5


# -- pictures -----------------------------------------------------------------------------------


def test_player_frames_always_move_and_are_never_dark(renderer: Renderer) -> None:
    previous = None
    for k in range(0, 20 * FPS, 3):  # 20 s of content, every third frame and its successor
        for frame in (k, k + 1):
            y = luma(renderer.render(View(Screen.PLAYER, content_frame=frame, captions=True)))
            assert y.mean() > 80
            if frame == k + 1:
                assert np.abs(y - previous).mean() > 5, f"content frames {k} and {k + 1} hardly differ"
            previous = y


def test_first_player_frame_differs_strongly_from_details(renderer: Renderer) -> None:
    app = make_app()
    boot_to_home(app)
    details = press(app, Key.OK)
    player = press(app, Key.OK)
    difference = np.abs(luma(renderer.render(player.view)) - luma(renderer.render(details.view))).mean()
    assert difference > 30


def test_render_is_cheap(renderer: Renderer) -> None:
    import time

    renderer.render(View(Screen.PLAYER, content_frame=0))
    began = time.perf_counter()
    for k in range(1, 31):
        renderer.render(View(Screen.PLAYER, content_frame=k, captions=True))
    mean_ms = (time.perf_counter() - began) / 30 * 1000
    assert mean_ms < 25  # about 3.5 ms on an idle core; loose for loaded CI machines


def test_captions_are_drawn_only_when_enabled(renderer: Renderer) -> None:
    on = luma(renderer.render(View(Screen.PLAYER, content_frame=10, captions=True)))
    off = luma(renderer.render(View(Screen.PLAYER, content_frame=10, captions=False)))
    bottom = slice(600, 720)
    assert np.abs(on[bottom] - off[bottom]).mean() > 5
    assert np.array_equal(on[:500], off[:500])


def test_timecode() -> None:
    assert timecode(0, 30) == "00:00:00:00"
    assert timecode(30 * 3661 + 7, 30) == "01:01:01:07"


# -- header crops -------------------------------------------------------------------------------

SCREENS = {"home": Screen.HOME, "details": Screen.DETAILS, "settings": Screen.SETTINGS}


def correlation(image: np.ndarray, template: np.ndarray) -> float:
    return float(cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED).max())


def reference(name: str) -> np.ndarray:
    image = cv2.imread(str(REFERENCE_DIR / f"{name}.png"))
    assert image is not None, f"{REFERENCE_DIR / name}.png missing: run python -m harness.sim.snapshots devices/sim"
    return image


def header_of(picture_bgr: np.ndarray) -> np.ndarray:
    x, y, w, h = header_region(1280, 720)
    return picture_bgr[y : y + h, x : x + w]


def test_reference_crops_are_up_to_date(renderer: Renderer) -> None:
    for name, screen in SCREENS.items():
        assert reference(name).shape == (96, 1280, 3)
        assert np.array_equal(reference(name), renderer.header_bgr(screen)), f"devices/sim/{name}.png is stale"


def test_header_is_static_across_focus_and_items(renderer: Renderer) -> None:
    home = [header_of(renderer.render_bgr(View(Screen.HOME, focus=f))) for f in range(HOME_SETTINGS + 1)]
    assert all(np.array_equal(home[0], h) for h in home)
    details = [header_of(renderer.render_bgr(View(Screen.DETAILS, title=t))) for t in range(8)]
    assert all(np.array_equal(details[0], d) for d in details)


def test_headers_match_their_own_screen_only(renderer: Renderer) -> None:
    for name, screen in SCREENS.items():
        crop = header_of(renderer.render_bgr(View(screen, focus=1)))
        for other in SCREENS:
            score = correlation(crop, reference(other))
            if other == name:
                assert score >= 0.9, f"{name} header vs its crop: {score:.3f}"
            else:
                assert score < 0.8, f"{name} header vs {other}.png: {score:.3f}"
    for view in (View(Screen.BOOT_LOGO), View(Screen.PLAYER, content_frame=40, captions=True)):
        crop = header_of(renderer.render_bgr(view))
        assert all(correlation(crop, reference(other)) < 0.8 for other in SCREENS)


def test_headers_still_match_after_h264_round_trip(renderer: Renderer) -> None:
    views = [View(Screen.HOME, focus=2), View(Screen.DETAILS, title=3), View(Screen.SETTINGS, focus=1)]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "28"}
        for index, view in enumerate(views * 2):
            frame = av.VideoFrame.from_ndarray(renderer.render(view), format="yuv420p")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, mode="r") as decoded:
        frames = [f.to_ndarray(format="bgr24") for f in decoded.decode(video=0)]
    assert len(frames) == 6
    for view, frame in zip(views * 2, frames):
        name = view.screen.value
        for other in SCREENS:
            score = correlation(header_of(frame), reference(other))
            assert (score >= 0.9) if other == name else (score < 0.8), f"decoded {name} vs {other}.png: {score:.3f}"


# -- audio --------------------------------------------------------------------------------------


def window_levels(audio: np.ndarray, window: int = 2400, hop: int = 480) -> list[float]:
    return [rms_dbfs(audio[:, i : i + window]) for i in range(0, audio.shape[1] - window + 1, hop)]


@pytest.mark.parametrize(("kind", "floor_dbfs"), [("music", -30.0), ("speech", -50.0)])
def test_content_audio_never_drops_below_its_floor(kind: str, floor_dbfs: float) -> None:
    synth = AudioSynth(kind)  # type: ignore[arg-type]
    audio = np.concatenate([synth.content(i * SPF, SPF) for i in range(12 * FPS)], axis=1)
    assert audio.shape == (2, 12 * SAMPLE_RATE_HZ) and audio.dtype == np.float32
    assert min(window_levels(audio)) > floor_dbfs
    assert np.abs(audio).max() < 1.0
    assert rms_dbfs(audio) > -25


def test_audio_is_a_pure_function_of_the_sample_index() -> None:
    for kind in ("music", "speech"):
        synth = AudioSynth(kind)  # type: ignore[arg-type]
        whole = synth.content(1000, 5 * SPF)
        parts = np.concatenate([synth.content(1000 + i * SPF, SPF) for i in range(5)], axis=1)
        assert np.allclose(whole, parts, atol=1e-6)


def test_speech_has_pauses_and_syllables() -> None:
    synth = AudioSynth("speech")
    levels = window_levels(synth.content(0, 6 * SAMPLE_RATE_HZ))
    assert min(levels) < -38  # pauses: only the room tone
    assert max(levels) > -22  # syllables


def test_standby_is_digital_silence() -> None:
    assert not AudioSynth().render("silent", 0, SPF).any()


# -- ECP parsing and device-info (sans I/O) ----------------------------------------------------


def test_ecp_key_names() -> None:
    assert parse_ecp_key("Select") is Key.OK
    assert parse_ecp_key("select") is Key.OK
    assert parse_ecp_key("Info") is Key.INFO
    assert parse_ecp_key("Home") is Key.HOME
    assert parse_ecp_key("PowerOff") == PowerCommand(False)
    assert parse_ecp_key("Lit_a") == TextInput("a")
    assert parse_ecp_key("Lit_%20") == TextInput(" ")
    assert parse_ecp_key("InstantReplay") is None
    with pytest.raises(KeyError):
        parse_ecp_key("Teleport")


def test_device_info_xml() -> None:
    info = DeviceInfo(name="sim", model="avqa SimTV 720p", build="sim-1.2.3", powered=False, uptime_s=3.5, resolution="1280x720")
    root = ET.fromstring(info.xml())
    fields = {child.tag: child.text for child in root}
    assert root.tag == "device-info"
    assert fields["software-version"] == "sim-1.2.3"
    assert fields["model-name"] == "avqa SimTV 720p"
    assert fields["power-mode"] == "DisplayOff"


# -- encoder (in memory) -----------------------------------------------------------------------


def test_ts_encoder_output_decodes_with_aligned_timestamps(renderer: Renderer) -> None:
    encoder = TsEncoder(1280, 720, FPS)
    synth = AudioSynth("music")
    chunks = []
    for k in range(45):
        picture = renderer.render(View(Screen.PLAYER, content_frame=k))
        data = encoder.encode(picture, synth.content(k * SPF, SPF))
        assert len(data) % TS_PACKET == 0
        chunks.append(data)
    assert sum(1 for c in chunks[:-1] if c) >= 40  # bytes leave every frame, not in big bursts
    chunks.append(encoder.close())
    stream = b"".join(chunks)
    pats = [i for i in range(0, len(stream), TS_PACKET) if find_pat(stream[i : i + TS_PACKET]) == 0]
    assert len(pats) == 2 and pats[0] <= 2 * TS_PACKET  # at the start and before the keyframe one second in
    with av.open(io.BytesIO(stream), mode="r", format="mpegts") as container:
        video = [f for f in container.decode(video=0)]
    with av.open(io.BytesIO(stream), mode="r", format="mpegts") as container:
        audio = [f for f in container.decode(audio=0)]
    assert len(video) == 45
    assert (video[0].width, video[0].height) == (1280, 720)
    assert [f.pts - video[0].pts for f in video[:4]] == [0, 3000, 6000, 9000]
    assert audio[0].sample_rate == SAMPLE_RATE_HZ and audio[0].layout.nb_channels == 2
    # The AAC priming packet comes first; content sample 0 plays together with video frame 0.
    assert audio[1].pts == video[0].pts
