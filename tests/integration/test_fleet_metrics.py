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


async def test_the_care_gateway_status_is_stored_and_on_the_fleet_dashboard(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    """A gateway with a wearable source (the independent FHIR server) sends greenwire.status.v2; the
    ingestor stores it in gateway_status and gateway_wearable, and the Fleet panels return it."""
    import os

    from greenwire.cloud.grafana.dashboards import all_dashboards
    from greenwire.cloud.grafana.evaluate import influx_query, run_panel, selections
    from greenwire.cloud.grafana.model import DATASOURCE_UID
    from tests.fhirserver import FhirServerProcess

    site, gateway = f"care-{uuid.uuid4().hex[:6]}", "care-gw"
    config = IngestConfig.model_validate({
        "mqtt": {"url": mosquitto.url, "client_id": f"ingest-{site}", "group": f"g{uuid.uuid4().hex[:8]}"},
        "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
        "batch": {"max_delay_s": 0.1}, "state_dir": str(tmp_path / "ingest"),
    })
    ingestor = Ingestor(config, stats_interval_s=0.5)
    stop_ingest = asyncio.Event()
    ingest_task = asyncio.create_task(ingestor.run(stop_ingest))
    key = tmp_path / "pilot.key"
    key.write_text("3c" * 32)
    os.chmod(key, 0o600)
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "3", "--hours", "0.1").start()
    try:
        persons = await server.control("participants", "GET")
        await eventually(lambda: ingestor.status.consumer.connected, 30, "the status subscription")
        edge = EdgeConfig.model_validate({
            "gateway": gateway, "site": site, "mqtt": {"url": mosquitto.url},
            "buffer": {"path": str(tmp_path / "buffer.sqlite")},
            "publish": {"status_interval_s": 1, "interval_s": 0.2},
            "wearables": {"key_file": str(key), "key_id": "pilot2026",
                          "consent": [f"Patient/{p['id']}" for p in persons[1:]],
                          "buffer_path": str(tmp_path / "vitals.sqlite"),
                          "state_path": str(tmp_path / "wearables.sqlite"),
                          # A short overlap window: the backlog is stored seconds before the search's
                          # mark, and each poll would read what is inside the window again (counted as
                          # received), after the heartbeat this test compares with.
                          "sources": [{"id": "ward-fhir", "url": server.url, "poll_interval_s": 0.5,
                                       "overlap_s": 0.2}]},
        })
        agent = EdgeAgent(edge, broker_settings(edge))
        stop_edge = asyncio.Event()
        edge_task = asyncio.create_task(agent.run(stop_edge))
        source = agent.wearables[0]
        backlog = (await server.control("stats", "GET"))["observations"]
        await eventually(lambda: source.stats.received >= backlog and ingestor.status.stored >= 4, 60,
                         "the backlog read and heartbeats stored")
        await asyncio.sleep(1.2)  # a heartbeat with the final counts
        stop_edge.set()
        await edge_task
        await eventually(lambda: ingestor.status.rejected == 0 and ingestor.status.stored >= 5, 30,
                         "the offline status")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"clear-{site}")
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        client.publish(f"greenwire/v1/{site}/{gateway}/status", b"", qos=1, retain=True).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
    finally:
        server.stop()
        stop_ingest.set()
        await asyncio.wait_for(ingest_task, 20)

    assert ingestor.status.rejected == 0, "the care gateway's status is accepted"
    q = lambda text: _rows(influxdb, influx_db, text)  # noqa: E731
    status = q(f'SELECT last("wearables_received") AS r, last("wearables_forwarded") AS f, '
               f'last("wearables_rejected") AS x FROM "gateway_status" WHERE "gateway" = \'{gateway}\' '
               f"AND \"site\" = '{site}'")
    per_source = q(f'SELECT last("received") AS r, last("forwarded") AS f, last("rejected_no_consent") AS nc '
                   f'FROM "gateway_wearable" WHERE "site" = \'{site}\' GROUP BY "source"')
    assert status[0]["r"] == source.stats.received >= backlog and status[0]["f"] == source.stats.forwarded_observations
    assert status[0]["x"] == source.stats.rejected.total()
    assert per_source[0]["source"] == "ward-fhir" and per_source[0]["nc"] == source.stats.rejected["no_consent"] > 0
    # The Fleet dashboard's queries, as Grafana sends them, return the care gateway and its source.
    fleet = all_dashboards()["fleet"]
    sources = {DATASOURCE_UID: influx_query(influxdb.url, influx_db)}
    now = datetime.now(UTC)
    chosen = next(c for c in selections(fleet, sources, now) if site in c["site"].values)
    assert gateway in chosen["gateway"].values
    for title in ("Gateways online", "Gateway state", "Wearable observations per source", "Wearable rejects by reason"):
        panel = next(p for p in fleet.panel_list() if p.title == title)
        data = run_panel(fleet, panel, chosen, sources, now)
        assert data.has_values, (title, data.sent)
    rejects = next(p for p in fleet.panel_list() if p.title == "Wearable rejects by reason")
    series = run_panel(fleet, rejects, chosen, sources, now).series
    assert series[0]["tags"]["source"] == "ward-fhir" and "last_rejected_no_consent" in series[0]["columns"]
