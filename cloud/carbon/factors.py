"""Static emission factors and calorific values, every number with its source and year.

The table is data (``data/factors.yaml``); this module validates it into
frozen models at load time, so a factor without a source cannot exist.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from greenwire.shared.yamlconfig import load_model

FACTORS_FILE: Final = Path(__file__).parent / "data" / "factors.yaml"

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class GridFactor(BaseModel):
    """A grid zone's static carbon intensity of consumed electricity."""

    model_config = _FROZEN

    zone: str = Field(min_length=1)
    name: str = ""
    value: float = Field(ge=0, description="g per kWh consumed.")
    kind: Literal["average", "marginal"]
    basis: Literal["direct", "lifecycle"]
    gases: Literal["co2", "co2e"]
    year: int = Field(ge=1990, le=2100)
    source: str = Field(min_length=1)
    url: str = ""


class FuelFactor(BaseModel):
    """Emissions of burning a fuel, per kWh of fuel energy."""

    model_config = _FROZEN

    fuel: str
    value: float = Field(ge=0, description="g per kWh of fuel energy.")
    basis: Literal["direct", "lifecycle"]
    gases: Literal["co2", "co2e"]
    energy_basis: Literal["HHV", "NCV"]
    year: int
    source: str = Field(min_length=1)
    url: str = ""


class HeatFactor(BaseModel):
    """Emissions of purchased district heat (hot water or steam), per kWh of heat delivered."""

    model_config = _FROZEN

    name: str = Field(min_length=1, description="What a site model's ``heat_factor`` names it by.")
    value: float = Field(gt=0, description="g per kWh of heat delivered.")
    basis: Literal["direct", "lifecycle"]
    gases: Literal["co2", "co2e"]
    year: int = Field(ge=1990, le=2100)
    source: str = Field(min_length=1)
    url: str = ""


class CalorificValue(BaseModel):
    """Energy per cubic metre of a gaseous fuel."""

    model_config = _FROZEN

    fuel: str
    value_kwh_per_m3: float = Field(gt=0)
    energy_basis: Literal["HHV", "NCV"]
    year: int
    source: str = Field(min_length=1)
    url: str = ""


class FactorTable(BaseModel):
    """Every static factor greenwire knows, and the table's version."""

    model_config = _FROZEN

    version: str
    grid: tuple[GridFactor, ...]
    fuels: tuple[FuelFactor, ...]
    heat: tuple[HeatFactor, ...]
    calorific_values: tuple[CalorificValue, ...]

    def grid_factor(self, zone: str) -> GridFactor:
        """The static factor of a zone; KeyError naming the known zones if there is none."""
        for factor in self.grid:
            if factor.zone == zone:
                return factor
        raise KeyError(f"no static grid factor for zone {zone!r}; known: {', '.join(f.zone for f in self.grid)}")

    def fuel_factor(self, fuel: str) -> FuelFactor:
        for factor in self.fuels:
            if factor.fuel == fuel:
                return factor
        raise KeyError(f"no factor for fuel {fuel!r}; known: {', '.join(f.fuel for f in self.fuels)}")

    def heat_factor(self, name: str) -> HeatFactor:
        """The district-heat factor of that name; KeyError naming the known ones if there is none."""
        for factor in self.heat:
            if factor.name == name:
                return factor
        raise KeyError(f"no district-heat factor {name!r}; known: {', '.join(f.name for f in self.heat)}")

    def calorific_value(self, fuel: str) -> CalorificValue:
        for cv in self.calorific_values:
            if cv.fuel == fuel:
                return cv
        raise KeyError(f"no calorific value for {fuel!r}")


@lru_cache(maxsize=1)
def load_factors(path: Path = FACTORS_FILE) -> FactorTable:
    """The factor table (validated; a ConfigError names the line of any problem)."""
    return load_model(path.read_text(encoding="utf-8"), FactorTable, source=str(path))
