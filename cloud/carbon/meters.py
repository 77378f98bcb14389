"""A building's energy per minute, from its meters' counters: the one computation every figure uses.

Each local day of the building is classified on its own readings (the day with ``READ_MARGIN``
on either side, and ``NEIGHBOURS`` readings beyond: exactly what the carbon engine fetches to
store that day), and only the
minutes inside that day are kept from it. A month's statement, a year's account, the stored
days, the live window and today's account therefore see the same minutes, whichever period
they were asked for: the history-based plausibility limit of a counter
(:mod:`greenwire.cloud.carbon.energy`) depends on the day, never on the length of the query.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from greenwire.cloud.carbon.emissions import MinuteEnergy, minute_buckets
from greenwire.cloud.carbon.energy import CounterLimits, counter_intervals
from greenwire.cloud.sites import Building, Role

READ_MARGIN = timedelta(hours=1)
"""Counter readings this far outside a day are read with it, so the intervals that cross its
edges, and the readings either side of a fault at midnight, are known."""

Counter = list[tuple[datetime, float, str]]


def local_days(start: datetime, end: datetime, timezone: str) -> list[tuple[datetime, datetime]]:
    """The building's local calendar days (UTC bounds) that overlap [start, end)."""
    tz = ZoneInfo(timezone)
    day = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[tuple[datetime, datetime]] = []
    while day.astimezone(UTC) < end:
        following = (day.replace(hour=12) + timedelta(days=1)).replace(hour=0)
        out.append((day.astimezone(UTC), following.astimezone(UTC)))
        day = following
    return out


NEIGHBOURS = 2
"""Readings beyond the margin on either side that a day's classification also takes: a meter read
hourly or daily has no reading within the margin, and the intervals into and out of the day (and
the look-ahead that judges them) need one."""


def _window(readings: Sequence[tuple[datetime, float, str]], times: Sequence[datetime], start: datetime,
            end: datetime) -> Sequence[tuple[datetime, float, str]]:
    """The readings in [start, end] and ``NEIGHBOURS`` more on either side."""
    first = max(0, bisect_left(times, start) - NEIGHBOURS)
    return readings[first:bisect_right(times, end) + NEIGHBOURS]


def counter_minutes(counters: Mapping[str, Counter], limits: Mapping[str, CounterLimits], start: datetime,
                    end: datetime, timezone: str) -> dict[datetime, MinuteEnergy]:
    """Energy per minute of [start, end) summed over ``counters`` (by device), each local day
    classified on its own readings (see the module docstring)."""
    out: dict[datetime, MinuteEnergy] = {}
    days = local_days(start, end, timezone)
    for device, readings in counters.items():
        ordered = sorted(readings, key=lambda r: r[0])
        times = [r[0] for r in ordered]
        device_limits = limits.get(device, CounterLimits())
        for day_start, day_end in days:
            chunk = _window(ordered, times, day_start - READ_MARGIN, day_end + READ_MARGIN)
            lo, hi = max(start, day_start), min(end, day_end)
            for minute, energy in minute_buckets(counter_intervals(chunk, device_limits)).items():
                if lo <= minute < hi:
                    out.setdefault(minute, MinuteEnergy()).add(energy)
    return out


def meter_limits(building: Building, device_max_power_kw: Mapping[str, float] | None = None) -> dict[str, CounterLimits]:
    """Each meter's counter limits: the site model's ``max_power_kw``, else the gateway's."""
    gateway = device_max_power_kw or {}
    return {m.device: CounterLimits(max_power_kw=m.max_power_kw, device_max_power_kw=gateway.get(m.device))
            for m in building.meters}


def role_minutes(building: Building, role: Role, counters: Mapping[str, Counter], start: datetime, end: datetime,
                 device_max_power_kw: Mapping[str, float] | None = None) -> dict[datetime, MinuteEnergy]:
    """Energy per minute of [start, end) of the building's meters with ``role``."""
    devices = {m.device: counters.get(m.device, []) for m in building.meters_with(role)}
    return counter_minutes(devices, meter_limits(building, device_max_power_kw), start, end, building.timezone)


def totals(minutes: Mapping[datetime, MinuteEnergy]) -> MinuteEnergy:
    """The sum of ``minutes``."""
    total = MinuteEnergy()
    for energy in minutes.values():
        total.add(energy)
    return total
