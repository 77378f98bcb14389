"""Minute buckets of energy and their location-based Scope 2 emissions, matched in time.

Energy intervals are spread over the minutes they span in proportion to the
time in each minute (a counter read every 15 minutes gives fifteen equal
minutes). Each minute's energy is multiplied by the grid intensity of that
minute (GHG Protocol Scope 2 location-based method), falling back to the
zone's static factor where the series has no value; each result says which
factor it used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from greenwire.cloud.carbon.energy import EnergyInterval
from greenwire.cloud.carbon.factors import GridFactor
from greenwire.cloud.carbon.intensity import IntensitySeries

MINUTE = timedelta(minutes=1)


@dataclass(slots=True)
class MinuteEnergy:
    """Energy used in one minute, how much of it is estimated, and what was left out (never
    counted): the recent-rate estimate of intervals excluded and the implausible rises rejected."""

    kwh: float = 0.0
    estimated_kwh: float = 0.0
    excluded_kwh: float = 0.0
    rejected_kwh: float = 0.0

    def add(self, other: MinuteEnergy) -> None:
        self.kwh += other.kwh
        self.estimated_kwh += other.estimated_kwh
        self.excluded_kwh += other.excluded_kwh
        self.rejected_kwh += other.rejected_kwh


@dataclass(frozen=True, slots=True)
class MinuteEmissions:
    """One minute of a building's account."""

    minute: datetime
    kwh: float
    estimated_kwh: float
    kg_co2e: float
    factor_g_per_kwh: float
    factor_source: str
    excluded_kwh: float = 0.0
    rejected_kwh: float = 0.0


def _floor_minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def minute_buckets(intervals: Iterable[EnergyInterval]) -> dict[datetime, MinuteEnergy]:
    """Spread each interval's energy over the minutes it spans, by time in each minute."""
    buckets: dict[datetime, MinuteEnergy] = {}
    for interval in intervals:
        span = (interval.end - interval.start).total_seconds()
        if span <= 0 or not (interval.kwh or interval.excluded_kwh or interval.rejected_kwh):
            continue
        minute = _floor_minute(interval.start)
        while minute < interval.end:
            overlap = (min(minute + MINUTE, interval.end) - max(minute, interval.start)).total_seconds()
            if overlap > 0:
                part = overlap / span
                bucket = buckets.setdefault(minute, MinuteEnergy())
                bucket.kwh += interval.kwh * part
                if interval.estimated:
                    bucket.estimated_kwh += interval.kwh * part
                bucket.excluded_kwh += interval.excluded_kwh * part
                bucket.rejected_kwh += interval.rejected_kwh * part
            minute += MINUTE
    return buckets


def location_based(
    buckets: dict[datetime, MinuteEnergy], series: IntensitySeries | None, fallback: GridFactor | None
) -> list[MinuteEmissions]:
    """Scope 2 location-based emissions per minute: energy x the intensity of that minute."""
    out: list[MinuteEmissions] = []
    for minute in sorted(buckets):
        energy = buckets[minute]
        value = series.value_at(minute) if series is not None else None
        if value is not None and series is not None:
            source = series.source
        elif fallback is not None:
            value, source = fallback.value, f"{fallback.source} ({fallback.year})"
        else:
            raise LookupError(f"no carbon intensity for {minute:%Y-%m-%d %H:%M} UTC and no static factor")
        out.append(
            MinuteEmissions(minute, energy.kwh, energy.estimated_kwh, energy.kwh * value / 1000.0, value, source,
                            energy.excluded_kwh, energy.rejected_kwh)
        )
    return out
