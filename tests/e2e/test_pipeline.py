"""End to end: simulated meters -> edge agent -> Mosquitto -> ingestor -> InfluxDB 1.6.

Everything here is real: pymodbus servers replaying recorded Cambridge data,
the edge agent with its SQLite buffer, Mosquitto, the ingestor and InfluxDB.
The test records every reading the edge read from the meters and requires
each one back from InfluxDB with exactly the same timestamp and values.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

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

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SITE = "cambridge"
GATEWAY = "gw-e2e"


def _edge_config(mqtt_url: str, buffer: Path, ports: dict[str, int]) -> EdgeConfig:
    return EdgeConfig(
        gateway=GATEWAY,
        site=SITE,
        mqtt=MqttConfig(url=mqtt_url),
        buffer=BufferConfig(path=buffer),
        publish=PublishConfig(interval_s=0.2),
        buses=tuple(
            TcpBusConfig(
                name=f"bldg-{building}",
                host="127.0.0.1",
                port=port,
                timeout_s=0.2,
                retries=0,
                devices=(
                    DeviceConfig(id=f"{building}-main", unit=1, profile="eastron-sdm630",
                                 poll_interval_s=0.5, max_power_kw=2000 * 3600),  # 2 MW, replayed x3600
                    DeviceConfig(id=f"{building}-sub", unit=2, profile="eastron-sdm630",
                                 poll_interval_s=0.5, max_power_kw=2000 * 3600),  # 2 MW, replayed x3600
                ),
            )
            for building, port in ports.items()
        ),
    )



async def test_every_reading_arrives_with_exact_values(
    mosquitto: Any, influxdb: Any, influx_db: str, tmp_path: Path
) -> None:
    from greenwire.cloud.ingest.config import IngestConfig
    from greenwire.cloud.ingest.pipeline import Ingestor
    from greenwire.simulators.modbus_meter import MeterServer, SimMeter
    from greenwire.simulators.series import Replay, builtin_series

    start = datetime(2022, 6, 1, 8, tzinfo=UTC)
    servers = {
        building: MeterServer(
            host="127.0.0.1",
            port=0,
            meters=[
                SimMeter(device_id=1, replay=Replay(builtin_series(building), start=start, speed=3600)),
                SimMeter(device_id=2, replay=Replay(builtin_series("b85"), start=start, speed=3600)),
            ],
        )
        for building in ("b2", "b25")
    }
    read: list[PolledReading] = []
    ingest_config = IngestConfig.model_validate(
        {
            "mqtt": {"url": mosquitto.url, "client_id": "greenwire-ingest-e2e"},
            "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
            "batch": {"max_delay_s": 0.2},
            "state_dir": str(tmp_path / "ingest"),
        }
    )
    ingestor = Ingestor(ingest_config)
    stop_ingest, stop_edge = asyncio.Event(), asyncio.Event()

    async with servers["b2"] as b2, servers["b25"] as b25:
        config = _edge_config(mosquitto.url, tmp_path / "buffer.sqlite", {"b2": b2.port, "b25": b25.port})
        agent = EdgeAgent(config, broker_settings(config), on_reading=read.append)
        async with asyncio.TaskGroup() as group:
            group.create_task(ingestor.run(stop_ingest), name="ingestor")
            group.create_task(agent.run(stop_edge), name="edge")
            await eventually(lambda: len({r.device for r in read}) == 4 and len(read) >= 16, 60,
                            "readings from all four meters")
            stop_edge.set()
            # The edge drains its buffer on stop; then the ingestor must have written everything.
            await eventually(lambda: agent.snapshot().buffer_readings == 0, 60, "edge buffer to drain")
            await eventually(lambda: ingestor.stats.readings_written >= len(read), 60,
                            "ingestor to write every reading")
            stop_ingest.set()

    rows = influxdb.query(influx_db, 'SELECT * FROM "readings"', epoch="ns")
    stored = {(row["device"], row["time"]): row for row in rows}
    assert len(stored) == len(read), "each reading exactly once, no more, no less"
    for reading in read:
        ts_ns = int(reading.ts.timestamp()) * 10**9 + reading.ts.microsecond * 1000
        row = stored[(reading.device, ts_ns)]
        assert row["site"] == SITE and row["gateway"] == GATEWAY
        assert row["quality"] == "good"
        for quantity, value in reading.values.items():
            assert row[quantity] == value, f"{reading.device} {quantity}"
        assert row["energy_import_kwh"] > 0 and row["active_power_w"] >= 0

    # The energy counters behave like a real meter's: never backwards between reads.
    for device in {r.device for r in read}:
        series = sorted((r.ts, r.values["energy_import_kwh"]) for r in read if r.device == device)
        assert all(b[1] >= a[1] for a, b in itertools.pairwise(series))
    assert ingestor.stats.rejected_total == 0
