"""The ingestor against real Mosquitto, InfluxDB 1.x and VictoriaMetrics, fed by a third-party client.

The publisher here is plain paho-mqtt, not greenwire's edge: the wire
contract is what any gateway can speak.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from greenwire.cloud.adapters.influx import InfluxV1Writer
from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.servers import InfluxDB1, Mosquitto, VictoriaMetrics
from tests.helpers import eventually

pytestmark = pytest.mark.integration

SITE, GATEWAY = "campus-b", "gw-third"
TOPIC = f"greenwire/v1/{SITE}/{GATEWAY}/readings"
BAD_TOPIC = f"greenwire/v1/Campus B/{GATEWAY}/readings"
"""Matches the ingestor's subscription, but the site is not a valid id."""


def _ts(at: datetime) -> str:
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _batch(seq: int, at: datetime, **override: Any) -> dict[str, Any]:
    """A valid batch of 4 readings (2 devices x 2 instants) with awkward but legal values."""
    readings = [
        {
            "device": device,
            "ts": _ts(at + timedelta(milliseconds=250 * k)),
            "values": {
                "active_power_w": 1000.0 * seq + 0.1 * k + (0.3 if device == "m2" else 0.0),
                "energy_import_kwh": 123456.789 + seq + 1e-7 * k,
                "power_factor": -0.987654321,
            },
        }
        for device in ("m1", "m2")
        for k in range(2)
    ]
    batch = {"schema": "greenwire.readings.v1", "gateway": GATEWAY, "seq": seq, "sent_at": _ts(at), "readings": readings}
    batch.update(override)
    return batch


