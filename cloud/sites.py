"""The site model: sites, their buildings, and which meter measures what (cloud config, YAML).

::

    sites:
      - id: cambridge
        name: University estate
        buildings:
          - id: b2
            floor_area_m2: 11500
            use: office
            zone: GB                    # grid zone: a series imported for it, else a static factor
            timezone: Europe/London
            annual_budget_kgco2e: 1200000
            meters:
              - {gateway: gw-demo, device: b2-main, role: grid_import}
              - {gateway: gw-demo, device: b2-pv, role: pv_generation}
              - {gateway: gw-demo, device: b2-dh, role: heat}
            heat_factor: us_epa_district_hot_water   # or the network's own {value, source, year}
            factor_set: {jurisdiction: GB, year: 2024}  # optional: default from the zone, the period's year
            gas_factor: desnz-2024                   # optional: a set's natural gas, or {value, source, year}
            outdoor_temperature: {gateway: gw-demo, device: roof-station}  # optional: for the forecast

Roles: ``grid_import``, ``grid_export``, ``pv_generation``, ``sub_meter`` (allocation only,
never added to the building's total), ``gas`` (m3 or kWh), ``heat`` (district heat, kWh), ``production`` (a production counter, tonnes or
pieces, never energy: see ``installations`` below).

A site may hold ``installations`` (industrial installations for EU CBAM: their processes, products,
precursors and allocation rules; :mod:`greenwire.cloud.cbam.model`), checked against the site's
buildings and meters.

``heat_factor`` makes district heat Scope 2 emissions: either the name of an entry of the factor
table's ``heat`` section (``us_epa_district_hot_water``, ``us_epa_district_steam``: EPA's US
defaults) or the heat network's own published factor, ``{value: gCO2e per kWh of heat, source,
year}``, which is what an operator should use where the network publishes one. Without it a
building's heat is reported as energy only (there is no default).

``outdoor_temperature`` names where the building's outdoor air temperature is read, ``{gateway,
device, quantity}`` (``quantity`` defaults to ``temperature_c``; any instantaneous quantity in degC
of the vocabulary): a weather station or an outdoor sensor read by a gateway like any meter. The
day-ahead forecast then uses the temperatures before each forecast's origin
(:mod:`greenwire.cloud.forecast.features`); without it the forecast uses the calendar and the
building's own load.

``factor_set`` picks the published factors by jurisdiction and reporting year (see
:mod:`greenwire.cloud.carbon.factorsets`): by default the zone's jurisdiction (GB -> UK DESNZ, CN-xx -> China
MEE and the enterprise-guideline fuels, EU countries -> EEA and the AIB residual mix, US-xxxx ->
EPA eGRID and the Emission Factors Hub) and the calendar year of the period. ``gas_factor`` names
the set whose natural-gas factor prices the gas meters (``desnz-2024``) or gives the supplier's own
``{value: gCO2e per kWh, source, year, energy_basis: gross_cv | net_cv}``. A ``market`` section may
leave out the residual mix where the library has one for the zone (AIB for EU countries).
Validated like the edge config: errors name the file and line.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.factorsets import Jurisdiction, jurisdiction_of, load_library
from greenwire.cloud.cbam.model import Installation, Zone
from greenwire.shared.quantities import QUANTITIES, Kind
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import LocatedValueError, load_model, read_config

_FROZEN = ConfigDict(frozen=True, extra="forbid")

Role = Literal["grid_import", "grid_export", "pv_generation", "sub_meter", "gas", "heat", "production"]


class MeterRef(BaseModel):
    """A meter of the fleet, by the gateway that reads it and its device id, with its role."""

    model_config = _FROZEN

    gateway: Id
    device: Id
    role: Role
    max_power_kw: float | None = Field(default=None, gt=0, description="For rejecting implausible counter jumps.")


class OutdoorTemperature(BaseModel):
    """Where a building's outdoor air temperature is read: a device of a gateway and its quantity."""

    model_config = _FROZEN

    gateway: Id
    device: Id
    quantity: str = "temperature_c"

    @field_validator("quantity")
    @classmethod
    def _a_temperature(cls, value: str) -> str:
        quantity = QUANTITIES.get(value)
        if quantity is None or quantity.unit != "degC" or quantity.kind is not Kind.INSTANT:
            known = ", ".join(q.name for q in QUANTITIES.values() if q.unit == "degC" and q.kind is Kind.INSTANT)
            raise ValueError(f"{value!r} is not a temperature quantity of the vocabulary (one of: {known})")
        return value


