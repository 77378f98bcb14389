"""A building's carbon account over a period, from its meters' counters and its zone's grid intensity.

Scope 2 location-based (GHG Protocol): the grid-import meters' energy, minute by minute,
times the intensity of that minute (an imported series for the zone, else the zone's static
factor). ``sub_meter`` readings are never added: they allocate, they do not count twice.

Scope 2 of purchased district heat: the heat meters' energy times the building's ``heat_factor``
(static, gCO2e per kWh of heat delivered). Without a heat factor heat is energy only. Heat has no
contractual instruments, so the market-based total adds the same heat emissions as the
location-based one.

Everything here is pure: it computes over readings already fetched (``Readings``, read by
``greenwire.cloud.carbon.fetch``) and imports no InfluxDB client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from greenwire.cloud.carbon.emissions import location_based, minute_buckets
from greenwire.cloud.carbon.energy import CounterTracker, EnergyInterval, track
from greenwire.cloud.carbon.factors import FactorTable, load_factors
from greenwire.cloud.carbon.intensity import IntensitySeries
from greenwire.cloud.sites import Building


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
    gas_kwh: float = 0.0
    scope1_kgco2e: float = 0.0
    scope2_market_kgco2e: float | None = None
    instrument_kwh: float = 0.0
    pv_generation_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    heat_kwh: float = 0.0
    """District heat received."""
    scope2_heat_kgco2e: float | None = None
    """Scope 2 of the district heat (heat x the building's heat factor); None without a heat factor
    (then heat is reported as energy only)."""
    heat_factor_g_per_kwh: float | None = None
    heat_factor_source: str | None = None
    """The heat factor's value and source (listed in ``factors`` too when there was heat)."""
    budget_kgco2e: float | None = None
    """The building's budget for the period (annual budget x monthly share x time covered)."""
    floor_area_m2: float = 0.0
    factors: set[str] = field(default_factory=set)
    factor_table_version: str = ""

    @property
    def total_kgco2e(self) -> float:
        """Scope 1 + Scope 2 location-based (electricity) + Scope 2 of district heat."""
        return self.scope1_kgco2e + self.scope2_location_kgco2e + (self.scope2_heat_kgco2e or 0.0)

    @property
    def total_market_kgco2e(self) -> float | None:
        """Scope 1 + Scope 2 market-based (electricity) + Scope 2 of district heat; None without a
        market section."""
        if self.scope2_market_kgco2e is None:
            return None
        return self.scope1_kgco2e + self.scope2_market_kgco2e + (self.scope2_heat_kgco2e or 0.0)

    @property
    def budget_used_pct(self) -> float | None:
        """The total (``total_kgco2e``) against the period's budget, in percent."""
        if not self.budget_kgco2e:
            return None
        return 100 * self.total_kgco2e / self.budget_kgco2e

    @property
    def pv_self_consumption_kwh(self) -> float | None:
        """PV used in the building: generation minus export (both measured), never negative."""
        if not self.pv_generation_kwh:
            return None
        return max(0.0, self.pv_generation_kwh - self.grid_export_kwh)

    @property
    def intensity_g_per_kwh(self) -> float | None:
        return 1000 * self.scope2_location_kgco2e / self.grid_import_kwh if self.grid_import_kwh else None

    @property
    def kgco2e_per_m2_year(self) -> float:
        """Emissions per floor area, annualised from the period's length."""
        years = (self.end - self.start).total_seconds() / (365.25 * 86400)
        return self.total_kgco2e / self.floor_area_m2 / years if years > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "building": self.building,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "grid_import_kwh": self.grid_import_kwh,
            "estimated_kwh": self.estimated_kwh,
            "rejected_kwh": self.rejected_kwh,
            "scope2_location_kgco2e": self.scope2_location_kgco2e,
            "scope2_market_kgco2e": self.scope2_market_kgco2e,
            "instrument_kwh": self.instrument_kwh,
            "pv_generation_kwh": self.pv_generation_kwh,
            "grid_export_kwh": self.grid_export_kwh,
            "pv_self_consumption_kwh": self.pv_self_consumption_kwh,
            "heat_kwh": self.heat_kwh,
            "scope2_heat_kgco2e": self.scope2_heat_kgco2e,
            "heat_factor_g_per_kwh": self.heat_factor_g_per_kwh,
            "heat_factor_source": self.heat_factor_source,
            "total_kgco2e": self.total_kgco2e,
            "total_market_kgco2e": self.total_market_kgco2e,
            "budget_kgco2e": self.budget_kgco2e,
            "budget_used_pct": self.budget_used_pct,
            "gas_kwh": self.gas_kwh,
            "scope1_kgco2e": self.scope1_kgco2e,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "kgco2e_per_m2_year": self.kgco2e_per_m2_year,
            "factors": sorted(self.factors),
            # The names the reports are documented with (issue of the carbon engine): same values.
            "energy_kwh": self.grid_import_kwh,
            "emissions_location_kg": self.scope2_location_kgco2e,
            "emissions_market_kg": self.scope2_market_kgco2e,
            "scope1_kg": self.scope1_kgco2e,
            "factor_sources": sorted(self.factors),
            "factor_table_version": self.factor_table_version,
        }


