"""A building's results at 1-minute resolution and their hourly, daily and monthly roll-ups, in InfluxDB.

Measurement ``carbon`` (one point per building and period)::

    tags    site, building, resolution (1m | 1h | 1d | 1mo)
    fields  grid_import_kwh, estimated_kwh, scope2_location_kgco2e,
            intensity_g_per_kwh (kgCO2e per kWh of that period x 1000),
            factor_sources (the sources used, "; "-joined), factor_table_version
    time    start of the period: minutes and hours in UTC; days and months start at local
            midnight in the building's timezone (what a facility manager calls "today")

Writes are idempotent (same series and time overwrite), so recomputing a period, as
``greenwire carbon run`` does every minute for the recent past, corrects it in place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.carbon.account import MinuteEmissions, location_based, minute_buckets
from cloud.carbon.energy import CounterTracker, track
from cloud.carbon.factors import FactorTable, load_factors
from cloud.carbon.intensity import IntensitySeries
from cloud.carbon.site import Building
from shared.lineprotocol import SeriesPrefix

MEASUREMENT = "carbon"
LIVE_MEASUREMENT = "carbon_live"
LIVE_WINDOW = timedelta(minutes=15)


@dataclass(slots=True)
class PeriodResult:
    """Totals of one period."""

    start: datetime
    grid_import_kwh: float = 0.0
    estimated_kwh: float = 0.0
    kgco2e: float = 0.0
    sources: set[str] = field(default_factory=set)

    def add(self, minute: MinuteEmissions) -> None:
        self.grid_import_kwh += minute.kwh
        self.estimated_kwh += minute.estimated_kwh
        self.kgco2e += minute.kg_co2e
        self.sources.add(minute.factor_source)


def minutes(
    building: Building,
    counters: dict[str, list[tuple[datetime, float, str]]],
    series: IntensitySeries | None,
    start: datetime,
    end: datetime,
    table: FactorTable | None = None,
) -> list[MinuteEmissions]:
    """Each minute of [start, end) with grid-import energy, and its location-based emissions."""
    table = table or load_factors()
    try:
        static = table.grid_factor(building.zone)
    except KeyError:
        static = None
    intervals = [
        i
        for meter in building.meters_with("grid_import")
        for i in track(counters.get(meter.device, []), CounterTracker(max_power_kw=meter.max_power_kw))
    ]
    buckets = {m: e for m, e in minute_buckets(intervals).items() if start <= m < end}
    return location_based(buckets, series, static)


def roll_up(results: Iterable[MinuteEmissions], timezone: str) -> dict[str, dict[datetime, PeriodResult]]:
    """Minutes summed into 1m, 1h (UTC), 1d and 1mo (local calendar) periods."""
    tz = ZoneInfo(timezone)
    out: dict[str, dict[datetime, PeriodResult]] = {r: {} for r in ("1m", "1h", "1d", "1mo")}
    periods: dict[str, dict[datetime, PeriodResult]] = defaultdict(dict)
    for minute in results:
        local = minute.minute.astimezone(tz)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        keys = {
            "1m": minute.minute,
            "1h": minute.minute.replace(minute=0),
            "1d": day.astimezone(UTC),
            "1mo": day.replace(day=1).astimezone(UTC),
        }
        for resolution, key in keys.items():
            period = periods[resolution].setdefault(key, PeriodResult(key))
            period.add(minute)
    for resolution, table in periods.items():
        out[resolution] = table
    return out


def lines(site: str, building: Building, rolled: dict[str, dict[datetime, PeriodResult]], version: str) -> list[str]:
    """Line protocol of the results (see the module docstring)."""
    out: list[str] = []
    for resolution, periods in rolled.items():
        prefix = SeriesPrefix(MEASUREMENT, {"site": site, "building": building.id, "resolution": resolution})
        for start, p in sorted(periods.items()):
            fields: dict[str, float | str] = {
                "grid_import_kwh": p.grid_import_kwh,
                "estimated_kwh": p.estimated_kwh,
                "scope2_location_kgco2e": p.kgco2e,
                "factor_sources": "; ".join(sorted(p.sources)),
                "factor_table_version": version,
            }
            if p.grid_import_kwh > 0:
                fields["intensity_g_per_kwh"] = 1000 * p.kgco2e / p.grid_import_kwh
            out.append(prefix.line(fields, int(start.timestamp()) * 10**9))
    return out


LIVE_STALE = timedelta(minutes=10)
"""Without a measured minute this recent, there is no live figure (rather than a stale one)."""


def live_figures(recent: list[MinuteEmissions], now: datetime) -> tuple[datetime, float, float] | None:
    """(window end, gCO2e/kWh, kgCO2e/h) over the last 15 measured minutes; None without recent data."""
    measured = [m.minute for m in recent if m.kwh > 0]
    if not measured or now - max(measured) > LIVE_STALE:
        return None
    end = max(measured) + timedelta(minutes=1)
    window = [m for m in recent if end - LIVE_WINDOW <= m.minute < end]
    kwh = sum(m.kwh for m in window)
    kg = sum(m.kg_co2e for m in window)
    # Less than 15 minutes of data (a meter just added): the rate is over the minutes there are.
    span = (end - min(m.minute for m in window if m.kwh > 0)).total_seconds()
    return end, 1000 * kg / kwh, kg * 3600 / span


def signal_payload(
    site: str, building: Building, live: tuple[datetime, float, float], today_kg: float, grid_g_per_kwh: float
) -> bytes:
    """The retained carbon signal for building-management systems (``greenwire.carbon.v1``)."""
    import orjson

    from cloud.carbon.bands import SCHEME, band

    end, intensity, rate = live
    return orjson.dumps({
        "schema": "greenwire.carbon.v1",
        "site": site,
        "building": building.id,
        "ts": end.isoformat().replace("+00:00", "Z"),
        "intensity_g_per_kwh": round(intensity, 3),
        "emission_rate_kg_per_h": round(rate, 4),
        "today_kgco2e": round(today_kg, 3),
        "grid_intensity_g_per_kwh": round(grid_g_per_kwh, 3),
        "grid_band": band(grid_g_per_kwh, end.year),
        "band_scheme": SCHEME,
    })


def live_line(site: str, building: Building, recent: list[MinuteEmissions], now: datetime) -> str | None:
    """The ``carbon_live`` point: intensity and emission rate over the last 15 measured minutes."""
    live = live_figures(recent, now)
    if live is None:
        return None
    end, intensity, rate = live
    prefix = SeriesPrefix(LIVE_MEASUREMENT, {"site": site, "building": building.id})
    return prefix.line(
        {"intensity_g_per_kwh": intensity, "emission_rate_kg_per_h": rate}, int(end.timestamp()) * 10**9
    )


def local_midnight(at: datetime, timezone: str) -> datetime:
    """The start (in UTC) of the local day containing ``at``."""
    local = at.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def compute(influx: object, site: str, building: Building, start: datetime, end: datetime) -> list[str]:
    """Results of [start, end) as line protocol: its 1m, 1h and 1d periods.

    ``start`` and ``end`` should be local midnights (``backfill`` aligns them). Months are
    summed from the stored days afterwards (``month_from_days``), so computing one day never
    overwrites a month with that day alone.
    """
    from cloud.carbon.report import READ_MARGIN
    from cloud.carbon.store import InfluxV1

    assert isinstance(influx, InfluxV1)
    counters = {
        m.device: influx.counter(m.gateway, m.device, start - READ_MARGIN, end + READ_MARGIN)
        for m in building.meters_with("grid_import")
    }
    table = load_factors()
    result = minutes(building, counters, influx.series(building.zone, start, end), start, end, table)
    rolled = roll_up(result, building.timezone)
    del rolled["1mo"]
    return lines(site, building, rolled, table.version)


def month_from_days(influx: object, site: str, building: Building, month_start: datetime) -> list[str]:
    """The month's row re-summed from its stored daily rows (so a live run can refresh it cheaply)."""
    from cloud.carbon.store import InfluxV1, _ns, _quote

    assert isinstance(influx, InfluxV1)
    tz = ZoneInfo(building.timezone)
    local = month_start.astimezone(tz)
    following = (local.replace(day=28) + timedelta(days=4)).replace(day=1).astimezone(UTC)
    rows = influx.query(
        f'SELECT sum("grid_import_kwh") AS kwh, sum("estimated_kwh") AS est, sum("scope2_location_kgco2e") AS kg '
        f'FROM "{MEASUREMENT}" WHERE "resolution" = \'1d\' AND "site" = {_quote(site)} '
        f'AND "building" = {_quote(building.id)} AND time >= {_ns(month_start)} AND time < {_ns(following)}'
    )
    if not rows or rows[0].get("kwh") is None:
        return []
    period = PeriodResult(month_start, float(rows[0]["kwh"]), float(rows[0]["est"] or 0), float(rows[0]["kg"]))
    sources = influx.query(
        f'SELECT DISTINCT("factor_sources") AS s FROM "{MEASUREMENT}" WHERE "resolution" = \'1d\' '
        f'AND "site" = {_quote(site)} AND "building" = {_quote(building.id)} '
        f"AND time >= {_ns(month_start)} AND time < {_ns(following)}"
    )
    for row in sources:
        period.sources.update(part for part in str(row.get("s") or "").split("; ") if part)
    return lines(site, building, {"1mo": {month_start: period}}, load_factors().version)
