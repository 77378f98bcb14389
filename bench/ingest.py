"""Ingest throughput beside InfluxDB's own write rate, and scale-out on a shared subscription.

The same readings (``BENCH_READINGS``, 200,000 by default, 4-8 quantities
each) go to InfluxDB twice, each time into a fresh database:

1. **direct**: encoded to line protocol beforehand (not timed), then POSTed
   to ``/write`` in 5,000-line requests, one after another on one connection.
   That is what the database itself takes on this machine right now: the
   limit the pipeline is measured against.
2. **pipeline**: published as ``greenwire.readings.v1`` messages (QoS 1) to
   Mosquitto, taken by real ``greenwire ingest run`` processes (validate,
   encode, write, PUBACK) and timed until a ``count()`` query sees every
   point. Once with one ingestor, once with two in one shared-subscription
   group.

Each run also reports the CPU seconds the ingestors and InfluxDB spent, so
the capacity model can speak of readings per CPU-second rather than of this
machine's noisy wall clock.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    IngestProcess,
    Message,
    cpu_seconds,
    env_int,
    fleet_messages,
    influx_count,
    ingest_config,
    publish_all,
    wait_count,
    wait_subscribed,
)

DIRECT_BATCH_LINES = 5000
POLL_S = 0.05


def workload() -> list[Message]:
    """The readings every throughput run uses."""
    total = env_int("BENCH_READINGS", 200_000, 50_000)
    per_message = env_int("BENCH_READINGS_PER_MESSAGE", 100, 100)
    return fleet_messages(total, gateways=20, per_message=per_message)


def encode_lines(messages: list[Message]) -> list[str]:
    """The exact lines the ingestor would write for these messages (no building lookup)."""
    from datetime import UTC, datetime

    from greenwire.cloud.ingest.points import PointEncoder
    from greenwire.cloud.ingest.validate import Accepted, validate_message

    class Limits:
        max_payload_bytes = 1 << 30
        max_future_s = 300.0

    encoder = PointEncoder()
    now = datetime.now(UTC)
    lines: list[str] = []
    for message in messages:
        outcome = validate_message(message.topic, message.payload, now=now, limits=Limits())
        assert isinstance(outcome, Accepted), outcome
        lines += encoder.lines(outcome.site, outcome.gateway, outcome.batch)
    return lines


def direct(influx: Any, database: str, lines: list[str]) -> dict[str, Any]:
    """POST the lines in 5,000-line requests on one connection; the database's own rate."""
    influx.create_database(database)
    bodies = ["\n".join(lines[i : i + DIRECT_BATCH_LINES]).encode()
              for i in range(0, len(lines), DIRECT_BATCH_LINES)]
    influx_cpu0 = cpu_seconds(influx.pid)
    with httpx.Client(base_url=influx.url, timeout=60) as client:
        start = time.monotonic()
        for body in bodies:
            response = client.post("/write", params={"db": database, "precision": "ns"}, content=body)
            if response.status_code != 204:
                raise RuntimeError(f"InfluxDB refused a direct write: {response.status_code} {response.text}")
        elapsed = time.monotonic() - start
    influx_cpu = cpu_seconds(influx.pid) - influx_cpu0
    visible = influx_count(influx.url, database)
    if visible != len(lines):
        raise RuntimeError(f"direct write: {visible} of {len(lines)} points visible")
    return {"readings": len(lines), "requests": len(bodies), "seconds": round(elapsed, 3),
            "readings_per_s": round(len(lines) / elapsed), "influx_cpu_s": round(influx_cpu, 2)}


def pipeline(broker: Any, influx: Any, database: str, messages: list[Message], *, ingestors: int,
             work: Path, tag: str, profile_dir: Path | None = None,
             max_delay_s: float | None = None, tail: tuple[str, int] | None = None) -> dict[str, Any]:
    """Publish the messages to the broker with ``ingestors`` ingestor processes running; time to visible."""
    influx.create_database(database)
    total = sum(m.readings for m in messages)
    procs = []
    for i in range(ingestors):
        config = ingest_config(
            work / f"ingest-{tag}-{i}.yaml", mqtt_url=broker.url, influx_url=influx.url,
            database=database, client_id=f"bench-{tag}-{i}", state_dir=work / f"state-{tag}-{i}",
            max_delay_s=max_delay_s,
        )
        profile = profile_dir / f"ingest-{tag}-{i}.txt" if profile_dir is not None else None
        procs.append(IngestProcess(config, work / f"ingest-{tag}-{i}.log", profile=profile))
    try:
        wait_subscribed(broker.host, broker.port, "greenwire/v1/bench/PROBE/readings")
        # Each ingestor must hold its own share of the subscription before the run starts.
        time.sleep(1.0)
        for proc in procs:
            proc.start_profile()
        pids = [p.pid for p in procs]
        cpu0 = [cpu_seconds(pid) for pid in pids]
        influx_cpu0 = cpu_seconds(influx.pid)
        start = time.monotonic()
        published: list[float] = []
        publisher = threading.Thread(
            target=lambda: published.append(publish_all(broker.host, broker.port, messages,
                                                        client_id=f"bench-pub-{tag}")),
            name="bench-publisher",
        )
        publisher.start()
        visible_at = wait_count(influx.url, database, total, timeout=600, poll_s=POLL_S, tail=tail)
        publisher.join()
        cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True)]
        influx_cpu = cpu_seconds(influx.pid) - influx_cpu0
        for proc in procs:
            proc.stop_profile()
    finally:
        for proc in procs:
            proc.stop()
    elapsed = visible_at - start
    return {
        "ingestors": ingestors,
        "readings": total,
        "messages": len(messages),
        "seconds": round(elapsed, 3),
        "publish_seconds": round(published[0] - start, 3) if published else None,
        "readings_per_s": round(total / elapsed),
        "ingest_cpu_s": [round(c, 2) for c in cpu],
        "ingest_readings_per_cpu_s": round(total / sum(cpu)) if sum(cpu) else None,
        "influx_cpu_s": round(influx_cpu, 2),
        "poll_resolution_s": POLL_S,
    }
