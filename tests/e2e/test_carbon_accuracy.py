"""Accuracy on real data: a year of three real buildings, as counters through InfluxDB, against the GB grid.

Each building's recorded hourly electricity (Cambridge 2022) becomes a counter read every
15 minutes and stored in InfluxDB; the NESO hourly series is imported with
`greenwire import grid`. For every building and every month, the engine's location-based
emissions must equal the independent sum of kWh_h x factor_h within 1e-6 relative. The
difference from a flat annual-average factor is reported, to show why time matching matters.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.carbon.fetch import account_from_influx
from greenwire.cloud.sites import load_sites
from greenwire.servers import InfluxDB1
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.simulators.series import Replay, builtin_series

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parents[1] / "data"
YEAR = datetime(2022, 1, 1, tzinfo=UTC)
BUILDINGS = ("b2", "b25", "b85")


def test_every_building_and_month_matches_the_hourly_sum(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    quarters = 365 * 24 * 4
    for name in BUILDINGS:
        replay = Replay(builtin_series(name), start=YEAR, speed=1.0, clock=lambda: 0.0)
        prefix = SeriesPrefix("readings", {"site": "cambridge", "gateway": "gw-c", "device": name})
        influxdb.write(influx_db, [
            prefix.line({"energy_import_kwh": replay.energy_kwh(q * 900.0), "quality": "good"},
                        int((YEAR + timedelta(minutes=15 * q)).timestamp()) * 10**9)
            for q in range(quarters + 1)
        ])
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    buildings = "".join(
        f"      - {{id: {n}, floor_area_m2: 1000, zone: GB, meters: [{{gateway: gw-c, device: {n}, role: grid_import}}]}}\n"
        for n in BUILDINGS
    )
    (tmp_path / "sites.yaml").write_text(f"sites:\n  - id: cambridge\n    buildings:\n{buildings}")
    imported = CliRunner().invoke(app, ["import", "grid", str(DATA / "neso-gb-2022-hourly.csv"), "--zone", "GB",
                                        "--config", str(tmp_path / "ingest.yaml")])
    assert imported.exit_code == 0, imported.output

    neso = [float(line.split(",")[1]) * 1000 for line in (DATA / "neso-gb-2022-hourly.csv").read_text().splitlines()[1:]]
    flat = sum(neso) / len(neso)
    influx = InfluxV1(influxdb.url, influx_db)
    model = load_sites(tmp_path / "sites.yaml")
    worst = 0.0
    differences = []
    for name in BUILDINGS:
        kwh = builtin_series(name).kwh
        for month in range(1, 13):
            start = datetime(2022, month, 1, tzinfo=UTC)
            end = datetime(2022, month, calendar.monthrange(2022, month)[1], tzinfo=UTC) + timedelta(days=1)
            first, last = int((start - YEAR).total_seconds() // 3600), int((end - YEAR).total_seconds() // 3600)
            expected = sum(kwh[h] * neso[h] / 1000 for h in range(first, last))
            account = account_from_influx(influx, model.building("cambridge", name), start, end)
            assert account.scope2_location_kgco2e == pytest.approx(expected, rel=1e-6), (name, month)
            worst = max(worst, abs(account.scope2_location_kgco2e - expected) / expected)
            flat_kg = sum(kwh[first:last]) * flat / 1000
            differences.append((flat_kg - expected) / expected)
    # Time matching matters: a flat annual average misstates some building-months by several percent.
    assert max(abs(d) for d in differences) > 0.02
    print(f"\nworst relative error {worst:.2e}; flat annual average ({flat:.1f} g/kWh) is off by "
          f"{min(differences):+.1%} to {max(differences):+.1%} per building-month")
