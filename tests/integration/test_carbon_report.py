"""`greenwire import grid` and `greenwire carbon report` against a real InfluxDB and real data.

Two days of Cambridge building b2's electricity, stored as counter readings every 15
minutes, reported against the GB grid's hourly intensity (imported from the NESO CSV)
and, for a second building with the same meter data, against Hainan's official static
factor. The report must equal the independent hourly calculation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.simulators.series import Replay, builtin_series

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[1] / "data"
START = datetime(2022, 1, 1, tzinfo=UTC)
HOURS = 48


def test_import_grid_and_report_a_building(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    building = builtin_series("b2")
    replay = Replay(building, start=START, speed=1.0, clock=lambda: 0.0)
    lines = []
    for device in ("b2-main", "hq-main"):
        prefix = SeriesPrefix("readings", {"site": "cambridge", "gateway": "gw-c", "device": device})
        for quarter in range(HOURS * 4 + 1):
            at = START + timedelta(minutes=15 * quarter)
            lines.append(prefix.line({"energy_import_kwh": replay.energy_kwh(quarter * 900.0), "quality": "good"},
                                     int(at.timestamp()) * 10**9))
    influxdb.write(influx_db, lines)
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    (tmp_path / "sites.yaml").write_text(
        """sites:
  - id: cambridge
    buildings:
      - {id: b2, floor_area_m2: 10000, zone: GB, timezone: Europe/London, annual_budget_kgco2e: 1000000,
         meters: [{gateway: gw-c, device: b2-main, role: grid_import}]}
  - id: haikou
    buildings:
      - {id: hq, floor_area_m2: 5000, zone: CN-HI, timezone: Asia/Shanghai,
         meters: [{gateway: gw-c, device: hq-main, role: grid_import}]}
