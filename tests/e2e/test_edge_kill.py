"""SIGKILL the edge agent while the broker is down: every reading it had stored reaches InfluxDB once.

The agent runs as its own process (`greenwire edge run`). With the broker
stopped it keeps polling into its SQLite buffer; it is killed with SIGKILL;
the test reads the buffer file it left (the readings it had committed), starts
the broker and a new agent on the same buffer, and requires InfluxDB to hold
every one of those readings, exactly once, with the values that were stored.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from greenwire.transport.buffer import SqliteBuffer
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


def _stored(path: Path) -> dict[tuple[str, int], dict[str, float]]:
    """Every reading in the buffer file, by (device, ns timestamp)."""
    buffer = SqliteBuffer(path)
    try:
        out = {}
        for batch in buffer.peek(1_000_000):
            for reading in orjson.loads(batch.readings_json):
                at = datetime.fromisoformat(reading["ts"].replace("Z", "+00:00"))
                out[(reading["device"], int(at.timestamp()) * 10**9 + at.microsecond * 1000)] = reading["values"]
        return out
    finally:
        buffer.close()


def _agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "greenwire", "edge", "run", str(config)], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


async def test_sigkill_during_an_outage_loses_no_stored_reading(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    replay = Replay(builtin_series("b25"), start=datetime(2022, 2, 1, tzinfo=UTC), speed=60)
    buffer_path = tmp_path / "buffer.sqlite"
    ingestor = Ingestor(
        IngestConfig.model_validate(
            {
                "mqtt": {"url": mosquitto.url, "client_id": f"ingest-kill-{influx_db}", "group": f"g{influx_db}"},
                "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
                "batch": {"max_delay_s": 0.1},
                "state_dir": str(tmp_path / "ingest"),
            }
        )
    )
    stop_ingest = asyncio.Event()
    log = tmp_path / "edge.log"
    async with MeterServer(meters=[SimMeter(1, replay), SimMeter(2, replay)]) as server:
        config = tmp_path / "edge.yaml"
        config.write_text(
            f"""gateway: gw-kill
site: campus-k
mqtt: {{url: "{mosquitto.url}"}}
buffer: {{path: "{buffer_path}"}}
publish: {{interval_s: 0.2}}
buses:
  - name: plant-room
    host: 127.0.0.1
    port: {server.port}
    timeout_s: 0.1
    devices:
      - {{id: m1, unit: 1, profile: eastron-sdm630, poll_interval_s: 0.25, max_power_kw: 1000000}}
      - {{id: m2, unit: 2, profile: eastron-sdm630, poll_interval_s: 0.25, max_power_kw: 1000000}}
