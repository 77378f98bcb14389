"""The carbon engine's pure core against real data: official factors, the GB grid, a real building."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenwire.cloud.carbon.emissions import location_based, minute_buckets
from greenwire.cloud.carbon.energy import CounterLimits, EnergyInterval, counter_intervals
from greenwire.cloud.carbon.factors import FACTORS_FILE, load_factors
from greenwire.cloud.carbon.intensity import load_csv
from greenwire.simulators.series import Replay, builtin_series

DATA = Path(__file__).parents[1] / "data"
T0 = datetime(2022, 1, 10, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_factor_table_is_the_official_transcription_with_sources() -> None:
    table = load_factors()
    official = json.loads(
        (FACTORS_FILE.parent / "sources" / "codecarbon-3.3.2" / "china_provincial_emissions.json").read_text()
    )["data"]
    provincial = [f for f in table.grid if f.zone.startswith("CN-")]
    assert {f.zone: f.value for f in provincial} == {zone: e["emission_factor"] for zone, e in official.items()}
    assert table.grid_factor("CN-HI").value == 364.8 and table.grid_factor("CN-JS").value == 582.7
    assert all(f.source and f.year == 2023 and f.gases == "co2" for f in provincial)
    assert table.fuel_factor("natural_gas").value == pytest.approx(0.18127 * 1000)
    # IPCC's 56,100 kg/TJ on NCV, and EPA's HHV factor differ by about the HHV/NCV ratio (~10 %).
    ratio = table.fuel_factor("natural_gas_ipcc").value / (0.18108 * 1000)
    assert ratio == pytest.approx(56_100 / 277_777.8 * 1000 / 181.08, rel=1e-4) and 1.08 < ratio < 1.13
    assert table.calorific_value("natural_gas").value_kwh_per_m3 == pytest.approx(1026 * 35.3147 / 3412.14, rel=1e-4)
    with pytest.raises(KeyError, match="no static grid factor for zone 'CN-XZ'"):
        table.grid_factor("CN-XZ")


def test_neso_series_holds_each_value_for_its_hour() -> None:
    series = load_csv(DATA / "neso-gb-2022-hourly.csv", zone="GB")
    assert len(series.values) == 8760 and series.values[0] == pytest.approx(72.0)
    first, second = series.values[0], series.values[1]
    assert series.value_at(datetime(2022, 1, 1, 0, 59, 59, tzinfo=UTC)) == first  # never the later value
    assert series.value_at(datetime(2022, 1, 1, 1, tzinfo=UTC)) == second
    assert series.value_at(datetime(2021, 12, 31, 23, 59, tzinfo=UTC)) is None
    assert series.value_at(series.end) is None


def test_plain_and_electricity_maps_formats(tmp_path: Path) -> None:
    plain = tmp_path / "zone.csv"
    plain.write_text("timestamp,gco2_per_kwh\n2026-01-01T00:00:00Z,300\n2026-01-01T00:30:00Z,250.5\n")
    series = load_csv(plain, zone="CN-HI")
    assert series.value_at(datetime(2026, 1, 1, 0, 45, tzinfo=UTC)) == 250.5
    assert series.value_at(datetime(2026, 1, 1, 1, 0, tzinfo=UTC)) is None  # the last half hour ends
    em = tmp_path / "GB_2022_hourly.csv"
    em.write_text(
        "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),"
        "Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage\n"
        "2022-01-01 00:00:00,Great Britain,Great Britain,GB,53.59,92.88,87.03\n"
        "2022-01-01 01:00:00,Great Britain,Great Britain,GB,55.9,95.62,87.68\n"
    )
    assert load_csv(em, zone="GB").values == (53.59, 55.9)
    assert load_csv(em, zone="GB", basis="lifecycle").values == (92.88, 95.62)
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    with pytest.raises(ValueError, match="unknown format"):
        load_csv(bad, zone="X")


def test_counter_deltas_rollover_reset_jump_and_gap() -> None:
    limits = CounterLimits(rollover=100_000.0, max_power_kw=60, max_gap=timedelta(minutes=15))
    readings = [(_at(0), 99_999.0, "good"), (_at(1), 99_999.5, "good"),
                (_at(2), 0.3, "good"),  # wrapped at 100,000 kWh
                (_at(3), 500.0, "good"),  # 499.7 kWh in a minute from a 60 kW meter
                (_at(4), 500.5, "good"),  # continues from 500
                (_at(64), 530.5, "good"),  # an hour of silence: 30 kWh assigned when it resumes
                (_at(65), 0.4, "good"),  # meter replaced by one starting at zero
                (_at(65), 0.9, "good"),  # same timestamp: ignored
                (_at(66), 0.9 + 1e6, "counter_jump")]
    measured, rolled, jump, after, gap, reset, flagged = counter_intervals(readings, limits)
    assert measured == EnergyInterval(_at(0), _at(1), 0.5, "measured")
    assert rolled.flag == "rollover" and rolled.kwh == pytest.approx(0.8)
    assert jump.flag == "rejected" and jump.kwh == 0 and jump.rejected_kwh == pytest.approx(499.7)
    assert after == EnergyInterval(_at(3), _at(4), 0.5, "measured")
    assert gap.flag == "estimated" and gap.kwh == 30.0 and gap.estimated
    assert reset == EnergyInterval(_at(64), _at(65), 0.4, "reset")
    assert flagged.flag == "rejected" and flagged.kwh == 0


def test_gap_energy_is_spread_over_the_gap_and_marked_estimated() -> None:
    buckets = minute_buckets([EnergyInterval(_at(0), _at(60), 30.0, "estimated")])
    assert len(buckets) == 60
    assert all(b.kwh == pytest.approx(0.5) and b.estimated_kwh == pytest.approx(0.5) for b in buckets.values())
    partial = minute_buckets([EnergyInterval(_at(0.5), _at(2), 3.0, "measured")])
    assert [round(partial[_at(m)].kwh, 9) for m in (0, 1)] == [1.0, 2.0]


def test_a_month_of_a_real_building_matches_hourly_energy_times_hourly_intensity() -> None:
    """Counter readings every 15 min of Cambridge building b2, January 2022, against the GB grid.

    The engine's path (counter deltas -> minute buckets -> minute-matched intensity) must give
    the emissions of the independent hourly calculation: recorded kWh of each hour x that hour's
    NESO intensity.
    """
    series = load_csv(DATA / "neso-gb-2022-hourly.csv", zone="GB")
    building = builtin_series("b2")
    start = datetime(2022, 1, 1, tzinfo=UTC)
    clock_t0 = 0.0
    replay = Replay(building, start=start, speed=1.0, clock=lambda: clock_t0)
    readings = [(start + timedelta(seconds=q * 900.0), replay.energy_kwh(q * 900.0), "good")
                for q in range(31 * 24 * 4 + 1)]
    intervals = counter_intervals(readings)  # no limit given: the meter's own history sets it
    minutes = location_based(minute_buckets(intervals), series, None)
    assert len(minutes) == 31 * 24 * 60
    engine_kg = sum(m.kg_co2e for m in minutes)
    hourly_kg = sum(building.kwh[h] * series.values[h] / 1000 for h in range(31 * 24))
    assert engine_kg == pytest.approx(hourly_kg, rel=1e-9)
    assert sum(m.kwh for m in minutes) == pytest.approx(sum(building.kwh[: 31 * 24]), rel=1e-9)
    assert all(m.estimated_kwh == 0 and m.factor_source.startswith("NESO") for m in minutes)


def test_static_factor_fills_where_the_series_has_no_value() -> None:
    factor = load_factors().grid_factor("CN-HI")
    minutes = location_based(minute_buckets([EnergyInterval(_at(0), _at(2), 2.0, "measured")]), None, factor)
    assert [m.kg_co2e for m in minutes] == [pytest.approx(0.3648), pytest.approx(0.3648)]
    assert minutes[0].factor_source == "MEE & NBS Announcement 2025 No. 47, Table 3 (2023)"
    with pytest.raises(LookupError, match="no carbon intensity"):
        location_based(minute_buckets([EnergyInterval(_at(0), _at(1), 1.0, "measured")]), None, None)


def test_intensity_bands_follow_the_years_thresholds() -> None:
    from greenwire.cloud.carbon.bands import band

    # NESO 2022 bands: very low 0-44, low 45-129, moderate 130-209, high 210-310, very high 311+.
    assert [band(v, 2022) for v in (44.9, 45, 129.5, 130, 310.5, 311)] == [
        "very low", "low", "low", "moderate", "high", "very high"]
    assert band(200, 2017) == "moderate" and band(200, 2026) == "high"  # the bands tighten each year
    assert band(100, 2040) == band(100, 2030)  # beyond the table: its last year


def test_history_file_rows_become_readings_and_mistakes_name_the_line(tmp_path: Path) -> None:
    from greenwire.cloud.history import HistoryError, read_history

    good = tmp_path / "h.csv"
    good.write_text(
        "timestamp,device,quantity,value\n"
        "2022-01-01T00:15:00Z,m1,energy_import_kwh,10.5\n"
        "2022-01-01T00:00:00Z,m1,energy_import_kwh,10.0\n"
        "2022-01-01T00:00:00Z,m1,active_power_w,2000\n"
    )
    readings = read_history(good)
    assert [(r.ts.minute, r.values) for r in readings] == [
        (0, {"energy_import_kwh": 10.0, "active_power_w": 2000.0}), (15, {"energy_import_kwh": 10.5})]
    for row, words in [
        ("2022-01-01T00:00:00,m1,energy_import_kwh,1", "has no UTC offset"),
        ("2022-01-01T00:00:00Z,m1,watts,1", "unknown quantity 'watts'"),
        ("2022-01-01T00:00:00Z,M 1,energy_import_kwh,1", "invalid device .M 1."),
        ("2022-01-01T00:00:00Z,m1,energy_import_kwh,nan", "not a finite number"),
        ("yesterday,m1,energy_import_kwh,1", "Invalid isoformat"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(f"timestamp,device,quantity,value\n2022-01-01T00:00:00Z,m1,energy_import_kwh,1\n{row}\n")
        with pytest.raises(HistoryError, match=f"bad.csv:3: .*{words}"):
            read_history(bad)


def test_country_averages_are_the_transcribed_figures() -> None:
    source = json.loads(
        (FACTORS_FILE.parent / "sources" / "codecarbon-3.3.2" / "global_energy_mix.json").read_text()
    )
    table = load_factors()
    for iso, zone in (("GBR", "GB"), ("DEU", "DE"), ("FRA", "FR"), ("CHN", "CN"), ("USA", "US")):
        factor = table.grid_factor(zone)
        assert factor.value == source[iso]["carbon_intensity"] and factor.year == source[iso]["year"]
        assert factor.source.startswith("Our World in Data")


def test_fuel_and_district_heat_factors_are_the_epa_figures_of_the_copied_file() -> None:
    """EPA GHG Emission Factors Hub 2024 via LBNL BETTER: kg per kWh in the file, g per kWh in the table."""
    source = json.loads(
        (FACTORS_FILE.parent / "sources" / "lbnl-better-0.1.1" / "fossil_emission_factors_2024.json").read_text()
    )["OTHERS"]
    table = load_factors()
    assert table.fuel_factor("natural_gas").value == pytest.approx(source["NATURAL_GAS"]["CO2e"] * 1000, abs=1e-9)
    for name, key in (("us_epa_district_hot_water", "DISTRICT_HOT_WATER"), ("us_epa_district_steam", "DISTRICT_STEAM")):
        factor = table.heat_factor(name)
        assert factor.value == pytest.approx(source[key]["CO2e"] * 1000, abs=1e-9) == pytest.approx(226.37)
        assert factor.gases == "co2e" and factor.year == 2024 and factor.source.startswith("EPA GHG Emission Factors Hub")
    with pytest.raises(KeyError, match="known: us_epa_district_hot_water, us_epa_district_steam"):
        table.heat_factor("district_heating")
