"""A building's results at 1-minute resolution and their hourly, daily and monthly roll-ups, in InfluxDB.

Measurement ``carbon`` (one point per building and period)::

    tags    site, building, resolution (1m | 1h | 1d | 1mo)
    fields  grid_import_kwh, estimated_kwh (counted, its timing spread over a gap or since a reset),
            excluded_kwh (left out: replaced or re-based counters, at the meter's recent rate),
            rejected_kwh (implausible counter rises, not energy), scope2_location_kgco2e,
            intensity_g_per_kwh (kgCO2e per kWh of that period x 1000),
            total_kgco2e (Scope 1 + Scope 2 location-based + Scope 2 of district heat),
            factor_sources (the sources used, "; "-joined), factor_table_version;
            and, only for buildings with such meters: pv_generation_kwh, grid_export_kwh,
            pv_self_consumption_kwh (generation - export, at least 0: used at zero emissions),
            heat_kwh, gas_kwh, scope1_kgco2e; scope2_heat_kgco2e (heat kWh x the building's
            heat_factor / 1000) when the building has a heat factor; scope2_market_kgco2e and
            instrument_kwh when the building records a market section (instruments spread over
            their own period and capped at the period's import, the residual mix for the rest)
    time    start of the period: minutes and hours in UTC; days and months start at local
            midnight in the building's timezone (what a facility manager calls "today")

Writes are idempotent (same series and time overwrite), so recomputing a period, as
``greenwire carbon run`` does every minute for the recent past, corrects it in place.

Pure: the functions compute over readings and stored days already fetched
(``greenwire.cloud.carbon.fetch``) and return line protocol; none takes a client.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from greenwire.cloud.carbon.emissions import MinuteEmissions, location_based
from greenwire.cloud.carbon.factor_choice import building_factors, static_grid
from greenwire.cloud.carbon.factors import FactorTable, load_factors
from greenwire.cloud.carbon.intensity import IntensitySeries
from greenwire.cloud.carbon.meters import role_minutes
from greenwire.cloud.sites import Building
from greenwire.shared.lineprotocol import SeriesPrefix

if TYPE_CHECKING:
    from greenwire.cloud.carbon.report import Readings

MEASUREMENT = "carbon"
LIVE_MEASUREMENT = "carbon_live"
LIVE_WINDOW = timedelta(minutes=15)


ROLE_FIELDS = {"pv_generation": "pv_generation_kwh", "grid_export": "grid_export_kwh", "heat": "heat_kwh"}
"""Energy of the other roles, by the field it is stored under."""


@dataclass(slots=True)
class PeriodResult:
    """Totals of one period."""

    start: datetime
    grid_import_kwh: float = 0.0
    estimated_kwh: float = 0.0
    kgco2e: float = 0.0
    sources: set[str] = field(default_factory=set)
    excluded_kwh: float = 0.0
    rejected_kwh: float = 0.0
    other_kwh: dict[str, float] = field(default_factory=dict)
    """Energy of the other roles (``ROLE_FIELDS`` values, and ``gas_kwh``) in the period."""
    scope1_kgco2e: float = 0.0
    scope2_heat_kgco2e: float = 0.0

    @property
    def total_kgco2e(self) -> float:
        """Scope 1 + Scope 2 location-based + Scope 2 of district heat."""
        return self.kgco2e + self.scope1_kgco2e + self.scope2_heat_kgco2e

    def add(self, minute: MinuteEmissions) -> None:
        self.grid_import_kwh += minute.kwh
        self.estimated_kwh += minute.estimated_kwh
        self.excluded_kwh += minute.excluded_kwh
        self.rejected_kwh += minute.rejected_kwh
        self.kgco2e += minute.kg_co2e
        if minute.kwh:
            self.sources.add(minute.factor_source)


@dataclass(slots=True)
class OtherMinutes:
    """Per minute, the energy of a building's other roles, its Scope 1 emissions (from gas) and its
    Scope 2 emissions of district heat (with a heat factor)."""

    kwh: dict[str, dict[datetime, float]] = field(default_factory=dict)
    scope1_kg: dict[datetime, float] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    heat_kg: dict[datetime, float] = field(default_factory=dict)
    heat_source: str = ""


def other_minutes(
    building: Building,
    counters: dict[str, list[tuple[datetime, float, str]]],
    gas: dict[str, tuple[str, list[tuple[datetime, float, str]]]],
    start: datetime,
    end: datetime,
    table: FactorTable,
    device_max_power_kw: dict[str, float] | None = None,
) -> OtherMinutes:
    """PV generation, grid export, heat and gas energy per minute of [start, end), from counter deltas,
    with gas's Scope 1 and heat's Scope 2 (heat kWh x the static heat factor / 1000) per minute."""
    from greenwire.cloud.carbon.report import gas_minutes, heat_factor

    out = OtherMinutes()
    for role, name in ROLE_FIELDS.items():
        if building.meters_with(role):  # type: ignore[arg-type]
            by_minute = role_minutes(building, role, counters, start, end, device_max_power_kw)  # type: ignore[arg-type]
            out.kwh[name] = {t: e.kwh for t, e in by_minute.items()}
    heat = heat_factor(building, table)
    if heat is not None and "heat_kwh" in out.kwh:
        out.heat_kg = {t: kwh * heat.g_per_kwh / 1000 for t, kwh in out.kwh["heat_kwh"].items()}
        out.heat_source = heat.source
    if building.meters_with("gas"):
        gas_by_minute, g_per_kwh, sources = gas_minutes(building, gas, table, start, end)
        gas_kwh = {t: e.kwh for t, e in gas_by_minute.items()}
        out.kwh["gas_kwh"] = gas_kwh
        out.scope1_kg = {t: kwh * g_per_kwh / 1000 for t, kwh in gas_kwh.items()}
        if gas:
            out.sources |= sources
    return out


def minutes(
    building: Building,
    counters: dict[str, list[tuple[datetime, float, str]]],
    series: IntensitySeries | None,
    start: datetime,
    end: datetime,
    table: FactorTable | None = None,
    device_max_power_kw: dict[str, float] | None = None,
) -> list[MinuteEmissions]:
    """Each minute of [start, end) with grid-import energy, and its location-based emissions."""
    static = static_grid(building, building_factors(building, start, table), table or load_factors())
    buckets = role_minutes(building, "grid_import", counters, start, end, device_max_power_kw)
    return location_based(buckets, series, static)


def _period_keys(minute: datetime, tz: ZoneInfo) -> dict[str, datetime]:
    day = minute.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "1m": minute,
        "1h": minute.replace(minute=0),
        "1d": day.astimezone(UTC),
        "1mo": day.replace(day=1).astimezone(UTC),
    }


def roll_up(results: Iterable[MinuteEmissions], timezone: str,
            others: OtherMinutes | None = None) -> dict[str, dict[datetime, PeriodResult]]:
    """Minutes summed into 1m, 1h (UTC), 1d and 1mo (local calendar) periods."""
    tz = ZoneInfo(timezone)
    out: dict[str, dict[datetime, PeriodResult]] = {r: {} for r in ("1m", "1h", "1d", "1mo")}
    periods: dict[str, dict[datetime, PeriodResult]] = defaultdict(dict)
    for result in results:
        for resolution, key in _period_keys(result.minute, tz).items():
            periods[resolution].setdefault(key, PeriodResult(key)).add(result)
    if others is not None:
        for name, by_minute in others.kwh.items():
            for minute, kwh in by_minute.items():
                for resolution, key in _period_keys(minute, tz).items():
                    period = periods[resolution].setdefault(key, PeriodResult(key))
                    period.other_kwh[name] = period.other_kwh.get(name, 0.0) + kwh
                    if name == "gas_kwh":
                        period.scope1_kgco2e += others.scope1_kg.get(minute, 0.0)
                        period.sources |= others.sources
                    elif name == "heat_kwh" and minute in others.heat_kg:
                        period.scope2_heat_kgco2e += others.heat_kg[minute]
                        if kwh:
                            period.sources.add(others.heat_source)
        # A role present but silent in a period still shows as zero, not as a missing value.
        for table in periods.values():
            for period in table.values():
                for name in others.kwh:
                    period.other_kwh.setdefault(name, 0.0)
    for resolution, table in periods.items():
        out[resolution] = table
    return out


def period_end(resolution: str, start: datetime, timezone: str) -> datetime:
    """The (exclusive) end of the period of ``resolution`` that starts at ``start``."""
    if resolution == "1m":
        return start + timedelta(minutes=1)
    if resolution == "1h":
        return start + timedelta(hours=1)
    local = start.astimezone(ZoneInfo(timezone))
    if resolution == "1d":
        return local_midnight(local.replace(hour=12) + timedelta(days=1), timezone)
    return local_midnight((local.replace(day=28, hour=12) + timedelta(days=4)).replace(day=1), timezone)


def lines(site: str, building: Building, rolled: dict[str, dict[datetime, PeriodResult]], version: str) -> list[str]:
    """Line protocol of the results (see the module docstring)."""
    from greenwire.cloud.carbon.report import market_based

    out: list[str] = []
    for resolution, periods in rolled.items():
        prefix = SeriesPrefix(MEASUREMENT, {"site": site, "building": building.id, "resolution": resolution})
        for start, p in sorted(periods.items()):
            sources = set(p.sources)
            fields: dict[str, float | str] = {
                "grid_import_kwh": p.grid_import_kwh,
                "estimated_kwh": p.estimated_kwh,
                "excluded_kwh": p.excluded_kwh,
                "rejected_kwh": p.rejected_kwh,
                "scope2_location_kgco2e": p.kgco2e,
                "total_kgco2e": p.total_kgco2e,
            }
            if p.grid_import_kwh > 0:
                fields["intensity_g_per_kwh"] = 1000 * p.kgco2e / p.grid_import_kwh
            fields.update(p.other_kwh)
            if "gas_kwh" in p.other_kwh:
                fields["scope1_kgco2e"] = p.scope1_kgco2e
            if building.heat_factor is not None and "heat_kwh" in p.other_kwh:
                fields["scope2_heat_kgco2e"] = p.scope2_heat_kgco2e
            if "pv_generation_kwh" in p.other_kwh:
                fields["pv_self_consumption_kwh"] = max(
                    0.0, p.other_kwh["pv_generation_kwh"] - p.other_kwh.get("grid_export_kwh", 0.0))
            market = market_based(building, start, period_end(resolution, start, building.timezone),
                                  p.grid_import_kwh)
            if market is not None:
                fields["scope2_market_kgco2e"] = market.kgco2e
                fields["instrument_kwh"] = market.instrument_kwh
                sources.update(market.sources)
            fields["factor_sources"] = "; ".join(sorted(sources))
            fields["factor_table_version"] = version
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


def day_results(
    building: Building,
    counters: dict[str, list[tuple[datetime, float, str]]],
    gas: dict[str, tuple[str, list[tuple[datetime, float, str]]]],
    series: IntensitySeries | None,
    start: datetime,
    end: datetime,
    table: FactorTable,
    device_max_power_kw: dict[str, float] | None = None,
) -> dict[str, dict[datetime, PeriodResult]]:
    """The 1m, 1h and 1d periods of [start, end) from the building's counter readings (pure)."""
    result = minutes(building, counters, series, start, end, table, device_max_power_kw)
    others = other_minutes(building, counters, gas, start, end, table, device_max_power_kw)
    rolled = roll_up(result, building.timezone, others)
    del rolled["1mo"]
    return rolled