class Instrument(BaseModel):
    """A contractual instrument for Scope 2 market-based: certificates or a PPA for a period."""

    model_config = _FROZEN

    kind: Literal["certificate", "ppa", "green_tariff"]
    kwh: float = Field(gt=0, description="Energy the instrument covers over its period (spread evenly).")
    start: date = Field(alias="from")
    end: date = Field(alias="to", description="Exclusive.")
    g_per_kwh: float = Field(default=0.0, ge=0, description="Emission factor of the instrument's energy.")
    source: str = Field(min_length=1, description="Certificate batch, contract or tariff reference.")

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.end <= self.start:
            raise ValueError("'to' must be after 'from'")
        return self


class MarketSection(BaseModel):
    """What Scope 2 market-based needs: the building's instruments and the residual mix (given
    here, or left out to take the factor set's, e.g. AIB's for an EU country)."""

    model_config = _FROZEN

    residual_mix_g_per_kwh: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    residual_mix_source: str | None = Field(
        default=None, min_length=1, description="Where the residual-mix factor comes from, and its year."
    )
    instruments: tuple[Instrument, ...] = ()

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.residual_mix_g_per_kwh is None) != (self.residual_mix_source is None):
            missing = "residual_mix_source" if self.residual_mix_source is None else "residual_mix_g_per_kwh"
            raise LocatedValueError(f"{missing} is required with the other residual-mix key "
                                    "(or leave both out to take the factor set's residual mix)", loc=(missing,))
        return self


class HeatNetworkFactor(BaseModel):
    """A heat network's own emission factor, as it publishes it."""

    model_config = _FROZEN

    value: float = Field(gt=0, allow_inf_nan=False, description="gCO2e per kWh of heat delivered.")
    source: str = Field(min_length=1, description="Who publishes the factor, and where.")
    year: int = Field(ge=1990, le=2100)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the source of the factor must be given (who publishes it, and where)")
        return value


class FactorSetChoice(BaseModel):
    """Which published factors a building's account uses: a jurisdiction and a reporting year."""

    model_config = _FROZEN

    jurisdiction: Jurisdiction | None = Field(default=None, description="Default: the zone's jurisdiction.")
    year: int | None = Field(default=None, ge=1990, le=2100,
                             description="Default: the calendar year of the period (the building's timezone).")


class OwnFuelFactor(BaseModel):
    """A fuel supplier's own emission factor, as it publishes it."""

    model_config = _FROZEN

    value: float = Field(gt=0, allow_inf_nan=False, description="gCO2e per kWh of fuel energy.")
    source: str = Field(min_length=1, description="Who publishes the factor, and where.")
    year: int = Field(ge=1990, le=2100)
    energy_basis: Literal["gross_cv", "net_cv"] = "gross_cv"

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the source of the factor must be given (who publishes it, and where)")
        return value


GasFactorRef = Annotated[
    Annotated[str, Tag("name")] | Annotated[OwnFuelFactor, Tag("own")],
    Discriminator(lambda value: "name" if isinstance(value, str) else "own"),
]
"""A factor set by id (its natural-gas factor), or the supplier's own factor."""


def _heat_factor_kind(value: object) -> str:
    return "name" if isinstance(value, str) else "own"


HeatFactorRef = Annotated[
    Annotated[str, Tag("name")] | Annotated[HeatNetworkFactor, Tag("own")],
    Discriminator(_heat_factor_kind),
]
"""A factor-table entry by name, or the network's own factor (one error, for the form given)."""


