"""Scope 2 of purchased district heat: heat kWh x the building's static heat factor, in every total.

The hand-computed case: 3 hours of a building in Jiangsu (CN-JS, 582.7 gCO2/kWh, 2023) with a
grid meter counting 10 kWh an hour and a heat meter counting 40 kWh an hour, its heat priced
at EPA's district hot-water default (226.37 gCO2e per kWh of heat, 2024):

    grid   30 kWh x 582.7 / 1000  = 17.481 kg
    heat  120 kWh x 226.37 / 1000 = 27.1644 kg   (9.0548 kg an hour)
    total                          = 44.6454 kg
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.facts import daily_fields
from greenwire.cloud.carbon.report import account
from greenwire.cloud.carbon.results import day_results, lines
from greenwire.cloud.carbon.statement import Header, render, verify
from greenwire.cloud.carbon.statement import lines as statement_lines
from greenwire.cloud.sites import Building, HeatNetworkFactor, MeterRef

START = datetime(2026, 1, 5, tzinfo=UTC)
END = START + timedelta(hours=3)
EPA_SOURCE = ("district heat 226.37 gCO2e/kWh: EPA GHG Emission Factors Hub 2024, district hot water "
              "(via LBNL BETTER fossil_emission_factors_2024.json) (2024)")
METERS = (MeterRef(gateway="g", device="main", role="grid_import"), MeterRef(gateway="g", device="dh", role="heat"))
HOURS = [START + timedelta(hours=h) for h in range(4)]
COUNTERS = {"main": [(t, 100.0 + 10 * h, "good") for h, t in enumerate(HOURS)],
            "dh": [(t, 5000.0 + 40 * h, "good") for h, t in enumerate(HOURS)]}


def _building(heat_factor: str | HeatNetworkFactor | None = "us_epa_district_hot_water", **extra: object) -> Building:
    return Building(id="b1", floor_area_m2=100, zone="CN-JS", meters=METERS, heat_factor=heat_factor,
                    **extra)  # type: ignore[arg-type]


def test_the_hand_computed_case() -> None:
    result = account(_building(annual_budget_kgco2e=365 * 24), COUNTERS, None, START, END)
    assert result.heat_kwh == pytest.approx(120.0) and result.grid_import_kwh == pytest.approx(30.0)
    assert result.scope2_location_kgco2e == pytest.approx(17.481)
    assert result.scope2_heat_kgco2e == pytest.approx(27.1644)
    assert result.heat_factor_g_per_kwh == 226.37 and result.heat_factor_source == EPA_SOURCE
    assert result.total_kgco2e == pytest.approx(44.6454)
    assert result.intensity_g_per_kwh == pytest.approx(582.7)  # the grid's: heat is not electricity
    assert result.total_market_kgco2e is None  # no market section
    assert EPA_SOURCE in result.factors
    # A budget of 1 kg an hour: 3 kg for the period, which the total overruns 15-fold.
    assert result.budget_used_pct == pytest.approx(100 * 44.6454 / 3)
    years = 3 / (365.25 * 24)
    assert result.kgco2e_per_m2_year == pytest.approx(44.6454 / 100 / years)
    fields = daily_fields(result, floor_area_m2=100)
    assert fields["scope2_heat_kgco2e"] == pytest.approx(27.1644) and fields["heat_kwh"] == pytest.approx(120.0)
    assert fields["kgco2e_per_m2"] == pytest.approx(44.6454 / 100)


def test_the_networks_own_factor_and_the_market_based_total() -> None:
    own = HeatNetworkFactor(value=180.5, source="test network, not a published figure", year=2025)
    market = {"residual_mix_g_per_kwh": 600, "residual_mix_source": "test residual mix"}
    result = account(_building(own, market=market), COUNTERS, None, START, END)
    assert result.scope2_heat_kgco2e == pytest.approx(120 * 180.5 / 1000)  # 21.66 kg
    assert result.heat_factor_source == "district heat 180.5 gCO2e/kWh: test network, not a published figure " \
                                        "(2025, site model)"
    # No instruments for heat: the market-based total adds the same heat emissions.
    assert result.scope2_market_kgco2e == pytest.approx(30 * 0.6)
    assert result.total_market_kgco2e == pytest.approx(30 * 0.6 + 21.66)


def test_without_a_heat_factor_heat_stays_energy_only() -> None:
    result = account(_building(None), COUNTERS, None, START, END)
    assert result.heat_kwh == pytest.approx(120.0) and result.scope2_heat_kgco2e is None
    assert result.total_kgco2e == pytest.approx(17.481)
    assert not any(f.startswith("district heat") for f in result.factors)
    fields = daily_fields(result, floor_area_m2=100)
    assert "scope2_heat_kgco2e" not in fields and "heat_kwh" not in fields
    stored = lines("s", _building(None), day_results(_building(None), COUNTERS, {}, None, START, END,
                                                     load_factors()), "v")
    assert stored and not any("scope2_heat_kgco2e" in line for line in stored)
    rows = {r.item: r for r in statement_lines(result, _building(None))}
    assert rows["district heat (energy only: no heat-network factor recorded)"].value == pytest.approx(120.0)
    assert rows["total (Scope 1 + Scope 2 location-based)"].value == pytest.approx(17.481)
    assert not any("district heat factor" in item for item in rows)


def _field(line: str, name: str) -> str:
    found = re.search(rf'[ ,]{name}=("(?:[^"\\]|\\.)*"|[^, ]+)', line)
    assert found is not None, (name, line)
    return found[1]


def test_stored_minutes_hours_and_day_carry_heat_emissions_in_the_total() -> None:
    building = _building()
    rolled = day_results(building, COUNTERS, {}, None, START, START + timedelta(days=1), load_factors())
    hours = sorted(rolled["1h"].values(), key=lambda p: p.start)
    assert [p.scope2_heat_kgco2e for p in hours] == [pytest.approx(9.0548)] * 3
    minute = rolled["1m"][START + timedelta(minutes=7)]
    assert minute.scope2_heat_kgco2e == pytest.approx(40 / 60 * 0.22637)  # per minute: the factor is static
    day = rolled["1d"][START.replace(hour=0)]
    assert day.scope2_heat_kgco2e == pytest.approx(27.1644)
    stored = [line for line in lines("s", building, rolled, "v") if "resolution=1d" in line]
    assert len(stored) == 1
    assert float(_field(stored[0], "scope2_heat_kgco2e")) == pytest.approx(27.1644)
    assert float(_field(stored[0], "total_kgco2e")) == pytest.approx(44.6454)
    assert EPA_SOURCE in _field(stored[0], "factor_sources")


def test_the_statement_shows_the_heat_line_and_its_source_and_verify_catches_a_changed_figure() -> None:
    result = account(_building(), COUNTERS, None, START, END)
    header = Header("s", "b1", START, END, datetime(2026, 1, 6, tzinfo=UTC), "0.1.0")
    text, _ = render("md", header, _building(), result)
    assert "| Scope 2, district heat (heat x the static heat factor; no instruments for heat) | 27.2 | kgCO2e |" in text
    assert "| district heat factor | 226.37 | gCO2e/kWh |" in text
    assert f"| district heat factor source | {EPA_SOURCE} |  |" in text
    assert "| total (Scope 1 + Scope 2 location-based + Scope 2 district heat) | 44.6 | kgCO2e |" in text
    assert f"- {EPA_SOURCE}" in text
    assert verify(text) and not verify(text.replace("| 27.2 | kgCO2e |", "| 20.2 | kgCO2e |"))
    sheet, _ = render("csv", header, _building(), result)
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(sheet.splitlines())}
    heat = rows[("emissions", "Scope 2, district heat (heat x the static heat factor; no instruments for heat)")]
    assert heat == repr(result.scope2_heat_kgco2e) and float(heat) == pytest.approx(27.1644, rel=1e-12)
    assert float(rows[("emissions", "district heat factor")]) == 226.37
    assert verify(sheet) and not verify(sheet.replace(heat, repr(float(heat) + 1)))
