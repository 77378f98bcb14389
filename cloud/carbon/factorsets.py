"""Factor sets by jurisdiction and year: which published factors a building's account uses (pure).

The library (``data/factor_library.yaml``) holds publications, each a :class:`FactorSet`: one
publisher's document for one year (UK DESNZ conversion factors 2024, China MEE's 2023 provincial
grid factors, AIB's European Residual Mixes 2025, ...), every factor with its table and row, its
scope, its gases, its basis and how far it was checked against the source copy under
``data/sources/`` (``verification``). Values are g per kWh: of electricity consumed, or of fuel
energy on the stated calorific basis.

A building picks its factors by jurisdiction and reporting year (:func:`building_factors`)::

    zone GB           -> jurisdiction GB: DESNZ (grid, T&D losses, natural gas gross CV)
    zone CN, CN-xx    -> jurisdiction CN: MEE provincial grid factors, the enterprise-guideline fuels
    zone DE, FR, ...  -> jurisdiction EU: EEA location-based grid, AIB residual mix (market-based)
    zone US, US-CAMX  -> jurisdiction US: EPA eGRID subregions, EPA GHG Emission Factors Hub fuels

For each quantity the edition used is the latest whose year is not after the reporting year (an
auditor's rule: the factors published for that year, else the latest published before it); if
the library holds none that early, the earliest, and the choice says so (:attr:`Chosen.note`).
A site model may fix the jurisdiction or the year (``factor_set: {jurisdiction, year}``), name a
set for its gas (``gas_factor: desnz-2024``) or give the supplier's own factor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from greenwire.shared.yamlconfig import load_model

LIBRARY_FILE: Final = Path(__file__).parent / "data" / "factor_library.yaml"
SOURCES_DIR: Final = Path(__file__).parent / "data" / "sources"

_FROZEN = ConfigDict(frozen=True, extra="forbid")

Jurisdiction = Literal["GB", "CN", "EU", "US"]
Kind = Literal["grid", "td_losses", "residual_mix", "fuel"]
Verification = Literal[
    "copied_file", "cell_transcription", "agreeing_transcriptions", "single_transcription", "disputed"
]
"""How far a value was checked: a verbatim copy of a machine-readable file with the publisher's
numbers; a third party's cell-by-cell transcription naming the cell; several independent
transcriptions that agree; one transcription only; transcriptions that disagree (see the note)."""

CHECKED: Final = frozenset({"copied_file", "cell_transcription", "agreeing_transcriptions"})
"""Verifications a statement prints without a caution."""

EU_MEMBERS: Final = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})
"""The EU-27 by ISO 3166 code (Greece is GR here; the EU and AIB write EL)."""


class LibraryFactor(BaseModel):
    """One published factor of a set, with where in the document it stands."""

    model_config = _FROZEN

    kind: Kind
    zone: str | None = Field(default=None, description="Grid zone (grid, T&D losses, residual mix).")
    fuel: str | None = Field(default=None, description="Fuel name (fuels), e.g. natural_gas.")
    value: float | None = Field(
        ge=0, allow_inf_nan=False,
        description="g per kWh; None only where the publisher prints no value (a residual mix of N/A).",
    )
    gases: Literal["co2", "co2e"]
    unit: Literal["gCO2/kWh", "gCO2e/kWh"] = Field(
        description="Per kWh of electricity consumed, or of fuel energy on the factor's calorific basis."
    )
    gas_detail: str = ""
    basis: Literal["generation", "consumption", "td_losses", "residual_mix", "gross_cv", "net_cv"]
    scope: Literal["scope1", "scope2_location", "scope2_market", "scope3"]
    table: str = Field(min_length=1)
    row: str = Field(min_length=1)
    cell: str = ""
    verification: Verification
    calorific_kwh_per_m3: float | None = Field(
        default=None, gt=0, description="Fuels: energy per m3 on the factor's own calorific basis."
    )
    note: str = ""

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Self:
        if self.kind == "fuel":
            if not self.fuel or self.basis not in ("gross_cv", "net_cv") or self.scope != "scope1":
                raise ValueError("a fuel factor needs a fuel, a gross_cv or net_cv basis and scope1")
        elif not self.zone or self.fuel is not None:
            raise ValueError(f"a {self.kind} factor needs a zone and no fuel")
        if self.unit != ("gCO2e/kWh" if self.gases == "co2e" else "gCO2/kWh"):
            raise ValueError(f"unit {self.unit} does not match gases {self.gases}")
        if self.value is None and (self.kind != "residual_mix" or not self.note):
            raise ValueError("only a residual mix may have no value, and then a note must say why")
        return self


class FactorSet(BaseModel):
    """One publication: a publisher's factors for one year, and the source copy they were checked against."""

    model_config = _FROZEN

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    family: str = Field(min_length=1, description="The series the edition belongs to (desnz, aib, ...).")
    jurisdiction: Jurisdiction
    year: int = Field(ge=1990, le=2100, description="The reporting (or data) year the edition is for.")
    publisher: str = Field(min_length=1)
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    url: str = Field(min_length=1)
    licence: str = Field(min_length=1)
    copy_path: str = Field(alias="copy", min_length=1, description="The source copy, under data/sources/.")
    factors: tuple[LibraryFactor, ...] = Field(min_length=1)

    @property
    def label(self) -> str:
        """How a statement names the set: publisher, title and version."""
        return f"{self.publisher}: {self.title}, {self.version}"

    def find(self, kind: Kind, *, zone: str | None = None, fuel: str | None = None) -> LibraryFactor | None:
        """The set's factor of that kind for the zone (or fuel), if it has one."""
        for factor in self.factors:
            if factor.kind == kind and factor.zone == zone and factor.fuel == fuel:
                return factor
        return None