def day_lines(site: str, building: Building, readings: Readings, start: datetime, end: datetime,
              table: FactorTable | None = None) -> list[str]:
    """Results of [start, end) as line protocol: its 1m, 1h and 1d periods (pure).

    ``start`` and ``end`` should be local midnights (``backfill`` aligns them). Months are
    summed from the stored days afterwards (``month_lines``), so computing one day never
    overwrites a month with that day alone.
    """
    table = table or load_factors()
    rolled = day_results(building, readings.counters, readings.gas, readings.series, start, end, table,
                         readings.device_max_power_kw)
    return lines(site, building, rolled, table.version)


MONTH_SUMS = ("grid_import_kwh", "estimated_kwh", "excluded_kwh", "rejected_kwh", "scope2_location_kgco2e", *ROLE_FIELDS.values(), "gas_kwh",
              "scope1_kgco2e", "scope2_heat_kgco2e")
"""The fields of the stored days that a month's row sums."""


@dataclass(frozen=True, slots=True)
class StoredDays:
    """A month's stored daily rows, summed: each of ``MONTH_SUMS`` (None where no day has it)
    and every factor source the days name."""

    sums: dict[str, float | None]
    sources: frozenset[str] = frozenset()


def month_end(month_start: datetime, timezone: str) -> datetime:
    """The (exclusive) end of the local calendar month that starts at ``month_start``."""
    local = month_start.astimezone(ZoneInfo(timezone))
    return (local.replace(day=28) + timedelta(days=4)).replace(day=1).astimezone(UTC)