class Building(BaseModel):
    """One building and its meters."""

    model_config = _FROZEN

    id: Id
    name: str = ""
    floor_area_m2: float = Field(gt=0)
    use: str = "other"
    zone: str = Field(min_length=1, description="Grid zone, e.g. GB, DE, CN-HI, CN-JS.")
    timezone: str = "UTC"
    annual_budget_kgco2e: float | None = Field(default=None, gt=0)
    monthly_budget_split: tuple[float, ...] | None = Field(
        default=None,
        description="Twelve shares of the annual budget, January first, summing to 1 (e.g. more in winter). "
        "Default: in proportion to the days of each month.",
    )
    gas_calorific_kwh_per_m3: float | None = Field(
        default=None, gt=0, le=20,
        description="The gas supplier's calorific value (gross, kWh per m3); default from the factor table.",
    )
    meters: tuple[MeterRef, ...] = Field(min_length=1)
    market: MarketSection | None = None
    heat_factor: HeatFactorRef | None = Field(
        default=None,
        description="District heat's emission factor: a factor-table name or {value, source, year}. "
        "Without it heat is energy only.",
    )
    factor_set: FactorSetChoice | None = Field(
        default=None, description="Jurisdiction and year of the published factors; default from the zone and period.",
    )
    gas_factor: GasFactorRef | None = Field(
        default=None, description="Natural gas: a factor-set id, or {value, source, year, energy_basis}. "
        "Default: the factor set's natural gas.",
    )
    outdoor_temperature: OutdoorTemperature | None = Field(
        default=None, description="The device and quantity of the building's outdoor air temperature, for the "
        "day-ahead forecast. Default: none (the forecast uses the calendar and the building's own load).",
    )

    @field_validator("gas_factor")
    @classmethod
    def _gas_factor_known(cls, value: str | OwnFuelFactor | None) -> str | OwnFuelFactor | None:
        if isinstance(value, str):
            try:
                load_library().fuel_of(value, "natural_gas")
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        return value

    @model_validator(mode="after")
    def _factor_set_exists(self) -> Self:
        library = load_library()
        zone_jurisdiction = jurisdiction_of(self.zone)
        choice = self.factor_set or FactorSetChoice()
        if choice.jurisdiction is not None and zone_jurisdiction not in (None, choice.jurisdiction):
            raise LocatedValueError(
                f"zone {self.zone} is in jurisdiction {zone_jurisdiction}; factor_set.jurisdiction "
                f"{choice.jurisdiction} has no factors for it (leave jurisdiction out to take the zone's)",
                loc=("factor_set", "jurisdiction"))
        jurisdiction = choice.jurisdiction or zone_jurisdiction
        if choice.year is not None:
            years = library.years(jurisdiction) if jurisdiction is not None else []
            if choice.year not in years:
                known = ", ".join(str(y) for y in years) or "none"
                raise LocatedValueError(
                    f"the factor library holds no {jurisdiction or 'jurisdiction'} edition for {choice.year} "
                    f"(editions: {known}); leave year out to take the period's", loc=("factor_set", "year"))
        if self.market is not None and self.market.residual_mix_g_per_kwh is None:
            held = jurisdiction is not None and any(
                s.find("residual_mix", zone=self.zone) is not None
                for s in library.sets if s.jurisdiction == jurisdiction)
            if not held:
                raise LocatedValueError(
                    f"the factor library has no residual mix for zone {self.zone}: give "
                    "residual_mix_g_per_kwh and residual_mix_source", loc=("market",))
        return self

    @field_validator("heat_factor")
    @classmethod
    def _heat_factor_known(cls, value: str | HeatNetworkFactor | None) -> str | HeatNetworkFactor | None:
        if isinstance(value, str):
            try:
                load_factors().heat_factor(value)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        return value

    @model_validator(mode="after")
    def _heat_factor_needs_a_heat_meter(self) -> Self:
        if self.heat_factor is not None and not self.meters_with("heat"):
            raise LocatedValueError("heat_factor is given but no meter of the building has role 'heat'",
                                    loc=("heat_factor",))
        return self

    @field_validator("monthly_budget_split")
    @classmethod
    def _split(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and (len(value) != 12 or any(v < 0 for v in value) or abs(sum(value) - 1) > 1e-6):
            raise ValueError(f"expected 12 non-negative shares summing to 1, got {len(value)} summing to {sum(value):g}")
        return value

    def budget_between(self, start: datetime, end: datetime) -> float | None:
        """The share of the annual budget for [start, end), month by month, in the building's local time."""
        if self.annual_budget_kgco2e is None:
            return None
        tz = ZoneInfo(self.timezone)
        total = 0.0
        cursor = start
        while cursor < end:
            local = cursor.astimezone(tz)
            month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            month_end = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1)
            days_in_month = (month_end.date() - month_start.date()).days
            days_in_year = 366 if calendar.isleap(local.year) else 365
            share = (self.monthly_budget_split[local.month - 1] if self.monthly_budget_split
                     else days_in_month / days_in_year)
            piece_end = min(end, month_end.astimezone(UTC))
            fraction = (piece_end - cursor) / (month_end.astimezone(UTC) - month_start.astimezone(UTC))
            total += self.annual_budget_kgco2e * share * fraction
            cursor = piece_end
        return total

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    def meters_with(self, role: Role) -> list[MeterRef]:
        return [m for m in self.meters if m.role == role]