class Publisher:
    """A third-party gateway: paho-mqtt, QoS 1, waits for each PUBACK."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"third-{uuid.uuid4().hex[:8]}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, payload: bytes, topic: str = TOPIC) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Any:
    client = Publisher(mosquitto)
    yield client
    client.close()


def _config(mosquitto: Mosquitto, influx: dict[str, Any], state: Path, client_id: str, **extra: Any) -> IngestConfig:
    # Each test its own shared-subscription group: an earlier test's ingestor keeps its persistent
    # session (and so its group membership) after it stops, and Mosquitto queues its share for it.
    mqtt_section = {"url": mosquitto.url, "client_id": client_id, "group": f"g{uuid.uuid4().hex[:8]}"}
    mqtt_section.update(extra.pop("mqtt", {}))
    return IngestConfig.model_validate(
        {
            "mqtt": mqtt_section,
            "influx": influx,
            "batch": {"max_delay_s": 0.1},
            "state_dir": str(state),
            **extra,
        }
    )


@contextlib.asynccontextmanager
async def running(ingestor: Ingestor) -> AsyncIterator[Ingestor]:
    """Run an ingestor in the background until the block ends (subscribed before it yields)."""
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop), name="ingestor")
    try:
        await eventually(lambda: ingestor.consumer.connected or task.done(), 30, "the ingestor to subscribe")
        if task.done():
            task.result()
        await asyncio.sleep(0.1)  # the SUBSCRIBE is acknowledged just after the connection
        yield ingestor
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def _v1(influxdb: InfluxDB1, db: str) -> dict[str, Any]:
    return {"api": "v1", "url": influxdb.url, "database": db}


def _expected(batches: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, float]]:
    out = {}
    for batch in batches:
        for reading in batch["readings"]:
            at = datetime.fromisoformat(reading["ts"])
            ns = int(at.timestamp()) * 10**9 + at.microsecond * 1000
            out[(reading["device"], ns)] = reading["values"]
    return out


def _stored(influxdb: InfluxDB1, db: str) -> dict[tuple[str, int], dict[str, Any]]:
    rows = influxdb.query(db, 'SELECT * FROM "readings"')
    return {(row["device"], row["time"]): row for row in rows}


async def test_valid_readings_stored_exactly_and_each_bad_message_rejected_with_its_reason(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    good = [_batch(seq, now - timedelta(seconds=60 - seq)) for seq in range(1, 6)]
    one = _batch(99, now)
    bad: list[tuple[str, bytes]] = [
        ("malformed_json", b'{"schema": "greenwire.readings.v1", "readings": [{'),
        ("malformed_json", b"\xff\xfe not utf-8"),
        ("unknown_schema", orjson.dumps({**one, "schema": "greenwire.readings.v9"})),
        ("unexpected_field", orjson.dumps({**one, "colour": "green"})),
        ("non_numeric_value", orjson.dumps(_batch(99, now, readings=[{**one["readings"][0], "values": {"active_power_w": "12"}}]))),
        ("schema_violation", orjson.dumps({**one, "seq": -1})),
        ("invalid_topic", orjson.dumps(one)),  # published on BAD_TOPIC, below
        ("non_finite_value", orjson.dumps(one).replace(b"-0.987654321", b"NaN", 1)),
        ("non_finite_value", orjson.dumps(one).replace(b"-0.987654321", b"1e999", 1)),
        ("future_timestamp", orjson.dumps(_batch(99, now + timedelta(minutes=6)))),
        ("invalid_id", orjson.dumps(_batch(99, now, readings=[{**one["readings"][0], "device": "Main Incomer"}]))),
        ("gateway_mismatch", orjson.dumps({**one, "gateway": "gw-someone-else"})),
        ("unknown_quantity", orjson.dumps(_batch(99, now, readings=[{**one["readings"][0], "values": {"watts": 1.0}}]))),
        ("payload_too_large", orjson.dumps({**one, "readings": one["readings"] * 400})),
    ]
    assert len(bad[-1][1]) > 64 * 1024
    ingestor = Ingestor(
        _config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest", f"ingest-{uuid.uuid4().hex[:8]}",
                limits={"max_payload_bytes": 64 * 1024})
    )
    async with running(ingestor):
        for i, batch in enumerate(good):
            await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
            for reason, payload in bad[i * 3 : i * 3 + 3]:  # the bad ones interleaved with the good
                topic = BAD_TOPIC if reason == "invalid_topic" else TOPIC
                await asyncio.to_thread(publisher.publish, payload, topic)
        await eventually(
            lambda: ingestor.stats.accepted_messages == len(good) and ingestor.stats.rejected_total == len(bad),
            60, "every message to be stored or rejected",
        )

    stored = _stored(influxdb, influx_db)
    expected = _expected(good)
    assert set(stored) == set(expected), "every valid reading, and nothing else"
    for key, values in expected.items():
        row = stored[key]
        assert (row["site"], row["gateway"], row["quality"]) == (SITE, GATEWAY, "good")
        for quantity, value in values.items():
            assert row[quantity] == value, (key, quantity)

    wanted: dict[str, int] = {}
    for reason, _ in bad:
        wanted[reason] = wanted.get(reason, 0) + 1
    assert dict(ingestor.stats.rejected) == wanted
    # Each rejected message is kept with its reason and its payload...
    kept = [orjson.loads(line) for f in (tmp_path / "ingest").glob("rejected-*.jsonl") for line in f.read_bytes().splitlines()]
    assert sorted(r["reason"] for r in kept) == sorted(reason for reason, _ in bad)
    assert all(r["topic"] == (BAD_TOPIC if r["reason"] == "invalid_topic" else TOPIC) and r["detail"] for r in kept)
    gateway_record = next(r for r in kept if r["reason"] == "gateway_mismatch")
    assert orjson.loads(gateway_record["payload"])["gateway"] == "gw-someone-else"
    # ... and counted in InfluxDB for the fleet dashboard.
    counted = influxdb.query(influx_db, 'SELECT count("bytes") FROM "ingest_rejected" GROUP BY "reason"')
    assert {row["reason"]: row["count"] for row in counted} == wanted


async def test_influxdb_outage_nothing_acknowledged_nothing_lost(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    before = [_batch(seq, now - timedelta(seconds=100 - seq)) for seq in range(1, 3)]
    during = [_batch(seq, now - timedelta(seconds=100 - seq)) for seq in range(3, 9)]
    ingestor = Ingestor(_config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest", f"ingest-{uuid.uuid4().hex[:8]}"))
    async with running(ingestor):
        for batch in before:
            await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
        await eventually(lambda: ingestor.stats.acked_messages == len(before), 30, "the first batches")
        await asyncio.to_thread(influxdb.stop)
        try:
            for batch in during:
                await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
            # The broker has acknowledged each publish, but its delivery to the ingestor may still be on
            # the way: wait for every one to be held, not only for the retries of the first ones.
            await eventually(lambda: ingestor.stats.write_retries >= 2 and ingestor.stats.pending_messages >= len(during),
                             60, "write retries, with every message held, while InfluxDB is down")
            assert ingestor.stats.acked_messages == len(before), "nothing acknowledged while InfluxDB is down"
            assert ingestor.stats.pending_messages == len(during)
        finally:
            await asyncio.to_thread(influxdb.start)
        await eventually(lambda: ingestor.stats.acked_messages == len(before) + len(during), 40,
                         "the held messages to be written after InfluxDB returns")
    assert set(_stored(influxdb, influx_db)) == set(_expected(before + during))
    assert ingestor.stats.rejected_total == 0


async def test_messages_published_while_the_ingestor_is_down_arrive_after_it_restarts(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    batches = [_batch(seq, now - timedelta(seconds=50 - seq)) for seq in range(1, 11)]
    config = _config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest", f"ingest-{uuid.uuid4().hex[:8]}")
    first = Ingestor(config)
    async with running(first):
        await asyncio.to_thread(publisher.publish, orjson.dumps(batches[0]))
        await eventually(lambda: first.stats.acked_messages == 1, 30, "the first batch")
    for batch in batches[1:]:  # the ingestor is away; its persistent session queues these
        await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
    second = Ingestor(config)  # same client id
    async with running(second):
        await eventually(lambda: second.stats.acked_messages == len(batches) - 1, 60, "the queued batches")
    assert set(_stored(influxdb, influx_db)) == set(_expected(batches))


async def test_two_ingestors_share_the_stream_without_duplicates(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    batches = [_batch(seq, now - timedelta(seconds=100 - seq)) for seq in range(1, 41)]
    group = f"g{uuid.uuid4().hex[:8]}"
    a = Ingestor(_config(mosquitto, _v1(influxdb, influx_db), tmp_path / "a", f"ingest-a-{group}", mqtt={"group": group}))
    b = Ingestor(_config(mosquitto, _v1(influxdb, influx_db), tmp_path / "b", f"ingest-b-{group}", mqtt={"group": group}))
    async with running(a), running(b):
        for batch in batches:
            await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
        await eventually(lambda: a.stats.acked_messages + b.stats.acked_messages >= len(batches), 60, "all batches")
        await asyncio.sleep(0.3)  # a duplicate delivery, if any, would show up now
    assert a.stats.acked_messages + b.stats.acked_messages == len(batches)
    assert a.stats.acked_messages > 0 and b.stats.acked_messages > 0, "both members of the group took a share"
    assert set(_stored(influxdb, influx_db)) == set(_expected(batches))


async def test_v2_write_api_through_influxdb_client(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, publisher: Publisher, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    site_gateway = f"gw-v2-{uuid.uuid4().hex[:6]}"
    batch = _batch(7, now - timedelta(seconds=30), gateway=site_gateway)
    ingestor = Ingestor(
        _config(
            mosquitto,
            {"api": "v2", "url": victoria.url, "token": "any-token", "org": "county", "bucket": "greenwire"},
            tmp_path / "ingest",
            f"ingest-{uuid.uuid4().hex[:8]}",
        )
    )
    async with running(ingestor):
        await asyncio.to_thread(publisher.publish, orjson.dumps(batch), f"greenwire/v1/{SITE}/{site_gateway}/readings")
        await eventually(lambda: ingestor.stats.acked_messages == 1, 60, "the batch to be written")
    series = victoria.export(f'{{__name__="readings_active_power_w",gateway="{site_gateway}"}}')
    by_device = {s["metric"]["device"]: dict(zip(s["timestamps"], s["values"], strict=True)) for s in series}
    assert set(by_device) == {"m1", "m2"}
    for reading in batch["readings"]:
        at = datetime.fromisoformat(reading["ts"])
        # VictoriaMetrics keeps 12 significant decimal digits (its own storage format, not the write path).
        stored = by_device[reading["device"]][int(at.timestamp() * 1000)]
        assert stored == pytest.approx(reading["values"]["active_power_w"], rel=1e-12)
    assert {s["metric"]["site"] for s in series} == {SITE}


def _co2_stored_as_text(influxdb: InfluxDB1, db: str, now: datetime) -> None:
    """Someone stored co2_ppm as a string for this measurement: InfluxDB now refuses float co2_ppm
    in this shard with "400 partial write: field type conflict"."""
    influxdb.write(db, [f'readings,device=old,gateway={GATEWAY},site={SITE} co2_ppm="high" '
                        f"{int((now - timedelta(seconds=300)).timestamp()) * 10**9}"])


async def test_points_influxdb_refuses_become_store_rejected_and_the_rest_is_stored(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _co2_stored_as_text(influxdb, influx_db, now)
    good = [_batch(seq, now - timedelta(seconds=60 - seq)) for seq in range(1, 4)]
    conflict = _batch(50, now - timedelta(seconds=30), readings=[
        {"device": "iaq-1", "ts": _ts(now - timedelta(seconds=30)), "values": {"co2_ppm": 415.0}}
    ])
    ingestor = Ingestor(_config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest", f"ingest-{uuid.uuid4().hex[:8]}"))
    async with running(ingestor):
        for batch in (good[0], conflict, good[1], good[2]):
            await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
        await eventually(lambda: ingestor.stats.acked_messages == 4, 60, "all four messages to be settled")
    assert ingestor.stats.accepted_messages == 3
    assert dict(ingestor.stats.rejected) == {"store_rejected": 1}
    stored = {key for key in _stored(influxdb, influx_db) if key[0] != "old"}
    assert stored == set(_expected(good)), "the refused message does not take its neighbours with it"
    kept = [orjson.loads(line) for f in (tmp_path / "ingest").glob("rejected-*.jsonl") for line in f.read_bytes().splitlines()]
    assert [r["reason"] for r in kept] == ["store_rejected"]
    assert "field type conflict" in kept[0]["detail"]
    assert orjson.loads(kept[0]["payload"])["seq"] == 50


async def test_requests_hold_at_most_max_lines_and_a_refused_message_is_found_among_its_request(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    """max_lines 3: a 4-reading message goes in two requests; three 1-reading messages share one, and are halved."""
    now = datetime.now(UTC).replace(microsecond=0)
    _co2_stored_as_text(influxdb, influx_db, now)

    def one(seq: int, values: dict[str, float]) -> dict[str, Any]:
        at = now - timedelta(seconds=40 - seq)
        return _batch(seq, at, readings=[{"device": "iaq-1", "ts": _ts(at), "values": values}])

    big = [_batch(seq, now - timedelta(seconds=60 - seq)) for seq in (1, 2)]
    small = [one(10, {"temperature_c": 21.5}), one(12, {"temperature_c": 21.25})]
    conflict = one(11, {"co2_ppm": 415.0})
    config = _config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest", f"ingest-{uuid.uuid4().hex[:8]}",
                     batch={"max_delay_s": 2.0, "max_lines": 3})
    sizes: list[int] = []

    class Counting(InfluxV1Writer):
        """The real writer, noting the lines of each readings request."""

        async def write(self, lines: Sequence[str] | bytes) -> None:
            if isinstance(lines, bytes) and lines.startswith(b"readings,"):
                sizes.append(lines.count(b"\n") + 1)
            await super().write(lines)

    writer = Counting(influxdb.url, influx_db)
    ingestor = Ingestor(config, writer=writer)
    try:
        async with running(ingestor):
            for batch in (big[0], small[0], conflict, small[1], big[1]):
                await asyncio.to_thread(publisher.publish, orjson.dumps(batch))
            await eventually(lambda: ingestor.stats.acked_messages == 5, 60, "all five messages to be settled")
    finally:
        await writer.close()
    assert ingestor.stats.accepted_messages == 4
    assert ingestor.stats.readings_written == 10
    assert dict(ingestor.stats.rejected) == {"store_rejected": 1}
    stored = {key for key in _stored(influxdb, influx_db) if key[0] != "old"}
    assert stored == set(_expected(big + small))
    kept = [orjson.loads(line) for f in (tmp_path / "ingest").glob("rejected-*.jsonl") for line in f.read_bytes().splitlines()]
    assert [orjson.loads(r["payload"])["seq"] for r in kept] == [11]
    # 3 + 1 for each big message; for the small ones 3 (refused), then halving: 1, 2 (refused), 1, 1.
    assert max(sizes) == 3 and sizes.count(3) >= 3 and sum(sizes) > 10, sizes


async def test_the_backlog_after_an_influxdb_outage_comes_no_faster_than_the_receive_maximum(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    """Mosquitto 2.0.11 releases a whole backlog after one PUBACK; the ingestor's window holds it to 20."""
    now = datetime.now(UTC).replace(microsecond=0)
    batches = [_batch(seq, now - timedelta(seconds=100, milliseconds=-seq)) for seq in range(1, 601)]
    ingestor = Ingestor(_config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest",
                                f"ingest-{uuid.uuid4().hex[:8]}", mqtt={"receive_maximum": 20}))
    async with running(ingestor):
        await asyncio.to_thread(influxdb.stop)
        try:
            for batch in batches:  # 20 reach the ingestor, which cannot store them; 580 queue at the broker
                publisher.client.publish(TOPIC, orjson.dumps(batch), qos=1)
            await asyncio.to_thread(publisher.publish, orjson.dumps(batches[-1]))
            await eventually(lambda: ingestor.stats.write_retries >= 1, 60, "the ingestor to hold its window")
            assert ingestor.consumer.window.high_water <= 20
        finally:
            await asyncio.to_thread(influxdb.start)
        await eventually(lambda: ingestor.stats.acked_messages >= len(batches) + 1, 120, "the backlog to drain")
    assert ingestor.consumer.window.high_water <= 22, "never more than the window unacknowledged"
    assert ingestor.consumer.window.paused > 0, "the broker did send beyond the window, and was held back"
    assert set(_stored(influxdb, influx_db)) == set(_expected(batches))


