"""Carbon-intensity index bands (NESO's scheme: very low, low, moderate, high, very high), by year.

The thresholds tighten every year as the grid decarbonises (NESO Carbon Intensity API,
``data/sources/neso-bands``). They are GB's; the carbon signal applies them to every zone so a
building-management system has one scale to act on, and names the scheme it used.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Final

BANDS_FILE: Final = Path(__file__).parent / "data" / "sources" / "neso-bands" / "ci_index_numerical_bands.csv"
NAMES: Final = ("very low", "low", "moderate", "high", "very high")
SCHEME: Final = "NESO carbon intensity index bands"


@lru_cache(maxsize=1)
def _table() -> dict[int, tuple[float, float, float, float]]:
    """Year -> the lowest intensity of low, moderate, high and very high."""
    with BANDS_FILE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[2:]
    return {int(r[0]): (float(r[3]), float(r[5]), float(r[7]), float(r[9])) for r in rows if r and r[0].isdigit()}


def band(g_per_kwh: float, year: int) -> str:
    """The band of an intensity in a year (years outside the table use its nearest year)."""
    table = _table()
    year = min(max(year, min(table)), max(table))
    for name, lowest in zip(NAMES[1:], table[year], strict=True):
        if g_per_kwh < lowest:
            return NAMES[NAMES.index(name) - 1]
    return NAMES[-1]