class FactorLibrary(BaseModel):
    """Every factor set greenwire knows, and the library's version."""

    model_config = _FROZEN

    version: str = Field(min_length=1)
    sets: tuple[FactorSet, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for factor_set in self.sets:
            if factor_set.id in seen:
                raise ValueError(f"factor set id {factor_set.id!r} is used twice")
            seen.add(factor_set.id)
            keys = [(f.kind, f.zone, f.fuel) for f in factor_set.factors]
            if len(keys) != len(set(keys)):
                raise ValueError(f"factor set {factor_set.id!r} holds one factor twice")
        return self

    def get(self, set_id: str) -> FactorSet:
        """The set of that id; KeyError naming the known ids if there is none."""
        for factor_set in self.sets:
            if factor_set.id == set_id:
                return factor_set
        raise KeyError(f"no factor set {set_id!r}; known: {', '.join(s.id for s in self.sets)}")

    def years(self, jurisdiction: Jurisdiction) -> list[int]:
        """The years the library holds an edition of some set for, in that jurisdiction."""
        return sorted({s.year for s in self.sets if s.jurisdiction == jurisdiction})

    def choose(self, jurisdiction: Jurisdiction, kind: Kind, year: int, *, zone: str | None = None,
               fuel: str | None = None) -> Chosen | None:
        """The factor of that kind for the zone (or fuel) in the jurisdiction's edition for ``year``:
        the latest edition not after ``year``, else the earliest; None if no edition has one."""
        holding = [(s, f) for s in self.sets if s.jurisdiction == jurisdiction
                   for f in [s.find(kind, zone=zone, fuel=fuel)] if f is not None]
        if not holding:
            return None
        earlier = [(s, f) for s, f in holding if s.year <= year]
        factor_set, factor = (max(earlier, key=lambda sf: sf[0].year) if earlier
                              else min(holding, key=lambda sf: sf[0].year))
        return Chosen(factor, factor_set, year)

    def fuel_of(self, set_id: str, fuel: str) -> Chosen:
        """A named set's factor for a fuel (a site model's ``gas_factor: <set id>``); KeyError if none."""
        factor_set = self.get(set_id)
        factor = factor_set.find("fuel", fuel=fuel)
        if factor is None:
            with_fuel = [s.id for s in self.sets if s.find("fuel", fuel=fuel) is not None]
            raise KeyError(f"factor set {set_id!r} has no {fuel} factor; sets with one: {', '.join(with_fuel)}")
        return Chosen(factor, factor_set, factor_set.year)

    def calorific(self, family: str, fuel: str, year: int) -> Chosen | None:
        """The fuel's calorific value from the family's edition nearest ``year`` that publishes one
        (an earlier edition first), for editions whose factor comes without it."""
        holding = [(s, f) for s in self.sets if s.family == family
                   for f in [s.find("fuel", fuel=fuel)] if f is not None and f.calorific_kwh_per_m3]
        if not holding:
            return None
        factor_set, factor = min(holding, key=lambda sf: (abs(sf[0].year - year), sf[0].year > year))
        return Chosen(factor, factor_set, year)


@dataclass(frozen=True, slots=True)
class Chosen:
    """A library factor picked for a reporting year, with its set."""

    factor: LibraryFactor
    factor_set: FactorSet
    requested_year: int

    @property
    def value(self) -> float | None:
        return self.factor.value

    @property
    def source(self) -> str:
        """The citation: the set's label, then the table and row (and cell) of the factor."""
        cell = f", {self.factor.cell}" if self.factor.cell else ""
        caution = "" if self.factor.verification in CHECKED else f" [{self.factor.verification.replace('_', ' ')}]"
        return f"{self.factor_set.label}; {self.factor.table}: {self.factor.row}{cell}{caution}"

    @property
    def note(self) -> str:
        """Why the edition's year differs from the reporting year ("" when it is the same)."""
        got, wanted = self.factor_set.year, self.requested_year
        if got == wanted:
            return ""
        if got < wanted:
            return f"{self.factor_set.id} used for {wanted}: the latest edition in the library not after {wanted}"
        return f"{self.factor_set.id} used for {wanted}: the library holds no edition of {wanted} or earlier"


@lru_cache(maxsize=1)
def load_library(path: Path = LIBRARY_FILE) -> FactorLibrary:
    """The factor library (validated; a ConfigError names the line of any problem)."""
    return load_model(path.read_text(encoding="utf-8"), FactorLibrary, source=str(path))


def jurisdiction_of(zone: str) -> Jurisdiction | None:
    """The jurisdiction whose factors a grid zone takes by default; None for a zone outside them."""
    if zone == "GB":
        return "GB"
    if zone == "CN" or zone.startswith("CN-"):
        return "CN"
    if zone == "US" or zone.startswith("US-"):
        return "US"
    if zone in EU_MEMBERS:
        return "EU"
    return None


@dataclass(frozen=True, slots=True)
class FuelFactor:
    """A fuel's emission factor as an account uses it, however it was chosen."""

    g_per_kwh: float
    energy_basis: Literal["gross_cv", "net_cv"]
    calorific_kwh_per_m3: float | None
    calorific_source: str
    source: str
    set_label: str | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class BuildingFactors:
    """The factors one building's account uses for one reporting year, and the sets they come from."""

    jurisdiction: Jurisdiction | None
    year: int
    chosen_by: str
    """How the jurisdiction and year were chosen ("default from zone GB", "site model")."""
    grid: Chosen | None
    td_losses: Chosen | None
    residual_mix: Chosen | None
    gas: FuelFactor | None

    def sets_used(self, *, grid: bool = True, td: bool = True, gas: bool = True, market: bool = True) -> list[str]:
        """Each set the account used, once, with what it priced: the static grid factor (where it
        priced minutes no imported series covers), the T&D losses (where there was grid energy),
        natural gas (where there were gas meters) and the residual mix (where market-based was
        reported)."""
        uses: dict[str, list[str]] = {}
        for what, chosen, used in (
            ("electricity, static grid factor (the minutes no imported intensity series covers)", self.grid, grid),
            ("T&D losses (Scope 3, not in the totals)", self.td_losses, td),
            ("residual mix (market-based)", self.residual_mix, market),
        ):
            if chosen is not None and used:
                uses.setdefault(chosen.factor_set.label, []).append(what)
        if gas and self.gas is not None and self.gas.set_label is not None:
            uses.setdefault(self.gas.set_label, []).append("natural gas")
        return [f"{label}: {', '.join(what)}" for label, what in uses.items()]

    def notes(self, *, grid: bool = True, td: bool = True, gas: bool = True, market: bool = True) -> list[str]:
        """Where an edition of another year, or no edition of the jurisdiction, stood in (for the
        factors the account used)."""
        used = [(self.grid, grid), (self.td_losses, td), (self.residual_mix, market)]
        out = [c.note for c, wanted in used if wanted and c is not None and c.note]
        if gas and self.gas is not None and self.gas.note:
            out.append(self.gas.note)
        return list(dict.fromkeys(out))


def resolve(
    library: FactorLibrary,
    *,
    zone: str,
    year: int,
    jurisdiction: Jurisdiction | None,
    chosen_by: str,
    gas: FuelFactor | None,
) -> BuildingFactors:
    """The factors of a zone for a reporting year in a jurisdiction (gas resolved by the caller)."""
    if jurisdiction is None:
        return BuildingFactors(None, year, chosen_by, None, None, None, gas)
    return BuildingFactors(
        jurisdiction, year, chosen_by,
        grid=library.choose(jurisdiction, "grid", year, zone=zone),
        td_losses=library.choose(jurisdiction, "td_losses", year, zone=zone),
        residual_mix=library.choose(jurisdiction, "residual_mix", year, zone=zone),
        gas=gas,
    )


def fuel_from(chosen: Chosen, library: FactorLibrary, *, own_calorific: float | None) -> FuelFactor:
    """A library fuel factor as an account uses it, with the calorific value on the same basis:
    the site model's, else the edition's, else the nearest edition of the same family's."""
    factor = chosen.factor
    assert factor.value is not None and factor.basis in ("gross_cv", "net_cv")  # a fuel always has both
    basis: Literal["gross_cv", "net_cv"] = "gross_cv" if factor.basis == "gross_cv" else "net_cv"
    if own_calorific is not None:
        calorific, calorific_source = own_calorific, "site model"
    elif factor.calorific_kwh_per_m3 is not None:
        calorific, calorific_source = factor.calorific_kwh_per_m3, chosen.factor_set.label
    else:
        nearest = library.calorific(chosen.factor_set.family, factor.fuel or "", chosen.factor_set.year)
        if nearest is None:
            calorific, calorific_source = None, ""
        else:
            calorific = nearest.factor.calorific_kwh_per_m3
            calorific_source = (f"{nearest.factor_set.label} (the nearest edition that publishes it; "
                                f"{chosen.factor_set.id} does not)")
    return FuelFactor(factor.value, basis, calorific, calorific_source, chosen.source, chosen.factor_set.label,
                      chosen.note)


def all_factors(library: FactorLibrary) -> Iterable[tuple[FactorSet, LibraryFactor]]:
    """Every (set, factor) pair of the library, for checks that walk it whole."""
    for factor_set in library.sets:
        for factor in factor_set.factors:
            yield factor_set, factor
