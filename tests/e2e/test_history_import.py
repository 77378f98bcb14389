"""`greenwire import readings`: past counters through MQTT and the ingestor, then accounted like live data."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parents[1] / "data"
START = datetime(2022, 1, 1, tzinfo=UTC)


async def test_history_reaches_influxdb_and_the_account_matches(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    building = builtin_series("b2")
    replay = Replay(building, start=START, speed=1.0, clock=lambda: 0.0)
    rows = ["timestamp,device,quantity,value"]
    for q in range(2 * 96 + 1):
        at = (START + timedelta(minutes=15 * q)).isoformat().replace("+00:00", "Z")
        rows.append(f"{at},b2-main,energy_import_kwh,{replay.energy_kwh(q * 900.0)!r}")
    history = tmp_path / "b2-history.csv"
    history.write_text("\n".join(rows) + "\n")
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: '{mosquitto.url}', client_id: 'ingest-hist-{influx_db}', group: 'h{influx_db}'}}\n"
        f"influx: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n"
        f"batch: {{max_delay_s: 0.1}}\nstate_dir: '{tmp_path / 'ingest'}'\n"
    )
    from greenwire.cloud.ingest.config import load_config

    ingestor = Ingestor(load_config(tmp_path / "ingest.yaml"))
    assert isinstance(ingestor.config, IngestConfig)
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    try:
        await eventually(lambda: ingestor.consumer.connected, 10, "the ingestor to subscribe")
        await asyncio.sleep(0.2)
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "greenwire", "import", "readings", str(history), "--site", "cambridge",
             "--gateway", "gw-history", "--batch", "50", "--config", str(tmp_path / "ingest.yaml")],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "published 193 readings (193 in the file)" in done.stdout
        await eventually(lambda: ingestor.stats.readings_written >= 193, 20, "the ingestor to store the history")
    finally:
        stop.set()
        await task
    stored = influxdb.query(influx_db, 'SELECT "energy_import_kwh", "gateway" FROM "readings"')
    assert len(stored) == 193 and {r["gateway"] for r in stored} == {"gw-history"}
    assert influxdb.query(influx_db, 'SELECT count(*) FROM "ingest_rejected"') == []

    (tmp_path / "sites.yaml").write_text(
        "sites:\n  - id: cambridge\n    buildings:\n      - {id: b2, floor_area_m2: 1000, zone: CN-HI, "
        "meters: [{gateway: gw-history, device: b2-main, role: grid_import}]}\n"
    )
    report = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "greenwire", "carbon", "report", "--sites", str(tmp_path / "sites.yaml"),
         "--site", "cambridge", "--building", "b2", "--from", "2022-01-01", "--to", "2022-01-03", "--json",
         "--config", str(tmp_path / "ingest.yaml")],
        capture_output=True, text=True, timeout=60,
    )
    assert report.returncode == 0, report.stderr
    account = orjson.loads(report.stdout)
    assert account["energy_kwh"] == pytest.approx(sum(building.kwh[:48]), rel=1e-9)
    assert account["emissions_location_kg"] == pytest.approx(sum(building.kwh[:48]) * 0.3648, rel=1e-9)
