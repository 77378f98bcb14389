"""Where a building is, as a statement shows it: its country, its paper size and its periods in words (pure).

The country is the ISO 3166 code that starts the building's grid zone (``GB``, ``DE``, ``CN-HI``,
``US-CAMX``), else the country of its timezone, both from the time-zone database's tables
(``iso3166.tab``, ``zone.tab``: the same tz data ``zoneinfo`` reads), else unknown. Paper is A4 (ISO 216) everywhere except where
Letter is the custom (:data:`LETTER_COUNTRIES`), and A4 when the country is unknown.
"""

from __future__ import annotations

import contextlib
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal

Paper = Literal["A4", "letter"]

LETTER_COUNTRIES: Final = frozenset({"BZ", "CA", "CL", "CO", "CR", "GT", "MX", "NI", "PA", "PH", "PR", "SV", "US", "VE"})
"""Countries whose default paper is US Letter: Unicode CLDR's measurement data (supplementalData.xml,
``<paperSize type="US-Letter" territories="BZ CA CL CO CR GT MX NI PA PH PR SV US VE"/>``, quoted in
UTS #35 Part 6, "Measurement System Data"); CLDR gives A4 to every other territory (``001``)."""

EN_DASH: Final = "\u2013"
"""Between the ends of a range of dates, as typeset ("1\u20137 March 2022")."""

PAGE_SIZES_MM: Final[dict[Paper, tuple[float, float]]] = {"A4": (210.0, 297.0), "letter": (215.9, 279.4)}
"""Width and height: ISO 216 A4, and US Letter (8.5 x 11 in, ANSI/ASME Y14.1)."""


@dataclass(frozen=True, slots=True)
class Place:
    """A building's country (None when neither zone nor timezone tells) and how it was found."""

    country: str | None
    found_from: str


def _tz_table(name: str) -> list[list[str]]:
    """The rows of one of the tz data's tables (``zone.tab``, ``iso3166.tab``): system tz data, else tzdata."""
    candidates = [Path(p) / name for p in zoneinfo.TZPATH]
    with contextlib.suppress(ModuleNotFoundError):  # tzdata: the tz data of systems without /usr/share/zoneinfo
        candidates.append(Path(str(resources.files("tzdata") / "zoneinfo" / name)))
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return []


@cache
def _timezone_countries() -> dict[str, str]:
    """Timezone name -> ISO 3166 code (``zone.tab``)."""
    return {row[2]: row[0] for row in _tz_table("zone.tab") if len(row) >= 3}


@cache
def _countries() -> frozenset[str]:
    """The ISO 3166 codes the tz data knows (``iso3166.tab``)."""
    return frozenset(row[0] for row in _tz_table("iso3166.tab"))


def place_of(zone: str, timezone: str) -> Place:
    """The country of a building with grid ``zone`` and ``timezone`` (see the module docstring)."""
    head = zone.split("-", 1)[0]
    if head in _countries():
        return Place(head, f"grid zone {zone}")
    country = _timezone_countries().get(timezone)
    if country is not None:
        return Place(country, f"timezone {timezone}")
    return Place(None, f"neither grid zone {zone} nor timezone {timezone} names a country")


def paper_for(country: str | None) -> Paper:
    """US Letter where CLDR says it is the custom, A4 elsewhere and when the country is unknown."""
    return "letter" if country in LETTER_COUNTRIES else "A4"


def _date(day: datetime, *, year: bool = True, month: bool = True) -> str:
    return f"{day.day}" + (f" {day:%B}" if month else "") + (f" {day.year}" if year else "")


def period_words(start: datetime, end: datetime, timezone: str) -> str:
    """[start, end) as a person says it, in the building's time: ``March 2022``, ``1-7 March 2022``,
    ``28 February - 3 March 2022``, ``January - March 2022`` (with an en dash, as in print); times of
    day when either edge is not a local midnight (``1 March 2022 06:00 to 2 March 2022 18:30``)."""
    tz = zoneinfo.ZoneInfo(timezone)
    first, after = start.astimezone(tz), end.astimezone(tz)
    if any((t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0) for t in (first, after)):
        return f"{_date(first)} {first:%H:%M} to {_date(after)} {after:%H:%M}"
    last = (after - timedelta(hours=12)).replace(hour=0)  # the last day included (end is exclusive)
    if first.day == 1 and after.day == 1:
        months = (after.year - first.year) * 12 + after.month - first.month
        if months == 12 and first.month == 1:
            return f"{first.year}"
        if months == 1:
            return f"{first:%B} {first.year}"
        same_year = first.year == last.year
        return f"{first:%B}{'' if same_year else f' {first.year}'} {EN_DASH} {last:%B} {last.year}"
    if first.date() == last.date():
        return _date(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}{EN_DASH}{_date(last)}"
    return f"{_date(first, year=first.year != last.year)} {EN_DASH} {_date(last)}"


def moment_words(at: datetime) -> str:
    """A time in words, UTC: ``2 December 2026 12:48 UTC``."""
    at = at.astimezone(UTC)
    return f"{_date(at)} {at:%H:%M} UTC"