Counter = list[tuple[datetime, float, str]]


def account(
    building: Building,
    counters: dict[str, Counter],
    series: IntensitySeries | None,
    start: datetime,
    end: datetime,
    table: FactorTable | None = None,
    gas_counters: dict[str, tuple[str, Counter]] | None = None,
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
        intervals += track(counters.get(meter.device, []), tracker)
        result.rejected_kwh += tracker.rejected_kwh
    buckets = {m: e for m, e in minute_buckets(intervals).items() if start <= m < end}
    for minute in location_based(buckets, series, static):
        result.grid_import_kwh += minute.kwh
        result.estimated_kwh += minute.estimated_kwh
        result.scope2_location_kgco2e += minute.kg_co2e
        result.factors.add(minute.factor_source)
    _gas(result, building, gas_counters or {}, start, end, table)
    result.pv_generation_kwh = _energy(building, "pv_generation", counters, start, end)
    result.grid_export_kwh = _energy(building, "grid_export", counters, start, end)
    result.heat_kwh = _energy(building, "heat", counters, start, end)
    heat = heat_factor(building, table)
    if heat is not None:
        result.heat_factor_g_per_kwh, result.heat_factor_source = heat.g_per_kwh, heat.source
        result.scope2_heat_kgco2e = result.heat_kwh * heat.g_per_kwh / 1000
        if result.heat_kwh:
            result.factors.add(heat.source)
    _market(result, building, start, end)
    result.budget_kgco2e = building.budget_between(start, end)
    return result


def _energy(building: Building, role: str, counters: dict[str, Counter], start: datetime, end: datetime) -> float:
    """Energy of the meters with ``role`` in [start, end), from their counters."""
    intervals = [
        i
        for meter in building.meters_with(role)  # type: ignore[arg-type]
        for i in track(counters.get(meter.device, []), CounterTracker(max_power_kw=meter.max_power_kw))
    ]
    return sum(e.kwh for m, e in minute_buckets(intervals).items() if start <= m < end)


@dataclass(frozen=True, slots=True)
class HeatEmissionFactor:
    """The building's district-heat factor and where it comes from."""

    g_per_kwh: float
    source: str


def heat_factor(building: Building, table: FactorTable) -> HeatEmissionFactor | None:
    """The building's ``heat_factor`` resolved (a factor-table entry or the network's own); None without."""
    chosen = building.heat_factor
    if chosen is None:
        return None
    if isinstance(chosen, str):
        entry = table.heat_factor(chosen)
        return HeatEmissionFactor(entry.value, f"district heat {entry.value:g} gCO2e/kWh: {entry.source} ({entry.year})")
    return HeatEmissionFactor(chosen.value,
                              f"district heat {chosen.value:g} gCO2e/kWh: {chosen.source} ({chosen.year}, site model)")


@dataclass(frozen=True, slots=True)
class Market:
    """Scope 2 market-based over one period."""

    kgco2e: float
    instrument_kwh: float
    sources: tuple[str, ...]


def market_based(building: Building, start: datetime, end: datetime, grid_import_kwh: float) -> Market | None:
    """Instruments first (each spread evenly over its own period, capped at the import), residual mix for the rest.

    None when the building records no market section (then market-based is not reported).
    """
    market = building.market
    if market is None:
        return None
    covered_kwh = covered_kg = 0.0
    sources: list[str] = []
    for instrument in market.instruments:
        i0 = datetime.combine(instrument.start, datetime.min.time(), UTC)
        i1 = datetime.combine(instrument.end, datetime.min.time(), UTC)
        overlap = (min(end, i1) - max(start, i0)).total_seconds()
        if overlap <= 0:
            continue
        kwh = instrument.kwh * overlap / (i1 - i0).total_seconds()
        kwh = min(kwh, grid_import_kwh - covered_kwh)
        covered_kwh += kwh
        covered_kg += kwh * instrument.g_per_kwh / 1000
        sources.append(f"{instrument.kind}: {instrument.source}")
    residual = grid_import_kwh - covered_kwh
    sources.append(f"residual mix {market.residual_mix_g_per_kwh:g} g/kWh: {market.residual_mix_source}")
    return Market(covered_kg + residual * market.residual_mix_g_per_kwh / 1000, covered_kwh, tuple(sources))


def _market(result: Account, building: Building, start: datetime, end: datetime) -> None:
    market = market_based(building, start, end, result.grid_import_kwh)
    if market is not None:
        result.instrument_kwh = market.instrument_kwh
        result.scope2_market_kgco2e = market.kgco2e
        result.factors.update(market.sources)


def gas_intervals(building: Building, gas_counters: dict[str, tuple[str, Counter]],
                  table: FactorTable) -> tuple[list[EnergyInterval], float, set[str]]:
    """The gas meters' energy intervals (volume x calorific value, or energy), the fuel's factor in
    gCO2e/kWh, and the sources of both."""
    fuel = table.fuel_factor("natural_gas")
    cv = table.calorific_value("natural_gas")
    calorific = building.gas_calorific_kwh_per_m3 or cv.value_kwh_per_m3
    intervals: list[EnergyInterval] = []
    for field_name, readings in gas_counters.values():
        per_unit = calorific if field_name == "gas_volume_m3" else 1.0
        intervals += track(((ts, value * per_unit, q) for ts, value, q in readings), CounterTracker())
    sources = {f"{fuel.source} ({fuel.year}), {fuel.energy_basis}"}
    if any(f == "gas_volume_m3" for f, _ in gas_counters.values()):
        source = "site model" if building.gas_calorific_kwh_per_m3 else f"{cv.source} ({cv.year})"
        sources.add(f"gas calorific value {calorific:g} kWh/m3 ({cv.energy_basis}): {source}")
    return intervals, fuel.value, sources


def _gas(result: Account, building: Building, gas_counters: dict[str, tuple[str, Counter]], start: datetime,
         end: datetime, table: FactorTable) -> None:
    """Scope 1 from gas meters: volume x calorific value (or energy) x the fuel's factor."""
    if not gas_counters:
        return
    intervals, g_per_kwh, sources = gas_intervals(building, gas_counters, table)
    kwh = sum(e.kwh for m, e in minute_buckets(intervals).items() if start <= m < end)
    result.gas_kwh = kwh
    result.scope1_kgco2e = kwh * g_per_kwh / 1000
    result.factors.update(sources)


FIELD_OF_ROLE: dict[str, str] = {
    "grid_import": "energy_import_kwh",
    "grid_export": "energy_export_kwh",
    "pv_generation": "energy_generated_kwh",
    "heat": "heat_energy_kwh",
}
"""The counter field each meter role is read from."""

READ_MARGIN = timedelta(hours=1)
"""Counter readings this far outside the period are read too, so the intervals that cross its
edges are known; their energy is then cut at the edges, minute by minute."""


@dataclass(frozen=True, slots=True)
class Readings:
    """What accounting a building over a period needs: its meters' counter readings (with
    ``READ_MARGIN`` on either side) and its zone's stored intensity series."""

    counters: dict[str, Counter]
    """Electricity and heat counters by device (``FIELD_OF_ROLE``)."""
    gas: dict[str, tuple[str, Counter]]
    """Gas counters by device, with the field they count (``gas_volume_m3`` or ``gas_energy_kwh``)."""
    series: IntensitySeries | None
    """The zone's imported or fed intensity; None when there is none (the static factor applies)."""


def account_of(building: Building, readings: Readings, start: datetime, end: datetime,
               table: FactorTable | None = None) -> Account:
    """The account of ``building`` in [start, end) from fetched readings (pure; see ``account``)."""
    return account(building, readings.counters, readings.series, start, end, table, gas_counters=readings.gas)
