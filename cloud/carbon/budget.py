"""A building's carbon account for a year: budget, emitted so far, remaining, projection, status.

Emitted is the report's total: Scope 1 + Scope 2 location-based + Scope 2 of district heat.

The projection adds to what was emitted so far an estimate for the rest of the year:
- seasonal, when the building has data for the same remaining period one year earlier: last
  year's emissions for it, scaled by how this year compares with last year so far;
- otherwise the recent daily rate (the last 28 days, or all days so far if fewer) times the
  days left.
Status: ``over`` once the emissions exceed the budget, ``at risk`` when the projection does,
else ``on track``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.carbon.report import account_from_influx
from greenwire.cloud.sites import Building

RECENT = timedelta(days=28)


@dataclass(frozen=True, slots=True)
class CarbonAccount:
    building: str
    year_start: str
    as_of: str
    budget_kgco2e: float | None
    emitted_kgco2e: float
    remaining_kgco2e: float | None
    projected_kgco2e: float
    projection_method: Literal["seasonal", "recent daily rate"]
    status: Literal["on track", "at risk", "over", "no budget"]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kg(influx: InfluxV1, building: Building, start: datetime, end: datetime) -> float:
    if end <= start:
        return 0.0
    a = account_from_influx(influx, building, start, end)
    return a.total_kgco2e


def carbon_account(influx: InfluxV1, building: Building, year_start: datetime, as_of: datetime) -> CarbonAccount:
    """The account of the year starting ``year_start`` as it stands at ``as_of``."""
    year_end = year_start.replace(year=year_start.year + 1)
    emitted = _kg(influx, building, year_start, as_of)
    last_year = (year_start.replace(year=year_start.year - 1), as_of.replace(year=as_of.year - 1))
    last_year_so_far = _kg(influx, building, *last_year)
    last_year_rest = _kg(influx, building, last_year[1], year_start)
    if last_year_so_far > 0 and last_year_rest > 0:
        method: Literal["seasonal", "recent daily rate"] = "seasonal"
        rest = last_year_rest * emitted / last_year_so_far
    else:
        method = "recent daily rate"
        window_start = max(year_start, as_of - RECENT)
        days = (as_of - window_start).total_seconds() / 86400
        rate = _kg(influx, building, window_start, as_of) / days if days > 0 else 0.0
        rest = rate * (year_end - as_of).total_seconds() / 86400
    projected = emitted + rest
    budget = building.budget_between(year_start, year_end)
    if budget is None:
        status: Literal["on track", "at risk", "over", "no budget"] = "no budget"
    elif emitted > budget:
        status = "over"
    elif projected > budget:
        status = "at risk"
    else:
        status = "on track"
    return CarbonAccount(
        building.id, year_start.isoformat(), as_of.isoformat(), budget, emitted,
        None if budget is None else budget - emitted, projected, method, status,
    )
