"""`greenwire zone report` against a real InfluxDB: over the demo's site model it agrees with the sum
of its buildings' statements; with zones, enterprises with an installation get kgCO2e per tonne."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.demo import BUILDINGS, GATEWAY, _demo_buildings, _write_site_model
from greenwire.servers import InfluxDB1
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.simulators.series import Replay, builtin_series

pytestmark = pytest.mark.integration

START = datetime(2022, 6, 1, tzinfo=UTC)
DAYS = 2


def _store_demo_days(influxdb: InfluxDB1, db: str) -> None:
    lines = []
    for building in BUILDINGS:
        replay = Replay(builtin_series(building), start=START, speed=1.0, clock=lambda: 0.0)
        prefix = SeriesPrefix("readings", {"site": "cambridge", "gateway": GATEWAY, "device": f"{building}-main"})
        for quarter in range(DAYS * 96 + 1):
            at = START + timedelta(minutes=15 * quarter)
            lines.append(prefix.line({"energy_import_kwh": replay.energy_kwh(quarter * 900.0), "quality": "good"},
                                     int(at.timestamp()) * 10**9))
    influxdb.write(db, lines)


def _statement_total(runner: CliRunner, args: list[str], building: str) -> float:
    done = runner.invoke(app, ["carbon", "statement", *args, "--building", building, "--format", "csv"])
    assert done.exit_code == 0, done.output
    rows = list(csv.reader(io.StringIO(done.output)))
    return next(float(r[2]) for r in rows if r[0] == "emissions" and r[1].startswith("total (Scope 1"))


def test_zone_report_over_the_demo_sites_agrees_with_their_statements(influxdb: InfluxDB1, influx_db: str,
                                                                      tmp_path: Path) -> None:
    _store_demo_days(influxdb, influx_db)
    sites = tmp_path / "sites.yaml"
    _write_site_model(_demo_buildings(), sites)
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    args = ["--sites", str(sites), "--config", str(tmp_path / "ingest.yaml"),
            "--from", "2022-06-01", "--to", "2022-06-03"]
    runner = CliRunner()
    done = runner.invoke(app, ["zone", "report", *args, "--json"])
    assert done.exit_code == 0, done.output
    zone = json.loads(done.output)
    statements = {b: _statement_total(runner, args, b) for b in BUILDINGS}
    assert all(v > 0 for v in statements.values())
    assert zone["kgco2e"] == pytest.approx(sum(statements.values()), rel=1e-12)
    for building, total in statements.items():
        assert zone["buildings"][f"cambridge/{building}"] == pytest.approx(total, rel=1e-12)
    # The demo's site model holds the care home too (no readings here): the campus still ranks first.
    enterprise = next(e for e in zone["enterprises"] if e["enterprise"] == "cambridge")
    assert enterprise["rank_per_m2"] == 1
    assert enterprise["output_t"] is None and enterprise["metered_share"] == pytest.approx(1.0)
    table = runner.invoke(app, ["zone", "report", *args])
    assert table.exit_code == 0 and "cambridge" in table.output, table.output
    written = runner.invoke(app, ["zone", "report", *args, "--format", "csv", "--output", str(tmp_path / "zone.csv")])
    assert written.exit_code == 0, written.output
    verified = runner.invoke(app, ["carbon", "verify", str(tmp_path / "zone.csv")])
    assert verified.exit_code == 0, verified.output
    assert zone["content_hash_sha256"] in verified.output


def test_zone_of_two_enterprises_ranks_them(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    _store_demo_days(influxdb, influx_db)
    buildings = _demo_buildings()
    sites = tmp_path / "sites.yaml"
    _write_site_model(buildings, sites)
    model = json.loads(sites.read_text())
    cambridge = model["sites"][0]
    cambridge["buildings"] = cambridge["buildings"][:2]
    model["sites"].append({"id": "east", "buildings": [buildings["b85"].model_dump(mode="json", exclude_none=True)]})
    model["zones"] = [{"id": "park", "kind": "park", "enterprises": [
        {"id": "uni", "sites": ["cambridge"]}, {"id": "lab", "sites": ["east"]}]}]
    sites.write_text(json.dumps(model))
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    done = CliRunner().invoke(app, ["zone", "report", "--sites", str(sites), "--config", str(tmp_path / "ingest.yaml"),
                                    "--from", "2022-06-01", "--to", "2022-06-03", "--json"])
    assert done.exit_code == 0, done.output
    zone = json.loads(done.output)
    by = {e["enterprise"]: e for e in zone["enterprises"]}
    assert by["uni"]["buildings"] == ["cambridge/b2", "cambridge/b25"] and by["lab"]["buildings"] == ["east/b85"]
    worst = max(by.values(), key=lambda e: e["kgco2e_per_m2_year"])
    assert worst["rank_per_m2"] == 1 and {e["rank_per_m2"] for e in by.values()} == {1, 2}
    assert zone["kgco2e"] == pytest.approx(by["uni"]["kgco2e"] + by["lab"]["kgco2e"])
