"""A building's factors for a period: its site model's choices resolved against the factor library (pure).

:func:`building_factors` answers, for one building and the period starting at ``start``: which
jurisdiction and reporting year apply (the site model's ``factor_set``, else the zone's
jurisdiction and the calendar year of ``start`` in the building's timezone), and from that the
static grid factor, the T&D-loss factor, the residual mix and the natural-gas factor, each with
the published set it comes from. Where the library has nothing for the zone (a zone outside the
four jurisdictions, or a country-wide zone such as ``CN``) the legacy factor table
(``data/factors.yaml``) still answers, and the result says so.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from greenwire.cloud.carbon.factors import FactorTable, GridFactor, load_factors
from greenwire.cloud.carbon.factorsets import (
    BuildingFactors,
    FactorLibrary,
    FuelFactor,
    Jurisdiction,
    fuel_from,
    jurisdiction_of,
    load_library,
    resolve,
)
from greenwire.cloud.sites import Building, OwnFuelFactor

GAS: str = "natural_gas"


def reporting_year(building: Building, start: datetime) -> int:
    """The year whose factors apply to a period starting at ``start``: ``factor_set.year`` if the
    site model fixes it, else the calendar year of ``start`` in the building's timezone."""
    if building.factor_set is not None and building.factor_set.year is not None:
        return building.factor_set.year
    return start.astimezone(ZoneInfo(building.timezone)).year


def building_factors(building: Building, start: datetime, table: FactorTable | None = None,
                     library: FactorLibrary | None = None) -> BuildingFactors:
    """The factors of ``building`` for the period starting at ``start`` (see the module docstring)."""
    year = reporting_year(building, start)
    if table is None and library is None:
        return _cached(building, year)
    return _resolve(building, year, table or load_factors(), library or load_library())


@lru_cache(maxsize=4096)
def _cached(building: Building, year: int) -> BuildingFactors:
    # Market-based results are computed per stored period (every minute of a day): resolve once.
    return _resolve(building, year, load_factors(), load_library())


def _resolve(building: Building, year: int, table: FactorTable, library: FactorLibrary) -> BuildingFactors:
    chosen_jurisdiction = building.factor_set.jurisdiction if building.factor_set is not None else None
    jurisdiction: Jurisdiction | None = chosen_jurisdiction or jurisdiction_of(building.zone)
    fixed_year = building.factor_set is not None and building.factor_set.year is not None
    chosen_by = ("site model" if chosen_jurisdiction else f"default from zone {building.zone}") + (
        f", year {year} from the site model" if fixed_year else f", reporting year {year} from the period")
    return resolve(library, zone=building.zone, year=year, jurisdiction=jurisdiction, chosen_by=chosen_by,
                   gas=_gas(building, year, jurisdiction, table, library))


def _gas(building: Building, year: int, jurisdiction: Jurisdiction | None, table: FactorTable,
         library: FactorLibrary) -> FuelFactor:
    """Natural gas: the site model's own factor or named set, else the jurisdiction's edition, else
    the legacy table's (the US EPA default, flagged: it is no jurisdiction's choice but the US's)."""
    own_cv = building.gas_calorific_kwh_per_m3
    default = library.choose(jurisdiction, "fuel", year, fuel=GAS) if jurisdiction is not None else None
    chosen = building.gas_factor
    if isinstance(chosen, OwnFuelFactor):
        calorific, calorific_source = own_cv, "site model"
        if calorific is None and default is not None and default.factor.basis == chosen.energy_basis:
            inherited = fuel_from(default, library, own_calorific=None)
            calorific, calorific_source = inherited.calorific_kwh_per_m3, inherited.calorific_source
        return FuelFactor(chosen.value, chosen.energy_basis, calorific, calorific_source,
                          f"{chosen.source} ({chosen.year}, site model)", None)
    if isinstance(chosen, str):
        return fuel_from(library.fuel_of(chosen, GAS), library, own_calorific=own_cv)
    if default is not None:
        return fuel_from(default, library, own_calorific=own_cv)
    legacy = table.fuel_factor(GAS)
    cv = table.calorific_value(GAS)
    where = f"jurisdiction {jurisdiction}" if jurisdiction else f"zone {building.zone}"
    return FuelFactor(
        legacy.value, "gross_cv" if legacy.energy_basis == "HHV" else "net_cv",
        own_cv or cv.value_kwh_per_m3, "site model" if own_cv else f"{cv.source} ({cv.year})",
        f"{legacy.source} ({legacy.year}), {legacy.energy_basis}", None,
        note=f"no natural-gas factor for {where} in the factor library: the US EPA default is used "
             "(name one with gas_factor)")


def static_grid(building: Building, factors: BuildingFactors, table: FactorTable) -> GridFactor | None:
    """The zone's static grid factor for minutes no imported intensity series covers: the factor
    set's for the reporting year, else the legacy table's for the zone, else None."""
    chosen = factors.grid
    if chosen is not None and chosen.value is not None:
        return GridFactor(zone=building.zone, value=chosen.value, kind="average", basis="direct",
                          gases=chosen.factor.gases, year=chosen.factor_set.year, source=chosen.source,
                          url=chosen.factor_set.url)
    try:
        return table.grid_factor(building.zone)
    except KeyError:
        return None
