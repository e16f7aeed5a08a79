"""IR Toy serial blaster against a fake Toy on a pseudo-terminal (sample-mode protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.control.ir import format_pronto, nec_code, nec_decode
from harness.control.irserial import IrToyRemote
from harness.control.keys import Key
from harness.control.remote import Remote
from harness.errors import ControlError, UnsupportedKeyError
from tests.fakes.irtoy import FakeIrToy


@pytest.fixture
def toy() -> Iterator[FakeIrToy]:
    fake = FakeIrToy()
    yield fake
    fake.close()


@pytest.fixture
def codes(tmp_path: Path) -> Path:
    path = tmp_path / "tv.codes"
    path.write_text(f"KEY_OK: {format_pronto(nec_code(0x04, 0x44))}\nKEY_UP: {format_pronto(nec_code(0x04, 0x40))}\n")
    return path


def test_press_transmits_the_code_with_handshake(toy: FakeIrToy, codes: Path) -> None:
    toy.chunk = 20  # several handshake rounds
    backend = IrToyRemote(f"irserial:{toy.path}?codes={codes}", device="tv01")
    assert backend.firmware == 22
    remote = Remote(backend, key_delay_s=0)
    remote.sequence([Key.OK, Key.UP])
    assert [nec_decode(d) for d in toy.transmitted] == [[(0x04, 0x44)], [(0x04, 0x40)]]
    assert not remote.supports(Key.DOWN)
    with pytest.raises(UnsupportedKeyError, match="key OK cannot be held by this channel"):
        remote.hold(Key.OK, 0.1)


def test_transmit_failures_name_device_channel_uri_and_key(toy: FakeIrToy, codes: Path) -> None:
    uri = f"irserial:{toy.path}?codes={codes}"
    backend = IrToyRemote(uri, device="tv01", timeout_s=0.5)
    toy.underrun = True
    with pytest.raises(ControlError) as info:
        backend.press("KEY_OK")
    assert str(info.value) == f"tv01: irserial {uri}: key KEY_OK: transmit failed (buffer under-run)"
    toy.underrun, toy.short_count = False, True
    with pytest.raises(ControlError, match="key KEY_OK: the Toy received 137 of 138 bytes"):
        backend.press("KEY_OK")
    toy.short_count, toy.silent = False, True
    with pytest.raises(ControlError, match=r"key KEY_OK: sample mode: no answer within 0.5 s"):
        backend.press("KEY_OK")


def test_open_errors(toy: FakeIrToy, codes: Path, tmp_path: Path) -> None:
    toy.firmware = 12
    with pytest.raises(ControlError, match="firmware 12 is too old"):
        IrToyRemote(f"irserial:{toy.path}?codes={codes}")
    with pytest.raises(ControlError, match="cannot open /dev/nonexistent-tty"):
        IrToyRemote(f"irserial:/dev/nonexistent-tty?codes={codes}")
    with pytest.raises(ControlError, match="missing codes=FILE"):
        IrToyRemote(f"irserial:{toy.path}")
