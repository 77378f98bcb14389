"""Vitals are kept at the gateway until the health service has stored them: the commit for the
vitals stream, end to end. The wearable hub simulator -> `EdgeAgent` (commit mode) -> real
Mosquitto -> `HealthService` -> real InfluxDB; the gateway's vitals buffer empties only on the
health service's commits, and every observation the gateway sent is in InfluxDB, once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenwire.cloud.health.config import HealthConfig
from greenwire.cloud.health.service import HealthService
from greenwire.edge.agent import EdgeAgent
from greenwire.edge.config import (
    BufferConfig,
    EdgeConfig,
    MqttConfig,
    PublishConfig,
    WearablesConfig,
    WearableSourceConfig,
)
from greenwire.shared.vitals import VitalsBatch
from greenwire.simulators.wearable import WearableHub, WearableServer, make_participants
from greenwire.transport.commits import DeliveryMode
from greenwire.transport.mqtt import BrokerSettings
from tests.helpers import eventually
from tests.integration.test_edge_wearables import Capture

pytestmark = pytest.mark.integration

SITE, GATEWAY = "care-home", "care-gw-commit"


async def test_the_vitals_buffer_empties_only_on_the_health_services_commits(
    tmp_path: Path, mosquitto: Any, influxdb: Any, health_db: str
) -> None:
    people = make_participants(4)
    hub = WearableHub(people, start=datetime.now(UTC) - timedelta(hours=1), speed=1e6)
    hub.advance()
    key = tmp_path / "pilot.key"
    key.write_text("5f" * 32)
    key.chmod(0o600)
    tag = uuid.uuid4().hex[:8]
    health = HealthService(HealthConfig.model_validate({
        "mqtt": {"url": mosquitto.url, "client_id": f"health-{tag}", "group": f"h{tag}", "session_expiry_s": 60},
        "influx": {"url": influxdb.url, "database": health_db},
        "sites": [{"id": SITE, "timezone": "Europe/London"}], "aggregate_interval_s": 1.0,
        "state_dir": str(tmp_path / "health"),
    }))
    sub = Capture(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/{GATEWAY}/vitals")
    async with WearableServer(hub) as server:
        config = EdgeConfig(
            gateway=GATEWAY, site=SITE, mqtt=MqttConfig(url=mosquitto.url),
            buffer=BufferConfig(path=tmp_path / "buffer.sqlite"),
            publish=PublishConfig(interval_s=0.2, status_interval_s=1.0, commit_wait_s=60),
            wearables=WearablesConfig(
                key_file=key, key_id="pilot2026", consent=tuple(f"Patient/{p.id}" for p in people),
                buffer_path=tmp_path / "vitals.sqlite", state_path=tmp_path / "wearables.sqlite",
                sources=(WearableSourceConfig(id="ward-hub", url=f"{server.url}/fhir", protocol="greenwire-cursor",
                                              poll_interval_s=0.3, page_size=400),)),
        )
        agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(health.run(stop))]
        try:
            await eventually(lambda: health.consumer.connected, 20, "the health service subscribed")
            tasks.append(asyncio.create_task(agent.run(stop)))
            source = agent.wearables[0]
            await eventually(lambda: source.stats.received >= len(hub.log) and source.stats.forwarded_observations > 0,
                             90, "the hub's backlog read")
            vp = agent.vitals_publisher
            assert vp is not None
            await eventually(lambda: vp.stats.published_readings == source.stats.forwarded_observations, 60,
                             "every forwarded observation published")
            vitals_buffer = agent._vitals_buffer
            assert vitals_buffer is not None
            await eventually(lambda: vitals_buffer.buffer.depth_batches == 0, 60,
                             "the vitals buffer emptied by the health service's commits")
            assert vp.tracker.mode is DeliveryMode.COMMIT, "the gateway forgot its vitals on a commit, not a PUBACK"
            assert vp.tracker.committed_readings == source.stats.forwarded_observations
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    sub.close()
    sent = [o for _, payload, _ in sub.messages for o in VitalsBatch.model_validate_json(payload).observations]
    assert len(sent) >= source.stats.forwarded_observations  # a batch resent before its commit is sent twice
    # One point per device, subject, code and time: an amended or retracted observation replaces its first version.
    points = {(o.device, o.subject, o.code, o.ts) for o in sent}
    rows = influxdb.query(health_db, 'SELECT count("value") FROM "raw"."vitals"')
    assert rows and rows[0]["count"] == len(points)
