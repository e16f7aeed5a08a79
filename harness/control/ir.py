"""Infrared codecs shared by the IR backends and the simulator (sans-IO).

* :class:`IrCode`: a modulated IR signal as carrier frequency + on/off durations in carrier
  periods, split into a part sent once and a part repeated while a key is held (the model of
  both Pronto hex and Global Cache ``sendir``).
* Pronto hex (learned, modulated, word 0 = ``0000``): word 1 is the carrier as
  ``1e6 / (word1 * 0.241246)`` Hz, words 2 and 3 count the burst pairs of the once and repeat
  sequences, then come the durations in carrier periods.
* Global Cache ``sendir,<m>:<c>,<id>,<freq>,<repeat>,<offset>,<on1>,<off1>,...``: the whole
  sequence is sent, then ``repeat - 1`` more times from the 1-based index ``offset`` (odd).
* NEC: 9 ms + 4.5 ms leader, 32 bits LSB first (address, ~address, command, ~command; 562.5 us
  mark, 562.5 us space for 0 and 1687.5 us for 1), a stop mark, frames 108 ms apart; the repeat
  frame is 9 ms + 2.25 ms + a mark.
* Code files (``codes=FILE`` of the iTach backend): one ``NAME: CODE`` per line, ``#`` comments;
  CODE is Pronto hex or ``FREQ,REPEAT,OFFSET,ON1,OFF1,...`` (the tail of a sendir command).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRONTO_CLOCK_US = 0.241246  # one Pronto frequency unit, in microseconds
NEC_CARRIER_HZ = 38_000
NEC_UNIT_US = 562.5
NEC_FRAME_US = 108_000.0


@dataclass(frozen=True)
class IrCode:
    """A modulated IR code: ``once`` and ``repeat`` are (on, off, on, off...) in carrier periods."""

    frequency_hz: int
    once: tuple[int, ...]
    repeat: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 15_000 <= self.frequency_hz <= 500_000:
            raise ValueError(f"carrier {self.frequency_hz} Hz out of range (15000..500000 Hz)")
        if len(self.once) % 2 or len(self.repeat) % 2:
            raise ValueError("durations must come in on/off pairs")
        if not self.once and not self.repeat:
            raise ValueError("empty IR code")
        if any(not 1 <= d <= 65535 for d in (*self.once, *self.repeat)):
            raise ValueError("durations must be 1..65535 carrier periods")

    def sendir_tail(self, repeat_count: int = 1) -> str:
        """``FREQ,REPEAT,OFFSET,ON1,OFF1,...`` for a Global Cache ``sendir``."""
        offset = len(self.once) + 1 if self.repeat else 1
        timings = (*self.once, *self.repeat)
        return ",".join(str(v) for v in (self.frequency_hz, repeat_count, offset, *timings))

    def durations_us(self, repeats: int = 0) -> list[float]:
        """The signal as on/off durations in microseconds: ``once`` then ``repeats`` repeat sequences."""
        period_us = 1e6 / self.frequency_hz
        body = list(self.once) + list(self.repeat) * repeats
        if not self.once:
            body = list(self.repeat) * max(1, repeats)
        return [d * period_us for d in body]


def parse_pronto(text: str) -> IrCode:
    """Parse learned Pronto hex (``0000 FREQ ONCE REPEAT ...``); ValueError saying what is wrong."""
    try:
        words = [int(w, 16) for w in text.split()]
    except ValueError:
        raise ValueError("Pronto hex must be 4-digit hex words separated by spaces") from None
    if len(words) < 6:
        raise ValueError(f"Pronto code too short ({len(words)} words)")
    if words[0] != 0x0000:
        raise ValueError(f"only learned (modulated) Pronto codes are supported (type 0000, got {words[0]:04X})")
    if words[1] == 0:
        raise ValueError("Pronto frequency word is 0")
    once_pairs, repeat_pairs = words[2], words[3]
    body = words[4:]
    if len(body) != 2 * (once_pairs + repeat_pairs):
        raise ValueError(f"Pronto code announces {once_pairs}+{repeat_pairs} pairs but has {len(body)} durations")
    frequency_hz = round(1e6 / (words[1] * PRONTO_CLOCK_US))
    return IrCode(frequency_hz, tuple(body[: 2 * once_pairs]), tuple(body[2 * once_pairs :]))


def format_pronto(code: IrCode) -> str:
    """The learned Pronto hex of ``code``."""
    freq_word = round(1e6 / (code.frequency_hz * PRONTO_CLOCK_US))
    words = [0, freq_word, len(code.once) // 2, len(code.repeat) // 2, *code.once, *code.repeat]
    return " ".join(f"{w:04X}" for w in words)


def parse_sendir_tail(text: str) -> IrCode:
    """Parse ``FREQ,REPEAT,OFFSET,ON1,OFF1,...`` (the repeat count is ignored: it is chosen per press)."""
    try:
        values = [int(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        raise ValueError("sendir timings must be comma-separated integers") from None
    if len(values) < 5:
        raise ValueError("sendir timings need FREQ,REPEAT,OFFSET and at least one on/off pair")
    frequency_hz, _repeat, offset, *timings = values
    if offset < 1 or offset % 2 == 0 or offset > len(timings):
        raise ValueError(f"sendir offset {offset} must be odd and within the {len(timings)} durations")
    return IrCode(frequency_hz, tuple(timings[: offset - 1]), tuple(timings[offset - 1 :]))


def parse_code(text: str) -> IrCode:
    """Pronto hex or sendir timings, whichever ``text`` is."""
    text = text.strip()
    return parse_sendir_tail(text) if "," in text else parse_pronto(text)


def load_code_file(path: str | Path) -> dict[str, IrCode]:
    """Read a code file (``NAME: CODE`` per line); ValueError naming the line otherwise."""
    codes: dict[str, IrCode] = {}
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, code = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            raise ValueError(f"line {number}: expected 'NAME: CODE'")
        try:
            codes[name.strip()] = parse_code(code)
        except ValueError as e:
            raise ValueError(f"line {number} ({name.strip()}): {e}") from None
    if not codes:
        raise ValueError("no codes in file")
    return codes


def write_code_file(path: str | Path, codes: dict[str, IrCode], comment: str = "") -> None:
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"{name}: {format_pronto(code)}" for name, code in codes.items()]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- NEC ------------------------------------------------------------------------------------


def nec_code(address: int, command: int, frequency_hz: int = NEC_CARRIER_HZ) -> IrCode:
    """The NEC frame for ``address``/``command`` (8-bit each) with the NEC repeat frame as repeat part."""
    if not (0 <= address <= 0xFF and 0 <= command <= 0xFF):
        raise ValueError("NEC address and command are 8-bit")
    bits = address | (address ^ 0xFF) << 8 | command << 16 | (command ^ 0xFF) << 24
    us = [16 * NEC_UNIT_US, 8 * NEC_UNIT_US]
    for i in range(32):
        us += [NEC_UNIT_US, (3 if bits >> i & 1 else 1) * NEC_UNIT_US]
    us += [NEC_UNIT_US, NEC_FRAME_US - sum(us) - NEC_UNIT_US]
    rep = [16 * NEC_UNIT_US, 4 * NEC_UNIT_US, NEC_UNIT_US]
    rep.append(NEC_FRAME_US - sum(rep))
    period_us = 1e6 / frequency_hz
    return IrCode(frequency_hz, tuple(round(d / period_us) for d in us), tuple(round(d / period_us) for d in rep))


def _near(value: float, target: float, tolerance: float = 0.3) -> bool:
    return abs(value - target) <= tolerance * target


def nec_decode(durations_us: list[float]) -> list[tuple[int, int] | None]:
    """Decode NEC frames from on/off durations: (address, command) per frame, None per repeat frame.

    Frames with a bad checksum or broken timing are skipped.
    """
    frames: list[tuple[int, int] | None] = []
    i = 0
    n = len(durations_us)
    while i + 1 < n:
        mark, space = durations_us[i], durations_us[i + 1]
        if not _near(mark, 16 * NEC_UNIT_US):
            i += 2
            continue
        if _near(space, 4 * NEC_UNIT_US, 0.25):
            frames.append(None)
            i += 4
            continue
        if not _near(space, 8 * NEC_UNIT_US, 0.25) or i + 2 + 64 > n:
            i += 2
            continue
        bits = 0
        ok = True
        for b in range(32):
            bit_mark, bit_space = durations_us[i + 2 + 2 * b], durations_us[i + 3 + 2 * b]
            if not _near(bit_mark, NEC_UNIT_US, 0.4):
                ok = False
                break
            if _near(bit_space, 3 * NEC_UNIT_US, 0.35):
                bits |= 1 << b
            elif not _near(bit_space, NEC_UNIT_US, 0.4):
                ok = False
                break
        i += 2 + 64
        if not ok:
            continue
        address, naddress, command, ncommand = bits & 0xFF, bits >> 8 & 0xFF, bits >> 16 & 0xFF, bits >> 24
        if address ^ naddress == 0xFF and command ^ ncommand == 0xFF:
            frames.append((address, command))
    return frames
