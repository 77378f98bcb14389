"""The carbon engine's computing functions over data already fetched, without a server.

Readings, stored days and window totals are built by hand; the one InfluxDB stand-in is a small
real implementation of ``InfluxQLClient`` over a dict, to show that the fetching side asks for
what the computing side needs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.carbon import facts
from greenwire.cloud.carbon.backfill import plan
from greenwire.cloud.carbon.budget import (
    Ahead,
    YearTotals,
    carbon_account,
    year_start_of,
    year_windows,
)
from greenwire.cloud.carbon.care import site_emissions
from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.fetch import account_from_influx, fetch_readings
from greenwire.cloud.carbon.meters import READ_MARGIN
from greenwire.cloud.carbon.report import Account, Readings, account_of
from greenwire.cloud.carbon.results import (
    StoredDays,
    day_lines,
    day_results,
    month_lines,
    month_period,
)
from greenwire.cloud.sites import Building, MeterRef
from greenwire.shared.intensity import IntensitySeries

START = datetime(2022, 1, 1, tzinfo=UTC)
JIANGSU_KG_PER_KWH = 0.5827


def _building(**extra: object) -> Building:
    return Building(id="b", floor_area_m2=100, zone="CN-JS", timezone="UTC",
                    meters=(MeterRef(gateway="g", device="m", role="grid_import"),), **extra)  # type: ignore[arg-type]


def _hourly(kwh_per_hour: float, hours: int, start: datetime = START) -> list[tuple[datetime, float, str]]:
    return [(start + timedelta(hours=h), 1000.0 + kwh_per_hour * h, "good") for h in range(hours + 1)]


def _readings(kwh_per_hour: float = 10.0, hours: int = 48) -> Readings:
    return Readings({"m": _hourly(kwh_per_hour, hours)}, {}, None)


# -- the year's account -----------------------------------------------------------------------


def test_year_windows_name_the_periods_the_projection_needs() -> None:
    as_of = datetime(2022, 3, 1, tzinfo=UTC)
    windows = year_windows(START, as_of)
    assert windows.emitted == (START, as_of)
    assert windows.last_year_so_far == (datetime(2021, 1, 1, tzinfo=UTC), datetime(2021, 3, 1, tzinfo=UTC))
    assert windows.last_year_rest == (datetime(2021, 3, 1, tzinfo=UTC), START)
    assert windows.recent == (as_of - timedelta(days=28), as_of)
    assert windows.year_end == datetime(2023, 1, 1, tzinfo=UTC)
    # Early in the year the recent window is the year so far.
    assert year_windows(START, START + timedelta(days=3)).recent == (START, START + timedelta(days=3))


def test_year_start_is_local_new_year() -> None:
    shanghai = _building().model_copy(update={"timezone": "Asia/Shanghai"})
    assert year_start_of(shanghai, datetime(2022, 6, 1, tzinfo=UTC)) == datetime(2021, 12, 31, 16, tzinfo=UTC)


@pytest.mark.parametrize(("budget", "status"), [(4000.0, "on track"), (3000.0, "at risk"), (500.0, "over")])
def test_without_last_year_the_recent_daily_rate_projects(budget: float, status: str) -> None:
    as_of = datetime(2022, 3, 1, tzinfo=UTC)
    windows = year_windows(START, as_of)
    result = carbon_account(_building(annual_budget_kgco2e=budget), windows, YearTotals(590.0, 0.0, 0.0, 280.0))
    assert result.projection_method == "recent daily rate"
    assert result.projected_kgco2e == pytest.approx(590 + 10 * 306)  # 10 kg a day for the 306 days left
    assert result.remaining_kgco2e == pytest.approx(budget - 590)
    assert result.status == status


def test_with_last_year_the_rest_follows_its_shape_scaled() -> None:
    windows = year_windows(START, datetime(2022, 3, 1, tzinfo=UTC))
    result = carbon_account(_building(), windows, YearTotals(110.0, 100.0, 300.0))
    assert result.projection_method == "seasonal"
    assert result.projected_kgco2e == pytest.approx(110 + 300 * 1.1)
    assert result.status == "no budget" and result.remaining_kgco2e is None


@pytest.mark.parametrize(("budget", "status"), [(3700.0, "on track"), (3660.0, "at risk"), (3640.0, "at risk")])
def test_the_forecast_hours_replace_the_daily_rate_with_their_band(budget: float, status: str) -> None:
    """10 kg a day, and a forecast of the next 48 h at 25 kg (P10 15, P90 40): the rate's 20 kg of
    those hours give way to the forecast. At risk once the P90 projection exceeds the budget."""
    as_of = datetime(2022, 3, 1, tzinfo=UTC)
    ahead = Ahead(as_of, as_of + timedelta(hours=48), 15.0, 25.0, 40.0)
    result = carbon_account(_building(annual_budget_kgco2e=budget), year_windows(START, as_of),
                            YearTotals(590.0, 0.0, 0.0, 280.0), ahead)
    others = 10 * 306 - 20
    assert result.projection_method == "recent daily rate + day-ahead forecast"
    assert result.projected_kgco2e == pytest.approx(590 + others + 25)
    assert (result.projected_p10_kgco2e, result.projected_p90_kgco2e) == pytest.approx((590 + others + 15,
                                                                                        590 + others + 40))
    assert result.forecast_hours == 48 and result.status == status


def test_seasonally_the_forecast_replaces_last_years_same_hours() -> None:
    as_of = datetime(2022, 3, 1, tzinfo=UTC)
    ahead = Ahead(as_of, as_of + timedelta(hours=24), 2.0, 3.0, 5.0, last_year_kg=4.0)
    assert ahead.last_year() == (datetime(2021, 3, 1, tzinfo=UTC), datetime(2021, 3, 2, tzinfo=UTC))
    result = carbon_account(_building(), year_windows(START, as_of), YearTotals(110.0, 100.0, 300.0), ahead)
    assert result.projection_method == "seasonal + day-ahead forecast"
    assert result.projected_kgco2e == pytest.approx(110 + (300 - 4) * 1.1 + 3)


def test_at_the_years_end_the_forecast_is_the_whole_rest() -> None:
    as_of = datetime(2022, 12, 31, tzinfo=UTC)
    ahead = Ahead(as_of, as_of + timedelta(hours=24), 8.0, 9.0, 12.0)
    result = carbon_account(_building(annual_budget_kgco2e=1000.0), year_windows(START, as_of),
                            YearTotals(990.0, 0.0, 0.0, 280.0), ahead)
    assert result.projected_kgco2e == pytest.approx(999.0)
    assert (result.projected_p10_kgco2e, result.projected_p90_kgco2e) == pytest.approx((998.0, 1002.0))
    assert result.status == "at risk"  # the budget lies inside the band
    with pytest.raises(ValueError, match="not between"):
        carbon_account(_building(), year_windows(START, as_of), YearTotals(990.0, 0.0, 0.0, 280.0),
                       Ahead(as_of, as_of + timedelta(hours=48), 1.0, 2.0, 3.0))


def test_the_daily_rate_needs_its_window() -> None:
    windows = year_windows(START, datetime(2022, 3, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="recent window"):
        carbon_account(_building(), windows, YearTotals(110.0, 0.0, 0.0))


# -- results: days and months -----------------------------------------------------------------


def test_a_month_summed_from_its_stored_days_equals_its_minutes() -> None:
    building, readings, table = _building(), _readings(), load_factors()
    rolled = day_results(building, readings.counters, readings.gas, None, START, START + timedelta(days=2), table)
    days = list(rolled["1d"].values())
    assert len(days) == 2
    stored = StoredDays({"grid_import_kwh": sum(d.grid_import_kwh for d in days),
                         "estimated_kwh": sum(d.estimated_kwh for d in days),
                         "scope2_location_kgco2e": sum(d.kgco2e for d in days)},
                        frozenset(source for d in days for source in d.sources))
    month = month_period(START, stored)
    assert month is not None
    assert month.grid_import_kwh == pytest.approx(480.0)
    assert month.kgco2e == pytest.approx(480 * JIANGSU_KG_PER_KWH)
    assert month.total_kgco2e == pytest.approx(480 * JIANGSU_KG_PER_KWH)
    [line] = month_lines("s", building, START, stored, table.version)
    assert line.startswith("carbon,building=b,resolution=1mo,site=s ")
    kwh = re.search(r"grid_import_kwh=([0-9.e+-]+),", line)
    assert kwh is not None and float(kwh[1]) == pytest.approx(480.0)
    assert f'factor_table_version="{table.version}"' in line


def test_a_month_without_stored_days_writes_nothing() -> None:
    assert month_lines("s", _building(), START, StoredDays({"grid_import_kwh": None})) == []


def test_day_lines_hold_minutes_hours_and_the_day() -> None:
    out = day_lines("s", _building(), _readings(), START, START + timedelta(days=1))
    by_resolution = {r: [line for line in out if f"resolution={r}," in line] for r in ("1m", "1h", "1d", "1mo")}
    assert (len(by_resolution["1m"]), len(by_resolution["1h"]), len(by_resolution["1d"])) == (1440, 24, 1)
    assert by_resolution["1mo"] == []  # months come from the stored days, never from one day


# -- facts: the daily and the year's account points -------------------------------------------


def test_daily_lines_are_one_point_per_local_day_with_energy() -> None:
    building, readings = _building(), _readings(hours=36)
    out = facts.daily_lines("s", building, readings, START, START + timedelta(days=3))
    assert len(out) == 2  # the third day has no readings
    first = account_of(building, readings, START, START + timedelta(days=1))
    assert out[0] == facts.daily_line("s", building, first, START)
    assert first.grid_import_kwh == pytest.approx(240.0)


def test_the_account_point_holds_the_year_and_today() -> None:
    building = _building(annual_budget_kgco2e=365.0)  # 1 kg a day
    as_of = datetime(2022, 3, 1, 12, tzinfo=UTC)
    year = carbon_account(building, year_windows(START, as_of), YearTotals(50.0, 0.0, 0.0, 14.0))
    today = Account("b", as_of.replace(hour=0), as_of, scope2_location_kgco2e=0.25)
    line = facts.account_line("s", building, year, today, as_of)
    assert line.startswith("carbon_account,building=b,site=s ")
    assert f'status="{year.status}"' in line and f"status_code={facts.STATUS_CODES[year.status]}i" in line
    assert "today_kgco2e=0.25" in line and "today_budget_used_pct=25" in line
    assert "today_kgco2e=0" in facts.account_line("s", building, year, None, as_of)


# -- care: a site's emissions -----------------------------------------------------------------


def test_a_site_sums_its_buildings_and_their_sources() -> None:
    end = START + timedelta(days=1)
    a = Account("b1", START, end, scope2_location_kgco2e=10.0, scope1_kgco2e=2.0, factors={"grid"})
    b = Account("b2", START, end, scope2_location_kgco2e=5.0, scope2_heat_kgco2e=1.5, factors={"heat", "grid"})
    result = site_emissions("s", START, end, [a, b])
    assert result.kgco2e == pytest.approx(18.5)
    assert result.buildings == ("b1", "b2") and result.sources == "grid; heat"


# -- backfill: which days -----------------------------------------------------------------------


def test_backfill_plans_whole_local_days_across_a_clock_change() -> None:
    london = _building().model_copy(update={"timezone": "Europe/London"})
    start, end = datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)
    todo = plan("s", london, start, end, now=datetime(2026, 3, 31, 9, tzinfo=UTC))
    lengths = [(b - a) / timedelta(hours=1) for a, b in todo.days]
    assert lengths == [24, 23, 24, 24, 24]  # 29 March 2026: clocks go forward
    assert todo.days[-1][1] == datetime(2026, 4, 1, 23, tzinfo=UTC)  # local midnight of 2 April (BST)
    assert todo.months == (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, 23, tzinfo=UTC))
    assert todo.as_of == datetime(2026, 3, 31, 9, tzinfo=UTC)  # never a year account of the future


# -- fetching hands the computing side what it needs -------------------------------------------


class MemoryInflux:
    """An ``InfluxQLClient`` over a dict of counter readings: what it was asked is recorded."""

    def __init__(self, counters: dict[tuple[str, str], list[tuple[datetime, float, str]]],
                 series: IntensitySeries | None = None) -> None:
        self.counters = counters
        self.stored_series = series
        self.asked: list[tuple[str, datetime, datetime]] = []
        self.written: list[str] = []

    def query(self, q: str) -> list[dict[str, object]]:
        return []

    def counter(self, gateway: str, device: str, start: datetime, end: datetime,
                field: str = "energy_import_kwh") -> list[tuple[datetime, float, str]]:
        self.asked.append((device, start, end))
        return [r for r in self.counters.get((device, field), []) if start <= r[0] < end]

    def series(self, zone: str, start: datetime, end: datetime, basis: str = "direct") -> IntensitySeries | None:
        return self.stored_series

    def write(self, lines: list[str]) -> None:
        self.written += lines


def test_fetching_reads_a_margin_and_the_account_is_the_pure_one() -> None:
    series = IntensitySeries("CN-JS", "average", "direct", "test series", (START,), (400.0,), (timedelta(days=2),))
    memory = MemoryInflux({("m", "energy_import_kwh"): _hourly(10.0, 48)}, series)
    store: InfluxQLClient = memory  # what the engine takes
    end = START + timedelta(days=1)
    readings = fetch_readings(store, _building(), START, end)
    assert memory.asked == [("m", START - READ_MARGIN, end + READ_MARGIN)]
    assert readings.series is series and len(readings.counters["m"]) == 25
    fetched = account_from_influx(store, _building(), START, end)
    assert fetched.as_dict() == account_of(_building(), readings, START, end).as_dict()
    assert fetched.scope2_location_kgco2e == pytest.approx(240 * 0.4)  # the series, not the static factor
