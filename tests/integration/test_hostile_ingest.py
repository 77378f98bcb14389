"""The hostile corpus through the real ingestor process, Mosquitto and InfluxDB, between valid messages.

`greenwire ingest run` must stay up through every case, reject each bad one with
the reason the corpus names, count it (``ingest_rejected``) and keep it (the
JSON-lines store, health payloads withheld), and store every valid message
around them, exactly.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from greenwire.cloud.ingest.points import timestamp_ns
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.shared.wire import ReadingsBatch, format_ts
from tests.hostile import corpus
from tests.integration.test_ingest import Publisher
from tests.integration.test_ingest_process import _config_file, _start, _subscribed_count, _wait

pytestmark = pytest.mark.integration

TOPIC = "greenwire/v1/hostile/gw-01/readings"


def _valid(seq: int, now: datetime) -> bytes:
    return orjson.dumps({
        "schema": "greenwire.readings.v1", "gateway": "gw-01", "seq": 10_000 + seq, "sent_at": format_ts(now),
        "readings": [{"ts": format_ts(now - timedelta(seconds=200 - seq, milliseconds=k * 100)), "device": "ok",
                      "values": {"active_power_w": seq + k / 10, "energy_import_kwh": 1e5 + seq}} for k in range(3)],
    })


def _readings(payload: bytes) -> dict[tuple[str, int], dict[str, float]]:
    batch = ReadingsBatch.model_validate_json(payload)
    return {(r.device, timestamp_ns(r.ts)): dict(r.values) for r in batch.readings}


def test_every_hostile_message_is_rejected_with_its_reason_and_the_valid_ones_are_stored(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    cases = corpus()
    config = _config_file(tmp_path / "ingest.yaml", mosquitto, influxdb.url, influx_db)
    log = tmp_path / "ingest.log"
    ingest = _start(processes, log, "ingest", "run", "--config", str(config))
    _wait(lambda: _subscribed_count(log) >= 1, 60, "the ingestor to subscribe", log)
    time.sleep(0.2)

    now = datetime.now(UTC).replace(microsecond=0)
    expected: dict[tuple[str, int], dict[str, float]] = {}
    reasons: list[str] = []
    sizes: list[int] = []
    publisher = Publisher(mosquitto)
    try:
        for index, (entry, payload) in enumerate(cases):
            valid = _valid(index, now)
            publisher.publish(valid, TOPIC)
            expected.update(_readings(valid))
            publisher.publish(payload, entry["topic"])
            if entry["expect"] == "accepted":
                expected.update(_readings(payload))
            else:
                reasons.append(entry["expect"])
                sizes.append(len(payload))
            assert ingest.poll() is None, f"the ingestor died on {entry['name']}"
        publisher.publish(_valid(len(cases), now), TOPIC)
        expected.update(_readings(_valid(len(cases), now)))
    finally:
        publisher.close()

    def kept() -> list[dict[str, object]]:
        # Complete lines only: the running ingestor may be part-way through appending one.
        return [orjson.loads(line) for f in sorted((tmp_path / "state").glob("rejected-*.jsonl"))
                for line in f.read_bytes().split(b"\n")[:-1]]

    def stored() -> dict[tuple[str, int], dict[str, object]]:
        return {(r["device"], r["time"]): r for r in influxdb.query(influx_db, 'SELECT * FROM "readings"')}

    _wait(lambda: len(kept()) >= len(reasons) and len(stored()) >= len(expected), 120,
          "every message to be stored or rejected", log)
    time.sleep(0.5)
    assert ingest.poll() is None, "the ingestor is still running"
    ingest.send_signal(signal.SIGTERM)
    assert ingest.wait(30) == 0

    rows = stored()
    assert set(rows) == set(expected), "every valid reading and nothing else"
    for key, values in expected.items():
        assert {q: rows[key][q] for q in values} == values, key
    records = kept()
    assert [r["reason"] for r in records] == reasons, "each rejected with its reason, in order"
    assert [r["size"] for r in records] == sizes, "with its size as received (big ones are kept cut)"
    assert all(r["truncated"] == (r["size"] > 64 * 1024) for r in records)
    counted = influxdb.query(influx_db, 'SELECT count("bytes") FROM "ingest_rejected" GROUP BY "reason"')
    assert {row["reason"]: row["count"] for row in counted} == dict(Counter(reasons))
    # Health data is never kept: the pseudonym in the corpus is in no rejected record and no log line.
    store_text = b"".join(f.read_bytes() for f in (tmp_path / "state").glob("rejected-*.jsonl"))
    assert b"p-7f3a9c" not in store_text
    assert "p-7f3a9c" not in log.read_text()
    withheld = [r for r in records if r["payload_encoding"] == "withheld"]
    assert len(withheld) == 2 and all(r["payload"] is None and r["payload_sha256"] for r in withheld)
    assert "Traceback" not in log.read_text()
