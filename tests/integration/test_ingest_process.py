"""`greenwire ingest run` and `greenwire ingest check` as processes, against real Mosquitto and InfluxDB.

The hard case: the ingestor is killed (SIGKILL, no goodbye) while it holds
messages it could not store because InfluxDB was down, and more messages
arrive while it is dead. With its persistent session and the same client id,
every reading is in InfluxDB after it comes back, and nothing was
acknowledged before it was stored.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from greenwire.servers import InfluxDB1, Mosquitto, free_port
from tests.helpers import GREENWIRE
from tests.integration.test_ingest import Publisher, _batch, _expected, _stored

pytestmark = pytest.mark.integration

@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[Publisher]:
    client = Publisher(mosquitto)
    yield client
    client.close()


def _config_file(path: Path, mosquitto: Mosquitto, influx_url: str, db: str) -> Path:
    path.write_text(
        f"""\
mqtt:
  url: {mosquitto.url}
  client_id: ingest-proc-{uuid.uuid4().hex[:8]}
  group: g{uuid.uuid4().hex[:8]}
influx:
  api: v1
  url: {influx_url}
  database: {db}
  timeout_s: 2
batch:
  max_delay_s: 0.1
state_dir: {path.parent / "state"}
"""
    )
    return path


def _start(started: list[subprocess.Popen[bytes]], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen([*GREENWIRE, *args], stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    started.append(process)
    return process


def _wait(predicate: Callable[[], object], within_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _subscribed_count(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("subscribed: ") + text.count("connected to the broker again")


def test_sigkill_while_influxdb_is_down_loses_nothing(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, publisher: Publisher,
    processes: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    batches = [_batch(seq, now - timedelta(seconds=100 - seq)) for seq in range(1, 11)]
    config = _config_file(tmp_path / "ingest.yaml", mosquitto, influxdb.url, influx_db)
    log = tmp_path / "ingest.log"

    first = _start(processes, log, "ingest", "run", "--config", str(config))
    _wait(lambda: _subscribed_count(log) >= 1, 60, "the ingestor to subscribe", log)
    for batch in batches[:2]:
        publisher.publish(orjson.dumps(batch))
    _wait(lambda: len(_stored(influxdb, influx_db)) == 8, 60, "the first two batches in InfluxDB", log)

    influxdb.stop()
    try:
        for batch in batches[2:6]:  # taken by the ingestor, not storable, so not acknowledged
            publisher.publish(orjson.dumps(batch))
        _wait(lambda: "messages kept unacknowledged, retrying" in log.read_text(errors="replace"), 60,
              "the ingestor to hold the messages", log)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        for batch in batches[6:]:  # the ingestor is dead: its persistent session queues these
            publisher.publish(orjson.dumps(batch))
    finally:
        influxdb.start()

    second = _start(processes, log, "ingest", "run", "--config", str(config))
    _wait(lambda: len(_stored(influxdb, influx_db)) == 4 * len(batches), 120, "every reading in InfluxDB", log)
    second.send_signal(signal.SIGTERM)
    assert second.wait(20) == 0, "clean exit on SIGTERM"

    stored = _stored(influxdb, influx_db)
    expected = _expected(batches)
    assert set(stored) == set(expected)
    for key, values in expected.items():
        assert {q: stored[key][q] for q in values} == values, key
    assert not list((tmp_path / "state").glob("rejected-*.jsonl")), "nothing was rejected"


def test_check_reports_config_broker_and_influxdb(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path
) -> None:
    good = _config_file(tmp_path / "good.yaml", mosquitto, influxdb.url, influx_db)
    done = subprocess.run([*GREENWIRE, "ingest", "check", "--config", str(good), "--json"],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    assert result["ok"] is True and result["broker"]["ok"] is True and result["influx"]["ok"] is True
    assert result["config"]["influx"]["target"] == f"InfluxDB v1 {influxdb.url} database {influx_db}"

    dead = _config_file(tmp_path / "dead.yaml", mosquitto, f"http://127.0.0.1:{free_port()}", influx_db)
    done = subprocess.run([*GREENWIRE, "ingest", "check", "--config", str(dead)],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 1
    assert b"broker: OK" in done.stdout and b"influx: FAILED" in done.stdout

    broken = tmp_path / "broken.yaml"
    broken.write_text(good.read_text().replace("api: v1", "api: v9"))
    done = subprocess.run([*GREENWIRE, "ingest", "check", "--config", str(broken)],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.decode().startswith(f"error: {broken}:6:3: influx.api")


