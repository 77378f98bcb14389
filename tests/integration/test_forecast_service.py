"""``greenwire forecast run|show|evaluate`` and ``greenwire anomalies run`` against real InfluxDB
and Mosquitto, on 90 days of Cambridge building b85's real electricity stored as counter readings.

Two faults are put into the counter: it stands still for six hours, and the meter sends nothing
for five. The forecast is read back with InfluxDB's own HTTP API and checked against the factor
in force; the findings are read back from InfluxDB and, as published, with Debian's
``mosquitto_sub``.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.buildings import building
from greenwire.cli import app
from greenwire.cloud.carbon.factor_choice import building_factors, static_grid
from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.sites import load_sites
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.shared.lineprotocol import SeriesPrefix

pytestmark = pytest.mark.integration

START = datetime(2022, 1, 1, tzinfo=UTC)
DAYS = 90
MIDNIGHT = datetime(2022, 3, 30, 23, tzinfo=UTC)
"""Local midnight of 2022-03-31 in London (summer time began on 27 March)."""
FROZEN = (datetime(2022, 3, 20, 9, tzinfo=UTC), datetime(2022, 3, 20, 15, tzinfo=UTC))
SILENT = (datetime(2022, 3, 25, 10, tzinfo=UTC), datetime(2022, 3, 25, 15, tzinfo=UTC))
SITES = """sites:
  - id: cambridge
    buildings:
      - {id: b85, floor_area_m2: 3000, zone: GB, timezone: Europe/London,
         meters: [{gateway: gw-c, device: b85-main, role: grid_import}]}
