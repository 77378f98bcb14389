"""Bluetooth LE health devices: the GATT measurement characteristics, parsed per the specifications.

Pure: bytes in, measurements out, no Bluetooth stack. The byte layouts are the Bluetooth SIG's
(GATT Specification Supplement, and the service specifications named below); numbers in
IEEE 11073-20601 SFLOAT (16 bit: 4-bit exponent, 12-bit mantissa) and FLOAT (32 bit: 8-bit
exponent, 24-bit mantissa), both two's complement, value = mantissa x 10^exponent.

==========================  ======  =====================================  ==================
service                     uuid    characteristic (uuid)                  LOINC, UCUM unit
==========================  ======  =====================================  ==================
Heart Rate (HRS 1.0)        0x180D  Heart Rate Measurement (0x2A37)         8867-4, /min
Pulse Oximeter (PLXS 1.0)   0x1822  PLX Spot-Check Measurement (0x2A5E)     59408-5, % and
                                    PLX Continuous Measurement (0x2A5F)     8867-4, /min
Health Thermometer (HTS)    0x1809  Temperature Measurement (0x2A1C)        8310-5, Cel
Blood Pressure (BLS 1.0)    0x1810  Blood Pressure Measurement (0x2A35)     8480-6, 8462-4,
                                                                            mm[Hg]; pulse
==========================  ======  =====================================  ==================

A value the device marks as not available (NaN, NRes, reserved, +/-INFINITY) is an explicit
:class:`Absent`, never a number; a frame too short for the fields its flags announce is a
:class:`BleParseError`. Fahrenheit and kPa are converted to the LOINC codes' UCUM units here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from greenwire.shared.errors import DeviceError

KPA_TO_MMHG: Final = 760 / 101.325
"""1 kPa in mmHg (a standard atmosphere is 101.325 kPa and 760 mmHg)."""


class BleParseError(DeviceError):
    """A measurement frame that its own flags say should be longer, or that is malformed."""


class Absent(StrEnum):
    """Why an IEEE 11073 number carries no value (the special values of SFLOAT and FLOAT)."""

    NAN = "nan"
    NRES = "not at this resolution"
    RESERVED = "reserved"
    POSITIVE_INFINITY = "+infinity"
    NEGATIVE_INFINITY = "-infinity"


_SFLOAT_SPECIAL: Final = {0x07FF: Absent.NAN, 0x0800: Absent.NRES, 0x0801: Absent.RESERVED,
                          0x07FE: Absent.POSITIVE_INFINITY, 0x0802: Absent.NEGATIVE_INFINITY}
_FLOAT_SPECIAL: Final = {0x007FFFFF: Absent.NAN, 0x00800000: Absent.NRES, 0x00800001: Absent.RESERVED,
                         0x007FFFFE: Absent.POSITIVE_INFINITY, 0x00800002: Absent.NEGATIVE_INFINITY}

Number = float | Absent


def sfloat(raw: int) -> Number:
    """An IEEE 11073 16-bit SFLOAT: ``mantissa x 10^exponent``, or why there is no value."""
    raw &= 0xFFFF
    if raw in _SFLOAT_SPECIAL:
        return _SFLOAT_SPECIAL[raw]
    mantissa = raw & 0x0FFF
    exponent = raw >> 12
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    if exponent >= 0x8:
        exponent -= 0x10
    return _scaled(mantissa, exponent)


def float32(raw: int) -> Number:
    """An IEEE 11073 32-bit FLOAT: ``mantissa x 10^exponent``, or why there is no value."""
    raw &= 0xFFFFFFFF
    mantissa = raw & 0x00FFFFFF
    if mantissa in _FLOAT_SPECIAL:
        return _FLOAT_SPECIAL[mantissa]
    exponent = raw >> 24
    if mantissa >= 0x00800000:
        mantissa -= 0x01000000
    if exponent >= 0x80:
        exponent -= 0x100
    return _scaled(mantissa, exponent)


def _scaled(mantissa: int, exponent: int) -> float:
    # Exact decimal scaling (10 ** -1 is not 0.1 in binary; round to the digits the value has).
    value = mantissa * 10.0**exponent
    return round(value, -exponent) if exponent < 0 else value


class _Reader:
    """Little-endian fields of one frame, each checked against the bytes that are left."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = bytes(data)
        self._at = 0
        self._what = what

    def take(self, size: int, field: str) -> bytes:
        if self._at + size > len(self._data):
            raise BleParseError(f"{self._what}: {len(self._data)} bytes end before {field} "
                                f"(byte {self._at}, {size} bytes)")
        chunk = self._data[self._at : self._at + size]
        self._at += size
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        return int(struct.unpack("<H", self.take(2, field))[0])

    def sfloat(self, field: str) -> Number:
        return sfloat(self.u16(field))

    def float32(self, field: str) -> Number:
        return float32(int(struct.unpack("<I", self.take(4, field))[0]))

    def timestamp(self, field: str) -> datetime | None:
        """A Date Time characteristic (0x2A08): year u16, month, day, hours, minutes, seconds.

        The device's clock has no time zone: it is taken as UTC, as a gateway sets it. Year,
        month or day 0 mean "not known" (the specification's value): no timestamp then.
        """
        year, month, day, hour, minute, second = struct.unpack("<HBBBBB", self.take(7, field))
        if not (year and month and day):
            return None
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as exc:
            raise BleParseError(f"{self._what}: {field} is not a date: {exc}") from None