def month_period(month_start: datetime, days: StoredDays) -> PeriodResult | None:
    """The month as one period, re-summed from its days; None when no day is stored (pure)."""
    sums = days.sums
    if sums.get("grid_import_kwh") is None:
        return None
    period = PeriodResult(month_start, float(sums["grid_import_kwh"] or 0.0), float(sums.get("estimated_kwh") or 0.0),
                          float(sums.get("scope2_location_kgco2e") or 0.0))
    other = [*ROLE_FIELDS.values(), "gas_kwh"]
    period.other_kwh = {name: float(value) for name in other if (value := sums.get(name)) is not None}
    period.scope1_kgco2e = float(sums.get("scope1_kgco2e") or 0.0)
    period.scope2_heat_kgco2e = float(sums.get("scope2_heat_kgco2e") or 0.0)
    period.excluded_kwh = float(sums.get("excluded_kwh") or 0.0)
    period.rejected_kwh = float(sums.get("rejected_kwh") or 0.0)
    period.sources.update(days.sources)
    return period


def month_lines(site: str, building: Building, month_start: datetime, days: StoredDays,
                version: str | None = None) -> list[str]:
    """The month's ``1mo`` row from its stored days (so a live run can refresh it cheaply); pure."""
    period = month_period(month_start, days)
    if period is None:
        return []
    return lines(site, building, {"1mo": {month_start: period}}, version or load_factors().version)
