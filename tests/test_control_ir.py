"""IR codecs: Pronto hex, Global Cache sendir timings, NEC, code files."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.control.ir import (
    IrCode,
    format_pronto,
    load_code_file,
    nec_code,
    nec_decode,
    parse_code,
    parse_pronto,
    parse_sendir_tail,
)

# A learned NEC code as published in IR databases (38 kHz, 34 once pairs, 2 repeat pairs), shortened check below.
NEC_PRONTO = format_pronto(nec_code(0x04, 0x08))


def test_pronto_round_trip_and_frequency() -> None:
    code = parse_pronto(NEC_PRONTO)
    assert NEC_PRONTO.startswith("0000 006D 0022 0002 ")
    assert code.frequency_hz == 38029  # 1e6 / (0x6D * 0.241246)
    assert len(code.once) == 68 and len(code.repeat) == 4
    assert format_pronto(code) == NEC_PRONTO


def test_pronto_to_sendir_offset_points_at_the_repeat_part() -> None:
    code = parse_pronto(NEC_PRONTO)
    fields = code.sendir_tail(3).split(",")
    assert fields[:3] == ["38029", "3", "69"]  # repeat from the 69th duration: after 34 once pairs
    assert parse_sendir_tail(code.sendir_tail(3)) == code


def test_nec_decodes_frame_and_repeats() -> None:
    code = nec_code(0x7A, 0x15)
    assert nec_decode(code.durations_us(2)) == [(0x7A, 0x15), None, None]
    broken = code.durations_us(0)
    broken[10] *= 3  # one bit space far off: the frame is dropped, not misread
    assert nec_decode(broken) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0100 006D 0001 0000 0010 0020", "only learned"),
        ("0000 006D 0002 0000 0010 0020", r"announces 2\+0 pairs"),
        ("0000 zz", "hex words"),
        ("38000,1,2,10,10", "offset 2 must be odd"),
        ("38000,1,1,10", "at least one on/off pair"),
        ("1000,1,1,10,10", "out of range"),
    ],
)
def test_bad_codes_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_code(text)


def test_code_file(tmp_path: Path) -> None:
    path = tmp_path / "tv.codes"
    path.write_text(f"# my TV\nKEY_OK: {NEC_PRONTO}\nKEY_UP: 38000,1,1,342,171,21,21\n\n")
    codes = load_code_file(path)
    assert set(codes) == {"KEY_OK", "KEY_UP"}
    assert codes["KEY_UP"] == IrCode(38000, (), (342, 171, 21, 21))
    path.write_text("KEY_OK 0000 006D\n")
    with pytest.raises(ValueError, match="line 1: expected 'NAME: CODE'"):
        load_code_file(path)