@dataclass(frozen=True, slots=True)
class HeartRate:
    """Heart Rate Measurement (0x2A37)."""

    bpm: int
    contact: bool | None
    """Skin contact, when the sensor reports it (flags bits 1-2); None when not supported."""
    energy_kj: int | None = None
    rr_intervals_s: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Temperature:
    """Temperature Measurement (0x2A1C), in degrees Celsius."""

    celsius: Number
    at: datetime | None = None
    site: int | None = None
    """Temperature Type (0x2A1D): 1 armpit, 2 body, 3 ear, 4 finger, ... (the HTS table)."""


@dataclass(frozen=True, slots=True)
class BloodPressure:
    """Blood Pressure Measurement (0x2A35), in mmHg."""

    systolic: Number
    diastolic: Number
    mean_arterial: Number
    at: datetime | None = None
    pulse_per_min: Number | None = None
    user: int | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Oximetry:
    """PLX Spot-Check (0x2A5E) or Continuous (0x2A5F) Measurement: SpO2 in %, pulse rate per minute."""

    spo2: Number
    pulse_per_min: Number
    at: datetime | None = None


def parse_heart_rate(data: bytes) -> HeartRate:
    """Heart Rate Measurement: flags; uint8 or uint16 rate; [energy uint16 kJ]; [RR uint16, 1/1024 s ...]."""
    r = _Reader(data, "Heart Rate Measurement")
    flags = r.u8("flags")
    bpm = r.u16("heart rate (uint16)") if flags & 0x01 else r.u8("heart rate (uint8)")
    contact = bool(flags & 0x02) if flags & 0x04 else None
    energy = r.u16("energy expended") if flags & 0x08 else None
    rr: list[float] = []
    if flags & 0x10:
        rest = r.take(len(bytes(data)) - r._at, "RR intervals")
        if len(rest) % 2:
            raise BleParseError("Heart Rate Measurement: RR intervals are 2 bytes each")
        rr = [v / 1024 for (v,) in struct.iter_unpack("<H", rest)]
    return HeartRate(bpm, contact, energy, tuple(rr))


def parse_temperature(data: bytes) -> Temperature:
    """Temperature Measurement: flags; FLOAT value (Celsius or Fahrenheit); [Date Time]; [type uint8]."""
    r = _Reader(data, "Temperature Measurement")
    flags = r.u8("flags")
    value = r.float32("temperature")
    if flags & 0x01 and isinstance(value, float):  # Fahrenheit
        value = round((value - 32) * 5 / 9, 3)
    at = r.timestamp("time stamp") if flags & 0x02 else None
    site = r.u8("temperature type") if flags & 0x04 else None
    return Temperature(value, at, site)


def parse_blood_pressure(data: bytes) -> BloodPressure:
    """Blood Pressure Measurement: flags; systolic, diastolic, MAP (SFLOAT, mmHg or kPa); [Date Time];
    [pulse rate SFLOAT]; [user id uint8]; [measurement status uint16]."""
    r = _Reader(data, "Blood Pressure Measurement")
    flags = r.u8("flags")
    values = [r.sfloat("systolic"), r.sfloat("diastolic"), r.sfloat("mean arterial pressure")]
    if flags & 0x01:  # kPa
        values = [round(v * KPA_TO_MMHG, 1) if isinstance(v, float) else v for v in values]
    at = r.timestamp("time stamp") if flags & 0x02 else None
    pulse = r.sfloat("pulse rate") if flags & 0x04 else None
    user = r.u8("user id") if flags & 0x08 else None
    status = r.u16("measurement status") if flags & 0x10 else None
    return BloodPressure(values[0], values[1], values[2], at, pulse, user, status)


