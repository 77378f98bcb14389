"""What the dashboards need beyond the ``carbon`` rows: each day's account and the year's budget status.

InfluxQL cannot join measurements or read the site model, so the figures a facility
manager compares (energy by role, market-based Scope 2, per m2, against the budget) are
stored ready to chart, computed by the same engine as ``greenwire carbon report`` and
``greenwire carbon account``:

**Measurement ``carbon_daily``**: one point per building and local day (time = local
midnight): tags ``site``, ``building``; fields ``grid_import_kwh``, ``estimated_kwh``,
``excluded_kwh``, ``rejected_kwh`` (see ``greenwire.cloud.carbon.results``),
``grid_export_kwh``, ``pv_generation_kwh``, ``pv_self_consumption_kwh`` (with PV),
``gas_kwh``, ``scope1_kgco2e``, ``scope2_location_kgco2e``, ``scope2_market_kgco2e`` (with a
``market`` section), ``heat_kwh`` and ``scope2_heat_kgco2e`` (with a ``heat_factor``),
``kgco2e_per_m2`` (Scope 1 + location-based Scope 2 + Scope 2 of heat, per floor area),
``floor_area_m2``, ``budget_kgco2e`` and ``budget_used_pct`` (with a budget),
``intensity_g_per_kwh``.

**Measurement ``carbon_account``**: one point per building each time it is computed (time =
as of): tags ``site``, ``building``; fields ``emitted_kgco2e``, ``projected_kgco2e``,
``year_budget_kgco2e`` and ``remaining_kgco2e`` (with a budget), ``status`` (``on track``,
``at risk``, ``over``, ``no budget``) and ``status_code`` (0, 1, 2, -1: for colours),
``today_kgco2e`` (Scope 1 + Scope 2 location-based + Scope 2 of heat), with a budget
``today_budget_kgco2e`` and ``today_budget_used_pct``, ``forecast_hours`` (how many hours ahead the
day-ahead forecast supplied, 0 without one) and with a forecast ``projected_p10_kgco2e`` and
``projected_p90_kgco2e``.

``carbon backfill`` writes both for the days it computes; ``carbon run`` keeps today's
``carbon_daily`` current every update and the year's ``carbon_account`` every
``ACCOUNT_EVERY`` (the projection reads the whole year, so not every minute).

Pure: the lines are computed from readings and accounts already fetched
(``greenwire.cloud.carbon.fetch``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from greenwire.cloud.carbon.budget import CarbonAccount
from greenwire.cloud.carbon.factors import FactorTable
from greenwire.cloud.carbon.report import Account, Readings, account_of
from greenwire.cloud.carbon.results import local_midnight
from greenwire.cloud.sites import Building
from greenwire.shared.lineprotocol import SeriesPrefix

DAILY_MEASUREMENT: Final = "carbon_daily"
ACCOUNT_MEASUREMENT: Final = "carbon_account"
ACCOUNT_EVERY: Final = timedelta(minutes=15)
STATUS_CODES: Final = {"on track": 0, "at risk": 1, "over": 2, "no budget": -1}


def daily_fields(account: Account, floor_area_m2: float) -> dict[str, float]:
    """The ``carbon_daily`` fields of one day's account. Pure."""
    fields: dict[str, float] = {
        "grid_import_kwh": account.grid_import_kwh,
        "estimated_kwh": account.estimated_kwh,
        "excluded_kwh": account.excluded_kwh,
        "rejected_kwh": account.rejected_kwh,
        "grid_export_kwh": account.grid_export_kwh,
        "pv_generation_kwh": account.pv_generation_kwh,
        "gas_kwh": account.gas_kwh,
        "scope1_kgco2e": account.scope1_kgco2e,
        "scope2_location_kgco2e": account.scope2_location_kgco2e,
        "kgco2e_per_m2": account.total_kgco2e / floor_area_m2,
        "floor_area_m2": floor_area_m2,
    }
    optional = {
        "pv_self_consumption_kwh": account.pv_self_consumption_kwh,
        "scope2_market_kgco2e": account.scope2_market_kgco2e,
        "scope2_heat_kgco2e": account.scope2_heat_kgco2e,
        "heat_kwh": account.heat_kwh if account.scope2_heat_kgco2e is not None else None,
        "budget_kgco2e": account.budget_kgco2e,
        "budget_used_pct": account.budget_used_pct,
        "intensity_g_per_kwh": account.intensity_g_per_kwh,
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    # One type per field in InfluxDB: always floats, even when a sum happens to be an int.
    return {k: float(v) for k, v in fields.items()}


def daily_lines(site: str, building: Building, readings: Readings, start: datetime, end: datetime,
                table: FactorTable | None = None) -> list[str]:
    """``carbon_daily`` points for the local days from ``start`` (a local midnight) to ``end``, from
    readings that cover them (pure)."""
    out = []
    day = start
    while day < end:
        following = local_midnight(day + timedelta(hours=36), building.timezone)
        line = daily_line(site, building, account_of(building, readings, day, min(following, end), table), day)
        if line is not None:
            out.append(line)
        day = following
    return out


def daily_line(site: str, building: Building, account: Account, day: datetime) -> str | None:
    """The ``carbon_daily`` point of one local day's account; None for a day without energy. Pure."""
    if not (account.grid_import_kwh or account.gas_kwh or account.pv_generation_kwh or account.scope2_heat_kgco2e):
        return None
    prefix = SeriesPrefix(DAILY_MEASUREMENT, {"site": site, "building": building.id})
    return prefix.line(daily_fields(account, building.floor_area_m2), int(day.timestamp()) * 10**9)


def account_line(site: str, building: Building, year: CarbonAccount, today: Account | None,
                 as_of: datetime) -> str:
    """The ``carbon_account`` point of the building's year (local calendar) as it stands at ``as_of``,
    with today's account so far (None before anything of today is known); pure."""
    today_start = local_midnight(as_of, building.timezone)
    today_kg = today.total_kgco2e if today else 0.0
    fields: dict[str, float | int | str] = {
        "emitted_kgco2e": year.emitted_kgco2e,
        "projected_kgco2e": year.projected_kgco2e,
        "status": year.status,
        "status_code": STATUS_CODES[year.status],
        "today_kgco2e": today_kg,
        "forecast_hours": year.forecast_hours,
    }
    if year.projected_p10_kgco2e is not None and year.projected_p90_kgco2e is not None:
        fields["projected_p10_kgco2e"] = year.projected_p10_kgco2e
        fields["projected_p90_kgco2e"] = year.projected_p90_kgco2e
    if year.budget_kgco2e is not None and year.remaining_kgco2e is not None:
        fields["year_budget_kgco2e"] = year.budget_kgco2e
        fields["remaining_kgco2e"] = year.remaining_kgco2e
    day_budget = building.budget_between(today_start, today_start + timedelta(days=1))
    if day_budget:
        fields["today_budget_kgco2e"] = day_budget
        fields["today_budget_used_pct"] = 100 * today_kg / day_budget
    prefix = SeriesPrefix(ACCOUNT_MEASUREMENT, {"site": site, "building": building.id})
    return prefix.line(fields, int(as_of.timestamp()) * 10**9)


class AccountSchedule:
    """When ``carbon run`` refreshes each building's year account (at once, then every ACCOUNT_EVERY)."""

    def __init__(self, every: timedelta = ACCOUNT_EVERY) -> None:
        self.every = every
        self._last: dict[tuple[str, str], datetime] = {}

    def due(self, site: str, building: str, now: datetime) -> bool:
        last = self._last.get((site, building))
        if last is not None and now - last < self.every:
            return False
        self._last[(site, building)] = now
        return True
