"""The health service against real Mosquitto and InfluxDB: outages, rejects, retention policies."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import pytest

from greenwire.cloud.health.config import HealthConfig
from greenwire.cloud.health.service import HealthService
from tests.helpers import eventually

pytestmark = pytest.mark.integration

P = "pilot2026.0123456789abcdef0123456789abcdef"


def _config(mosquitto: Any, influxdb: Any, db: str, tmp_path: Path, **influx: str) -> HealthConfig:
    tag = uuid.uuid4().hex[:8]
    return HealthConfig.model_validate({
        "mqtt": {"url": mosquitto.url, "client_id": f"health-{tag}", "group": f"h{tag}", "session_expiry_s": 60},
        "influx": {"url": influxdb.url, "database": db, **influx},
        "sites": [{"id": "care", "timezone": "Europe/London"}], "aggregate_interval_s": 1.0,
        "state_dir": str(tmp_path / "health"),
    })


def _batch(seq: int, values: list[float], start: datetime, subject: str = P) -> bytes:
    return orjson.dumps({
        "schema": "greenwire.vitals.v1", "gateway": "gw", "seq": seq, "sent_at": start.isoformat(),
        "observations": [{"ts": (start + timedelta(seconds=60 * i)).isoformat(), "subject": subject,
                          "code": "59408-5", "value": v, "unit": "%", "device": "hub"} for i, v in enumerate(values)],
    })


async def _publish(mosquitto: Any, payload: bytes, topic: str = "greenwire/v1/care/gw/vitals") -> None:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier=f"pub-{uuid.uuid4().hex[:6]}") as client:
        await client.publish(topic, payload, qos=1)


async def test_outage_keeps_messages_unacknowledged_until_stored(
    mosquitto: Any, influxdb: Any, health_db: str, tmp_path: Path
) -> None:
    service = HealthService(_config(mosquitto, influxdb, health_db, tmp_path))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await eventually(lambda: service.consumer.connected, 10, "the health service subscribed")
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        influxdb.stop()
        await _publish(mosquitto, _batch(1, [97, 91, 90, 90, 90, 95, 95, 95, 95], start))
        await eventually(lambda: service.stats.write_retries >= 2, 20, "write retries during the outage")
        assert service.stats.acked == 0 and service.engine.raised_total == 1
        influxdb.start()
        await eventually(lambda: service.stats.acked == 1, 40, "the batch stored after the outage")
        rows = influxdb.query(health_db, 'SELECT * FROM "raw"."vitals"')
        assert len(rows) == 9 and {r["subject"] for r in rows} == {P}
        alerts = influxdb.query(health_db, 'SELECT * FROM "raw"."health_alerts"')
        assert [(a["rule"], a["state"]) for a in alerts] == [("spo2_low", "raised"), ("spo2_low", "cleared")]
        # A pass may run while the batch is being written (and the batch may span two hours):
        # the next pass recomputes those hours from the raw data, so wait for all nine.
        def hourly_count() -> int:
            return sum(r["count"] for r in influxdb.query(health_db, 'SELECT * FROM "aggregates"."vitals_1h"'))

        await eventually(lambda: hourly_count() >= 9, 30, "hourly aggregates of all nine observations")
        hourly = influxdb.query(health_db, 'SELECT * FROM "aggregates"."vitals_1h"')
        assert sum(r["count"] for r in hourly) == 9 and min(r["min"] for r in hourly) == 90
        # Still low at the end of a second batch: raised again, and still raised when the service stops.
        await _publish(mosquitto, _batch(2, [96, 90, 90, 90], start + timedelta(minutes=10)))
        await eventually(lambda: service.stats.alerts["spo2_low:raised"] == 2, 20, "a second desaturation")
    finally:
        influxdb.start()
        stop.set()
        await task
    # After a restart the open alert is restored from the stored events, not raised a third time.
    again = HealthService(service.config)
    stop = asyncio.Event()
    task = asyncio.create_task(again.run(stop))
    try:
        await eventually(lambda: again.consumer.connected, 10, "the restarted service subscribed")
        assert again.engine.active("care") == 1
        await _publish(mosquitto, _batch(3, [89, 89, 89], start + timedelta(minutes=20)))
        await eventually(lambda: again.stats.acked == 1, 20, "the third batch")
        assert again.stats.alerts["spo2_low:raised"] == 0
    finally:
        stop.set()
        await task


async def test_rejected_vitals_are_counted_never_kept_or_logged(
    mosquitto: Any, influxdb: Any, health_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = _config(mosquitto, influxdb, health_db, tmp_path, raw_retention="14d", aggregate_retention="52w")
    service = HealthService(config)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await eventually(lambda: service.consumer.connected, 10, "the health service subscribed")
        now = datetime.now(UTC) - timedelta(minutes=5)
        await _publish(mosquitto, _batch(1, [97], now, subject="Patient/pat-secret-42"))
        await _publish(mosquitto, b'{"schema": "greenwire.vitals.v1", "name": "Ada Lovelace"')
        await eventually(lambda: service.stats.acked == 2, 20, "both rejects acknowledged")
        assert dict(service.stats.rejected) == {"schema_violation": 1, "malformed_json": 1}
        points = influxdb.query(health_db, 'SELECT * FROM "raw"."health_rejected"')
        assert sorted(p["reason"] for p in points) == ["malformed_json", "schema_violation"]
        records = "".join(p.read_text() for p in (tmp_path / "health").glob("*.jsonl"))
        assert records.count("sha256") == 2
        for secret in ("pat-secret-42", "Ada Lovelace"):
            assert secret not in records and secret not in caplog.text
        policies = {r["name"]: r["duration"] for r in influxdb.query(health_db, "SHOW RETENTION POLICIES")}
        assert policies["raw"] == "336h0m0s" and policies["aggregates"] == "8736h0m0s"
    finally:
        stop.set()
        await task
    # A changed retention in the config is applied at the next start.
    service = HealthService(_config(mosquitto, influxdb, health_db, tmp_path, raw_retention="30d"))
    from greenwire.cloud.health.admin import ensure_database

    await ensure_database(service.config)
    policies = {r["name"]: r["duration"] for r in influxdb.query(health_db, "SHOW RETENTION POLICIES")}
    assert policies["raw"] == "720h0m0s" and policies["aggregates"] == "17520h0m0s"


async def test_erase_drops_one_participant_everywhere(
    mosquitto: Any, influxdb: Any, health_db: str, tmp_path: Path
) -> None:
    from greenwire.cloud.health.admin import ensure_database, erase_subject

    config = _config(mosquitto, influxdb, health_db, tmp_path)
    await ensure_database(config)
    import httpx

    other = "pilot2026.ffffffffffffffffffffffffffffffff"
    ns = int(datetime.now(UTC).timestamp()) * 10**9
    influxdb.write(health_db, [
        f'vitals,code=8867-4,device=hub,gateway=gw,site=care,subject={P} value=70,unit="/min",status="final" {ns}',
        f'vitals,code=8867-4,device=hub,gateway=gw,site=care,subject={other} value=71,unit="/min",status="final" {ns}',
        f'health_alerts,gateway=gw,rule=spo2_low,scope=participant,site=care,state=raised,subject={P} value=90 {ns}',
    ])
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{influxdb.url}/write", params={"db": health_db, "rp": "aggregates"},
                                     content=f"vitals_1h,code=8867-4,site=care,subject={P} mean=70,count=1i {ns}")
        response.raise_for_status()
    assert await erase_subject(config, P) == 3
    everything = repr(influxdb.query(health_db, 'SELECT * FROM /.*/')) + repr(
        influxdb.query(health_db, 'SELECT * FROM "aggregates"./.*/')) + repr(influxdb.query(health_db, "SHOW SERIES"))
    assert P not in everything and other in everything
    with pytest.raises(ValueError):
        await erase_subject(config, "Patient/pat-1")


async def test_alerts_are_published_over_the_brokers_tls(
    secure_broker: Any, influxdb: Any, health_db: str, tmp_path: Path
) -> None:
    """Vitals in and alerts out over the TLS-only broker: the alert connection uses the config's CA and account."""
    import contextlib
    import ssl

    tag = uuid.uuid4().hex[:8]
    config = HealthConfig.model_validate({
        "mqtt": {"url": secure_broker.url("ingest"), "ca_file": str(secure_broker.ca_file), "username": "ingest",
                 "password_file": str(secure_broker.password_file("ingest")), "client_id": f"health-{tag}",
                 "group": f"h{tag}", "session_expiry_s": 60},
        "influx": {"url": influxdb.url, "database": health_db},
        "sites": [{"id": "campus-a"}], "state_dir": str(tmp_path / "health"),
    })
    tls = ssl.create_default_context(cafile=str(secure_broker.ca_file))
    host = secure_broker.broker.host
    received: list[bytes] = []
    service = HealthService(config)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        async with aiomqtt.Client(host, secure_broker.port("bms-a"), identifier=f"bms-{tag}", username="bms-a",
                                  password=secure_broker.password("bms-a"), tls_context=tls) as reader:
            await reader.subscribe("greenwire/v1/campus-a/alerts/#", qos=1)

            async def read() -> None:
                async for message in reader.messages:
                    received.append(bytes(message.payload))  # type: ignore[arg-type]

            listening = asyncio.create_task(read())
            await eventually(lambda: service.consumer.connected, 10, "the health service subscribed over TLS")
            start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
            async with aiomqtt.Client(host, secure_broker.port("campus-a.gw-01"), identifier=f"gw-{tag}",
                                      username="campus-a.gw-01", password=secure_broker.password("campus-a.gw-01"),
                                      tls_context=tls) as gateway:
                batch = _batch(1, [97, 89, 89, 89], start).replace(b'"gateway":"gw"', b'"gateway":"gw-01"')
                await gateway.publish("greenwire/v1/campus-a/gw-01/vitals", batch, qos=1)
            await eventually(lambda: len(received) == 1, 20, "the raised alert from the TLS-only broker")
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
        assert orjson.loads(received[0])["state"] == "raised" and service.alerts.published == 1
        assert service.alerts.broker.tls and service.alerts.dropped == 0
    finally:
        stop.set()
        await task