"""
        )
        ingest_task = asyncio.create_task(ingestor.run(stop_ingest))
        await asyncio.to_thread(mosquitto.stop)
        try:
            first = _agent(config, log)
            # Polling with no broker: the readings pile up in the buffer file.
            await eventually(lambda: buffer_path.exists() and len(_stored(buffer_path)) >= 40, 30, "40 buffered readings")
            first.send_signal(signal.SIGKILL)
            assert first.wait(10) == -signal.SIGKILL
            kept = _stored(buffer_path)
        finally:
            await asyncio.to_thread(mosquitto.start)
        second = _agent(config, log)
        try:
            await eventually(lambda: len(_stored(buffer_path)) == 0, 30, "the backlog to drain")
            await eventually(lambda: ingestor.stats.readings_written >= len(kept), 30, "the ingestor to store it")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
            await asyncio.sleep(0.5)
            stop_ingest.set()
            await ingest_task

    rows = influxdb.query(influx_db, 'SELECT * FROM "readings"')
    stored = {(r["device"], r["time"]): r for r in rows}
    assert len(kept) >= 40
    missing = [key for key in kept if key not in stored]
    assert not missing, f"{len(missing)} of {len(kept)} stored readings never arrived"
    for key, values in kept.items():
        assert all(stored[key][q] == v for q, v in values.items()), key
    assert len(stored) == len(rows), "no reading twice"
    assert ingestor.stats.rejected_total == 0
    assert "Traceback" not in log.read_text()


async def test_sigkill_while_publishing_loses_nothing_it_had_stored(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    """Broker up, readings flowing: SIGKILL the agent mid-stream, start it again on the same buffer.

    Every reading in the buffer at the kill reaches InfluxDB; per device, the only hole in
    the stored series is the time the agent was dead (plus at most one batching window of
    readings it had read but not yet written, which is the documented price of not
    fsyncing every reading on an SD card).
    """
    replay = Replay(builtin_series("b85"), start=datetime(2022, 3, 1, tzinfo=UTC), speed=60)
    buffer_path = tmp_path / "buffer.sqlite"
    ingestor = Ingestor(
        IngestConfig.model_validate(
            {
                "mqtt": {"url": mosquitto.url, "client_id": f"ingest-kill2-{influx_db}", "group": f"h{influx_db}"},
                "influx": {"api": "v1", "url": influxdb.url, "database": influx_db},
                "batch": {"max_delay_s": 0.1},
                "state_dir": str(tmp_path / "ingest"),
            }
        )
    )
    stop_ingest = asyncio.Event()
    ingest_task = asyncio.create_task(ingestor.run(stop_ingest))
    log = tmp_path / "edge.log"

    def stored() -> list[dict[str, object]]:
        return influxdb.query(influx_db, 'SELECT "energy_import_kwh", "device" FROM "readings"')

    async with MeterServer(meters=[SimMeter(1, replay), SimMeter(2, replay)]) as server:
        config = tmp_path / "edge.yaml"
        config.write_text(
            f"""gateway: gw-kill2
site: campus-k
mqtt: {{url: "{mosquitto.url}"}}
buffer: {{path: "{buffer_path}"}}
publish: {{interval_s: 0.2}}
buses:
  - name: plant-room
    host: 127.0.0.1
    port: {server.port}
    timeout_s: 0.1
    devices:
      - {{id: m1, unit: 1, profile: eastron-sdm630, poll_interval_s: 0.25, max_power_kw: 1000000}}
      - {{id: m2, unit: 2, profile: eastron-sdm630, poll_interval_s: 0.25, max_power_kw: 1000000}}
"""
        )
        first = _agent(config, log)
        await eventually(lambda: len(stored()) >= 30, 60, "readings flowing into InfluxDB", every_s=0.2,
                         in_thread=True)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        killed_at = time.time()
        kept = _stored(buffer_path)
        second = _agent(config, log)
        try:
            def all_kept() -> bool:
                keys = {(r["device"], r["time"]) for r in stored()}  # one query, not one per reading
                return all(key in keys for key in kept)

            await eventually(all_kept, 60, "the readings the killed agent had stored", every_s=0.2, in_thread=True)
            await asyncio.sleep(1.5)  # some live readings after the restart too
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
        # A clean stop publishes everything and waits briefly for the commits; a batch whose commit
        # came after the agent left stays in the buffer (sent again at the next start), and is stored.
        left = _stored(buffer_path)
        await eventually(lambda: set(left) <= {(r["device"], r["time"]) for r in stored()}, 10,
                         "what the stopped agent still keeps to be in InfluxDB", every_s=0.2, in_thread=True)
        await asyncio.sleep(0.5)
        stop_ingest.set()
        await ingest_task

    rows = stored()
    for device in ("m1", "m2"):
        times = sorted(r["time"] / 1e9 for r in rows if r["device"] == device)  # type: ignore[operator]
        gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a > 0.6]
        assert len(gaps) <= 1, f"{device}: holes at {gaps}"
        for a, b in gaps:
            assert a - 1.0 <= killed_at <= b, "the one hole is the time the agent was dead"
        assert times[-1] > killed_at, "live readings after the restart"
    assert ingestor.stats.rejected_total == 0
    assert "Traceback" not in log.read_text()
