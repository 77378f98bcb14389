"""Fleet data reaches InfluxDB: a real edge agent's status, its devices' poll errors, a last will,
and the ingestor's own lag and counters, through real Mosquitto into real InfluxDB 1.6."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest

from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import EdgeConfig
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually

pytestmark = pytest.mark.integration


def _rows(influxdb: InfluxDB1, db: str, q: str) -> list[dict[str, object]]:
    return influxdb.query(db, q)


async def test_gateway_status_devices_will_and_self_metrics_are_stored(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    site, gateway = f"fleet-{uuid.uuid4().hex[:6]}", "gw-fleet"
    config = IngestConfig.model_validate({
        "mqtt": {"url": mosquitto.url, "client_id": f"ingest-{site}", "group": f"g{uuid.uuid4().hex[:8]}"},
        "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
        "batch": {"max_delay_s": 0.1}, "state_dir": str(tmp_path / "ingest"),
    })
    ingestor = Ingestor(config, stats_interval_s=0.5,
                        building_of=lambda s, g, d: "b85" if d == "main" else None)
    stop_ingest = asyncio.Event()
    ingest_task = asyncio.create_task(ingestor.run(stop_ingest))
    replay = Replay(builtin_series("b85"), start=datetime(2022, 4, 1, tzinfo=UTC), speed=60)
    try:
        await eventually(lambda: ingestor.consumer.connected and ingestor.status.consumer.connected, 30,
                         "the ingestor's two subscriptions")
        await asyncio.sleep(0.2)
        async with MeterServer(meters=[SimMeter(1, replay)]) as server:
            edge = EdgeConfig.model_validate({
                "gateway": gateway, "site": site, "mqtt": {"url": mosquitto.url},
                "buffer": {"path": str(tmp_path / "buffer.sqlite")},
                "publish": {"status_interval_s": 1, "interval_s": 0.2},
                "buses": [{"name": "plant", "host": "127.0.0.1", "port": server.port, "timeout_s": 0.2,
                           "devices": [
                               {"id": "main", "unit": 1, "profile": "eastron-sdm630", "poll_interval_s": 0.5},
                               {"id": "absent", "unit": 9, "profile": "eastron-sdm630", "poll_interval_s": 0.5},
                           ]}],
            })
            agent = EdgeAgent(edge, broker_settings(edge))
            stop_edge = asyncio.Event()
            edge_task = asyncio.create_task(agent.run(stop_edge))
            await eventually(lambda: ingestor.status.stored >= 3 and ingestor.stats.readings_written >= 3, 60,
                             "heartbeats and readings stored")
            stop_edge.set()
            await edge_task
        await eventually(lambda: ingestor.status.stored >= 4, 30, "the offline status")

        # A last will as the broker publishes it: built at connect, days before the loss.
        will = {"schema": "greenwire.status.v1", "gateway": "gw-lost", "state": "offline",
                "ts": "2026-01-01T00:00:00.000Z", "reason": "lost"}
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"will-{site}")
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        before_will = datetime.now(UTC)
        client.publish(f"greenwire/v1/{site}/gw-lost/status", orjson.dumps(will), qos=1, retain=True).wait_for_publish(10)
        client.publish(f"greenwire/v1/{site}/gw-lost/status", b"{broken", qos=1).wait_for_publish(10)
        await eventually(lambda: ingestor.status.stored >= 5 and ingestor.status.rejected >= 1, 30,
                         "the will and the broken status")
        # Clear the retained will so other tests' ingestors do not receive it.
        client.publish(f"greenwire/v1/{site}/gw-lost/status", b"", qos=1, retain=True).wait_for_publish(10)
        client.publish(f"greenwire/v1/{site}/{gateway}/status", b"", qos=1, retain=True).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        await asyncio.sleep(0.8)  # one more self-metrics interval
    finally:
        stop_ingest.set()
        await asyncio.wait_for(ingest_task, 20)

    q = lambda text: _rows(influxdb, influx_db, text)  # noqa: E731
    states = q(f'SELECT "online", "state", "reason", "buffer_readings", "devices_total" FROM "gateway_status" '
               f"WHERE \"site\" = '{site}' AND \"gateway\" = '{gateway}'")
    assert states[0]["state"] == "online" and states[0]["devices_total"] == 2
    assert states[-1]["state"] == "offline" and states[-1]["reason"] == "shutdown" and states[-1]["online"] == 0
    assert all(s["buffer_readings"] is not None for s in states if s["state"] == "online")
    devices = q(f'SELECT last("errors") AS errors, last("online") AS online FROM "gateway_device" '
                f"WHERE \"site\" = '{site}' GROUP BY \"device\", \"building\"")
    by_device = {row["device"]: row for row in devices}
    assert by_device["absent"]["errors"] >= 1 and by_device["absent"]["online"] == 0
    assert by_device["main"]["online"] == 1 and by_device["main"]["building"] == "b85"
    lost = q(f'SELECT "online", "reason" FROM "gateway_status" WHERE "gateway" = \'gw-lost\' AND "site" = \'{site}\'')
    assert len(lost) == 1 and lost[0]["reason"] == "lost"
    assert lost[0]["time"] >= int(before_will.timestamp() * 1e9), "the will is stored at the time it arrived"
    rejected = q(f'SELECT "bytes" FROM "ingest_rejected" WHERE "reason" = \'malformed_json\' AND "site" = \'{site}\'')
    assert [r["bytes"] for r in rejected] == [7]
    lag = q(f'SELECT "lag_max_s", "lag_newest_s", "readings" FROM "ingest_lag" WHERE "site" = \'{site}\'')
    assert lag and all(0 <= r["lag_newest_s"] <= r["lag_max_s"] < 30 for r in lag)
    assert sum(r["readings"] for r in lag) == ingestor.stats.readings_written
    stats = q(f'SELECT last("readings_written") AS w FROM "ingest_stats" WHERE "instance" = \'ingest-{site}\'')
    assert stats[0]["w"] == ingestor.stats.readings_written