def parse_plx_spot_check(data: bytes) -> Oximetry:
    """PLX Spot-Check Measurement: flags; SpO2, PR (SFLOAT); [Date Time]; [status ...]."""
    r = _Reader(data, "PLX Spot-Check Measurement")
    flags = r.u8("flags")
    spo2, pulse = r.sfloat("SpO2"), r.sfloat("pulse rate")
    at = r.timestamp("time stamp") if flags & 0x01 else None
    return Oximetry(spo2, pulse, at)


def parse_plx_continuous(data: bytes) -> Oximetry:
    """PLX Continuous Measurement: flags; SpO2PR-Normal (SpO2, PR as SFLOAT); the optional fields
    after it (fast, slow, status, pulse amplitude) are left unread."""
    r = _Reader(data, "PLX Continuous Measurement")
    r.u8("flags")
    return Oximetry(r.sfloat("SpO2"), r.sfloat("pulse rate"))


HEART_RATE_SERVICE: Final = "0000180d-0000-1000-8000-00805f9b34fb"
PULSE_OXIMETER_SERVICE: Final = "00001822-0000-1000-8000-00805f9b34fb"
HEALTH_THERMOMETER_SERVICE: Final = "00001809-0000-1000-8000-00805f9b34fb"
BLOOD_PRESSURE_SERVICE: Final = "00001810-0000-1000-8000-00805f9b34fb"

Measurement = HeartRate | Temperature | BloodPressure | Oximetry


@dataclass(frozen=True, slots=True)
class Characteristic:
    """A measurement characteristic a source subscribes to: its UUID, service and parser."""

    uuid: str
    service: str
    name: str
    parse: object  # Callable[[bytes], Measurement]; kept plain for a frozen, hashable record


CHARACTERISTICS: Final = (
    Characteristic("00002a37-0000-1000-8000-00805f9b34fb", HEART_RATE_SERVICE, "heart_rate", parse_heart_rate),
    Characteristic("00002a5e-0000-1000-8000-00805f9b34fb", PULSE_OXIMETER_SERVICE, "plx_spot_check",
                   parse_plx_spot_check),
    Characteristic("00002a5f-0000-1000-8000-00805f9b34fb", PULSE_OXIMETER_SERVICE, "plx_continuous",
                   parse_plx_continuous),
    Characteristic("00002a1c-0000-1000-8000-00805f9b34fb", HEALTH_THERMOMETER_SERVICE, "temperature",
                   parse_temperature),
    Characteristic("00002a35-0000-1000-8000-00805f9b34fb", BLOOD_PRESSURE_SERVICE, "blood_pressure",
                   parse_blood_pressure),
)
"""The measurement characteristics of the four services, notified (0x2A37, 0x2A5F) or indicated."""

SERVICES: Final = {"heart_rate": HEART_RATE_SERVICE, "pulse_oximeter": PULSE_OXIMETER_SERVICE,
                   "health_thermometer": HEALTH_THERMOMETER_SERVICE, "blood_pressure": BLOOD_PRESSURE_SERVICE}
"""Config names of the services a device offers."""


def vitals(measurement: Measurement) -> list[tuple[str, Number, datetime | None]]:
    """``(LOINC code, value in the code's UCUM unit, device time)`` of each vital a measurement carries."""
    if isinstance(measurement, HeartRate):
        return [("8867-4", float(measurement.bpm), None)]
    if isinstance(measurement, Temperature):
        return [("8310-5", measurement.celsius, measurement.at)]
    if isinstance(measurement, BloodPressure):
        out: list[tuple[str, Number, datetime | None]] = [
            ("8480-6", measurement.systolic, measurement.at), ("8462-4", measurement.diastolic, measurement.at)]
        if measurement.pulse_per_min is not None:
            out.append(("8867-4", measurement.pulse_per_min, measurement.at))
        return out
    return [("59408-5", measurement.spo2, measurement.at), ("8867-4", measurement.pulse_per_min, measurement.at)]