"""


def _store_counter(influxdb: InfluxDB1, db: str) -> None:
    series = building("cambridge-b85").series().slice(START, START + timedelta(days=DAYS))
    prefix = SeriesPrefix("readings", {"site": "cambridge", "gateway": "gw-c", "device": "b85-main"})
    total, lines = 50_000.0, []
    for i, kwh in enumerate(series.values):
        at = series.at(i)
        if not SILENT[0] <= at < SILENT[1]:
            lines.append(prefix.line({"energy_import_kwh": total, "quality": "good"}, int(at.timestamp()) * 10**9))
        if not FROZEN[0] <= at < FROZEN[1]:
            total += float(kwh)
    influxdb.write(db, lines)


@pytest.fixture
def setup(influxdb: InfluxDB1, influx_db: str, mosquitto: Mosquitto, tmp_path: Path) -> list[str]:
    _store_counter(influxdb, influx_db)
    (tmp_path / "ingest.yaml").write_text(f"mqtt: {{url: '{mosquitto.url}'}}\n"
                                          f"influx: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    (tmp_path / "sites.yaml").write_text(SITES)
    return ["--config", str(tmp_path / "ingest.yaml"), "--sites", str(tmp_path / "sites.yaml")]


def test_forecast_is_stored_with_its_band_model_and_emissions(setup: list[str], influxdb: InfluxDB1,
                                                               influx_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    at = START + timedelta(days=DAYS - 1, hours=12)
    run = runner.invoke(app, ["forecast", "run", *setup, "--at", at.isoformat(), "--json"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.output)[0]
    assert summary["building"] == "b85" and summary["hours"] == 48 and summary["model"].startswith("hgb-quantile")
    rows = influxdb.query(influx_db, 'SELECT * FROM "carbon_forecast" ORDER BY time')
    assert len(rows) == 48
    assert datetime.fromtimestamp(rows[0]["time"] / 1e9, UTC) == MIDNIGHT
    target = load_sites(tmp_path / "sites.yaml").building("cambridge", "b85")
    factor = static_grid(target, building_factors(target, START), load_factors())
    assert factor is not None
    truth = building("cambridge-b85").series().slice(MIDNIGHT, MIDNIGHT + timedelta(hours=48))
    for row in rows:
        assert row["kwh_p10"] <= row["kwh_p50"] <= row["kwh_p90"]
        assert row["kgco2e_p50"] == pytest.approx(row["kwh_p50"] * factor.value / 1000)
        assert row["model"] == summary["model"] and row["trained_from"].startswith("2022-01-")
    # the first day (known to us, not to the model) lies mostly inside the band
    inside = sum(r["kwh_p10"] <= truth.values[i] <= r["kwh_p90"] for i, r in enumerate(rows[:24]))
    assert inside >= 12
    shown = runner.invoke(app, ["forecast", "show", "--building", "b85", *setup, "--at", at.isoformat()])
    assert shown.exit_code == 0 and "grid_import" in shown.output


def test_forecast_evaluate_prints_the_backtest(setup: list[str]) -> None:
    result = CliRunner().invoke(app, ["forecast", "evaluate", "--building", "b85", *setup, "--from", "2022-03-01",
                                      "--to", "2022-03-15", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"building", "days", "horizon_h", "model_mae_kwh", "baseline_mae_kwh", "ratio", "p90_coverage"}
    assert out["days"] == 14 and out["horizon_h"] == 24 and 0 < out["ratio"] < 1.5


def test_anomalies_are_stored_and_published(setup: list[str], influxdb: InfluxDB1, influx_db: str,
                                            mosquitto: Mosquitto) -> None:
    at = START + timedelta(days=DAYS)
    result = CliRunner().invoke(app, ["anomalies", "run", *setup, "--at", at.isoformat(), "--days", "80", "--json"])
    assert result.exit_code == 0, result.output
    rows = influxdb.query(influx_db, 'SELECT * FROM "anomalies" ORDER BY time')
    kinds = {(r["kind"], datetime.fromtimestamp(r["time"] / 1e9, UTC)) for r in rows}
    assert ("frozen_counter", FROZEN[0]) in kinds
    assert any(kind == "stopped_reporting" and abs(t - SILENT[0]) <= timedelta(hours=1) for kind, t in kinds)
    frozen = next(r for r in rows if r["kind"] == "frozen_counter")
    assert frozen["kwh"] > 0 and frozen["kgco2e"] > 0 and frozen["meter"] == "b85-main"
    out = subprocess.run(["mosquitto_sub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-C", "1", "-W", "10",
                          "-t", "greenwire/v1/cambridge/anomalies/b85"], capture_output=True, text=True, timeout=20)
    message = json.loads(out.stdout)
    assert message["schema"] == "greenwire.anomalies.v1"
    assert {f["kind"] for f in message["findings"]} >= {"frozen_counter", "stopped_reporting"}


def test_the_years_account_projects_the_forecast_hours_from_the_forecast(setup: list[str], influxdb: InfluxDB1,
                                                                         influx_db: str, tmp_path: Path) -> None:
    """After ``forecast run``, ``carbon account`` takes the stored forecast's hours after its as-of
    (only a forecast issued by then) with their band, and the recent daily rate for the rest."""
    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.cloud.carbon.fetch import carbon_account_from_influx

    runner = CliRunner()
    issued = START + timedelta(days=DAYS - 1, hours=12)  # 2022-03-31 12:00 UTC
    assert runner.invoke(app, ["forecast", "run", *setup, "--at", issued.isoformat()]).exit_code == 0
    target = load_sites(tmp_path / "sites.yaml").building("cambridge", "b85")
    year_start = datetime(2022, 1, 1, tzinfo=UTC)
    client = InfluxV1(influxdb.url, influx_db)

    def account(as_of: datetime) -> dict[str, object]:
        out = runner.invoke(app, ["carbon", "account", *setup, "--building", "b85", "--year", "2022",
                                  "--as-of", as_of.isoformat(), "--json"])
        assert out.exit_code == 0, out.output
        return dict(json.loads(out.output))

    before = account(issued - timedelta(hours=1))  # the forecast was not issued yet
    assert before["projection_method"] == "recent daily rate" and before["forecast_hours"] == 0
    assert before["projected_p10_kgco2e"] is None

    as_of = issued + timedelta(minutes=30)
    with_forecast = account(as_of)
    without = carbon_account_from_influx(client, target, year_start, as_of)  # no site: no forecast
    first = issued + timedelta(hours=1)
    rows = influxdb.query(influx_db, f'SELECT * FROM "carbon_forecast" WHERE time >= {int(first.timestamp()) * 10**9}')
    assert with_forecast["forecast_hours"] == len(rows) == 34  # to the end of the 48 h from local midnight
    assert with_forecast["projection_method"] == "recent daily rate + day-ahead forecast"
    emitted = without.emitted_kgco2e
    year_end = datetime(2023, 1, 1, tzinfo=UTC)
    share = timedelta(hours=34) / (year_end - as_of)  # of the rest that the rate no longer covers
    rest = (without.projected_kgco2e - emitted) * (1 - share)
    assert with_forecast["emitted_kgco2e"] == pytest.approx(emitted, rel=1e-9)
    for q in ("p10", "p50", "p90"):
        key = "projected_kgco2e" if q == "p50" else f"projected_{q}_kgco2e"
        assert with_forecast[key] == pytest.approx(emitted + rest + sum(r[f"kgco2e_{q}"] for r in rows), rel=1e-9)
    shown = runner.invoke(app, ["carbon", "account", *setup, "--building", "b85", "--year", "2022",
                                "--as-of", as_of.isoformat()])
    assert "band" in shown.output and "next 34 h" in shown.output


def test_the_months_statement_notes_the_findings(setup: list[str], influxdb: InfluxDB1, influx_db: str,
                                                 tmp_path: Path) -> None:
    """The March statement lists what ``anomalies run`` stored for March (and not the findings of
    other months), with the stored kgCO2e; the notes are under the statement's hash."""
    runner = CliRunner()
    at = START + timedelta(days=DAYS)
    assert runner.invoke(app, ["anomalies", "run", *setup, "--at", at.isoformat(), "--days", "80"]).exit_code == 0
    stored = influxdb.query(influx_db, 'SELECT * FROM "anomalies" ORDER BY time')
    march = [r for r in stored if datetime.fromtimestamp(r["time"] / 1e9, UTC) >= datetime(2022, 3, 1, tzinfo=UTC)]
    assert any(r["kind"] == "frozen_counter" for r in march)
    out = tmp_path / "b85-2022-03.md"
    made = runner.invoke(app, ["carbon", "statement", *setup, "--building", "b85", "--period", "2022-03", "-o", str(out)])
    assert made.exit_code == 0, made.output
    text = out.read_text()
    notes = text.split("## Notes", 1)[1]
    table = [line for line in notes.splitlines() if line.startswith("| ") and "kgCO2e" not in line]
    assert len(table) == len(march)
    assert "Frozen counter (energy not measured), 20 March 2022 09:00 to 20 March 2022 15:00, meter b85-main" in notes
    frozen = next(r for r in march if r["kind"] == "frozen_counter")
    assert f"| {frozen['kgco2e']:,.1f} |" in notes
    assert runner.invoke(app, ["carbon", "verify", str(out)]).exit_code == 0
    out.write_text(text.replace("Frozen counter", "Frozen meter"))
    assert runner.invoke(app, ["carbon", "verify", str(out)]).exit_code == 1
    january = runner.invoke(app, ["carbon", "statement", *setup, "--building", "b85", "--period", "2022-01"])
    assert january.exit_code == 0 and "20 March" not in january.output


