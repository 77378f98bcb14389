"""End to end: the worked example of docs/cbam.md from simulated meters and production counters
through the edge agent, Mosquitto, the ingestor and InfluxDB to `greenwire cbam report`.

The plant's eight devices (grid, PV, three electricity sub-meters, the furnace's gas meter, a bolt
counter in pieces and a scale in tonnes) are Modbus TCP units of a pymodbus server presented
through the installer's own register maps (profile files, as a plant's PLC would need); each
counter rises at its own steady rate. The report's figures must equal the docs' hand computation
applied to the counters' rises as InfluxDB stored them, and every reading the edge read must be
stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import (
    BufferConfig,
    DeviceConfig,
    EdgeConfig,
    MqttConfig,
    PublishConfig,
    TcpBusConfig,
)
from greenwire.edge.modbus import PolledReading
from tests.helpers import eventually
from tests.unit.test_cbam import _example, _hand

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

QUANTITY = {"main": "energy_import_kwh", "pv": "energy_generated_kwh", "line-a": "energy_import_kwh",
            "line-b": "energy_import_kwh", "compressors": "energy_import_kwh", "furnace": "gas_volume_m3",
            "bolts-count": "production_count_pcs", "fittings-mass": "production_mass_t"}
SECONDS = 12.0
"""How long the plant runs: each counter rises by a tenth of the docs' day every second."""


def _profile(tmp_path: Path, quantity: str) -> Path:
    path = tmp_path / f"plc-{quantity}.yaml"
    kind = "uint32" if quantity == "production_count_pcs" else "float32"
    path.write_text(f"""name: plant-plc-{quantity.replace("_", "-")}
description: The plant PLC's {quantity} counter (the installer's own register map)
defaults: {{function: holding, type: {kind}, order: ABCD}}
registers:
  - {{quantity: {quantity}, address: 0}}
""")
    return path


async def test_worked_example_end_to_end(mosquitto: Any, influxdb: Any, influx_db: str, tmp_path: Path) -> None:
    from greenwire.cloud.ingest.config import IngestConfig
    from greenwire.cloud.ingest.pipeline import Ingestor
    from greenwire.simulators.modbus_meter import MeterServer, SimMeter

    yaml, rises, _ = _example()
    t0 = time.monotonic()

    def counter(device: str) -> Any:
        rate = rises[device] / 10  # per second
        return lambda: {QUANTITY[device]: rate * (time.monotonic() - t0)}

    devices = list(QUANTITY)
    server = MeterServer(host="127.0.0.1", port=0, meters=[
        SimMeter(device_id=unit, profile=str(_profile(tmp_path, QUANTITY[device])), climate=counter(device))
        for unit, device in enumerate(devices, start=1)])
    read: list[PolledReading] = []
    ingestor = Ingestor(IngestConfig.model_validate({
        "mqtt": {"url": mosquitto.url, "client_id": "greenwire-ingest-cbam"},
        "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
        "batch": {"max_delay_s": 0.2}, "state_dir": str(tmp_path / "ingest")}))
    stop_ingest, stop_edge = asyncio.Event(), asyncio.Event()
    async with server:
        config = EdgeConfig(
            gateway="gw-works", site="park", mqtt=MqttConfig(url=mosquitto.url),
            buffer=BufferConfig(path=tmp_path / "buffer.sqlite"), publish=PublishConfig(interval_s=0.2),
            buses=(TcpBusConfig(name="plc", host="127.0.0.1", port=server.port, timeout_s=0.3, retries=0,
                                devices=tuple(
                                    DeviceConfig(id=device, unit=unit, poll_interval_s=0.5,
                                                 profile=str(tmp_path / f"plc-{QUANTITY[device]}.yaml"))
                                    for unit, device in enumerate(devices, start=1))),))
        agent = EdgeAgent(config, broker_settings(config), on_reading=read.append)
        async with asyncio.TaskGroup() as group:
            group.create_task(ingestor.run(stop_ingest), name="ingestor")
            group.create_task(agent.run(stop_edge), name="edge")
            await asyncio.sleep(SECONDS)
            stop_edge.set()
            await eventually(lambda: agent.snapshot().buffer_readings == 0, 60, "edge buffer to drain")
            await eventually(lambda: ingestor.stats.readings_written >= len(read), 60, "every reading stored")
            stop_ingest.set()
    assert {r.device for r in read} == set(devices) and ingestor.stats.rejected_total == 0

    stored: dict[str, float] = {}
    times: list[int] = []
    for device in devices:
        field = QUANTITY[device]
        rows = influxdb.query(influx_db, f'SELECT "{field}" FROM "readings" WHERE "device" = \'{device}\'', epoch="ns")
        assert len(rows) == sum(1 for r in read if r.device == device) >= 10
        values = [row[field] for row in rows]
        assert values == sorted(values), f"{device}: the counter never goes back"
        stored[device] = values[-1] - values[0]
        times += [rows[0]["time"], rows[-1]["time"]]
    start = datetime.fromtimestamp(min(times) // 10**9, UTC).replace(second=0) - timedelta(minutes=1)
    end = datetime.fromtimestamp(max(times) // 10**9, UTC).replace(second=0) + timedelta(minutes=2)

    limited = yaml
    for role in ("grid_import", "pv_generation", "sub_meter", "gas"):  # replayed far faster than a plant runs
        limited = limited.replace(f"role: {role}}}", f"role: {role}, max_power_kw: 1.0e9}}")
    (tmp_path / "sites.yaml").write_text(limited)
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: '{mosquitto.url}'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    done = CliRunner().invoke(app, ["cbam", "report", "--sites", str(tmp_path / "sites.yaml"), "--installation", "works",
                                    "--from", start.isoformat(), "--to", end.isoformat(),
                                    "--config", str(tmp_path / "ingest.yaml")])
    assert done.exit_code == 0, done.output
    products = json.loads(done.output)["products"]
    hand = _hand(stored)
    for entry in products:
        for key, value in hand[entry["process"]].items():
            assert entry[key] == pytest.approx(value, rel=1e-6), f"{entry['process']} {key}"
        assert entry["activity_t"] > 0 and entry["data_quality"] == []
