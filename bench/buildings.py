"""The real buildings the forecast and anomaly figures are measured on, and where their data is.

Cambridge University Estates (2022, MIT; electricity in ``simulators/data/cambridge-2022``, gas in
``tests/data``) and the Building Data Genome 2 (2016-2017, CC BY-SA 4.0, ``tests/data/bdg2``).
Each entry: its series, timezone and country, and the period scored (the Cambridge buildings have
one year, so their first weeks are history only; BDG2 scores 2017 with 2016 as history).
The Cambridge buildings also have an outdoor temperature: the Met Office's hourly observations at
Bedford in 2022 (``tests/data/metoffice-bedford-2022-hourly.csv``, UTC hours; see
``tests/data/PROVENANCE-cambridge-2022.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from greenwire.cloud.forecast.features import Calendar, calendar_for
from greenwire.cloud.forecast.series import Floats, HourlySeries, read_csv

ROOT = Path(__file__).resolve().parents[1]
CAMBRIDGE = ROOT / "simulators" / "data" / "cambridge-2022"
DATA = ROOT / "tests" / "data"
BDG2_OFFICES = ("Panther_office_Larry", "Panther_office_Christian", "Panther_office_Christin",
                "Panther_office_Antonette", "Panther_office_Lois", "Cockatoo_office_Lorraine")


@dataclass(frozen=True)
class RealBuilding:
    name: str
    role: str
    path: Path
    column: str
    file_timezone: str
    timezone: str
    country: str
    score_from: datetime
    score_to: datetime
    temperature_path: Path | None = None
    """An hourly outdoor temperature CSV (first column the UTC hour's start), or None."""
    temperature_column: str = "air_temperature [degC]"

    def series(self) -> HourlySeries:
        return read_csv(self.path, self.column, self.file_timezone)

    def calendar(self, series: HourlySeries) -> Calendar:
        return calendar_for(series, self.timezone, self.country)

    def temperature(self, series: HourlySeries) -> Floats | None:
        """The outdoor temperature (degC) at each hour of ``series``, NaN where the file does not
        know it; None for a building without a temperature file."""
        if self.temperature_path is None:
            return None
        return read_csv(self.temperature_path, self.temperature_column, "UTC").slice(series.start, series.end).values


def _cambridge(b: str, role: str) -> RealBuilding:
    path = CAMBRIDGE / f"{b}-electricity-2022.csv" if role == "grid_import" else DATA / f"cambridge-{b}-gas-2022.csv"
    column = "equipment load [kWh]" if role == "grid_import" else "heating load [kWh]"
    return RealBuilding(f"cambridge-{b}", role, path, column, "UTC", "Europe/London", "GB",
                        datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC),
                        temperature_path=DATA / "metoffice-bedford-2022-hourly.csv")


def _bdg2(name: str, path: str) -> RealBuilding:
    return RealBuilding(name.lower().replace("_", "-"), "grid_import", DATA / "bdg2" / path, name, "US/Eastern",
                        "US/Eastern", "US", datetime(2017, 1, 1, 5, tzinfo=UTC), datetime(2018, 1, 1, 5, tzinfo=UTC))


BUILDINGS: tuple[RealBuilding, ...] = (
    *(_cambridge(b, "grid_import") for b in ("b2", "b25", "b85")),
    *(_cambridge(b, "gas") for b in ("b2", "b25", "b85")),
    *(_bdg2(n, "bgd_Office_10001_25000.csv") for n in BDG2_OFFICES),
    _bdg2("Rat_health_Tanya", "bgd_Healthcare_25001_50000.csv"),
)


def building(name: str, role: str = "grid_import") -> RealBuilding:
    for b in BUILDINGS:
        if b.name == name and b.role == role:
            return b
    raise KeyError(f"no real building {name!r} ({role})")
