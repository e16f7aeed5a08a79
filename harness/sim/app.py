"""The simulated TV app as a pure state machine: inputs in, one :class:`Tick` per video frame out.

No I/O and no clocks here. Each call to :meth:`SimApp.tick` is one frame boundary: pending
inputs are applied first (so keys take effect on the next frame), then timed transitions, then
the app decides what this frame shows (:class:`View`), what it sounds like (:class:`AudioPlan`)
and which console lines it prints. :mod:`harness.sim.render` and :mod:`harness.sim.audio`
turn those decisions into pixels and samples.

Clocks: the device frame counter starts at 0 when the simulator starts; the content clock
starts at 0 on the first player frame after OK on Play (content frame 0, content sample 0).
Faults are placed on the content clock, exact to the frame and to the sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from harness.config import FaultConfig, SimulatorConfig
from harness.control.keys import Key
from harness.sim.audio import SAMPLE_RATE_HZ


class Screen(str, Enum):
    """What the panel shows."""

    STANDBY = "standby"
    BOOT_BLACK = "boot_black"
    BOOT_LOGO = "boot_logo"
    HOME = "home"
    DETAILS = "details"
    SETTINGS = "settings"
    PLAYER = "player"


@dataclass(frozen=True)
class Title:
    """One item of the catalogue shown on the home grid."""

    name: str
    description: str
    colour_bgr: tuple[int, int, int]


CATALOG: tuple[Title, ...] = (
    Title("Ocean Drift", "A slow voyage over a restless sea of colour.", (176, 112, 32)),
    Title("City Lights", "Neon evenings in a city that never sleeps.", (48, 64, 200)),
    Title("Forest Trail", "Sunlight, moss and the long way round.", (48, 150, 60)),
    Title("Desert Run", "Heat, dunes and a race against the clock.", (40, 160, 220)),
    Title("Night Sky", "Stars, planets and the odd comet.", (120, 40, 90)),
    Title("Mountain Echo", "A climb to the top of the world.", (140, 140, 60)),
    Title("Space Voyage", "Beyond the last known station.", (150, 60, 150)),
    Title("River Song", "Music from the water's edge.", (60, 120, 170)),
)

HOME_COLUMNS = 4
HOME_ROWS = 2
HOME_SETTINGS = HOME_COLUMNS * HOME_ROWS  # focus index of the "Settings" button under the grid

SETTING_NAMES: tuple[str, ...] = ("Captions", "Audio", "Resolution", "Software")


@dataclass(frozen=True)
class View:
    """Everything the renderer needs to draw one frame (hashable: static screens are cached by it)."""

    screen: Screen
    focus: int = 0
    title: int = 0
    captions: bool = False
    content_frame: int = 0
    black: bool = False


AudioMode = Literal["silent", "ambient", "content"]


@dataclass(frozen=True)
class AudioPlan:
    """What one frame's audio chunk is made of.

    ``start`` is on the content clock for ``content`` and on the device clock otherwise;
    ``mute`` lists ``[start, end)`` offsets inside the chunk that must be digital zero;
    ``click_age`` is how many samples before the chunk a UI click began (None: no click).
    """

    mode: AudioMode
    start: int
    count: int
    mute: tuple[tuple[int, int], ...] = ()
    click_age: int | None = None


@dataclass(frozen=True)
class Tick:
    """The outcome of one frame boundary."""

    index: int
    view: View
    audio: AudioPlan
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class PowerCommand:
    """Discrete power: ECP ``PowerOn`` / ``PowerOff`` (``on`` None toggles, like the POWER key)."""

    on: bool | None


@dataclass(frozen=True)
class TextInput:
    """A typed character (ECP ``Lit_<char>``)."""

    char: str


Input = Key | PowerCommand | TextInput


@dataclass(frozen=True)
class FaultWindow:
    """A fault placed on the content clock: frames ``[first_frame, end_frame)``, samples ``[first_sample, end_sample)``."""

    kind: str
    first_frame: int
    end_frame: int
    first_sample: int
    end_sample: int

    @classmethod
    def from_config(cls, fault: FaultConfig, fps: int, sample_rate_hz: int = SAMPLE_RATE_HZ) -> FaultWindow:
        first_frame = round(fault.at_s * fps)
        first_sample = round(fault.at_s * sample_rate_hz)
        return cls(
            kind=fault.kind,
            first_frame=first_frame,
            end_frame=first_frame + round(fault.duration_s * fps),
            first_sample=first_sample,
            end_sample=first_sample + round(fault.duration_s * sample_rate_hz),
        )


_FAULT_START_LOG = {
    "black": "hdmi: ERROR video output lost, panel blanked",
    "freeze": "player: ERROR video decoder stalled",
    "audio_dropout": "audio: ERROR underrun, output muted",
}
_FAULT_END_LOG = {
    "black": "hdmi: video output restored",
    "freeze": "player: video decoder recovered",
    "audio_dropout": "audio: output resumed",
}


@dataclass
class _State:
    screen: Screen
    boot_frame: int = 0
    home_focus: int = 0
    home_column: int = 0
    title: int = 0
    settings_focus: int = 0
    captions: bool = False
    content_frame: int = 0
    click_at_sample: int | None = None
    pending: list[Input] = field(default_factory=list)


class SimApp:
    """The app's state machine; feed inputs with :meth:`press`, advance one frame with :meth:`tick`."""

    def __init__(self, sim: SimulatorConfig, *, model: str = "avqa SimTV") -> None:
        self.sim = sim
        self.model = model
        self.fps = sim.fps
        self.width, self.height = sim.size
        if SAMPLE_RATE_HZ % self.fps:
            raise ValueError(f"fps {self.fps} does not divide {SAMPLE_RATE_HZ} Hz")
        self.samples_per_frame = SAMPLE_RATE_HZ // self.fps
        self.boot_black_frames = round(sim.boot_black_s * self.fps)
        self.boot_logo_frames = round(sim.boot_logo_s * self.fps)
        self.faults = tuple(FaultWindow.from_config(f, self.fps) for f in sim.faults)
        self.frame_index = 0
        self._state = _State(screen=Screen.STANDBY, captions=sim.captions)
        self._power_on_frame: int | None = None
        self._log: list[str] = []
        if not sim.standby_on_start:
            self._power_on()

    # -- queries ----------------------------------------------------------------------------

    @property
    def screen(self) -> Screen:
        return self._state.screen

    @property
    def powered(self) -> bool:
        return self._state.screen is not Screen.STANDBY

    @property
    def captions(self) -> bool:
        return self._state.captions

    def uptime_s(self) -> float:
        """Seconds since the last power-on (0 in standby)."""
        if self._power_on_frame is None:
            return 0.0
        return (self.frame_index - self._power_on_frame) / self.fps

    # -- inputs -----------------------------------------------------------------------------

    def press(self, key: Input) -> None:
        """Queue an input; it takes effect at the next :meth:`tick`."""
        if isinstance(key, str) and not isinstance(key, Key):
            key = Key.parse(key)
        self._state.pending.append(key)

    # -- the frame boundary -----------------------------------------------------------------

    def tick(self) -> Tick:
        """Apply pending inputs, advance timers and decide this frame's picture, sound and log."""
        st = self._state
        pending, st.pending = st.pending, []
        for item in pending:
            self._apply(item)
        self._advance_boot()
        view = self._view()
        audio = self._audio_plan()
        if st.screen is Screen.PLAYER:
            self._fault_logs(st.content_frame)
            st.content_frame += 1
        if st.screen in (Screen.BOOT_BLACK, Screen.BOOT_LOGO):
            st.boot_frame += 1
        tick = Tick(index=self.frame_index, view=view, audio=audio, log=tuple(self._log))
        self._log.clear()
        self.frame_index += 1
        return tick

    # -- internals --------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        self._log.append(line)

    def _kernel(self, offset_s: float, text: str) -> None:
        self._say(f"[{offset_s:12.6f}] {text}")

    def _power_on(self) -> None:
        st = self._state
        st.screen = Screen.BOOT_BLACK
        st.boot_frame = 0
        self._power_on_frame = self.frame_index
        self._kernel(0.0, f"Booting avqa-sim on {self.model}")
        self._kernel(0.0, "Kernel command line: console=ttyS0,115200 quiet")
        self._kernel(0.004120, "Memory: 1024MB available")
        self._kernel(0.012500, f"avqa-sim build: {self.sim.build}")
        self._kernel(0.031250, f"hdmi: {self.width}x{self.height}@{self.fps} audio 48000 Hz stereo")

    def _standby(self) -> None:
        st = self._state
        if st.screen is Screen.PLAYER:
            self._say("player: stop")
        st.screen = Screen.STANDBY
        self._power_on_frame = None
        self._say("power: standby")

    def _apply(self, item: Input) -> None:
        st = self._state
        if isinstance(item, PowerCommand):
            want_on = (not self.powered) if item.on is None else item.on
            self._say(f"input: key {'POWER' if item.on is None else ('PowerOn' if item.on else 'PowerOff')}")
            if want_on and not self.powered:
                self._power_on()
            elif not want_on and self.powered:
                self._standby()
            return
        if isinstance(item, TextInput):
            if self.powered:
                self._say(f"input: text {item.char!r}")
            return
        key = item
        if key is Key.POWER:
            self._apply(PowerCommand(None))
            return
        if not self.powered:
            return  # a panel in standby only listens for POWER
        self._say(f"input: key {key.value}")
        if st.screen in (Screen.BOOT_BLACK, Screen.BOOT_LOGO):
            return  # still booting
        st.click_at_sample = self.frame_index * self.samples_per_frame
        if key is Key.HOME:
            self._go_home(reset_focus=True)
            return
        handler = {
            Screen.HOME: self._on_home,
            Screen.DETAILS: self._on_details,
            Screen.SETTINGS: self._on_settings,
            Screen.PLAYER: self._on_player,
        }[st.screen]
        handler(key)

    def _go_home(self, *, reset_focus: bool) -> None:
        st = self._state
        if st.screen is Screen.PLAYER:
            self._say("player: stop")
        if reset_focus:
            st.home_focus = 0
            st.home_column = 0
        st.screen = Screen.HOME
        self._say("home: ready")

    def _open_settings(self) -> None:
        st = self._state
        st.screen = Screen.SETTINGS
        st.settings_focus = 0
        self._say("settings: open")

    def _on_home(self, key: Key) -> None:
        st = self._state
        focus = st.home_focus
        if key in (Key.MENU, Key.INFO):
            self._open_settings()
        elif key is Key.OK:
            if focus == HOME_SETTINGS:
                self._open_settings()
            else:
                st.title = focus
                st.screen = Screen.DETAILS
                self._say(f"details: {CATALOG[focus].name}")
        elif focus == HOME_SETTINGS:
            if key is Key.UP:
                st.home_focus = HOME_COLUMNS * (HOME_ROWS - 1) + st.home_column
        else:
            row, col = divmod(focus, HOME_COLUMNS)
            if key is Key.LEFT and col > 0:
                col -= 1
            elif key is Key.RIGHT and col < HOME_COLUMNS - 1:
                col += 1
            elif key is Key.UP and row > 0:
                row -= 1
            elif key is Key.DOWN:
                if row < HOME_ROWS - 1:
                    row += 1
                else:
                    st.home_column = col
                    st.home_focus = HOME_SETTINGS
                    return
            st.home_column = col
            st.home_focus = row * HOME_COLUMNS + col

    def _on_details(self, key: Key) -> None:
        st = self._state
        if key in (Key.OK, Key.PLAY, Key.PLAY_PAUSE):
            st.screen = Screen.PLAYER
            st.content_frame = 0
            self._say(f"player: start {CATALOG[st.title].name}")
        elif key is Key.BACK:
            self._go_home(reset_focus=False)
        elif key in (Key.MENU, Key.INFO):
            self._open_settings()

    def _on_settings(self, key: Key) -> None:
        st = self._state
        if key is Key.UP and st.settings_focus > 0:
            st.settings_focus -= 1
        elif key is Key.DOWN and st.settings_focus < len(SETTING_NAMES) - 1:
            st.settings_focus += 1
        elif key is Key.OK and SETTING_NAMES[st.settings_focus] == "Captions":
            st.captions = not st.captions
            self._say(f"settings: captions {'on' if st.captions else 'off'}")
        elif key in (Key.BACK, Key.MENU, Key.INFO):
            self._go_home(reset_focus=False)

    def _on_player(self, key: Key) -> None:
        st = self._state
        if key in (Key.BACK, Key.STOP):
            self._say("player: stop")
            st.screen = Screen.DETAILS
        elif key is Key.CC:
            st.captions = not st.captions
            self._say(f"player: captions {'on' if st.captions else 'off'}")

    def _advance_boot(self) -> None:
        st = self._state
        if st.screen not in (Screen.BOOT_BLACK, Screen.BOOT_LOGO):
            return
        offset_s = st.boot_frame / self.fps
        if st.boot_frame < self.boot_black_frames:
            return
        if st.boot_frame < self.boot_black_frames + self.boot_logo_frames:
            if st.screen is Screen.BOOT_BLACK:
                st.screen = Screen.BOOT_LOGO
                self._kernel(offset_s, "hdmi: output enabled, splash")
            return
        self._kernel(offset_s, "init: starting avqa-tv")
        st.home_focus = 0
        st.home_column = 0
        st.screen = Screen.HOME
        self._say("home: ready")

    def _view(self) -> View:
        st = self._state
        screen = st.screen
        if screen is Screen.HOME:
            return View(screen, focus=st.home_focus)
        if screen is Screen.DETAILS:
            return View(screen, title=st.title)
        if screen is Screen.SETTINGS:
            return View(screen, focus=st.settings_focus, captions=st.captions)
        if screen is Screen.PLAYER:
            frame = st.content_frame
            black = any(f.kind == "black" and f.first_frame <= frame < f.end_frame for f in self.faults)
            if black:
                return View(screen, title=st.title, black=True)
            for f in self.faults:
                if f.kind == "freeze" and f.first_frame <= frame < f.end_frame:
                    frame = f.first_frame
                    break
            return View(screen, title=st.title, captions=st.captions, content_frame=frame)
        return View(screen)

    def _audio_plan(self) -> AudioPlan:
        st = self._state
        spf = self.samples_per_frame
        if st.screen in (Screen.STANDBY, Screen.BOOT_BLACK):
            return AudioPlan("silent", self.frame_index * spf, spf)
        if st.screen is Screen.PLAYER:
            start = st.content_frame * spf
            mute = []
            for f in self.faults:
                if f.kind != "audio_dropout":
                    continue
                lo = max(f.first_sample, start)
                hi = min(f.end_sample, start + spf)
                if hi > lo:
                    mute.append((lo - start, hi - start))
            return AudioPlan("content", start, spf, mute=tuple(mute))
        start = self.frame_index * spf
        click_age = None
        if st.click_at_sample is not None:
            age = start - st.click_at_sample
            if age < SAMPLE_RATE_HZ // 10:
                click_age = age
            else:
                st.click_at_sample = None
        return AudioPlan("ambient", start, spf, click_age=click_age)

    def _fault_logs(self, frame: int) -> None:
        spf = self.samples_per_frame
        for f in self.faults:
            if f.kind == "audio_dropout":
                if frame * spf <= f.first_sample < (frame + 1) * spf:
                    self._say(_FAULT_START_LOG[f.kind])
                if frame * spf <= f.end_sample < (frame + 1) * spf:
                    self._say(_FAULT_END_LOG[f.kind])
            elif frame == f.first_frame:
                self._say(_FAULT_START_LOG[f.kind])
            elif frame == f.end_frame:
                self._say(_FAULT_END_LOG[f.kind])
