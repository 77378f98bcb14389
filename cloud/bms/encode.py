"""A building's carbon signal -> the values of the BMS points -> Modbus register words (pure).

:func:`parse_signal` reads a retained ``greenwire.carbon.v1`` payload (as
``greenwire.cloud.carbon.signal.signal_payload`` builds it) into a frozen
:class:`CarbonSignal`, or returns :class:`Rejected` with the reason: a BMS
server must keep serving the last good signal, not stop, when one message is bad.
The fields v1 gained (``today_budget_kgco2e``, ``best_windows``: :mod:`greenwire.shared.signal`)
are optional here; unknown ones are ignored, so a newer carbon service does not break an older
BMS bridge.

:func:`point_values` gives every point of :mod:`greenwire.cloud.bms.points` its
engineering value at ``now`` (None: not available), and :func:`registers` turns those
into the register words of one building.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from greenwire.cloud.bms.points import (
    BANDS,
    MAP_VERSION,
    NOT_AVAILABLE,
    POINTS,
    RANGE,
    REGISTER_COUNT,
    WINDOW_HOURS,
    Point,
)
from greenwire.shared.wire import UtcDatetime

DEFAULT_STALE_AFTER = timedelta(minutes=5)
"""The carbon service publishes every minute; five minutes without a signal is stale."""


class _Window(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    duration_h: float
    start: UtcDatetime | None = None
    g_per_kwh: float | None = None
    saving_percent: float | None = None


class CarbonSignal(BaseModel):
    """The parts of ``greenwire.carbon.v1`` a BMS is served (frozen; unknown fields ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_: Literal["greenwire.carbon.v1"] = Field(alias="schema")
    site: str
    building: str
    ts: UtcDatetime
    intensity_g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    emission_rate_kg_per_h: float = Field(ge=0, allow_inf_nan=False)
    today_kgco2e: float = Field(allow_inf_nan=False)
    grid_intensity_g_per_kwh: float = Field(ge=0, allow_inf_nan=False)
    grid_band: str | None = None
    today_budget_kgco2e: float | None = Field(default=None, allow_inf_nan=False)
    best_windows: tuple[_Window, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A payload that is not a carbon signal, and why."""

    reason: str


def parse_signal(payload: bytes) -> CarbonSignal | Rejected:
    """The signal in ``payload``, or why it is not one."""
    try:
        return CarbonSignal.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        return Rejected(f"{'.'.join(map(str, first['loc'])) or 'payload'}: {first['msg']}")


def status_code(signal: CarbonSignal | None, now: datetime, stale_after: timedelta) -> int:
    """0 ok, 1 stale, 2 no signal (``points.STATUS``)."""
    if signal is None:
        return 2
    return 1 if now - signal.ts > stale_after else 0


def point_values(
    signal: CarbonSignal | None,
    now: datetime,
    heartbeat: int,
    *,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> dict[str, float | None]:
    """Every point's engineering value at ``now`` (None where the signal does not say)."""
    values: dict[str, float | None] = {p.name: None for p in POINTS}
    values["map_version"] = MAP_VERSION
    values["status_code"] = status_code(signal, now, stale_after)
    values["heartbeat"] = heartbeat % 65536
    if signal is None:
        return values
    values["data_age_s"] = min(max(0.0, (now - signal.ts).total_seconds()), 65534)
    values["intensity_g_per_kwh"] = signal.intensity_g_per_kwh
    values["grid_intensity_g_per_kwh"] = signal.grid_intensity_g_per_kwh
    values["grid_band"] = BANDS.index(signal.grid_band) if signal.grid_band in BANDS else None
    values["emission_rate_kg_per_h"] = signal.emission_rate_kg_per_h
    values["today_kgco2e"] = signal.today_kgco2e
    if signal.today_budget_kgco2e:
        values["today_budget_used_pct"] = 100 * signal.today_kgco2e / signal.today_budget_kgco2e
    values["signal_time"] = signal.ts.timestamp()
    by_hours = {w.duration_h: w for w in signal.best_windows}
    for hours in WINDOW_HOURS:
        window = by_hours.get(hours)
        if window is None or window.start is None:
            continue
        values[f"best_{hours}h_start_in_min"] = max(0.0, (window.start - now).total_seconds() / 60)
        values[f"best_{hours}h_g_per_kwh"] = window.g_per_kwh
        values[f"best_{hours}h_saving_pct"] = window.saving_percent
        values[f"best_{hours}h_start_time"] = window.start.timestamp()
    return values


def raw(point: Point, value: float | None) -> int:
    """The register value of ``point`` for ``value``: ``round(value / scale)``, else ``not available``."""
    if value is None or not math.isfinite(value):
        return NOT_AVAILABLE[point.type]
    number = round(value / point.scale)
    low, high = RANGE[point.type]
    return number if low <= number <= high else NOT_AVAILABLE[point.type]


def words(point: Point, value: float | None) -> list[int]:
    """The 16-bit words ``point`` holds (high word first; int16 as two's complement)."""
    number = raw(point, value)
    if point.type == "uint32":
        return [(number >> 16) & 0xFFFF, number & 0xFFFF]
    return [number & 0xFFFF]


def registers(values: dict[str, float | None]) -> list[int]:
    """The ``REGISTER_COUNT`` holding registers of one building, from :func:`point_values`."""
    block = [NOT_AVAILABLE["uint16"]] * REGISTER_COUNT
    for point in POINTS:
        block[point.address : point.address + point.count] = words(point, values[point.name])
    return block


def decode(block: list[int]) -> dict[str, float | None]:
    """The engineering values in a register block (the inverse of :func:`registers`, for clients and tests)."""
    out: dict[str, float | None] = {}
    for point in POINTS:
        part = block[point.address : point.address + point.count]
        number = (part[0] << 16 | part[1]) if point.type == "uint32" else part[0]
        if number == NOT_AVAILABLE[point.type]:
            out[point.name] = None
            continue
        if point.type == "int16" and number >= 0x8000:
            number -= 0x10000
        out[point.name] = number * point.scale
    return out
