"""The edge publisher against a real Mosquitto: QoS 1, survive the broker.

These run with a cloud that sends no commits (``commit_wait_s=0``: the publisher falls back to
forgetting on PUBACK at once); ``test_edge_commit.py`` covers the end-to-end commit.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from greenwire.shared.wire import ReadingsBatch
from greenwire.transport.buffer import AsyncBuffer, SqliteBuffer
from greenwire.transport.mqtt import BrokerSettings
from greenwire.transport.publisher import Publisher
from tests.helpers import eventually

pytestmark = pytest.mark.integration

SITE, GATEWAY = "campus-a", "gw-pub"


class Subscriber:
    """A third-party client that records every message on a topic filter (paho, own thread)."""

    def __init__(self, host: str, port: int, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"sub-{id(self)}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic_filter, qos=1)
        self.client.reconnect_delay_set(0.2, 1)
        # A persistent session, so messages published while the broker restarts are queued for us.
        properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 300
        self.client.connect(host, port, clean_start=False, properties=properties)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscription not acknowledged"

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def batches(self) -> list[ReadingsBatch]:
        with self._lock:
            return [ReadingsBatch.model_validate_json(p) for t, p, _ in self.messages if t.endswith("/readings")]

    def statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            return [orjson.loads(p) for t, p, _ in self.messages if t.endswith("/status")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _readings(n: int, start: int) -> bytes:
    return orjson.dumps(
        [
            {"ts": f"2026-11-22T10:00:{(start + i) % 60:02d}.000Z", "device": "m1",
             "values": {"active_power_w": float(start + i)}, "quality": "good"}
            for i in range(n)
        ]
    )



@pytest.fixture
def subscriber(mosquitto: Any) -> Any:
    sub = Subscriber(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/{GATEWAY}/#")
    yield sub
    sub.close()


async def test_batches_are_published_in_order_and_deleted_after_puback(
    mosquitto: Any, subscriber: Subscriber, tmp_path: Path
) -> None:
    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    seqs = [await buffer.append(_readings(3, i * 3), 3, 0) for i in range(5)]
    publisher = Publisher(
        BrokerSettings(mosquitto.host, mosquitto.port, "greenwire-edge-test-1"), SITE, GATEWAY, buffer,
        max_inflight=2, commit_wait_s=0.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        await eventually(lambda: len(subscriber.batches()) == 5, 30, "five batches")
        await eventually(lambda: buffer.buffer.depth_batches == 0, 30, "buffer to empty")
        batches = subscriber.batches()
        assert [b.seq for b in batches] == seqs
        assert all(b.gateway == GATEWAY for b in batches)
        values = [r.values["active_power_w"] for b in batches for r in b.readings]
        assert values == [float(i) for i in range(15)]
        assert subscriber.statuses()[0]["state"] == "online"
    finally:
        stop.set()
        await task
        await buffer.close()
    await eventually(lambda: subscriber.statuses()[-1]["state"] == "offline", 30, "offline status")
    assert subscriber.statuses()[-1]["reason"] == "shutdown"


async def test_broker_outage_loses_nothing(mosquitto: Any, subscriber: Subscriber, tmp_path: Path) -> None:
    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    publisher = Publisher(
        BrokerSettings(mosquitto.host, mosquitto.port, "greenwire-edge-test-2"), SITE, GATEWAY, buffer,
        commit_wait_s=0.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        first = await buffer.append(_readings(2, 0), 2, 0)
        await eventually(lambda: buffer.buffer.depth_batches == 0, 30, "first batch to go out")
        await asyncio.to_thread(mosquitto.stop)
        during = [await buffer.append(_readings(2, 10 + 2 * i), 2, 0) for i in range(3)]
        await asyncio.sleep(1.0)
        assert buffer.buffer.depth_batches == 3, "nothing may leave the buffer while the broker is down"
        await asyncio.to_thread(mosquitto.start)
        await eventually(lambda: buffer.buffer.depth_batches == 0, 40, "buffer to drain after the outage")
        await eventually(lambda: {b.seq for b in subscriber.batches()} >= {first, *during}, 30, "all batches")
        received = [b.seq for b in subscriber.batches()]
        assert sorted(set(received)) == [first, *during]
        # QoS 1 may duplicate, never lose; duplicates carry the same seq and readings.
        by_seq: dict[int, ReadingsBatch] = {}
        for batch in subscriber.batches():
            if batch.seq in by_seq:
                assert batch.readings == by_seq[batch.seq].readings
            by_seq[batch.seq] = batch
        assert publisher.stats.connects >= 2
    finally:
        stop.set()
        await task
        await buffer.close()


async def test_batches_nobody_receives_stay_in_the_buffer(mosquitto: Any, tmp_path: Path) -> None:
    """A PUBACK saying "no matching subscribers" does not delete the batch: it waits for a subscriber."""
    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    for i in range(3):
        await buffer.append(_readings(2, i * 2), 2, 0)
    site = "campus-nosub"
    publisher = Publisher(BrokerSettings(mosquitto.host, mosquitto.port, "greenwire-edge-test-3"), site, GATEWAY, buffer,
                          commit_wait_s=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    late: Subscriber | None = None
    try:
        await eventually(lambda: publisher.stats.refused_batches >= 3, 30, "PUBACKs with no subscriber")
        assert buffer.buffer.depth_batches == 3 and publisher.stats.published_batches == 0
        late = Subscriber(mosquitto.host, mosquitto.port, f"greenwire/v1/{site}/{GATEWAY}/readings")
        await eventually(lambda: len(late.batches()) >= 3, 60, "the kept batches, once someone subscribes")
        await eventually(lambda: buffer.buffer.depth_batches == 0, 30, "the buffer to empty")
        assert sorted({b.seq for b in late.batches()}) == [1, 2, 3]
    finally:
        stop.set()
        await task
        await buffer.close()
        if late is not None:
            late.close()
