"""A building's carbon account for a year: budget, emitted so far, remaining, projection, status.

Emitted is the report's total: Scope 1 + Scope 2 location-based + Scope 2 of district heat.

The projection adds to what was emitted so far an estimate for the rest of the year:
- seasonal, when the building has data for the same remaining period one year earlier: last
  year's emissions for it, scaled by how this year compares with last year so far;
- otherwise the recent daily rate (the last 28 days, or all days so far if fewer) times the
  days left.
Where the building's day-ahead forecast (``carbon_forecast``, written by ``greenwire forecast
run``) covers hours after ``as_of`` for every role that emits (grid import and gas; a building with
district heat is projected without it), those hours take the forecast instead: the projection is
emitted + the forecast's P50 over its hours + the method above for the hours after them (the
method's estimate for the forecast hours is taken out: last year's same hours, scaled, when
seasonal; the recent rate otherwise). ``projected_p10_kgco2e`` and ``projected_p90_kgco2e`` are the
same sum with the forecast's P10 and P90 (summed hour by hour, so a little wider than the sum's own
band: the cautious side).

Status: ``over`` once the emissions exceed the budget; ``at risk`` when the projection does, or,
with a forecast, when its P90 projection does (the budget can be exceeded within the band); else
``on track``.

Pure: ``year_windows`` names the periods the projection needs, the caller accounts them
(``greenwire.cloud.carbon.fetch.year_totals``) and ``carbon_account`` does the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from greenwire.cloud.carbon.results import local_midnight
from greenwire.cloud.sites import Building

RECENT = timedelta(days=28)

Window = tuple[datetime, datetime]
"""[start, end)."""


ProjectionMethod = Literal["seasonal", "recent daily rate", "seasonal + day-ahead forecast",
                           "recent daily rate + day-ahead forecast"]


@dataclass(frozen=True, slots=True)
class CarbonAccount:
    building: str
    year_start: str
    as_of: str
    budget_kgco2e: float | None
    emitted_kgco2e: float
    remaining_kgco2e: float | None
    projected_kgco2e: float
    projection_method: ProjectionMethod
    status: Literal["on track", "at risk", "over", "no budget"]
    projected_p10_kgco2e: float | None = None
    """The projection with the forecast hours at their P10; None without a forecast."""
    projected_p90_kgco2e: float | None = None
    forecast_hours: int = 0
    """How many hours after ``as_of`` the forecast supplied."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class YearWindows:
    """The periods whose emissions the year's account needs."""

    year_start: datetime
    as_of: datetime
    emitted: Window
    """This year so far."""
    last_year_so_far: Window
    """The same part of last year."""
    last_year_rest: Window
    """Last year from that point to the start of this year."""
    recent: Window
    """The last ``RECENT`` days of this year (all of it if fewer): the daily rate's window."""

    @property
    def year_end(self) -> datetime:
        return self.year_start.replace(year=self.year_start.year + 1)


def year_start_of(building: Building, as_of: datetime) -> datetime:
    """Local midnight of 1 January of the building's year containing ``as_of``."""
    local = as_of.astimezone(ZoneInfo(building.timezone))
    return local_midnight(local.replace(month=1, day=1), building.timezone)


def year_windows(year_start: datetime, as_of: datetime) -> YearWindows:
    """The periods to account for the year starting ``year_start`` as it stands at ``as_of``."""
    last_start, last_as_of = year_start.replace(year=year_start.year - 1), as_of.replace(year=as_of.year - 1)
    return YearWindows(year_start, as_of, (year_start, as_of), (last_start, last_as_of), (last_as_of, year_start),
                       (max(year_start, as_of - RECENT), as_of))


def is_seasonal(last_year_so_far_kg: float, last_year_rest_kg: float) -> bool:
    """True when last year has emissions both before and after the same point: project by its shape."""
    return last_year_so_far_kg > 0 and last_year_rest_kg > 0


@dataclass(frozen=True, slots=True)
class YearTotals:
    """kgCO2e (Scope 1 + Scope 2 location-based + Scope 2 of heat) of each of ``YearWindows``'
    periods; an empty period counts 0."""

    emitted: float
    last_year_so_far: float
    last_year_rest: float
    recent: float | None = None
    """Needed only when the projection is not seasonal (``is_seasonal``)."""


@dataclass(frozen=True, slots=True)
class Ahead:
    """The day-ahead forecast's kgCO2e over [start, end), hours after the account's ``as_of``
    within its year, summed over every emitting role and hour (``fetch.forecast_ahead``)."""

    start: datetime
    end: datetime
    p10: float
    p50: float
    p90: float
    last_year_kg: float = 0.0
    """Last year's emissions over the same hours: what the seasonal method expected of them."""

    @property
    def hours(self) -> int:
        return round((self.end - self.start).total_seconds() / 3600)

    def last_year(self) -> Window:
        """The same hours 365 days earlier."""
        back = timedelta(days=365)
        return self.start - back, self.end - back


def carbon_account(building: Building, windows: YearWindows, totals: YearTotals,
                   ahead: Ahead | None = None) -> CarbonAccount:
    """The account of the year of ``windows`` from the emissions of its periods, and the
    day-ahead forecast's hours where one is stored (pure)."""
    emitted, as_of, year_end = totals.emitted, windows.as_of, windows.year_end
    if ahead is not None and not (as_of <= ahead.start < ahead.end <= year_end):
        raise ValueError(f"the forecast's hours {ahead.start}..{ahead.end} are not between as_of and the year's end")
    if is_seasonal(totals.last_year_so_far, totals.last_year_rest):
        seasonal = True
        scale = emitted / totals.last_year_so_far
        rest = totals.last_year_rest * scale
        expected_ahead = ahead.last_year_kg * scale if ahead else 0.0
    else:
        if totals.recent is None:
            raise ValueError("the recent daily rate needs the emissions of the recent window")
        seasonal = False
        window_start, _ = windows.recent
        days = (as_of - window_start).total_seconds() / 86400
        rate = totals.recent / days if days > 0 else 0.0
        rest = rate * (year_end - as_of).total_seconds() / 86400
        expected_ahead = rate * ahead.hours / 24 if ahead else 0.0
    low = high = None
    method: ProjectionMethod = "seasonal" if seasonal else "recent daily rate"
    if ahead is None:
        projected = emitted + rest
        worst = projected
    else:
        method = "seasonal + day-ahead forecast" if seasonal else "recent daily rate + day-ahead forecast"
        others = max(rest - expected_ahead, 0.0)
        projected, low, high = (emitted + others + q for q in (ahead.p50, ahead.p10, ahead.p90))
        worst = max(projected, high)
    budget = building.budget_between(windows.year_start, year_end)
    if budget is None:
        status: Literal["on track", "at risk", "over", "no budget"] = "no budget"
    elif emitted > budget:
        status = "over"
    elif worst > budget:
        status = "at risk"
    else:
        status = "on track"
    return CarbonAccount(
        building.id, windows.year_start.isoformat(), as_of.isoformat(), budget, emitted,
        None if budget is None else budget - emitted, projected, method, status,
        low, high, ahead.hours if ahead else 0,
    )