"""
    )
    runner = CliRunner()
    config = ["--config", str(tmp_path / "ingest.yaml")]
    imported = runner.invoke(app, ["import", "grid", str(DATA / "neso-gb-2022-hourly.csv"), "--zone", "GB", *config])
    assert imported.exit_code == 0, imported.output
    assert "imported 8760 values for zone GB" in imported.output

    window = ["--from", "2022-01-01T00:00Z", "--to", "2022-01-03T00:00Z"]
    gb = runner.invoke(app, ["carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "cambridge",
                             "--building", "b2", *window, "--json", *config])
    assert gb.exit_code == 0, gb.output
    result = orjson.loads(gb.output)

    neso = [float(line.split(",")[1]) * 1000 for line in (DATA / "neso-gb-2022-hourly.csv").read_text().splitlines()[1:]]
    expected_kwh = sum(building.kwh[:HOURS])
    expected_kg = sum(building.kwh[h] * neso[h] / 1000 for h in range(HOURS))
    assert result["grid_import_kwh"] == pytest.approx(expected_kwh, rel=1e-9)
    assert result["scope2_location_kgco2e"] == pytest.approx(expected_kg, rel=1e-9)
    assert result["estimated_kwh"] == 0 and result["rejected_kwh"] == 0
    assert result["factors"] == ["NESO carbon intensity (neso-gb-2022-hourly.csv)"]
    assert result["kgco2e_per_m2_year"] == pytest.approx(expected_kg / 10000 / (2 / 365.25), rel=1e-9)
    assert result["budget_kgco2e"] == pytest.approx(1_000_000 * 2 / 365)  # two January days of 2022
    assert result["budget_used_pct"] == pytest.approx(100 * expected_kg / (1_000_000 * 2 / 365))

    hainan = runner.invoke(app, ["carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "haikou",
                                 "--building", "hq", *window, "--json", *config])
    assert hainan.exit_code == 0, hainan.output
    static = orjson.loads(hainan.output)
    assert static["scope2_location_kgco2e"] == pytest.approx(expected_kwh * 0.3648, rel=1e-9)
    # MEE's 2023 factor is the library's earliest edition: it stands in for 2022, and the report says so.
    assert static["factors"] == [
        "Ministry of Ecology and Environment (MEE) and National Bureau of Statistics (NBS) of China: MEE & NBS "
        "Announcement 2025 No. 47: 2023 electricity CO2 emission factors, published 2025-12-31, Table 3 (provincial "
        "averages, including inter-provincial transfers); Table 3: Hainan (2023)"]
    assert static["factor_notes"] == ["mee-2023 used for 2022: the library holds no edition of 2022 or earlier"]
    assert static["jurisdiction"] == "CN" and static["reporting_year"] == 2022

    text = runner.invoke(app, ["carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "cambridge",
                               "--building", "b2", *window, *config])
    assert "Scope 2 (location)" in text.output and "kgCO2e" in text.output
    # The NESO series priced every minute; DESNZ 2022 is named for the Scope 3 T&D line it prices.
    assert "jurisdiction and reporting year: GB, 2022 (default from zone GB, reporting year 2022 from the period)" \
        in text.output, text.output
    assert "Scope 3 (T&D losses)" in text.output and "factor set note: desnz-2023 used for 2022" in text.output
    assert result["energy_kwh"] == result["grid_import_kwh"]
    assert result["emissions_location_kg"] == result["scope2_location_kgco2e"]
    assert result["factor_sources"] == result["factors"]
    csv_out = runner.invoke(app, ["carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "cambridge",
                                  "--building", "b2", *window, "--format", "csv", *config])
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_out.output)))
    assert len(rows) == 1 and float(rows[0]["emissions_location_kg"]) == pytest.approx(expected_kg, rel=1e-9)
    ranked = runner.invoke(app, ["carbon", "ranking", "--sites", str(tmp_path / "sites.yaml"), *window, "--json", *config])
    assert ranked.exit_code == 0, ranked.output
    order = orjson.loads(ranked.output)
    # Same meter data: Hainan's 364.8 g/kWh on 5,000 m2 against January's GB grid on 10,000 m2.
    assert [r["building"] for r in order] == sorted(
        ["b2", "hq"], key=lambda b: -(expected_kg / 10000 if b == "b2" else expected_kwh * 0.3648 / 5000)
    )
    assert order[0]["kgco2e_per_m2_year"] >= order[1]["kgco2e_per_m2_year"]
    missing = runner.invoke(app, ["carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "cambridge",
                                  "--building", "b9", *window, *config])
    assert missing.exit_code == 2 and "no building 'b9' in site 'cambridge' (b2)" in missing.output


def test_report_cuts_energy_at_the_period_edges(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    building = builtin_series("b25")
    replay = Replay(building, start=START, speed=1.0, clock=lambda: 0.0)
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": replay.energy_kwh(q * 900.0), "quality": "good"},
                    int((START + timedelta(minutes=15 * q)).timestamp()) * 10**9)
        for q in range(HOURS * 4 + 1)
    ])
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    (tmp_path / "sites.yaml").write_text(
        "sites:\n  - id: s\n    buildings:\n      - {id: b, floor_area_m2: 100, zone: CN-JS, "
        "meters: [{gateway: gw-c, device: m, role: grid_import}]}\n"
    )
    result = CliRunner().invoke(app, [
        "carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "s", "--building", "b",
        "--from", "2022-01-01T06:30Z", "--to", "2022-01-02T06:30Z", "--json", "--config", str(tmp_path / "ingest.yaml"),
    ])
    assert result.exit_code == 0, result.output
    # Half of hour 6, hours 7 to 29, half of hour 30: energy is spread evenly within each hour.
    expected = building.kwh[6] / 2 + sum(building.kwh[7:30]) + building.kwh[30] / 2
    account = orjson.loads(result.output)
    assert account["grid_import_kwh"] == pytest.approx(expected, rel=1e-9)
    assert account["scope2_location_kgco2e"] == pytest.approx(expected * 0.5827, rel=1e-9)  # Jiangsu, 2023


@pytest.mark.parametrize("field", ["gas_energy_kwh", "gas_volume_m3"])
def test_scope1_from_a_real_gas_meter(influxdb: InfluxDB1, influx_db: str, tmp_path: Path, field: str) -> None:
    from greenwire.simulators.series import load_series

    gas = load_series(DATA / "cambridge-b2-gas-2022.csv", name="b2-gas")
    replay = Replay(gas, start=START, speed=1.0, clock=lambda: 0.0)
    from greenwire.cloud.carbon.factorsets import load_library

    # A GB building of 2022: DESNZ 2022's natural gas (gross CV); that edition publishes no m3 row, so the
    # calorific value is the nearest edition's (DESNZ 2023). It was EPA's US factor before.
    desnz_2023 = load_library().get("desnz-2023").find("fuel", fuel="natural_gas")
    assert desnz_2023 is not None and desnz_2023.calorific_kwh_per_m3 is not None
    per_m3 = desnz_2023.calorific_kwh_per_m3 if field == "gas_volume_m3" else 1.0
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "boiler"})
    influxdb.write(influx_db, [
        prefix.line({field: replay.energy_kwh(q * 900.0) / per_m3, "quality": "good"},
                    int((START + timedelta(minutes=15 * q)).timestamp()) * 10**9)
        for q in range(HOURS * 4 + 1)
    ])
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    (tmp_path / "sites.yaml").write_text(
        "sites:\n  - id: s\n    buildings:\n      - {id: b, floor_area_m2: 100, zone: GB, meters: ["
        "{gateway: gw-c, device: boiler, role: gas}]}\n"
    )
    result = CliRunner().invoke(app, [
        "carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "s", "--building", "b",
        "--from", "2022-01-01", "--to", "2022-01-03", "--json", "--config", str(tmp_path / "ingest.yaml"),
    ])
    assert result.exit_code == 0, result.output
    account = orjson.loads(result.output)
    expected_kwh = sum(gas.kwh[:HOURS])
    assert account["gas_kwh"] == pytest.approx(expected_kwh, rel=1e-9)
    assert account["scope1_kgco2e"] == pytest.approx(expected_kwh * 0.18254, rel=1e-9)  # DESNZ 2022, CO2e, gross CV
    assert any(f.startswith("natural gas 182.54 g/kWh (gross CV): UK Department for Business, Energy & Industrial "
                            "Strategy (BEIS): Greenhouse gas reporting: conversion factors 2022") for f in account["factors"])
    assert any("calorific value" in f for f in account["factors"]) == (field == "gas_volume_m3")


def test_market_based_and_pv_reported_apart(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    """Certificates cover part of the import; PV generation and export are reported, never netted;
    district heat, with EPA's hot-water factor, is Scope 2 in every total. The stored results
    (backfill) give the same figures as the report for each day and the month."""
    from greenwire.simulators.series import load_series

    gas = Replay(load_series(DATA / "cambridge-b2-gas-2022.csv", name="b2-gas"), start=START, speed=1.0,
                 clock=lambda: 0.0)
    consumption = Replay(builtin_series("b2"), start=START, speed=1.0, clock=lambda: 0.0)
    generation = Replay(builtin_series("b85"), start=START, speed=1.0, clock=lambda: 0.0)  # stands in for a PV meter
    heat = Replay(builtin_series("b25"), start=START, speed=1.0, clock=lambda: 0.0)  # stands in for a heat meter
    lines = []
    for q in range(HOURS * 4 + 1):
        ns = int((START + timedelta(minutes=15 * q)).timestamp()) * 10**9
        lines.append(SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "main"}).line(
            {"energy_import_kwh": consumption.energy_kwh(q * 900.0), "quality": "good"}, ns))
        lines.append(SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "pv"}).line(
            {"energy_generated_kwh": generation.energy_kwh(q * 900.0), "quality": "good"}, ns))
        lines.append(SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "export"}).line(
            {"energy_export_kwh": 0.25 * generation.energy_kwh(q * 900.0), "quality": "good"}, ns))
        lines.append(SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "boiler"}).line(
            {"gas_energy_kwh": gas.energy_kwh(q * 900.0), "quality": "good"}, ns))
        lines.append(SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "dh"}).line(
            {"heat_energy_kwh": heat.energy_kwh(q * 900.0), "quality": "good"}, ns))
    influxdb.write(influx_db, lines)
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    (tmp_path / "sites.yaml").write_text(
        """sites:
  - id: s
    buildings:
      - id: b
        floor_area_m2: 100
        zone: CN-JS
        meters:
          - {gateway: gw-c, device: main, role: grid_import}
          - {gateway: gw-c, device: pv, role: pv_generation}
          - {gateway: gw-c, device: export, role: grid_export}
          - {gateway: gw-c, device: boiler, role: gas}
          - {gateway: gw-c, device: dh, role: heat}
        heat_factor: us_epa_district_hot_water
        market:
          residual_mix_g_per_kwh: 600
          residual_mix_source: "test residual mix, not a published figure"
          instruments:
            - {kind: certificate, kwh: 31000, from: 2022-01-01, to: 2022-02-01, source: "GEC batch 2022-01-0042"}
