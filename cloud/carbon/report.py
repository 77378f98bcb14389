"""A building's carbon account over a period, from its meters' counters and its zone's grid intensity.

Scope 2 location-based (GHG Protocol): the grid-import meters' energy, minute by minute,
times the intensity of that minute (an imported series for the zone, else the zone's static
factor). ``sub_meter`` readings are never added: they allocate, they do not count twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloud.carbon.account import location_based, minute_buckets
from cloud.carbon.energy import CounterTracker, EnergyInterval
from cloud.carbon.factors import FactorTable, load_factors
from cloud.carbon.intensity import IntensitySeries
from cloud.carbon.site import Building
from cloud.carbon.store import InfluxV1


@dataclass(slots=True)
class Account:
    """What a building used and emitted over a period."""

    building: str
    start: datetime
    end: datetime
    grid_import_kwh: float = 0.0
    estimated_kwh: float = 0.0
    rejected_kwh: float = 0.0
    scope2_location_kgco2e: float = 0.0
    floor_area_m2: float = 0.0
    factors: set[str] = field(default_factory=set)
    factor_table_version: str = ""

    @property
    def intensity_g_per_kwh(self) -> float | None:
        return 1000 * self.scope2_location_kgco2e / self.grid_import_kwh if self.grid_import_kwh else None

    @property
    def kgco2e_per_m2_year(self) -> float:
        """Emissions per floor area, annualised from the period's length."""
        years = (self.end - self.start).total_seconds() / (365.25 * 86400)
        return self.scope2_location_kgco2e / self.floor_area_m2 / years if years > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "building": self.building,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "grid_import_kwh": self.grid_import_kwh,
            "estimated_kwh": self.estimated_kwh,
            "rejected_kwh": self.rejected_kwh,
            "scope2_location_kgco2e": self.scope2_location_kgco2e,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "kgco2e_per_m2_year": self.kgco2e_per_m2_year,
            "factors": sorted(self.factors),
            "factor_table_version": self.factor_table_version,
        }


def account(
    building: Building,
    counters: dict[str, list[tuple[datetime, float, str]]],
    series: IntensitySeries | None,
    start: datetime,
    end: datetime,
    table: FactorTable | None = None,
) -> Account:
    """The account of ``building`` in [start, end) from its grid-import meters' counter readings (pure).

    Readings may extend beyond the period: energy is cut at its edges by the minute.
    """
    table = table or load_factors()
    try:
        static = table.grid_factor(building.zone)
    except KeyError:
        static = None
    result = Account(building.id, start, end, floor_area_m2=building.floor_area_m2,
                     factor_table_version=table.version)
    intervals: list[EnergyInterval] = []
    for meter in building.meters_with("grid_import"):
        tracker = CounterTracker(max_power_kw=meter.max_power_kw)
        for ts, value, quality in counters.get(meter.device, []):
            interval = tracker.add(ts, value, quality)
            if interval is not None:
                intervals.append(interval)
        result.rejected_kwh += tracker.rejected_kwh
    buckets = {m: e for m, e in minute_buckets(intervals).items() if start <= m < end}
    for minute in location_based(buckets, series, static):
        result.grid_import_kwh += minute.kwh
        result.estimated_kwh += minute.estimated_kwh
        result.scope2_location_kgco2e += minute.kg_co2e
        result.factors.add(minute.factor_source)
    return result


READ_MARGIN = timedelta(hours=1)
"""Counter readings this far outside the period are read too, so the intervals that cross its
edges are known; their energy is then cut at the edges, minute by minute."""


def account_from_influx(influx: InfluxV1, building: Building, start: datetime, end: datetime) -> Account:
    """Fetch the building's counters and its zone's series, then account (see ``account``)."""
    counters = {
        m.device: influx.counter(m.gateway, m.device, start - READ_MARGIN, end + READ_MARGIN)
        for m in building.meters_with("grid_import")
    }
    return account(building, counters, influx.series(building.zone, start, end), start, end)