class Site(BaseModel):
    model_config = _FROZEN

    id: Id
    name: str = ""
    buildings: tuple[Building, ...] = Field(min_length=1)
    installations: tuple[Installation, ...] = ()

    @model_validator(mode="after")
    def _installations(self) -> Self:
        meters = {m.device: (b.id, m.role) for b in self.buildings for m in b.meters}
        ids: set[str] = set()
        for i, installation in enumerate(self.installations):
            if installation.id in ids:
                raise LocatedValueError(f"installation id '{installation.id}' is used twice in site '{self.id}'",
                                        loc=("installations", i, "id"))
            ids.add(installation.id)
            try:
                installation.check(meters, {b.id for b in self.buildings},
                                   {b.id for b in self.buildings if b.heat_factor is not None})
            except LocatedValueError as exc:
                raise LocatedValueError(str(exc), loc=("installations", i, *exc.loc)) from None
        return self

    def installation(self, installation: str) -> Installation:
        for candidate in self.installations:
            if candidate.id == installation:
                return candidate
        known = ", ".join(i.id for i in self.installations) or "none"
        raise KeyError(f"no installation {installation!r} in site {self.id!r} (installations: {known})")


class SiteModel(BaseModel):
    """Every site the cloud accounts for."""

    model_config = _FROZEN

    sites: tuple[Site, ...] = Field(min_length=1)
    zones: tuple[Zone, ...] = Field(
        default=(), description="Parks or counties and their enterprises, for `greenwire zone report`; without "
        "one, every site is an enterprise of a single zone.")

    @model_validator(mode="after")
    def _zones(self) -> Self:
        sites = {s.id for s in self.sites}
        for z, zone in enumerate(self.zones):
            if any(other.id == zone.id for other in self.zones[:z]):
                raise LocatedValueError(f"zone id '{zone.id}' is used twice", loc=("zones", z, "id"))
            try:
                zone.check(sites)
            except LocatedValueError as exc:
                raise LocatedValueError(str(exc), loc=("zones", z, *exc.loc)) from None
        return self

    @model_validator(mode="after")
    def _unique(self) -> Self:
        owner: dict[tuple[str, str], str] = {}
        for s, site in enumerate(self.sites):
            seen: set[str] = set()
            for b, building in enumerate(site.buildings):
                if building.id in seen:
                    raise LocatedValueError(f"building id '{building.id}' is used twice in site '{site.id}'",
                                            loc=("sites", s, "buildings", b, "id"))
                seen.add(building.id)
                for m, meter in enumerate(building.meters):
                    key = (meter.gateway, meter.device)
                    if key in owner:
                        raise LocatedValueError(
                            f"meter {meter.gateway}/{meter.device} already belongs to building {owner[key]}",
                            loc=("sites", s, "buildings", b, "meters", m, "device"),
                        )
                    owner[key] = f"{site.id}/{building.id}"
        return self

    def building(self, site: str, building: str) -> Building:
        for s in self.sites:
            if s.id == site:
                for b in s.buildings:
                    if b.id == building:
                        return b
                raise KeyError(f"no building {building!r} in site {site!r} ({', '.join(b.id for b in s.buildings)})")
        raise KeyError(f"no site {site!r} ({', '.join(s.id for s in self.sites)})")


def load_sites(path: Path) -> SiteModel:
    text = read_config(path)
    return load_model(text, SiteModel, source=str(path))
