"""The dashboards' ready-made figures: a day's account as carbon_daily fields, the account schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.carbon.facts import AccountSchedule, daily_fields
from greenwire.cloud.carbon.report import Account

DAY = datetime(2026, 11, 30, tzinfo=UTC)


def test_a_day_with_pv_market_and_budget() -> None:
    account = Account("b2", DAY, DAY + timedelta(days=1), grid_import_kwh=1000, estimated_kwh=20,
                      scope2_location_kgco2e=150, gas_kwh=500, scope1_kgco2e=91.5, scope2_market_kgco2e=120,
                      pv_generation_kwh=300, grid_export_kwh=50, budget_kgco2e=200)
    fields = daily_fields(account, floor_area_m2=2000)
    assert fields["kgco2e_per_m2"] == pytest.approx((150 + 91.5) / 2000)
    assert fields["pv_self_consumption_kwh"] == 250
    assert fields["budget_used_pct"] == pytest.approx(100 * 241.5 / 200)
    assert fields["intensity_g_per_kwh"] == pytest.approx(150)
    assert fields["scope2_market_kgco2e"] == 120


def test_fields_a_building_does_not_have_are_left_out_not_zero() -> None:
    fields = daily_fields(Account("b2", DAY, DAY + timedelta(days=1), grid_import_kwh=10,
                                  scope2_location_kgco2e=2), floor_area_m2=100)
    for absent in ("pv_self_consumption_kwh", "scope2_market_kgco2e", "budget_kgco2e", "budget_used_pct"):
        assert absent not in fields
    assert all(isinstance(v, float) for v in fields.values()), "one field type per field in InfluxDB"


def test_account_schedule() -> None:
    schedule = AccountSchedule(timedelta(minutes=15))
    assert schedule.due("s", "b", DAY)
    assert not schedule.due("s", "b", DAY + timedelta(minutes=14))
    assert schedule.due("s", "other", DAY + timedelta(minutes=14))
    assert schedule.due("s", "b", DAY + timedelta(minutes=15))
