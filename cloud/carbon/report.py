"""A building's carbon account over a period, from its meters' counters and its zone's grid intensity.

Scope 2 location-based (GHG Protocol): the grid-import meters' energy, minute by minute,
times the intensity of that minute (an imported series for the zone, else the zone's static
factor). ``sub_meter`` readings are never added: they allocate, they do not count twice.

The static factors come from the building's factor set (:mod:`greenwire.cloud.carbon.factor_choice`): the
jurisdiction and reporting year of the period (UK DESNZ for GB, China MEE for CN-xx, EEA and the
AIB residual mix for EU countries, EPA eGRID and the Emission Factors Hub for US-xxxx). The
account names the sets, their versions and years (``factor_sets``), and says where an edition of
another year had to stand in (``factor_notes``). An EU building reports market-based Scope 2 even
without instruments: its whole import at the AIB residual mix of its country and year.

Scope 2 of purchased district heat: the heat meters' energy times the building's ``heat_factor``
(static, gCO2e per kWh of heat delivered). Without a heat factor heat is energy only. Heat has no
contractual instruments, so the market-based total adds the same heat emissions as the
location-based one.

Everything here is pure: it computes over readings already fetched (``Readings``, read by
``greenwire.cloud.carbon.fetch``) and imports no InfluxDB client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from greenwire.cloud.carbon.emissions import MinuteEnergy, location_based
from greenwire.cloud.carbon.energy import CounterLimits
from greenwire.cloud.carbon.factor_choice import building_factors, static_grid
from greenwire.cloud.carbon.factors import FactorTable, load_factors
from greenwire.cloud.carbon.factorsets import BuildingFactors, jurisdiction_of, load_library
from greenwire.cloud.carbon.intensity import IntensitySeries
from greenwire.cloud.carbon.meters import Counter, counter_minutes, role_minutes
from greenwire.cloud.sites import Building, MarketSection


@dataclass(slots=True)
class Account:
    """What a building used and emitted over a period."""

    building: str
    start: datetime
    end: datetime
    grid_import_kwh: float = 0.0
    estimated_kwh: float = 0.0
    """Grid import counted whose timing is estimated (spread over a gap, or since a reset)."""
    excluded_kwh: float = 0.0
    """Grid import left out (a replaced or re-based counter, a rejected rise): the meter's recent
    rate over those intervals, never counted."""
    rejected_kwh: float = 0.0
    """Implausible counter rises of the grid-import meters, never counted."""
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
    jurisdiction: str | None = None
    """The jurisdiction whose factor sets price the account (None for a zone outside them)."""
    reporting_year: int | None = None
    factor_choice: str = ""
    """How the jurisdiction and year were chosen ("default from zone GB, reporting year 2024 ...")."""
    factor_sets: list[str] = field(default_factory=list)
    """Each published set used, with its version and what it priced."""
    factor_notes: list[str] = field(default_factory=list)
    """Where an edition of another year, or no edition of the jurisdiction, had to stand in."""
    factor_library_version: str = ""
    scope3_td_kgco2e: float | None = None
    """Scope 3 (category 3) of the grid import's transmission and distribution losses, where the
    factor set publishes a T&D factor (DESNZ); reported, never in the totals."""

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
    def estimated_share_pct(self) -> float:
        """Estimated grid import as a share of the grid import counted, in percent."""
        return 100 * self.estimated_kwh / self.grid_import_kwh if self.grid_import_kwh else 0.0

    @property
    def excluded_share_pct(self) -> float:
        """Grid import left out as a share of what was counted and left out, in percent."""
        whole = self.grid_import_kwh + self.excluded_kwh
        return 100 * self.excluded_kwh / whole if whole else 0.0

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
            "excluded_kwh": self.excluded_kwh,
            "rejected_kwh": self.rejected_kwh,
            "estimated_share_pct": self.estimated_share_pct,
            "excluded_share_pct": self.excluded_share_pct,
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
            "jurisdiction": self.jurisdiction,
            "reporting_year": self.reporting_year,
            "factor_choice": self.factor_choice,
            "factor_sets": list(self.factor_sets),
            "factor_notes": list(self.factor_notes),
            "factor_library_version": self.factor_library_version,
            "scope3_td_kgco2e": self.scope3_td_kgco2e,
        }


def account(
    building: Building,
    counters: dict[str, Counter],
    series: IntensitySeries | None,
    start: datetime,
    end: datetime,
    table: FactorTable | None = None,
    gas_counters: dict[str, tuple[str, Counter]] | None = None,
    device_max_power_kw: dict[str, float] | None = None,
) -> Account:
    """The account of ``building`` in [start, end) from its grid-import meters' counter readings (pure).

    Readings may extend beyond the period: energy is cut at its edges by the minute.
    """
    chosen = building_factors(building, start, table)
    table = table or load_factors()
    static = static_grid(building, chosen, table)
    result = Account(building.id, start, end, floor_area_m2=building.floor_area_m2,
                     factor_table_version=table.version, jurisdiction=chosen.jurisdiction,
                     reporting_year=chosen.year, factor_choice=chosen.chosen_by,
                     factor_library_version=load_library().version)
    buckets = role_minutes(building, "grid_import", counters, start, end, device_max_power_kw)
    for minute in location_based(buckets, series, static):
        result.grid_import_kwh += minute.kwh
        result.estimated_kwh += minute.estimated_kwh
        result.excluded_kwh += minute.excluded_kwh
        result.rejected_kwh += minute.rejected_kwh
        result.scope2_location_kgco2e += minute.kg_co2e
        if minute.kwh:
            result.factors.add(minute.factor_source)
    _gas(result, building, gas_counters or {}, start, end, table)
    if chosen.td_losses is not None and chosen.td_losses.value is not None:
        result.scope3_td_kgco2e = result.grid_import_kwh * chosen.td_losses.value / 1000
    result.pv_generation_kwh = _energy(building, "pv_generation", counters, start, end, device_max_power_kw)
    result.grid_export_kwh = _energy(building, "grid_export", counters, start, end, device_max_power_kw)
    result.heat_kwh = _energy(building, "heat", counters, start, end, device_max_power_kw)
    heat = heat_factor(building, table)
    if heat is not None:
        result.heat_factor_g_per_kwh, result.heat_factor_source = heat.g_per_kwh, heat.source
        result.scope2_heat_kgco2e = result.heat_kwh * heat.g_per_kwh / 1000
        if result.heat_kwh:
            result.factors.add(heat.source)
    _market(result, building, start, end, chosen, table)
    used = {"grid": static is not None and f"{static.source} ({static.year})" in result.factors,
            "td": result.scope3_td_kgco2e is not None and result.grid_import_kwh > 0,
            "gas": bool(gas_counters), "market": result.scope2_market_kgco2e is not None}
    result.factor_sets = chosen.sets_used(**used)
    result.factor_notes = chosen.notes(**used)
    if used["grid"] and chosen.jurisdiction is not None and chosen.grid is None and static is not None:
        hint = " (eGRID factors need a subregion zone such as US-CAMX)" if chosen.jurisdiction == "US" else ""
        result.factor_notes.append(f"no {chosen.jurisdiction} grid factor for zone {building.zone} in the factor "
                                   f"library: the legacy table's is used{hint}")
    result.budget_kgco2e = building.budget_between(start, end)
    return result


def _energy(building: Building, role: str, counters: dict[str, Counter], start: datetime, end: datetime,
            device_max_power_kw: dict[str, float] | None) -> float:
    """Energy of the meters with ``role`` in [start, end), from their counters."""
    minutes = role_minutes(building, role, counters, start, end, device_max_power_kw)  # type: ignore[arg-type]
    return sum(e.kwh for e in minutes.values())


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


def market_based(building: Building, start: datetime, end: datetime, grid_import_kwh: float,
                 factors: BuildingFactors | None = None, table: FactorTable | None = None) -> Market | None:
    """Instruments first (each spread evenly over its own period, capped at the import), residual mix for the rest.

    The residual mix is the market section's, else the factor set's for the zone and reporting
    year (AIB for an EU country); where the publisher prints none (full disclosure: AIB's N/A),
    the location-based static factor prices the untracked energy, and the source says so. None
    when the building records no market section and is not in the EU (then market-based is not
    reported); an EU building without one reports its whole import at the residual mix.
    """
    market = building.market
    chosen_eu = building.factor_set is not None and building.factor_set.jurisdiction == "EU"
    if market is None and not chosen_eu and jurisdiction_of(building.zone) != "EU":
        return None
    factors = factors or building_factors(building, start, table)
    if market is None:
        if factors.jurisdiction != "EU" or factors.residual_mix is None:
            return None
        market = MarketSection()
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
    g_per_kwh, source = _residual_mix(building, market, factors, table)
    sources.append(f"residual mix {g_per_kwh:g} g/kWh: {source}")
    return Market(covered_kg + residual * g_per_kwh / 1000, covered_kwh, tuple(sources))


def _residual_mix(building: Building, market: MarketSection, factors: BuildingFactors,
                  table: FactorTable | None) -> tuple[float, str]:
    """The residual mix (g/kWh) for the untracked energy and its source."""
    if market.residual_mix_g_per_kwh is not None:
        return market.residual_mix_g_per_kwh, market.residual_mix_source or ""
    chosen = factors.residual_mix
    if chosen is None:  # the site model's validation requires one; a library without it is a bug
        raise LookupError(f"no residual mix for zone {building.zone} in the factor library")
    if chosen.value is not None:
        return chosen.value, chosen.source
    static = static_grid(building, factors, table or load_factors())
    if static is None:
        raise LookupError(f"{chosen.factor_set.id} prints no residual mix for {building.zone} and the zone has "
                          "no static grid factor: give market.residual_mix_g_per_kwh")
    return static.value, (f"{chosen.factor_set.id} prints no residual mix for {building.zone} "
                          f"({chosen.factor.note}): the location-based factor is used, {static.source}")


def _market(result: Account, building: Building, start: datetime, end: datetime, factors: BuildingFactors,
            table: FactorTable) -> None:
    market = market_based(building, start, end, result.grid_import_kwh, factors, table)
    if market is not None:
        result.instrument_kwh = market.instrument_kwh
        result.scope2_market_kgco2e = market.kgco2e
        result.factors.update(market.sources)


_BASIS = {"gross_cv": "gross CV", "net_cv": "net CV"}


def gas_minutes(building: Building, gas_counters: dict[str, tuple[str, Counter]], table: FactorTable | None,
                start: datetime, end: datetime) -> tuple[dict[datetime, MinuteEnergy], float, set[str]]:
    """The gas meters' energy per minute of [start, end) (volume x calorific value, or energy), the
    fuel's factor in gCO2e/kWh, and the sources of both, for the period's reporting year.

    The factor is the building's ``gas_factor`` or its factor set's natural gas (DESNZ gross CV
    for GB, the enterprise guidelines' net CV for CN, EPA's for US), the calorific value on the
    same basis; energy counters (kWh) are taken to be on the factor's basis, and the source says so.
    """
    fuel = building_factors(building, start, table).gas
    assert fuel is not None  # a building always resolves a gas factor, if only the legacy default
    basis = _BASIS[fuel.energy_basis]
    volume = any(f == "gas_volume_m3" for f, _ in gas_counters.values())
    if volume and fuel.calorific_kwh_per_m3 is None:
        raise LookupError(f"building {building.id}: a gas meter counts m3 but no calorific value on the {basis} "
                          "basis of its factor is known: set gas_calorific_kwh_per_m3")
    calorific = fuel.calorific_kwh_per_m3 or 0.0
    scaled = {device: [(ts, value * (calorific if field_name == "gas_volume_m3" else 1.0), q)
                       for ts, value, q in readings]
              for device, (field_name, readings) in gas_counters.items()}
    limits = {m.device: CounterLimits(max_power_kw=m.max_power_kw) for m in building.meters_with("gas")}
    minutes = counter_minutes(scaled, limits, start, end, building.timezone)
    sources = {f"natural gas {fuel.g_per_kwh:g} g/kWh ({basis}): {fuel.source}"}
    if fuel.note:
        sources.add(f"natural gas: {fuel.note}")
    if volume:
        sources.add(f"gas calorific value {calorific:g} kWh/m3 ({basis}): {fuel.calorific_source}")
    if any(f == "gas_energy_kwh" for f, _ in gas_counters.values()):
        sources.add(f"gas energy counters taken as kWh on the {basis} basis of the factor")
    return minutes, fuel.g_per_kwh, sources


def _gas(result: Account, building: Building, gas_counters: dict[str, tuple[str, Counter]], start: datetime,
         end: datetime, table: FactorTable) -> None:
    """Scope 1 from gas meters: volume x calorific value (or energy) x the fuel's factor."""
    if not gas_counters:
        return
    minutes, g_per_kwh, sources = gas_minutes(building, gas_counters, table, start, end)
    kwh = sum(e.kwh for e in minutes.values())
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
    device_max_power_kw: dict[str, float] = field(default_factory=dict)
    """The gateways' plausibility limit of each device (from their status messages), by device."""


def account_of(building: Building, readings: Readings, start: datetime, end: datetime,
               table: FactorTable | None = None) -> Account:
    """The account of ``building`` in [start, end) from fetched readings (pure; see ``account``)."""
    return account(building, readings.counters, readings.series, start, end, table, gas_counters=readings.gas,
                   device_max_power_kw=readings.device_max_power_kw)