async def test_a_second_flush_is_written_while_the_first_waits_and_acknowledgements_keep_their_order(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher, tmp_path: Path
) -> None:
    """batch.max_in_flight 2: the first flush's write hangs; the second is written meanwhile, but
    nothing is acknowledged until the first is stored, and then both in the order they came."""
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = _batch(1, now - timedelta(seconds=30)), _batch(2, now - timedelta(seconds=20))
    config = _config(mosquitto, _v1(influxdb, influx_db), tmp_path / "ingest", f"ingest-{uuid.uuid4().hex[:8]}",
                     batch={"max_delay_s": 0.05, "max_lines": 4, "max_in_flight": 2})
    release = asyncio.Event()
    started: list[int] = []
    finished: list[int] = []

    class Slow(InfluxV1Writer):
        """The real writer; the first readings request waits until the test releases it."""

        async def write(self, lines: Sequence[str] | bytes) -> None:
            if isinstance(lines, bytes) and lines.startswith(b"readings,"):
                number = len(started) + 1
                started.append(number)
                if number == 1:
                    await release.wait()
                await super().write(lines)
                finished.append(number)
                return
            await super().write(lines)

    writer = Slow(influxdb.url, influx_db)
    ingestor = Ingestor(config, writer=writer)
    acked: list[int] = []
    ack = ingestor.consumer.ack

    def noting(deliveries: Any) -> tuple[int, int]:
        deliveries = list(deliveries)
        acked.extend(orjson.loads(d.payload)["seq"] for d in deliveries)
        return ack(deliveries)

    ingestor.consumer.ack = noting  # type: ignore[method-assign]
    try:
        async with running(ingestor):
            await asyncio.to_thread(publisher.publish, orjson.dumps(first))
            await eventually(lambda: started == [1], 20, "the first flush's write to start")
            await asyncio.to_thread(publisher.publish, orjson.dumps(second))
            await eventually(lambda: finished == [2], 20, "the second flush to be stored while the first waits")
            stored = {key for key in _stored(influxdb, influx_db)}
            assert stored == set(_expected([second]))
            await asyncio.sleep(0.3)
            assert acked == [] and ingestor.stats.acked_messages == 0, "acknowledged before the first flush was stored"
            release.set()
            await eventually(lambda: ingestor.stats.acked_messages == 2, 20, "both messages to be acknowledged")
    finally:
        await writer.close()
    assert finished == [2, 1] and acked == [1, 2]
    assert set(_stored(influxdb, influx_db)) == set(_expected([first, second]))
    assert ingestor.stats.readings_written == 8 and ingestor.stats.flushes == 2
