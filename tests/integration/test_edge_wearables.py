"""The wearable edge source end to end at the gateway: simulated hub (HTTP) -> edge -> real Mosquitto."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.agent import EdgeAgent
from edge.config import (
    BufferConfig,
    EdgeConfig,
    MqttConfig,
    PublishConfig,
    WearablesConfig,
    WearableSourceConfig,
)
from edge.publisher import BrokerSettings
from shared.vitals import VitalsBatch
from simulators.wearable import WearableHub, WearableServer, make_participants
from tests.helpers import eventually

pytestmark = pytest.mark.integration


class Capture:
    """Records every message on a topic filter, on a clean session that ends with the connection
    (a persistent one subscribed to '#' would stay on the broker and receive other tests' messages)."""

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        import threading

        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"capture-{id(self)}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, bool(m.retain)))
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic_filter, qos=1)
        self.client.connect(host, port, clean_start=True)
        self.client.loop_start()
        assert subscribed.wait(10), "subscription not acknowledged"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

SITE, GATEWAY = "care-home", "care-gw"


def _config(tmp_path: Path, mosquitto: Any, url: str, consent: list[str]) -> EdgeConfig:
    key = tmp_path / "pilot.key"
    if not key.exists():
        key.write_text("5f" * 32)
        os.chmod(key, 0o600)
    return EdgeConfig(
        gateway=GATEWAY,
        site=SITE,
        mqtt=MqttConfig(url=mosquitto.url),
        buffer=BufferConfig(path=tmp_path / "buffer.sqlite"),
        publish=PublishConfig(interval_s=0.2, status_interval_s=1.0),
        wearables=WearablesConfig(
            key_file=key, key_id="pilot2026", consent=tuple(consent),
            buffer_path=tmp_path / "vitals.sqlite", state_path=tmp_path / "wearables.sqlite",
            sources=(WearableSourceConfig(id="ward-hub", url=url, protocol="greenwire-cursor",
                                          poll_interval_s=0.3, page_size=400),),
        ),
    )


def _status_counts(sub: Capture) -> dict[str, Any] | None:
    """The wearable hub's counts in the newest status that carries them."""
    import orjson

    statuses = [orjson.loads(p) for t, p, _ in list(sub.messages) if t.endswith("/status") and b'"wearables"' in p]
    return statuses[-1]["wearables"][0] if statuses else None


async def _run_until(agent: EdgeAgent, done: Any, within_s: float, what: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await eventually(done, within_s, what)
    finally:
        stop.set()
        await task


async def test_hub_to_broker_pseudonymous_deduplicated_and_resumed(
    tmp_path: Path, mosquitto: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = datetime.now(UTC)
    people = make_participants(6)
    hub = WearableHub(people, start=now - timedelta(hours=2), speed=1e6)
    consent = [f"Patient/{p.id}" for p in people[:5]]
    hub.advance()
    backlog = len(hub.log)
    sub = Capture(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/#")
    try:
        async with WearableServer(hub) as server:
            server.fail_next(2)  # the hub is rebooting when the gateway starts
            config = _config(tmp_path, mosquitto, f"{server.url}/fhir", consent)
            agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id))
            source = agent.wearables[0]

            def drained() -> bool:
                vp = agent.vitals_publisher
                counts = _status_counts(sub)  # and a heartbeat has told the broker since
                return (source.stats.received >= backlog and source.stats.last_page < 400
                        and vp is not None and vp.stats.published_readings == source.stats.forwarded_observations
                        and counts is not None and counts["received"] == source.stats.received)

            await _run_until(agent, drained, 120, "the hub's backlog on the broker")
            stats = source.stats
            assert stats.errors == 2 and stats.online
            assert stats.max_page == 400, "the backlog came in full pages"

            def vitals() -> list[VitalsBatch]:
                return [VitalsBatch.model_validate_json(p) for t, p, _ in sub.messages if t.endswith("/vitals")]

            await eventually(lambda: sum(len(b.observations) for b in vitals()) >= stats.forwarded_observations,
                             30, "every vitals batch at the subscriber")
            batches = vitals()
            observations = [o for b in batches for o in b.observations]
            assert len(observations) == stats.forwarded_observations
            assert {b.gateway for b in batches} == {GATEWAY}
            assert len({b.seq for b in batches}) == len(batches)
            assert {o.subject for o in observations} == {config.wearables.pseudonymiser()(c) for c in consent}
            assert stats.rejected["no_consent"] > 0 and stats.rejected["duplicate"] > 0
            assert stats.rejected["cancelled"] > 0 and stats.rejected["unsupported_code"] > 0
            assert stats.received == stats.rejected.total() - stats.rejected["component_absent"] + len(
                {(o.subject, o.code, o.ts, o.status) for o in observations if o.code not in ("8480-6", "8462-4")}
            ) + len({(o.subject, o.ts, o.status) for o in observations if o.code in ("8480-6", "8462-4")})
            # The retained status counts what the hub sent and why some of it stayed at the gateway.
            counts = _status_counts(sub)
            assert counts is not None and counts["source"] == "ward-hub"
            assert counts["rejected"] == dict(sorted(stats.rejected.items())) and counts["rejected"]["no_consent"] > 0
            assert counts["forwarded"] == stats.forwarded_observations
            # Nothing identifying on the broker, in the status, or in the logs.
            everything = b"".join(p for _, p, _ in sub.messages).decode() + caplog.text
            for p in people:
                for secret in (p.id, p.mrn, p.given, p.family, p.birth_date.isoformat(), p.address.split(",")[0]):
                    assert secret not in everything, "an identifier left the gateway"

            # A restart resumes at the stored cursor: nothing already forwarded is sent again.
            forwarded_before = len(observations)
            seen_before = len(hub.log)
            agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id))
            await _run_until(agent, lambda: agent.wearables[0].stats.polls >= 2, 60, "polls after the restart")
            new = agent.wearables[0].stats
            assert new.received <= len(hub.log) - seen_before + 400, "it did not start from cursor 0"
            # Whatever the restarted agent published has reached the subscriber, a duplicate included.
            published = agent.vitals_publisher.stats.published_readings if agent.vitals_publisher else 0
            await eventually(lambda: sum(len(b.observations) for b in vitals()) >= forwarded_before + published,
                             30, "the restarted gateway's vitals at the subscriber")
            again = [o for b in vitals() for o in b.observations]
            keys = Counter((o.subject, o.code, o.ts, o.status) for o in again)
            assert max(keys.values()) == 1, "an observation reached the broker twice"
            assert len(again) >= forwarded_before
    finally:
        sub.close()
