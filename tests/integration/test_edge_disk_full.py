"""The gateway's disk fills up while the broker is away: polling goes on, the status says so, nothing
the buffer stored is lost, and what memory held goes to the buffer once there is room again.

The full disk is SQLite's own: ``PRAGMA max_page_count`` caps the buffer file, and SQLite then
answers every write that needs a new page with SQLITE_FULL ("database or disk is full"), exactly
as on a full SD card. The broker is the real Mosquitto; there is no ingestor, so the agent falls
back to forgetting on PUBACK (``commit_wait_s: 0``), and those deletes free the pages it reuses.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import EdgeConfig
from greenwire.servers import Mosquitto
from greenwire.shared.errors import BufferFull
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from greenwire.transport.buffer import SqliteBuffer
from tests.helpers import eventually
from tests.integration.test_edge_publish import Subscriber

pytestmark = pytest.mark.integration

PAGES = 40
"""The buffer file's cap in 4 KiB pages: a few dozen batches of the meter's readings."""


class JournaledBuffer(SqliteBuffer):
    """The real buffer, capped, remembering every batch it stored (the readings "in")."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._db.execute(f"PRAGMA max_page_count = {PAGES}")
        self.stored: dict[int, bytes] = {}
        self.refused = 0

    def append(self, readings_json: bytes, count: int, first_ts_ms: int) -> int:
        try:
            seq = super().append(readings_json, count, first_ts_ms)
        except BufferFull:
            self.refused += 1
            raise
        self.stored[seq] = readings_json
        return seq


def test_a_capped_buffer_refuses_whole_batches_and_takes_them_again_once_pages_are_free(tmp_path: Path) -> None:
    buffer = JournaledBuffer(tmp_path / "b.sqlite")
    try:
        seqs = []
        with pytest.raises(BufferFull, match="full"):
            for i in range(10_000):
                seqs.append(buffer.append(b"[" + b"1," * 500 + b"1]", 1, i))
        depth = buffer.depth_batches
        assert depth == len(seqs) == len(buffer.stored) and buffer.depth_readings == len(seqs)
        with sqlite3.connect(tmp_path / "b.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM batches").fetchone()[0] == depth, "counts match the file"
        buffer.forget([(seqs[0], seqs[len(seqs) // 2])])
        assert buffer.append(b"[1]", 1, 0) > seqs[-1], "freed pages are reused"
    finally:
        buffer.close()


async def test_polling_goes_on_with_a_full_disk_and_nothing_stored_is_lost(mosquitto: Mosquitto, tmp_path: Path) -> None:
    replay = Replay(builtin_series("b25"), start=datetime(2022, 5, 1, tzinfo=UTC), speed=60)
    subscriber = Subscriber(mosquitto.host, mosquitto.port, "greenwire/v1/campus-f/gw-full/readings")
    buffer = JournaledBuffer(tmp_path / "buffer.sqlite")
    try:
        async with MeterServer(meters=[SimMeter(1, replay), SimMeter(2, replay)]) as server:
            config = EdgeConfig.model_validate({
                "gateway": "gw-full", "site": "campus-f", "mqtt": {"url": mosquitto.url},
                "buffer": {"path": str(tmp_path / "buffer.sqlite")},
                "publish": {"interval_s": 0.1, "max_batch_readings": 5, "commit_wait_s": 0},
                "buses": [{"name": "b", "host": "127.0.0.1", "port": server.port, "timeout_s": 0.05, "devices": [
                    {"id": f"m{u}", "unit": u, "profile": "eastron-sdm630", "poll_interval_s": 0.25}
                    for u in (1, 2)]}],
            })
            await asyncio.to_thread(mosquitto.stop)
            agent = EdgeAgent(config, broker_settings(config), buffer=buffer)
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            try:
                await eventually(lambda: agent.buffer_error is not None, 60, "the buffer to fill up")
                reads = sum(d.reads for d in agent.snapshot().devices)
                await eventually(lambda: sum(d.reads for d in agent.snapshot().devices) > reads + 10, 20,
                                 "polling to go on with the disk full")
                health = await agent.health()
                assert "full" in str(health["buffer_error"]), "the status says why"
                await asyncio.to_thread(mosquitto.start)
                await eventually(lambda: agent.buffer_error is None, 60, "the buffer to take readings again")
                await eventually(lambda: buffer.depth_batches == 0, 60, "the buffer to drain")
            finally:
                stop.set()
                await task
        assert buffer.refused > 0
        stored = {(r["device"], r["ts"]) for raw in buffer.stored.values() for r in orjson.loads(raw)}
        await eventually(lambda: stored <= _sent(subscriber), 30, "every stored reading at the broker")
        assert stored <= _sent(subscriber), "a reading the buffer had stored never reached the broker"
        print(f"{len(stored)} readings stored, {buffer.refused} writes refused by the full disk, "
              f"{agent.unbuffered_dropped} readings dropped from memory")
    finally:
        subscriber.close()
        buffer.close()


def _sent(subscriber: Subscriber) -> set[tuple[str, str]]:
    return {(r["device"], r["ts"]) for _, payload, _ in list(subscriber.messages) if payload
            for r in orjson.loads(payload)["readings"]}