def test_an_outdoor_temperature_series_is_read_hourly_and_used(influxdb: InfluxDB1, influx_db: str,
                                                               tmp_path: Path) -> None:
    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.cloud.forecast.model import TEMPERATURE_VERSION
    from greenwire.cloud.forecast.service import forecast_role
    from greenwire.cloud.forecast.store import outdoor_temperature

    _store_counter(influxdb, influx_db)
    prefix = SeriesPrefix("readings", {"site": "cambridge", "gateway": "gw-c", "device": "roof"})
    lines = []
    for q in range(DAYS * 24 * 4):  # a reading every 15 minutes: 5 degC at :00 and :30, 7 at :15 and :45
        at = START + timedelta(minutes=15 * q)
        quality = "bad" if q == 1 else "good"  # a bad read of the first hour is left out of its mean
        lines.append(prefix.line({"temperature_c": 5.0 + 2 * (q % 2) + (90.0 if q == 1 else 0.0), "quality": quality},
                                 int(at.timestamp()) * 10**9))
    influxdb.write(influx_db, lines)
    (tmp_path / "sites.yaml").write_text(SITES.replace("meters:", "outdoor_temperature: {gateway: gw-c, device: roof},\n"
                                                       "         meters:"))
    target = load_sites(tmp_path / "sites.yaml").building("cambridge", "b85")
    client = InfluxV1(influxdb.url, influx_db)
    hourly = outdoor_temperature(client, target, START, START + timedelta(hours=3))
    assert hourly is not None and hourly.start == START
    np.testing.assert_allclose(hourly.values, [(5 + 5 + 7) / 3, 6.0, 6.0])
    found = forecast_role(client, "cambridge", target, "grid_import", START + timedelta(days=DAYS - 1, hours=12))
    assert found is not None and found.model.temperature and found.model.version == TEMPERATURE_VERSION
    assert found.lines[0].startswith("carbon_forecast,") and f"model={TEMPERATURE_VERSION}" in found.lines[0]
