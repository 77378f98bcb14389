"""End-to-end commit on a real Mosquitto: the gateway forgets a batch only when the cloud says it is stored.

The commits in the first tests come from a plain paho-mqtt client written from the
``greenwire.commit.v1`` schema, not from our ingestor; the last test runs the real ingestor and
InfluxDB behind the edge publisher.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.transport.buffer import AsyncBuffer, SqliteBuffer
from greenwire.transport.commits import COMMIT_SEEN, DeliveryMode
from greenwire.transport.mqtt import BrokerSettings
from greenwire.transport.publisher import Publisher
from tests.helpers import eventually
from tests.integration.test_edge_publish import Subscriber

pytestmark = pytest.mark.integration

SITE = "campus-c"


def _readings(n: int, start: datetime) -> bytes:
    return orjson.dumps([
        {"ts": (start + timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
         "device": "m1", "values": {"active_power_w": float(i)}, "quality": "good"}
        for i in range(n)
    ])


def _commit(mosquitto: Mosquitto, gateway: str, ranges: list[list[int]], stream: str = "readings",
            payload: bytes | None = None) -> None:
    """Publish a commit as an independent cloud would (paho, QoS 1, waits for the PUBACK)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cloud-{uuid.uuid4().hex[:8]}")
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        body = payload or orjson.dumps({"schema": "greenwire.commit.v1", "gateway": gateway, "stream": stream,
                                        "ranges": ranges, "ts": "2026-11-22T10:00:00.000Z"})
        info = client.publish(f"greenwire/v1/{SITE}/{gateway}/commit", body, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _seqs(subscriber: Subscriber) -> list[int]:
    return [b.seq for b in subscriber.batches()]


async def test_batches_stay_until_committed_and_uncommitted_ones_are_sent_again(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/{gateway}/readings")
    path = tmp_path / "b.sqlite"
    buffer = AsyncBuffer(SqliteBuffer(path))
    now = datetime.now(UTC)
    for i in range(4):
        await buffer.append(_readings(3, now + timedelta(seconds=10 * i)), 3, 0)
    settings = BrokerSettings(mosquitto.host, mosquitto.port, f"edge-{gateway}")
    publisher = Publisher(settings, SITE, gateway, buffer, resend_after_s=1.0, commit_wait_s=60.0)
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        await eventually(lambda: sorted(set(_seqs(subscriber))) == [1, 2, 3, 4], 30, "four batches")
        await eventually(lambda: publisher.tracker.uncommitted_batches == 4, 10, "four PUBACKs")
        assert buffer.buffer.depth_batches == 4, "a PUBACK alone forgets nothing"
        assert publisher.tracker.mode is DeliveryMode.WAITING

        await asyncio.to_thread(_commit, mosquitto, gateway, [[1, 2]])
        await eventually(lambda: buffer.buffer.depth_batches == 2, 10, "the committed batches forgotten")
        assert publisher.tracker.mode is DeliveryMode.COMMIT
        assert buffer.buffer.counter(COMMIT_SEEN) == 1

        # Not ours: another stream, another gateway, not a commit at all. None forgets anything.
        await asyncio.to_thread(_commit, mosquitto, gateway, [[3, 4]], "vitals")
        await asyncio.to_thread(_commit, mosquitto, gateway, [[3, 4]], payload=b'{"schema": "greenwire.commit.v9"}')
        # Uncommitted batches go again after the resend timeout, with the same seq and readings.
        await eventually(lambda: _seqs(subscriber).count(3) >= 2 and _seqs(subscriber).count(4) >= 2, 20,
                         "seq 3 and 4 sent again")
        assert buffer.buffer.depth_batches == 2
        assert publisher.tracker.resent_batches >= 2
        assert 1 not in _seqs(subscriber)[4:], "a committed batch is never sent again"
        copies = [b for b in subscriber.batches() if b.seq == 3]
        assert all(c.readings == copies[0].readings for c in copies)

        await asyncio.to_thread(_commit, mosquitto, gateway, [[3, 4]])
        await eventually(lambda: buffer.buffer.depth_batches == 0, 10, "the buffer to empty")
        assert publisher.tracker.committed_readings == 12
    finally:
        stop.set()
        await task
        await buffer.close()
        subscriber.close()

    # `greenwire edge status` reads the same file beside the agent: commit mode, nothing waiting.
    config = tmp_path / "edge.yaml"
    config.write_text(f"gateway: {gateway}\nsite: {SITE}\nmqtt: {{url: \"{mosquitto.url}\"}}\n"
                      f"buffer: {{path: \"{path}\"}}\nbuses:\n  - name: b\n    host: 127.0.0.1\n    port: 1502\n"
                      f"    devices:\n      - {{id: m1, unit: 1, profile: eastron-sdm630}}\n")
    shown = CliRunner().invoke(app, ["edge", "status", str(config), "--json"])
    assert shown.exit_code == 0, shown.output
    assert orjson.loads(shown.output) | {"buffer": None} == {
        "buffer": None, "readings": 0, "batches": 0, "oldest_reading_age_s": None, "dropped_readings": 0,
        "delivery_mode": "commit"}

    # A restarted gateway remembers that this cloud commits: it never falls back to PUBACK.
    again = AsyncBuffer(SqliteBuffer(path))
    try:
        await again.append(_readings(1, now), 1, 0)
        publisher = Publisher(settings, SITE, gateway, again, commit_wait_s=0.0)
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        await eventually(lambda: publisher.tracker.uncommitted_batches == 1, 20, "the new batch published")
        await asyncio.sleep(0.5)
        assert publisher.tracker.mode is DeliveryMode.COMMIT and again.buffer.depth_batches == 1
        stop.set()
        await task
    finally:
        await again.close()


async def test_a_cloud_without_commits_gets_the_puback_behaviour_after_the_wait(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    subscriber = Subscriber(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/{gateway}/readings")
    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    await buffer.append(_readings(2, datetime.now(UTC)), 2, 0)
    publisher = Publisher(BrokerSettings(mosquitto.host, mosquitto.port, f"edge-{gateway}"), SITE, gateway, buffer,
                          commit_wait_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        await eventually(lambda: publisher.tracker.uncommitted_batches == 1, 20, "the batch published")
        assert buffer.buffer.depth_batches == 1
        await eventually(lambda: buffer.buffer.depth_batches == 0, 10, "forgotten after the wait")
        assert publisher.tracker.mode is DeliveryMode.PUBACK
        await buffer.append(_readings(2, datetime.now(UTC)), 2, 0)
        await eventually(lambda: buffer.buffer.depth_batches == 0, 10, "forgotten on PUBACK from then on")
        assert _seqs(subscriber) == [1, 2]
    finally:
        stop.set()
        await task
        await buffer.close()
        subscriber.close()


async def test_the_ingestor_commits_what_influxdb_stored_and_the_gateway_forgets_it(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    gateway = f"gw-{uuid.uuid4().hex[:6]}"
    config = IngestConfig.model_validate({
        "mqtt": {"url": mosquitto.url, "client_id": f"ingest-{gateway}", "group": f"g{uuid.uuid4().hex[:8]}"},
        "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
        "batch": {"max_delay_s": 0.2},
        "state_dir": str(tmp_path / "ingest"),
    })
    ingestor = Ingestor(config)
    buffer = AsyncBuffer(SqliteBuffer(tmp_path / "b.sqlite"))
    publisher = Publisher(BrokerSettings(mosquitto.host, mosquitto.port, f"edge-{gateway}"), SITE, gateway, buffer,
                          commit_wait_s=60.0)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(ingestor.run(stop)), asyncio.create_task(publisher.run(stop))]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    try:
        await eventually(lambda: ingestor.consumer.connected, 30, "the ingestor to subscribe")
        await asyncio.sleep(0.2)
        for i in range(20):
            await buffer.append(_readings(5, start + timedelta(seconds=5 * i)), 5, 0)
        await eventually(lambda: buffer.buffer.depth_batches == 0, 30, "every batch committed")
        assert publisher.tracker.mode is DeliveryMode.COMMIT
        assert publisher.tracker.committed_readings == 100
        rows = influxdb.query(influx_db, f"SELECT count(active_power_w) FROM readings WHERE gateway = '{gateway}'")
        assert rows[0]["count"] == 100
        # One commit per gateway per flush, not one per batch.
        assert 1 <= ingestor.commit_publisher.messages <= ingestor.stats.flushes < 20
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await buffer.close()


async def test_the_commit_publisher_merges_what_waits_and_publishes_it_again_after_a_broker_restart(
    mosquitto: Mosquitto,
) -> None:
    from greenwire.cloud.ingest.commits import CommitBook, CommitPublisher
    from greenwire.shared.commit import parse_commit

    subscriber = Subscriber(mosquitto.host, mosquitto.port, f"greenwire/v1/{SITE}/+/commit")
    book = CommitBook("readings")
    publisher = CommitPublisher(BrokerSettings(mosquitto.host, mosquitto.port, f"commits-{uuid.uuid4().hex[:6]}"),
                                book)

    def commits() -> list[tuple[str, tuple[tuple[int, int], ...]]]:
        with subscriber._lock:
            return [(t.split("/")[3], parse_commit(p).ranges) for t, p, _ in subscriber.messages]

    # Three flushes stored before the publisher runs: one message per gateway, not per flush.
    for first in (1, 3, 5):
        book.add(SITE, "gw-a", first)
        book.add(SITE, "gw-a", first + 1)
        book.add(SITE, "gw-b", first * 10)
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        publisher.wake()
        await eventually(lambda: len(commits()) == 2, 10, "one commit per gateway")
        assert sorted(commits()) == [("gw-a", ((1, 6),)), ("gw-b", ((10, 10), (30, 30), (50, 50)))]
        assert publisher.messages == 2 and publisher.rounds == 1
        # Stored while the broker is away: kept, and published once it is back.
        await asyncio.to_thread(mosquitto.stop)
        await eventually(lambda: not publisher.connected, 10, "the publisher to see the broker gone while idle")
        book.add(SITE, "gw-a", 7)
        publisher.wake()
        book.add(SITE, "gw-a", 8)
        publisher.wake()
        await asyncio.to_thread(mosquitto.start)
        await eventually(lambda: len(commits()) >= 3, 30, "the commit after the restart")
        assert commits()[2:] == [("gw-a", ((7, 8),))], "both flushes in one commit, sent after the restart"
        assert len(book) == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        subscriber.close()
