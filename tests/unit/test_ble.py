"""BLE health-device parsers against byte vectors built from the Bluetooth SIG specifications
(HRS 1.0, PLXS 1.0, HTS 1.0, BLS 1.0; IEEE 11073-20601 SFLOAT and FLOAT), and the BLE source
against a fake client with bleak's interface (no Bluetooth adapter where the tests run)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.edge.ble import (
    Absent,
    BleParseError,
    float32,
    parse_blood_pressure,
    parse_heart_rate,
    parse_plx_continuous,
    parse_plx_spot_check,
    parse_temperature,
    sfloat,
)
from greenwire.edge.ble_source import BleDevice, BleSource, bindings
from greenwire.edge.fhir import Pseudonymiser
from greenwire.transport.buffer import AsyncBuffer, MemoryBuffer


def sf(mantissa: int, exponent: int) -> bytes:
    """An SFLOAT as it travels: 12-bit mantissa, 4-bit exponent, little endian."""
    return struct.pack("<H", ((exponent & 0xF) << 12) | (mantissa & 0x0FFF))


def fl(mantissa: int, exponent: int) -> bytes:
    """A FLOAT as it travels: 24-bit mantissa, 8-bit exponent, little endian."""
    return struct.pack("<I", ((exponent & 0xFF) << 24) | (mantissa & 0xFFFFFF))


def stamp(at: datetime) -> bytes:
    return struct.pack("<HBBBBB", at.year, at.month, at.day, at.hour, at.minute, at.second)


# -- IEEE 11073 numbers -----------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    (0x0048, 72.0), (0xF2D8, 72.8), (0xFFFF, -0.1), (0x07FD, 2045.0), (0x1001, 10.0), (0xE00C, 0.12)])
def test_sfloat_values(raw: int, value: float) -> None:
    assert sfloat(raw) == value


@pytest.mark.parametrize(("raw", "absent"), [(0x07FF, Absent.NAN), (0x0800, Absent.NRES), (0x0801, Absent.RESERVED),
                                             (0x07FE, Absent.POSITIVE_INFINITY), (0x0802, Absent.NEGATIVE_INFINITY)])
def test_sfloat_special_values_are_absent_not_numbers(raw: int, absent: Absent) -> None:
    assert sfloat(raw) is absent


def test_float_values_and_specials() -> None:
    assert float32(struct.unpack("<I", fl(364, -1))[0]) == 36.4
    assert float32(struct.unpack("<I", fl(-5, 0))[0]) == -5.0
    assert float32(0x007FFFFF) is Absent.NAN
    assert float32(0x00800000) is Absent.NRES


@given(st.integers(-2046, 2045), st.integers(-8, 7))
def test_sfloat_decodes_what_was_encoded(mantissa: int, exponent: int) -> None:
    value = sfloat(struct.unpack("<H", sf(mantissa, exponent))[0])
    if mantissa in (2046, 2047, -2048, -2047, -2046) and value in set(Absent):
        return
    assert value == pytest.approx(mantissa * 10.0**exponent, rel=1e-12, abs=1e-12)


# -- the measurement characteristics ----------------------------------------------------------

def test_heart_rate_uint8_uint16_contact_energy_and_rr() -> None:
    assert parse_heart_rate(b"\x00\x48").bpm == 72
    assert parse_heart_rate(b"\x01\x2c\x01").bpm == 300  # uint16 format
    assert parse_heart_rate(b"\x06\x48").contact is True  # supported and detected
    assert parse_heart_rate(b"\x04\x48").contact is False  # supported, not in contact
    assert parse_heart_rate(b"\x00\x48").contact is None  # not supported
    full = parse_heart_rate(b"\x18\x3c" + struct.pack("<H", 500) + struct.pack("<HH", 1024, 512))
    assert (full.bpm, full.energy_kj, full.rr_intervals_s) == (60, 500, (1.0, 0.5))


def test_temperature_in_celsius_and_fahrenheit_with_time_and_type() -> None:
    assert parse_temperature(b"\x00" + fl(364, -1)).celsius == 36.4
    at = datetime(2026, 12, 2, 10, 30, 5, tzinfo=UTC)
    f = parse_temperature(b"\x07" + fl(986, -1) + stamp(at) + b"\x02")
    assert (f.celsius, f.at, f.site) == (37.0, at, 2)


def test_blood_pressure_mmhg_kpa_time_and_pulse() -> None:
    mmhg = parse_blood_pressure(b"\x00" + sf(120, 0) + sf(80, 0) + sf(93, 0))
    assert (mmhg.systolic, mmhg.diastolic, mmhg.mean_arterial) == (120.0, 80.0, 93.0)
    kpa = parse_blood_pressure(b"\x01" + sf(160, -1) + sf(107, -1) + sf(124, -1))
    assert (kpa.systolic, kpa.diastolic) == (120.0, 80.3)
    at = datetime(2026, 1, 31, 7, 0, 0, tzinfo=UTC)
    full = parse_blood_pressure(b"\x1e" + sf(131, 0) + sf(85, 0) + sf(100, 0) + stamp(at) + sf(64, 0) + b"\x01"
                                + struct.pack("<H", 0))
    assert (full.at, full.pulse_per_min, full.user, full.status) == (at, 64.0, 1, 0)


def test_pulse_oximetry_spot_check_and_continuous() -> None:
    spot = parse_plx_spot_check(b"\x00" + sf(97, 0) + sf(72, 0))
    assert (spot.spo2, spot.pulse_per_min, spot.at) == (97.0, 72.0, None)
    continuous = parse_plx_continuous(b"\x00" + sf(95, 0) + sf(0x07FF, 0)[:1] + b"\x07")
    assert continuous.spo2 == 95.0 and continuous.pulse_per_min is Absent.NAN


@pytest.mark.parametrize(("parse", "frame"), [
    (parse_heart_rate, b""), (parse_heart_rate, b"\x01\x48"), (parse_heart_rate, b"\x10\x48\x00"),
    (parse_temperature, b"\x02" + fl(364, -1)), (parse_blood_pressure, b"\x00" + sf(120, 0)),
    (parse_plx_spot_check, b"\x01" + sf(97, 0) + sf(72, 0)),
])
def test_a_frame_shorter_than_its_flags_say_is_an_error(parse: Callable[[bytes], object], frame: bytes) -> None:
    with pytest.raises(BleParseError):
        parse(frame)


# -- the source, against a fake bleak client --------------------------------------------------

KEY = bytes(range(32))
HR = "00002a37-0000-1000-8000-00805f9b34fb"
BP = "00002a35-0000-1000-8000-00805f9b34fb"


class FakeClient:
    """bleak's BleakClient interface: connect, disconnect, is_connected, start_notify, stop_notify."""

    made: ClassVar[dict[str, list[FakeClient]]] = {}
    fail_first: ClassVar[set[str]] = set()

    def __init__(self, address: str) -> None:
        self.address = address
        self.callbacks: dict[str, Callable[[Any, bytearray], None]] = {}
        self._connected = False
        FakeClient.made.setdefault(address, []).append(self)

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self) -> bool:
        if self.address in FakeClient.fail_first:
            FakeClient.fail_first.discard(self.address)
            raise TimeoutError("out of range")
        self._connected = True
        return True

    async def disconnect(self) -> bool:
        self._connected = False
        return True

    async def start_notify(self, uuid: str, callback: Callable[[Any, bytearray], None]) -> None:
        self.callbacks[uuid] = callback

    async def stop_notify(self, uuid: str) -> None:
        self.callbacks.pop(uuid, None)

    def notify(self, uuid: str, data: bytes) -> None:
        self.callbacks[uuid](None, bytearray(data))


