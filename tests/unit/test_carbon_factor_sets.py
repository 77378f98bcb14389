"""A building's factors follow its jurisdiction and reporting year, and its statement says which.

Hand-computed cases, three hours of a grid meter counting 10 kWh an hour (30 kWh) and a gas
meter counting 100 kWh an hour (300 kWh), no imported intensity series:

    GB, 2024 (DESNZ 2024): 30 x 207.05 / 1000 = 6.2115 kg (Scope 2); 300 x 182.90 / 1000 = 54.87 kg (Scope 1)
    CN-HI, 2026 (MEE 2023, the latest): 30 x 364.8 / 1000 = 10.944 kg
    DE, 2025 (EEA 2024 location, AIB 2025 residual): 30 x 291 / 1000 = 8.73 kg; market 30 x 701.47 / 1000 = 21.0441 kg
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenwire.cloud.carbon.report import account
from greenwire.cloud.carbon.results import day_results
from greenwire.cloud.carbon.statement import Header, render
from greenwire.cloud.carbon.statement import lines as statement_lines
from greenwire.cloud.sites import Building, MeterRef, load_sites
from greenwire.shared.errors import ConfigError

GRID = MeterRef(gateway="g", device="main", role="grid_import")
GAS = MeterRef(gateway="g", device="boiler", role="gas")


def _counters(start: datetime) -> dict[str, list[tuple[datetime, float, str]]]:
    return {"main": [(start + timedelta(hours=h), 100.0 + 10 * h, "good") for h in range(4)]}


def _gas(start: datetime, field: str = "gas_energy_kwh", per_hour: float = 100.0) -> dict[str, tuple[str, list]]:
    return {"boiler": (field, [(start + timedelta(hours=h), 5000.0 + per_hour * h, "good") for h in range(4)])}


def _statement(building: Building, result: object) -> str:
    start, end = result.start, result.end  # type: ignore[attr-defined]
    text, _ = render("md", Header("s", building.id, start, end, end, "test"), building, result)  # type: ignore[arg-type]
    return text


def test_a_gb_building_uses_desnz_of_its_year_and_says_so() -> None:
    start = datetime(2024, 3, 4, tzinfo=UTC)
    building = Building(id="gb", floor_area_m2=100, zone="GB", timezone="Europe/London", meters=(GRID, GAS))
    result = account(building, _counters(start), None, start, start + timedelta(hours=3), gas_counters=_gas(start))
    assert result.scope2_location_kgco2e == pytest.approx(30 * 207.05 / 1000)
    assert result.scope1_kgco2e == pytest.approx(300 * 182.90 / 1000)  # DESNZ gross CV, not EPA's 181.27
    assert result.scope3_td_kgco2e == pytest.approx(30 * 18.30 / 1000)  # reported apart, not in the totals
    assert result.total_kgco2e == pytest.approx(result.scope1_kgco2e + result.scope2_location_kgco2e)
    assert result.jurisdiction == "GB" and result.reporting_year == 2024 and result.factor_notes == []
    desnz = ("UK Department for Energy Security and Net Zero (DESNZ): Greenhouse gas reporting: conversion "
             "factors 2024 (UK Government GHG Conversion Factors for Company Reporting), 2024 full set v1.1 "
             "(correction of 30 Oct 2024)")
    assert result.factor_sets == [f"{desnz}: electricity, static grid factor (the minutes no imported intensity "
                                  "series covers), T&D losses (Scope 3, not in the totals), natural gas"]
    text = _statement(building, result)
    assert "- jurisdiction and reporting year: GB, 2024 (default from zone GB, reporting year 2024 from the period)" in text
    assert f"- factor set: {desnz}" in text
    assert "UK electricity: Electricity generated / Electricity: UK / kWh / kg CO2e, UK electricity!E25 (full set v1.1) (2024)" in text
    assert "EPA" not in text and "Our World in Data" not in text
    rows = {(r.section, r.item): r.value for r in statement_lines(result, building)}
    assert rows[("emissions", "Scope 3, T&D losses of the grid import (category 3; not in the totals)")] == \
        pytest.approx(0.549)


def test_a_gb_building_of_another_year_takes_that_years_desnz_or_the_latest_and_says_which() -> None:
    building = Building(id="gb", floor_area_m2=100, zone="GB", timezone="Europe/London", meters=(GRID,))
    for year, g_per_kwh in ((2019, 255.6), (2022, 193.38), (2025, 177.0)):
        start = datetime(year, 6, 1, tzinfo=UTC)
        result = account(building, _counters(start), None, start, start + timedelta(hours=3))
        assert result.scope2_location_kgco2e == pytest.approx(30 * g_per_kwh / 1000), year
        # No T&D factor before 2023 is held: the 2023 edition's stands in for Scope 3, and is named.
        assert result.factor_notes == ([] if year >= 2023 else
                                       [f"desnz-2023 used for {year}: the library holds no edition of {year} or earlier"])
    start = datetime(2026, 6, 1, tzinfo=UTC)
    result = account(building, _counters(start), None, start, start + timedelta(hours=3))
    assert result.scope2_location_kgco2e == pytest.approx(30 * 177.0 / 1000)
    assert result.factor_notes == ["desnz-2025 used for 2026: the latest edition in the library not after 2026"]
    assert "- factor set note: desnz-2025 used for 2026" in _statement(building, result)
    # 2022 electricity rests on one transcription: the factor's citation says so.
    start = datetime(2022, 6, 1, tzinfo=UTC)
    result = account(building, _counters(start), None, start, start + timedelta(hours=3))
    assert any(f.endswith("[single transcription] (2022)") for f in result.factors), result.factors


def test_the_reporting_year_is_the_local_calendar_year_of_the_period_start() -> None:
    building = Building(id="gb", floor_area_m2=100, zone="CN-HI", timezone="Asia/Shanghai", meters=(GRID,))
    start = datetime(2024, 12, 31, 16, tzinfo=UTC)  # 2025-01-01 00:00 in Haikou
    assert account(building, _counters(start), None, start, start + timedelta(hours=3)).reporting_year == 2025
    fixed = Building.model_validate({**building.model_dump(by_alias=True, exclude_none=True),
                                     "factor_set": {"year": 2023}})
    assert account(fixed, _counters(start), None, start, start + timedelta(hours=3)).reporting_year == 2023


def test_a_building_in_hainan_uses_mees_factor() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    building = Building(id="hq", floor_area_m2=100, zone="CN-HI", timezone="Asia/Shanghai", meters=(GRID,))
    result = account(building, _counters(start), None, start, start + timedelta(hours=3))
    assert result.scope2_location_kgco2e == pytest.approx(30 * 364.8 / 1000)
    assert result.jurisdiction == "CN" and result.scope3_td_kgco2e is None
    assert result.factor_notes == ["mee-2023 used for 2026: the latest edition in the library not after 2026"]
    mee = ("Ministry of Ecology and Environment (MEE) and National Bureau of Statistics (NBS) of China: MEE & NBS "
           "Announcement 2025 No. 47: 2023 electricity CO2 emission factors")
    text = _statement(building, result)
    assert f"- factor set: {mee}" in text and "Table 3: Hainan" in text


def test_a_chinese_gas_meter_in_m3_uses_the_guideline_factor_on_its_net_basis() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    building = Building(id="hq", floor_area_m2=100, zone="CN-HI", timezone="Asia/Shanghai", meters=(GRID, GAS))
    result = account(building, _counters(start), None, start, start + timedelta(hours=3),
                     gas_counters=_gas(start, "gas_volume_m3", per_hour=10.0))
    ncv_kwh_per_m3 = 389.31 / 10_000 / 0.0036
    assert result.gas_kwh == pytest.approx(30 * ncv_kwh_per_m3)
    assert result.scope1_kgco2e == pytest.approx(30 * 389.31 / 10_000 * 15.3 * 0.99 * 44 / 12)  # GJ x kg C/GJ
    assert any("[disputed]" in f for f in result.factors)  # the oxidation rate differs between transcriptions
    assert any(f.startswith("gas calorific value 10.8142 kWh/m3 (net CV)") for f in result.factors)


def test_an_eu_buildings_market_based_figure_uses_the_aib_residual_mix_of_its_country_and_year() -> None:
    start = datetime(2025, 5, 5, tzinfo=UTC)
    building = Building(id="de", floor_area_m2=100, zone="DE", timezone="Europe/Berlin", meters=(GRID,))
    result = account(building, _counters(start), None, start, start + timedelta(hours=3))
    assert result.scope2_market_kgco2e == pytest.approx(30 * 701.47 / 1000)  # AIB 2025, Germany
    assert result.scope2_location_kgco2e == pytest.approx(30 * 291 / 1000)  # EEA, data year 2024
    assert result.factor_notes == ["eea-2024 used for 2025: the latest edition in the library not after 2025"]
    assert any(f.startswith("residual mix 701.47 g/kWh: Association of Issuing Bodies (AIB), calculated by Grexel: "
                            "European Residual Mixes 2025, Version 1.0, 2026-05-26, Table 2; Table 2: Residual "
                            "Mixes: DE, Residual Mixes!Q9") for f in result.factors), result.factors
    text = _statement(building, result)
    assert "European Residual Mixes 2025" in text and "residual mix (market-based)" in text
    # 2023: AIB's 2023 edition (719.90); a certificate covering 10 kWh leaves 20 kWh at the residual mix.
    start = datetime(2023, 5, 5, tzinfo=UTC)
    certified = Building.model_validate({
        **building.model_dump(by_alias=True, exclude_none=True),
        "market": {"instruments": [{"kind": "certificate", "kwh": 10, "from": "2023-05-05", "to": "2023-05-06",
                                    "source": "GO batch 7"}]}})
    day = start + timedelta(days=1)
    counters = {"main": [(start + timedelta(hours=h), 100.0 + 30 / 24 * h, "good") for h in range(25)]}
    result = account(certified, counters, None, start, day)
    assert result.instrument_kwh == pytest.approx(10)
    assert result.scope2_market_kgco2e == pytest.approx(20 * 719.9 / 1000)


def test_where_aib_prints_no_residual_mix_the_location_factor_stands_in_and_the_statement_says_so() -> None:
    start = datetime(2025, 5, 5, tzinfo=UTC)
    building = Building(id="at", floor_area_m2=100, zone="AT", timezone="Europe/Vienna", meters=(GRID,))
    result = account(building, _counters(start), None, start, start + timedelta(hours=3))
    assert result.scope2_market_kgco2e == pytest.approx(30 * 53 / 1000)  # EEA 2024, Austria
    assert any("aib-2025 prints no residual mix for AT" in f for f in result.factors)


def test_the_stored_day_results_price_with_the_same_factor_sets() -> None:
    start = datetime(2025, 5, 5, tzinfo=UTC)
    building = Building(id="de", floor_area_m2=100, zone="DE", timezone="Europe/Berlin", meters=(GRID, GAS))
    counters = {"main": [(start + timedelta(hours=h), 100.0 + 10 * h, "good") for h in range(4)]}
    rolled = day_results(building, counters, _gas(start), None, start, start + timedelta(hours=3), None)
    hour = rolled["1h"][start]
    assert hour.kgco2e == pytest.approx(10 * 291 / 1000)
    report = account(building, counters, None, start, start + timedelta(hours=3), gas_counters=_gas(start))
    assert sum(p.kgco2e for p in rolled["1h"].values()) == pytest.approx(report.scope2_location_kgco2e)
    assert sum(p.scope1_kgco2e for p in rolled["1h"].values()) == pytest.approx(report.scope1_kgco2e)
    # No EU fuel set is held: gas falls back to the US EPA default, and the account says so.
    assert any("no natural-gas factor for jurisdiction EU" in n for n in report.factor_notes)


def test_a_named_or_own_gas_factor_overrides_the_default() -> None:
    start = datetime(2024, 3, 4, tzinfo=UTC)
    end = start + timedelta(hours=3)
    named = Building(id="gb", floor_area_m2=100, zone="GB", meters=(GRID, GAS), gas_factor="desnz-2025")
    assert account(named, _counters(start), None, start, end, gas_counters=_gas(start)).scope1_kgco2e == \
        pytest.approx(300 * 182.96 / 1000)
    own = Building.model_validate({"id": "gb", "floor_area_m2": 100, "zone": "GB", "meters": [GRID.model_dump(),
                                   GAS.model_dump()],
                                   "gas_factor": {"value": 190.0, "source": "Supplier X 2024 disclosure", "year": 2024}})
    result = account(own, _counters(start), None, start, end, gas_counters=_gas(start, "gas_volume_m3", 10.0))
    assert result.gas_kwh == pytest.approx(30 * 2.04542 / 0.1829)  # DESNZ 2024's gross calorific value
    assert result.scope1_kgco2e == pytest.approx(result.gas_kwh * 0.190)
    assert "natural gas 190 g/kWh (gross CV): Supplier X 2024 disclosure (2024, site model)" in result.factors
    # DESNZ 2022 publishes no m3 row here: the nearest edition's calorific value is taken, and named.
    start = datetime(2022, 3, 4, tzinfo=UTC)
    gb = Building(id="gb", floor_area_m2=100, zone="GB", meters=(GRID, GAS))
    result = account(gb, _counters(start), None, start, start + timedelta(hours=3),
                     gas_counters=_gas(start, "gas_volume_m3", 10.0))
    assert result.scope1_kgco2e == pytest.approx(30 * 2.038390310067114 / 0.18292892617449666 * 0.18254)
    assert any("the nearest edition that publishes it; desnz-2022 does not" in f for f in result.factors)


SITES = """sites:
  - id: s
    buildings:
      - id: b
        floor_area_m2: 100
        zone: GB
        meters:
          - {gateway: g, device: main, role: grid_import}
          - {gateway: g, device: boiler, role: gas}
