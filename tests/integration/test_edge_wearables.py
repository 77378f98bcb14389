"""The wearable edge source end to end at the gateway: a hub (HTTP) -> edge -> real Mosquitto.

The hub is our simulator (``protocol: greenwire-cursor``) or the independent FHIR server of
``tests/fhirserver.py`` (a standard FHIR search), the same test for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

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
from greenwire.transport.mqtt import BrokerSettings
from tests.fhirserver import FhirServerProcess
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


def _config(tmp_path: Path, mosquitto: Any, url: str, consent: list[str], protocol: str = "greenwire-cursor",
            page_size: int = 400) -> EdgeConfig:
    key = tmp_path / "pilot.key"
    if not key.exists():
        key.write_text("5f" * 32)
        os.chmod(key, 0o600)
    return EdgeConfig(
        gateway=GATEWAY,
        site=SITE,
        mqtt=MqttConfig(url=mosquitto.url),
        buffer=BufferConfig(path=tmp_path / "buffer.sqlite"),
        publish=PublishConfig(interval_s=0.2, status_interval_s=1.0, commit_wait_s=0),  # no cloud here: no commits
        wearables=WearablesConfig(
            key_file=key, key_id="pilot2026", consent=tuple(consent),
            buffer_path=tmp_path / "vitals.sqlite", state_path=tmp_path / "wearables.sqlite",
            # The search resumes at its high-water mark minus the overlap window, and what the hub
            # stored within that window is read again (then dropped as a duplicate). Here the whole
            # backlog is stored at the hub's start, seconds before the mark: a short window keeps
            # the restart check about resuming, not about the overlap.
            sources=(WearableSourceConfig(id="ward-hub", url=url, protocol=protocol,  # type: ignore[arg-type]
                                          poll_interval_s=0.3, page_size=page_size,
                                          **({"overlap_s": 0.2} if protocol == "fhir-search" else {})),),
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


@dataclass
class Hub:
    """The hub under test: where it is, who consented, what must never leave the site."""

    url: str
    protocol: str
    consent: list[str]
    secrets: list[str]
    markers: list[str]
    page: int
    """The most observations one of its pages holds (the simulator: what was asked; HAPI-like: 200)."""
    log_size: Any
    """How many observations (versions) the hub holds now."""


@contextlib.asynccontextmanager
async def _hub(kind: str, tmp_path: Path) -> AsyncIterator[Hub]:
    if kind == "simulator":
        people = make_participants(6)
        hub = WearableHub(people, start=datetime.now(UTC) - timedelta(hours=2), speed=1e6)
        hub.advance()
        async with WearableServer(hub) as server:
            server.fail_next(2)  # the hub is rebooting when the gateway starts
            yield Hub(f"{server.url}/fhir", "greenwire-cursor", [f"Patient/{p.id}" for p in people[:5]],
                      [s for p in people for s in (p.id, p.mrn, p.given, p.family, p.birth_date.isoformat(),
                                                   p.address.split(",")[0])],
                      [m for r in hub.log[::40] for m in (r["id"], r["identifier"][0]["value"])], 400,
                      lambda: len(hub.log))
        return
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "6", "--hours", "1")
    await asyncio.to_thread(server.start)
    try:
        persons = await server.control("participants", "GET")
        versions = await server.control("versions", "GET")
        total = len(versions)
        await server.control("throttle", requests=2, retry_after=0)  # busy when the gateway starts
        yield Hub(server.url, "fhir-search", [f"Patient/{p['id']}" for p in persons[:5]],
                  [s for p in persons for s in p["secrets"]],
                  [m for r in versions[::40] for m in (f"Observation/{r['id']}", r["identifier"][0]["value"])],
                  200, lambda: total)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["simulator", "fhir-server"])
async def test_hub_to_broker_pseudonymous_deduplicated_and_resumed(
    tmp_path: Path, mosquitto: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    sub = Capture(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/#")
    try:
        async with _hub(kind, tmp_path) as hub:
            backlog = hub.log_size()
            consent = hub.consent
            config = _config(tmp_path, mosquitto, hub.url, consent, hub.protocol)
            agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id))
            source = agent.wearables[0]

            def drained() -> bool:
                vp = agent.vitals_publisher
                counts = _status_counts(sub)  # and a heartbeat has told the broker since
                # A search resumes at its stored high-water mark: wait for it (or the cursor) to be stored.
                stored = source._state.cursor(source.config.id)
                return (source.stats.received >= backlog and source.stats.last_page < hub.page
                        and stored not in (None, "", "0", "lastUpdated=")
                        and vp is not None and vp.stats.published_readings == source.stats.forwarded_observations
                        and counts is not None and counts["received"] == source.stats.received)

            await _run_until(agent, drained, 120, "the hub's backlog on the broker")
            stats = source.stats
            if kind == "simulator":
                assert stats.errors == 2 and stats.online
            else:
                assert stats.throttled == 2 and stats.errors == 0 and stats.online
            assert stats.max_page == hub.page, "the backlog came in full pages"

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
            assert stats.rejected["no_consent"] > 0
            if kind == "simulator":
                assert stats.rejected["duplicate"] > 0, "the hub resends blocks of old observations"
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
            for secret in hub.secrets:
                assert secret not in everything, "an identifier left the gateway"
            broker = b"".join(p for _, p, _ in sub.messages).decode()
            for marker in hub.markers:  # the hub's own observation ids and identifiers stay at the site
                assert marker not in broker

            # A restart resumes at the stored cursor (or high-water mark): nothing forwarded is sent again.
            forwarded_before = len(observations)
            seen_before = hub.log_size()
            agent = EdgeAgent(config, BrokerSettings(mosquitto.host, mosquitto.port, config.client_id))
            await _run_until(agent, lambda: agent.wearables[0].stats.polls >= 2, 60, "polls after the restart")
            new = agent.wearables[0].stats
            assert new.received <= hub.log_size() - seen_before + hub.page, "it did not start from the beginning"
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