CONSENT = "Patient/pat-1 ble=c4:7c:8d:6a:12:3f\nPatient/pat-2\n# Patient/pat-3 ble=AA:AA:AA:AA:AA:AA\n"


def test_bindings_come_from_the_consent_file() -> None:
    assert bindings(CONSENT) == {"C4:7C:8D:6A:12:3F": "Patient/pat-1"}
    with pytest.raises(ValueError, match="already bound"):
        bindings("Patient/a ble=C4:7C:8D:6A:12:3F\nPatient/b ble=C4:7C:8D:6A:12:3F\n")


async def test_source_forwards_a_bound_devices_vitals_pseudonymised_and_nothing_else() -> None:
    FakeClient.made.clear()
    FakeClient.fail_first = {"C4:7C:8D:6A:12:3F"}
    memory = MemoryBuffer()
    buffer = AsyncBuffer(memory)
    pseudonymise = Pseudonymiser(KEY, "pilot2026")
    clock = lambda: datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)  # noqa: E731
    devices = [BleDevice("ward-hr-1", "C4:7C:8D:6A:12:3F", ("heart_rate", "blood_pressure")),
               BleDevice("spare", "11:22:33:44:55:66")]
    source = BleSource(devices, CONSENT, pseudonymise, buffer, client_factory=FakeClient, flush_s=0.05, clock=clock,
                        retry_start_s=0.05)
    assert source.unbound == ["spare"]
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(stop))
    for _ in range(100):  # the first connect fails (out of range), the retry succeeds
        clients = FakeClient.made.get("C4:7C:8D:6A:12:3F", [])
        if clients and clients[-1].callbacks:
            break
        await asyncio.sleep(0.05)
    source_client = FakeClient.made["C4:7C:8D:6A:12:3F"][-1]
    source_client.notify(HR, b"\x06\x48")                     # 72 /min, in contact
    source_client.notify(HR, b"\x04\x50")                     # not in contact: rejected
    source_client.notify(HR, b"\x01\x48")                     # malformed
    source_client.notify(BP, b"\x04" + sf(120, 0) + sf(80, 0) + sf(93, 0) + sf(0x07FF, 0)[:1] + b"\x07")
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 10)
    batches = await buffer.peek(10)
    await buffer.close()
    assert "11:22:33:44:55:66" not in FakeClient.made, "an unbound device is never connected"
    stats = source.stats["ward-hr-1"]
    assert stats.connects == 1 and stats.forwarded == 3
    assert stats.rejected == {"no_skin_contact": 1, "malformed": 1, "data_absent": 1}
    observations = [o for b in batches for o in orjson.loads(b.readings_json)]
    assert sorted((o["code"], o["value"], o["unit"]) for o in observations) == [
        ("8462-4", 80.0, "mm[Hg]"), ("8480-6", 120.0, "mm[Hg]"), ("8867-4", 72.0, "/min")]
    assert {o["subject"] for o in observations} == {pseudonymise("Patient/pat-1")}
    assert {o["device"] for o in observations} == {"ward-hr-1"}
    raw = b"".join(b.readings_json for b in batches)
    assert b"pat-1" not in raw and b"C4:7C" not in raw.upper()