"""
    )
    result = CliRunner().invoke(app, [
        "carbon", "report", "--sites", str(tmp_path / "sites.yaml"), "--site", "s", "--building", "b",
        "--from", "2022-01-01", "--to", "2022-01-03", "--json", "--config", str(tmp_path / "ingest.yaml"),
    ])
    assert result.exit_code == 0, result.output
    account = orjson.loads(result.output)
    imported = sum(builtin_series("b2").kwh[:HOURS])
    generated = sum(builtin_series("b85").kwh[:HOURS])
    covered = 31000 * 2 / 31  # the certificates' kWh spread evenly over January: two days of it
    assert account["grid_import_kwh"] == pytest.approx(imported, rel=1e-9)
    assert account["instrument_kwh"] == pytest.approx(covered, rel=1e-9)
    assert account["scope2_market_kgco2e"] == pytest.approx((imported - covered) * 0.6, rel=1e-9)
    assert account["scope2_location_kgco2e"] == pytest.approx(imported * 0.5827, rel=1e-9)
    assert account["pv_generation_kwh"] == pytest.approx(generated, rel=1e-9)
    assert account["grid_export_kwh"] == pytest.approx(0.25 * generated, rel=1e-9)
    assert account["pv_self_consumption_kwh"] == pytest.approx(0.75 * generated, rel=1e-9)
    assert "certificate: GEC batch 2022-01-0042" in account["factors"]
    heat_kwh = sum(builtin_series("b25").kwh[:HOURS])
    # Jiangsu's gas: China's enterprise-guideline natural gas, 15.3 t C/TJ x 99 % x 44/12 per kWh of net CV
    # (it was EPA's US factor, 0.18127, before).
    gas_kg = sum(load_series(DATA / "cambridge-b2-gas-2022.csv", name="b2-gas").kwh[:HOURS]) * 0.1999404
    assert account["heat_kwh"] == pytest.approx(heat_kwh, rel=1e-9)
    assert account["scope2_heat_kgco2e"] == pytest.approx(heat_kwh * 0.22637, rel=1e-9)  # EPA 2024, hot water
    assert account["scope1_kgco2e"] == pytest.approx(gas_kg, rel=1e-9)
    assert account["total_kgco2e"] == pytest.approx(gas_kg + imported * 0.5827 + heat_kwh * 0.22637, rel=1e-9)
    assert account["total_market_kgco2e"] == pytest.approx(
        gas_kg + (imported - covered) * 0.6 + heat_kwh * 0.22637, rel=1e-9)  # no instruments for heat
    heat_source = ("district heat 226.37 gCO2e/kWh: EPA GHG Emission Factors Hub 2024, district hot water "
                   "(via LBNL BETTER fossil_emission_factors_2024.json) (2024)")
    assert heat_source in account["factors"] and account["heat_factor_source"] == heat_source

    config = ["--sites", str(tmp_path / "sites.yaml"), "--config", str(tmp_path / "ingest.yaml")]
    table = CliRunner().invoke(app, ["carbon", "report", *config, "--site", "s", "--building", "b",
                                     "--from", "2022-01-01", "--to", "2022-01-03"])
    assert f"Scope 2 (heat)       {heat_kwh * 0.22637:14,.1f} kgCO2e  ({heat_source})" in table.output, table.output
    done = CliRunner().invoke(app, ["carbon", "backfill", *config, "--from", "2022-01-01", "--to", "2022-01-03"])
    assert done.exit_code == 0, done.output
    fields = ("grid_import_kwh", "scope2_location_kgco2e", "scope2_market_kgco2e", "instrument_kwh",
              "pv_generation_kwh", "grid_export_kwh", "pv_self_consumption_kwh", "gas_kwh", "scope1_kgco2e",
              "heat_kwh", "scope2_heat_kgco2e", "total_kgco2e")
    for resolution, start, end in (("1d", "2022-01-01", "2022-01-02"), ("1d", "2022-01-02", "2022-01-03"),
                                   ("1mo", "2022-01-01", "2022-02-01")):
        stored = influxdb.query(influx_db, f'SELECT * FROM "carbon" WHERE "resolution" = \'{resolution}\' '
                                           f"AND time = '{start}T00:00:00Z'")
        assert len(stored) == 1, (resolution, start)
        reported = orjson.loads(CliRunner().invoke(app, [
            "carbon", "report", *config, "--site", "s", "--building", "b", "--from", start, "--to", end, "--json",
        ]).output)
        for name in fields:
            assert stored[0][name] == pytest.approx(reported[name], rel=1e-9), (resolution, start, name)
        assert stored[0]["total_kgco2e"] == pytest.approx(
            reported["scope1_kgco2e"] + reported["scope2_location_kgco2e"] + reported["scope2_heat_kgco2e"], rel=1e-9)
        assert "certificate: GEC batch 2022-01-0042" in str(stored[0]["factor_sources"])
        assert heat_source in str(stored[0]["factor_sources"])
        daily = influxdb.query(influx_db, f"SELECT * FROM \"carbon_daily\" WHERE time = '{start}T00:00:00Z'")
        if resolution == "1d":
            assert daily[0]["scope2_heat_kgco2e"] == pytest.approx(reported["scope2_heat_kgco2e"], rel=1e-9)
            assert daily[0]["kgco2e_per_m2"] == pytest.approx(reported["total_kgco2e"] / 100, rel=1e-9)
    # The month holds all of January's certificates (31,000 kWh), the residual mix the rest of the import.
    month = influxdb.query(influx_db, 'SELECT * FROM "carbon" WHERE "resolution" = \'1mo\'')[0]
    assert month["instrument_kwh"] == 31000 and imported > 31000
    assert month["scope2_market_kgco2e"] == pytest.approx((imported - 31000) * 0.6, rel=1e-9)

    # The statement shows the heat line with its factor and source; verify catches a changed heat figure.
    runner = CliRunner()
    for fmt in ("md", "csv"):
        out = tmp_path / f"statement.{fmt}"
        made = runner.invoke(app, ["carbon", "statement", *config, "--site", "s", "--building", "b", "--from",
                                   "2022-01-01", "--to", "2022-01-03", "--format", fmt, "-o", str(out)])
        assert made.exit_code == 0, made.output
        text = out.read_text()
        assert heat_source in text and "district heat factor" in text
        assert runner.invoke(app, ["carbon", "verify", str(out)]).exit_code == 0
        figure = f"{heat_kwh * 0.22637:,.1f}" if fmt == "md" else repr(account["scope2_heat_kgco2e"])
        assert figure in text, figure
        out.write_text(text.replace(figure, f"{heat_kwh * 0.2:,.1f}" if fmt == "md" else "1.5", 1))
        tampered = runner.invoke(app, ["carbon", "verify", str(out)])
        assert tampered.exit_code == 1 and "no longer matches its hash" in tampered.output


def _setup(influxdb: InfluxDB1, influx_db: str, tmp_path: Path, zone: str, tz: str,
           mqtt_url: str = "mqtt://127.0.0.1:1883", heat: bool = False, budget: float | None = None) -> list[str]:
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: '{mqtt_url}'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    heat_meter = ", {gateway: gw-c, device: h, role: heat}], heat_factor: us_epa_district_hot_water" if heat else "]"
    (tmp_path / "sites.yaml").write_text(
        f"sites:\n  - id: s\n    buildings:\n      - {{id: b, floor_area_m2: 100, zone: {zone}, timezone: {tz}, "
        + (f"annual_budget_kgco2e: {budget}, " if budget else "")
        + f"meters: [{{gateway: gw-c, device: m, role: grid_import}}{heat_meter}}}\n"
    )
    return ["--sites", str(tmp_path / "sites.yaml"), "--config", str(tmp_path / "ingest.yaml")]


def test_backfill_writes_minutes_and_roll_ups(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    building = builtin_series("b2")
    replay = Replay(building, start=START, speed=1.0, clock=lambda: 0.0)
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": replay.energy_kwh(q * 900.0), "quality": "good"},
                    int((START + timedelta(minutes=15 * q)).timestamp()) * 10**9)
        for q in range(HOURS * 4 + 1)
    ])
    args = _setup(influxdb, influx_db, tmp_path, "GB", "Europe/London")
    runner = CliRunner()
    assert runner.invoke(app, ["import", "grid", str(DATA / "neso-gb-2022-hourly.csv"), "--zone", "GB",
                               "--config", args[3]]).exit_code == 0
    done = runner.invoke(app, ["carbon", "backfill", *args, "--from", "2022-01-01", "--to", "2022-01-03"])
    assert done.exit_code == 0, done.output

    def rows(resolution: str) -> list[dict[str, object]]:
        return influxdb.query(influx_db, f"SELECT * FROM \"carbon\" WHERE \"resolution\" = '{resolution}'")

    neso = [float(line.split(",")[1]) * 1000 for line in (DATA / "neso-gb-2022-hourly.csv").read_text().splitlines()[1:]]
    hours = rows("1h")
    assert len(hours) == HOURS and len(rows("1m")) == HOURS * 60
    for h, row in enumerate(hours):
        assert row["grid_import_kwh"] == pytest.approx(building.kwh[h], rel=1e-9, abs=1e-9)
        assert row["scope2_location_kgco2e"] == pytest.approx(building.kwh[h] * neso[h] / 1000, rel=1e-9, abs=1e-9)
    days = rows("1d")
    assert [row["grid_import_kwh"] for row in days] == [pytest.approx(sum(building.kwh[0:24])),
                                                          pytest.approx(sum(building.kwh[24:48]))]
    month = rows("1mo")
    assert len(month) == 1 and month[0]["grid_import_kwh"] == pytest.approx(sum(building.kwh[:HOURS]))
    assert month[0]["factor_sources"] == "NESO carbon intensity (neso-gb-2022-hourly.csv)"
    # Running it again overwrites, it does not add.
    assert runner.invoke(app, ["carbon", "backfill", *args, "--from", "2022-01-01", "--to", "2022-01-03"]).exit_code == 0
    assert len(rows("1h")) == HOURS


def test_run_keeps_today_and_the_live_figures_current(
    influxdb: InfluxDB1, influx_db: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    import time

    from tests.integration.test_edge_publish import Subscriber

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    # A meter drawing a steady 40 kW for the last 90 minutes, read every minute.
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": 5000.0 + 40.0 * k / 60, "quality": "good"},
                    int((now - timedelta(minutes=90 - k)).timestamp()) * 10**9)
        for k in range(91)
    ])
    # And district heat at a steady 20 kW, priced at EPA's hot-water factor.
    heat = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "h"})
    influxdb.write(influx_db, [
        heat.line({"heat_energy_kwh": 100.0 + 20.0 * k / 60, "quality": "good"},
                  int((now - timedelta(minutes=90 - k)).timestamp()) * 10**9)
        for k in range(91)
    ])
    args = _setup(influxdb, influx_db, tmp_path, "CN-HI", "Asia/Shanghai", mqtt_url=mosquitto.url, heat=True)
    started = time.time()
    result = CliRunner().invoke(app, ["carbon", "run", *args, "--once"])
    assert result.exit_code == 0, result.output
    # The building's retained carbon signal, as a building-management system would read it.
    bms = Subscriber(mosquitto.host, mosquitto.port, "greenwire/v1/s/carbon/b")
    try:
        deadline = time.time() + 30
        while not bms.messages and time.time() < deadline:
            time.sleep(0.05)
        assert bms.messages, "no retained carbon signal"
        _topic, payload, retained = bms.messages[0]
    finally:
        bms.close()
    signal = orjson.loads(payload)
    assert retained and signal["schema"] == "greenwire.carbon.v1" and signal["building"] == "b"
    assert signal["intensity_g_per_kwh"] == pytest.approx(364.8)
    assert signal["emission_rate_kg_per_h"] == pytest.approx(40.0 * 0.3648, rel=1e-4)
    assert signal["grid_intensity_g_per_kwh"] == pytest.approx(364.8)
    assert signal["grid_band"] == "very high" and signal["band_scheme"] == "NESO carbon intensity index bands"
    live = influxdb.query(influx_db, 'SELECT * FROM "carbon_live"')
    assert len(live) == 1
    assert live[0]["intensity_g_per_kwh"] == pytest.approx(364.8)  # Hainan's 2023 factor: no series imported
    assert live[0]["emission_rate_kg_per_h"] == pytest.approx(40.0 * 0.3648, rel=1e-6)
    today = influxdb.query(influx_db, "SELECT * FROM \"carbon\" WHERE \"resolution\" = '1d'")
    assert len(today) == 1 and today[0]["grid_import_kwh"] > 0
    # The signal's "today" is the stored day's total (grid and district heat here), the figure held
    # against the day's budget.
    assert today[0]["scope2_heat_kgco2e"] == pytest.approx(today[0]["heat_kwh"] * 0.22637, rel=1e-9)
    assert today[0]["scope2_heat_kgco2e"] > 0
    assert signal["today_kgco2e"] == pytest.approx(today[0]["total_kgco2e"], abs=5e-4)
    assert signal["today_kgco2e"] == pytest.approx(
        today[0]["scope2_location_kgco2e"] + today[0]["scope2_heat_kgco2e"], abs=5e-4)
    accounts = influxdb.query(influx_db, 'SELECT * FROM "carbon_account"')
    assert accounts and accounts[-1]["today_kgco2e"] == pytest.approx(signal["today_kgco2e"], abs=5e-4)
    assert time.time() - started < 30


def test_live_grid_feed_sets_the_intensity(
    influxdb: InfluxDB1, influx_db: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    import paho.mqtt.client as mqtt

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": 100.0 + 20.0 * k / 60, "quality": "good"},
                    int((now - timedelta(minutes=60 - k)).timestamp()) * 10**9)
        for k in range(61)
    ])
    args = _setup(influxdb, influx_db, tmp_path, "CN-HI", "Asia/Shanghai", mqtt_url=mosquitto.url)
    feed = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="grid-feed-test")
    feed.connect(mosquitto.host, mosquitto.port)
    feed.loop_start()
    hour = now.replace(minute=0) - timedelta(hours=1)
    good = {"schema": "greenwire.grid.v1", "zone": "CN-HI", "start": hour.isoformat().replace("+00:00", "Z"),
            "period_s": 7200, "g_per_kwh": 250.0, "source": "dispatch centre forecast"}
    feed.publish("greenwire/v1/grid/cn-hi/intensity", orjson.dumps(good), qos=1, retain=True).wait_for_publish(5)
    feed.publish("greenwire/v1/grid/cn-js/intensity", orjson.dumps(good), qos=1, retain=True).wait_for_publish(5)
    try:
        result = CliRunner().invoke(app, ["carbon", "run", *args, "--once"])
    finally:
        for zone in ("cn-hi", "cn-js"):  # clear the retained values for other tests on this broker
            feed.publish(f"greenwire/v1/grid/{zone}/intensity", b"", qos=1, retain=True).wait_for_publish(5)
        feed.disconnect()
        feed.loop_stop()
    assert result.exit_code == 0, result.output
    assert "payload zone 'CN-HI' is not the topic's 'cn-js'" in result.output  # rejected, counted, the rest goes on
    live = influxdb.query(influx_db, 'SELECT * FROM "carbon_live"')
    assert live[0]["intensity_g_per_kwh"] == pytest.approx(250.0)  # the feed, not Hainan's static 364.8
    # The shared test broker may hold other zones' retained values (a grid service test's GB): the
    # building's zones are what this test is about.
    stored = influxdb.query(influx_db, 'SELECT * FROM "grid_intensity" WHERE "zone" =~ /^CN-/')
    assert [(r["zone"], r["g_per_kwh"], r["period_s"]) for r in stored] == [("CN-HI", 250.0, 7200)]


def test_statement_lists_energy_emissions_and_every_factor(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    building = builtin_series("b25")
    replay = Replay(building, start=START, speed=1.0, clock=lambda: 0.0)
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": replay.energy_kwh(q * 900.0), "quality": "good"},
                    int((START + timedelta(minutes=15 * q)).timestamp()) * 10**9)
        for q in range(HOURS * 4 + 1)
    ])
    args = _setup(influxdb, influx_db, tmp_path, "CN-JS", "Asia/Shanghai", budget=5000)
    out = tmp_path / "statement.md"
    result = CliRunner().invoke(app, ["carbon", "statement", *args, "--site", "s", "--building", "b",
                                      "--from", "2022-01-01", "--to", "2022-01-03", "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    kwh = sum(building.kwh[:HOURS])
    assert f"| grid import | {kwh:,.1f} | kWh |" in text
    assert f"| Scope 2, location-based (energy x intensity of the minute it was used) | {kwh * 0.5827:,.1f} | kgCO2e |" in text
    assert "MEE & NBS Announcement 2025 No. 47" in text and "; Table 3: Jiangsu (2023)" in text
    assert "- jurisdiction and reporting year: CN, 2022 (default from zone CN-JS, reporting year 2022 from the period)" in text
    assert "| Scope 2, market-based | not reported (no instruments recorded) | kgCO2e |" in text
    assert "| estimated share of grid import | 0.00 | % |" in text
    # The content hash covers everything above its line: a changed copy no longer matches.
    import hashlib
    import re

    body, hash_line = text.rsplit("\nContent hash", 1)
    digest = re.search(r"`([0-9a-f]{64})`", hash_line)[1]  # type: ignore[index]
    assert digest == hashlib.sha256(body.encode()).hexdigest()
    runner = CliRunner()
    assert runner.invoke(app, ["carbon", "verify", str(out)]).exit_code == 0
    out.write_text(text.replace(f"{kwh:,.1f}", f"{kwh - 1:,.1f}", 1))
    tampered = runner.invoke(app, ["carbon", "verify", str(out)])
    assert tampered.exit_code == 1 and "no longer matches its hash" in tampered.output

    # CSV: every figure at full precision, for audit tools, with its own hash.
    sheet = tmp_path / "statement.csv"
    csv_run = runner.invoke(app, ["carbon", "statement", *args, "--site", "s", "--building", "b",
                                  "--from", "2022-01-01", "--to", "2022-01-03", "--format", "csv", "-o", str(sheet)])
    assert csv_run.exit_code == 0, csv_run.output
    import csv

    rows = {(r["section"], r["item"]): r for r in csv.DictReader(sheet.read_text().splitlines())}
    assert float(rows[("energy", "grid import")]["value"]) == pytest.approx(kwh, rel=1e-12)
    assert float(rows[("emissions", "Scope 2, location-based (energy x intensity of the minute it was used)")]
                 ["value"]) == pytest.approx(kwh * 0.5827, rel=1e-12)
    assert rows[("boundary", "meter")]["value"] == "gw-c/m" and rows[("boundary", "meter")]["unit"] == "grid_import"
    assert runner.invoke(app, ["carbon", "verify", str(sheet)]).exit_code == 0

    # --period is the building's local calendar month (Asia/Shanghai: from 16:00 UTC the day before).
    page = tmp_path / "statement.html"
    html_run = runner.invoke(app, ["carbon", "statement", *args, "--site", "s", "--building", "b",
                                   "--period", "2022-01", "--format", "html", "--output", str(page)])
    assert html_run.exit_code == 0, html_run.output
    assert page.read_text().startswith("<!doctype html>") and '<table class="figures">' in page.read_text()
    assert "Period: January 2022 (Asia/Shanghai time)." in page.read_text()
    assert "Warning, over budget:" in page.read_text() and 'data-empty="false"' in page.read_text()
    assert "@page{size:A4;" in page.read_text() and "A4 paper (grid zone CN-JS)" in html_run.output
    letter = runner.invoke(app, ["carbon", "statement", *args, "--site", "s", "--building", "b", "--period", "2022-01",
                                 "--format", "html", "--paper", "letter", "--output", str(page)])
    assert letter.exit_code == 0 and "@page{size:letter;" in page.read_text(), letter.output
    no_file = runner.invoke(app, ["carbon", "statement", *args, "--building", "b", "--period", "2022-01", "--format", "pdf"])
    assert no_file.exit_code == 2 and "--format pdf needs --output FILE.pdf" in no_file.output

    import shutil

    if shutil.which("chromium"):  # installed by make test (scripts/install-system-deps.sh)
        pdf = tmp_path / "statement.pdf"
        pdf_run = runner.invoke(app, ["carbon", "statement", *args, "--site", "s", "--building", "b",
                                      "--period", "2022-01", "--format", "pdf", "--output", str(pdf)])
        assert pdf_run.exit_code == 0, pdf_run.output
        assert "A4 paper (grid zone CN-JS)" in pdf_run.output and "warning: over budget:" in pdf_run.output
        from pypdf import PdfReader

        first = PdfReader(pdf).pages[0]
        assert (round(float(first.mediabox.width)), round(float(first.mediabox.height))) == (595, 842)  # A4
        assert len(first.images) == 1 and "Warning, over budget:" in first.extract_text()
        checked = runner.invoke(app, ["carbon", "verify", str(pdf)])
        assert checked.exit_code == 0 and "unchanged PDF statement" in checked.output


@pytest.mark.parametrize(("budget_factor", "status"), [(1.05, "on track"), (0.95, "at risk"), (0.1, "over")])
def test_carbon_account_projects_the_year(influxdb: InfluxDB1, influx_db: str, tmp_path: Path,
                                          budget_factor: float, status: str) -> None:
    building = builtin_series("b85")
    replay = Replay(building, start=START, speed=1.0, clock=lambda: 0.0)
    days = 59  # January and February 2022
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": replay.energy_kwh(q * 900.0), "quality": "good"},
                    int((START + timedelta(minutes=15 * q)).timestamp()) * 10**9)
        for q in range(days * 96 + 1)
    ])
    emitted = sum(building.kwh[: days * 24]) * 0.5827
    february = sum(building.kwh[31 * 24 : days * 24]) * 0.5827  # the last 28 days before 1 March
    projected = emitted + february / 28 * 306  # 306 days from 1 March to the end of the year
    budget = projected * budget_factor if status != "over" else emitted * 0.5
    args = _setup(influxdb, influx_db, tmp_path, "CN-JS", "UTC")
    sites = tmp_path / "sites.yaml"
    sites.write_text(sites.read_text().replace("floor_area_m2: 100,", f"floor_area_m2: 100, annual_budget_kgco2e: {budget},"))
    result = CliRunner().invoke(app, ["carbon", "account", *args, "--site", "s", "--building", "b", "--year", "2022",
                                      "--as-of", "2022-03-01T00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    account = orjson.loads(result.output)
    assert account["emitted_kgco2e"] == pytest.approx(emitted, rel=1e-9)
    assert account["projected_kgco2e"] == pytest.approx(projected, rel=1e-9)
    assert account["projection_method"] == "recent daily rate"
    assert account["remaining_kgco2e"] == pytest.approx(budget - emitted, rel=1e-9)
    assert account["status"] == status


def test_carbon_account_projects_seasonally_from_last_year(influxdb: InfluxDB1, influx_db: str,
                                                            tmp_path: Path) -> None:
    """With a year of history, the rest of the year follows last year's shape, scaled by this year's
    level so far: b85's recorded year as 2021, then January and February at 110 % of it."""
    hourly = builtin_series("b85").kwh
    last_year = datetime(2021, 1, 1, tzinfo=UTC)
    so_far = 59 * 24  # hours of January and February
    kwh = list(hourly[:8760]) + [1.1 * value for value in hourly[:so_far]]
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    counter, lines = 0.0, []
    for hour in range(len(kwh) + 1):
        lines.append(prefix.line({"energy_import_kwh": counter, "quality": "good"},
                                 int((last_year + timedelta(hours=hour)).timestamp()) * 10**9))
        if hour < len(kwh):
            counter += kwh[hour]
    influxdb.write(influx_db, lines)
    factor = 0.5827  # Jiangsu's static factor, kg per kWh
    emitted = sum(kwh[8760:]) * factor
    projected = emitted + sum(hourly[so_far:8760]) * factor * 1.1  # last year's rest, scaled by 110 %
    args = _setup(influxdb, influx_db, tmp_path, "CN-JS", "UTC")
    result = CliRunner().invoke(app, ["carbon", "account", *args, "--site", "s", "--building", "b", "--year", "2022",
                                      "--as-of", "2022-03-01T00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    account = orjson.loads(result.output)
    assert account["projection_method"] == "seasonal"
    assert account["emitted_kgco2e"] == pytest.approx(emitted, rel=1e-9)
    assert account["projected_kgco2e"] == pytest.approx(projected, rel=1e-9)
    assert account["status"] == "no budget"


def test_the_site_model_and_the_site_can_be_left_out(influxdb: InfluxDB1, influx_db: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """After the demo, `carbon report --building B` finds the demo's site model in the state directory;
    the site is found from the building id when that is unique, and an ambiguous id is an error."""
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [prefix.line({"energy_import_kwh": 10.0 * h, "quality": "good"},
                                           int((START + timedelta(hours=h)).timestamp()) * 10**9) for h in range(3)])
    args = _setup(influxdb, influx_db, tmp_path, "CN-HI", "UTC")
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "sites.yaml").rename(home / "sites.yaml")
    monkeypatch.setenv("GREENWIRE_HOME", str(home))
    monkeypatch.delenv("GREENWIRE_SITES", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    window = ["--from", "2022-01-01T00:00Z", "--to", "2022-01-01T02:00Z"]
    found = runner.invoke(app, ["carbon", "report", "--building", "b", *window, "--json", *args[2:]])
    assert found.exit_code == 0, found.output
    assert orjson.loads(found.output)["scope2_location_kgco2e"] == pytest.approx(20 * 0.3648)

    two = tmp_path / "two.yaml"
    two.write_text((home / "sites.yaml").read_text().replace("- id: s\n", "- id: s\n", 1)
                   + "  - id: t\n    buildings:\n      - {id: b, floor_area_m2: 1, zone: GB, "
                     "meters: [{gateway: gw-t, device: m, role: grid_import}]}\n")
    ambiguous = runner.invoke(app, ["carbon", "report", "--sites", str(two), "--building", "b", *window, *args[2:]])
    assert ambiguous.exit_code == 2 and "building 'b' is in several sites: give --site (s/b, t/b)" in ambiguous.output
    monkeypatch.setenv("GREENWIRE_HOME", str(tmp_path / "nowhere"))
    missing = runner.invoke(app, ["carbon", "report", "--building", "b", *window, *args[2:]])
    assert missing.exit_code == 2 and "no site model: give --sites FILE" in missing.output


def test_a_period_without_readings_says_so(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    """The README's example run on another day than the demo's: zeros, and a warning that says why."""
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [prefix.line({"energy_import_kwh": 10.0 * h, "quality": "good"},
                                           int((START + timedelta(hours=h)).timestamp()) * 10**9) for h in range(3)])
    args = _setup(influxdb, influx_db, tmp_path, "CN-HI", "UTC")
    runner = CliRunner()
    later = ["--from", "2022-03-01T00:00Z", "--to", "2022-03-02T00:00Z"]
    empty = runner.invoke(app, ["carbon", "report", "--building", "b", *later, *args])
    assert empty.exit_code == 0, empty.output
    assert ("warning: no readings of building b's meters from 2022-03-01 00:00 to 2022-03-02 00:00 UTC, so every "
            "figure is zero: the newest reading of its meters is at 2022-01-01 02:00 UTC") in empty.output
    covered = runner.invoke(app, ["carbon", "report", "--building", "b", "--from", "2022-01-01T00:00Z",
                                  "--to", "2022-01-01T02:00Z", *args])
    assert "warning" not in covered.output