"""


def _load(tmp_path: Path, text: str) -> Building:
    path = tmp_path / "sites.yaml"
    path.write_text(text)
    return load_sites(path).building("s", "b")


@pytest.mark.parametrize(
    ("extra", "line", "words"),
    [
        ("        gas_factor: desnz-2018\n", 10, "no factor set 'desnz-2018'; known: desnz-2019"),
        ("        gas_factor: mee-2023\n", 10, "factor set 'mee-2023' has no natural_gas factor; sets with one: desnz-2019"),
        ("        gas_factor: {value: 190, source: ' ', year: 2024}\n", 10, "the source of the factor must be given"),
        ("        gas_factor: {value: 190, source: s, year: 2024, energy_basis: hhv}\n", 10, "'gross_cv' or 'net_cv'"),
        ("        factor_set: {year: 2018}\n", 10,
         "no GB edition for 2018 (editions: 2019, 2020, 2021, 2022, 2023, 2024, 2025)"),
        ("        factor_set: {jurisdiction: EU}\n", 10, "zone GB is in jurisdiction GB"),
        ("        factor_set: {jurisdiction: XX}\n", 10, "'GB', 'CN', 'EU' or 'US'"),
        ("        market: {instruments: []}\n", 10, "no residual mix for zone GB: give residual_mix_g_per_kwh"),
        ("        market: {residual_mix_g_per_kwh: 300}\n", 10, "residual_mix_source is required"),
    ],
)
def test_factor_choices_are_validated_with_the_line(tmp_path: Path, extra: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, SITES + extra)
    assert words in str(info.value), str(info.value)
    assert info.value.line == line, str(info.value)


def test_valid_factor_choices_load(tmp_path: Path) -> None:
    building = _load(tmp_path, SITES + "        factor_set: {jurisdiction: GB, year: 2023}\n"
                                       "        gas_factor: desnz-2023\n")
    assert building.factor_set is not None and building.factor_set.year == 2023
    germany = SITES.replace("zone: GB", "zone: DE") + "        market: {instruments: []}\n"
    assert _load(tmp_path, germany).market is not None  # AIB supplies the residual mix


def test_a_set_is_named_for_what_it_priced() -> None:
    """With an imported series covering every minute, DESNZ's grid factor priced nothing: the
    statement names DESNZ for the T&D losses only; a US country zone says eGRID needs a subregion."""
    from greenwire.cloud.carbon.intensity import IntensitySeries

    start = datetime(2024, 3, 4, tzinfo=UTC)
    series = IntensitySeries(zone="GB", kind="average", basis="direct", source="NESO test series",
                             starts=(start,), values=(100.0,), periods=(timedelta(hours=3),))
    building = Building(id="gb", floor_area_m2=100, zone="GB", meters=(GRID,))
    result = account(building, _counters(start), series, start, start + timedelta(hours=3))
    assert result.scope2_location_kgco2e == pytest.approx(3.0) and result.factors == {"NESO test series"}
    assert len(result.factor_sets) == 1 and result.factor_sets[0].endswith(": T&D losses (Scope 3, not in the totals)")
    us = Building(id="us", floor_area_m2=100, zone="US", meters=(GRID,))
    result = account(us, _counters(start), None, start, start + timedelta(hours=3))
    assert result.factor_notes == ["no US grid factor for zone US in the factor library: the legacy table's is used "
                                   "(eGRID factors need a subregion zone such as US-CAMX)"]
    camx = Building(id="us", floor_area_m2=100, zone="US-CAMX", meters=(GRID,))
    result = account(camx, _counters(start), None, start, start + timedelta(hours=3))
    assert result.scope2_location_kgco2e == pytest.approx(30 * 225.227 / 1000)  # eGRID 2022, CO2
    assert result.factor_notes == ["egrid-2022 used for 2024: the latest edition in the library not after 2024"]
