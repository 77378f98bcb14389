"""End-to-end latency at a steady rate: from a reading's ``ts`` (meter read) to visible in InfluxDB.

``BENCH_LATENCY_GATEWAYS`` gateways (100) of ``BENCH_LATENCY_METERS`` meters (100)
poll every second: 10,000 readings/s. The gateways' poll cycles are staggered
evenly, so a message of 100 readings leaves every 10 ms, each reading stamped
with its slot's read time and published at once (a gateway publishes a poll
cycle's readings when the cycle ends; its publish window, at most the poll
interval, comes on top of what is measured here).

The last reading of every message is from a probe device. A poller asks
InfluxDB every 25 ms for the probe's points per 10 ms slot (a query over
100 small series, cheap enough not to load the database it measures). The
ingestor writes a message's lines in order within one request, so when the
probe is visible the whole message is. A slot's latency is the wall-clock
time of the answer that first shows it minus the slot's read time: an upper
bound; the time the query was sent gives a lower bound (both reported).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    IngestProcess,
    batch_payload,
    env_float,
    env_int,
    ingest_config,
    reading,
    wait_subscribed,
)

POLL_S = 0.025
PROBE_DEVICE = "latency-probe"


def _source(*, mode: str, start_ms: int, seconds: float, gateways: int, meters: int, mqtt_host: str,
            mqtt_port: int, influx_url: str, database: str, max_delay_s: float) -> dict[str, Any]:
    """The gateways: one message per slot from ``start_ms`` for ``seconds`` (runs in its own process).

    ``mode`` "pipeline" publishes to the broker at QoS 1; "direct" batches the
    lines as the ingestor does and POSTs them to InfluxDB itself.
    """
    import paho.mqtt.client as mqtt

    slot_ms = 1000 // gateways
    slots = int(seconds * 1000 / slot_ms)
    pending: list[str] = []
    pending_since = [0.0]
    lock = threading.Lock()
    done = threading.Event()
    late_ms: list[float] = []

    def direct_writer() -> None:
        with httpx.Client(base_url=influx_url, timeout=30) as http:
            while not done.is_set() or pending:
                with lock:
                    due = pending and (len(pending) >= 5000 or time.monotonic() - pending_since[0] >= max_delay_s)
                    batch = pending[:] if due else []
                    if due:
                        pending.clear()
                if not batch:
                    time.sleep(0.002)
                    continue
                response = http.post("/write", params={"db": database, "precision": "ns"},
                                     content="\n".join(batch).encode())
                if response.status_code != 204:
                    raise RuntimeError(f"InfluxDB refused: {response.status_code} {response.text}")

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-latency-{mode}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    writer = threading.Thread(target=direct_writer, name="bench-latency-direct")
    if mode == "pipeline":
        client.connect(mqtt_host, mqtt_port)
        client.loop_start()
    else:
        writer.start()
    seqs = [0] * gateways
    try:
        for slot in range(slots):
            ts_ms = start_ms + slot * slot_ms
            delay = ts_ms / 1000 - time.time()
            if delay > 0:
                time.sleep(delay)
            late_ms.append(max(0.0, time.time() * 1000 - ts_ms))
            # One gateway's poll cycle: all its meters read at ts; the last one is the probe.
            g = slot % gateways
            cycle = slot // gateways
            readings = [reading(g * meters + m, ts_ms, cycle) for m in range(meters - 1)]
            readings.append({**reading(g * meters + meters - 1, ts_ms, cycle), "device": PROBE_DEVICE})
            gw = f"gw-{g:03d}"
            seqs[g] += 1
            if mode == "pipeline":
                client.publish(f"greenwire/v1/bench/{gw}/readings",
                               batch_payload(gw, seqs[g], readings, ts_ms), qos=1)
                continue
            lines = [
                f"readings,device={r['device']},gateway={gw},site=bench "
                + ",".join(f"{k}={v}" for k, v in r["values"].items())
                + f',quality="good" {ts_ms * 1_000_000}'
                for r in readings
            ]
            with lock:
                if not pending:
                    pending_since[0] = time.monotonic()
                pending.extend(lines)
    finally:
        done.set()
        if mode == "pipeline":
            time.sleep(0.5)
            client.disconnect()
            client.loop_stop()
        else:
            writer.join()
    late_ms.sort()
    return {"slots": slots, "late_p99_ms": round(late_ms[int(0.99 * len(late_ms))], 1) if late_ms else None}


def run(broker: Any, influx: Any, work: Path, *, max_delay_s: float | None = None,
        profile: Path | None = None, direct: bool = False) -> dict[str, Any]:
    """Run the steady load for ``BENCH_LATENCY_SECONDS`` and return p50/p99 and their context.

    The gateways run in a process of their own (``python -m bench.latency``),
    so that their work does not delay the poller's and neither shares a GIL.

    ``direct``: the limit. No broker and no ingestor: the gateways' process
    batches the same readings exactly as the ingestor does (a flush when it
    holds 5,000 lines or its first reading has waited ``max_delay_s``) and
    POSTs them to InfluxDB, so the same poller measures only batching and the
    database under the same load.
    """
    if max_delay_s is None:
        max_delay_s = _default_max_delay()
    gateways = env_int("BENCH_LATENCY_GATEWAYS", 100, 100)
    meters = env_int("BENCH_LATENCY_METERS", 100, 100)
    seconds = env_float("BENCH_LATENCY_SECONDS", 30, 10)
    warmup_s = 3.0
    database = "bench_latency_direct" if direct else "bench_latency"
    influx.create_database(database)
    proc = None
    if not direct:
        config = ingest_config(work / "ingest-latency.yaml", mqtt_url=broker.url, influx_url=influx.url,
                               database=database, client_id="bench-latency",
                               state_dir=work / "state-latency", max_delay_s=max_delay_s)
        proc = IngestProcess(config, work / "ingest-latency.log", profile=profile)
    slot_ms = 1000 // gateways  # the gateways' poll cycles, staggered evenly over the second
    visible: dict[int, float] = {}
    visible_from: dict[int, float] = {}  # when the query that saw it was sent (lower bound)
    query_ms: list[float] = []
    try:
        if proc is not None:
            wait_subscribed(broker.host, broker.port, "greenwire/v1/bench/PROBE/readings")
            proc.start_profile()
        start_ms = (int(time.time() * 1000) // 1000 + 2) * 1000  # the source process starts first
        total_s = seconds + warmup_s
        slots = int(total_s * 1000 / slot_ms)
        end_ms = start_ms + slots * slot_ms
        spec = {"mode": "direct" if direct else "pipeline", "start_ms": start_ms, "seconds": total_s,
                "gateways": gateways, "meters": meters,
                "mqtt_host": broker.host if broker is not None else "", "mqtt_port": broker.port if broker else 0,
                "influx_url": influx.url, "database": database, "max_delay_s": max_delay_s}
        source = subprocess.Popen([sys.executable, "-m", "bench.latency", json.dumps(spec)],
                                  stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent)
        oldest = start_ms  # the oldest slot not yet visible: the query starts there, small and cheap
        with httpx.Client(base_url=influx.url, timeout=10) as http:
            while oldest < end_ms and time.time() * 1000 < end_ms + 15_000:
                q = (f"SELECT count(\"active_power_w\") FROM readings WHERE device = '{PROBE_DEVICE}' "
                     f"AND time >= {oldest}ms GROUP BY time({slot_ms}ms) fill(none)")
                asked = time.time()
                body = http.get("/query", params={"db": database, "q": q, "epoch": "ms"}).json()
                now = time.time()
                query_ms.append((now - asked) * 1000)
                for series in body["results"][0].get("series", []):
                    for ts_ms, count in series["values"]:
                        if count >= 1 and ts_ms not in visible and start_ms <= ts_ms < end_ms:
                            visible[ts_ms] = now
                            visible_from[ts_ms] = asked
                while oldest < end_ms and oldest in visible:
                    oldest += slot_ms
                time.sleep(POLL_S)
        out, _ = source.communicate(timeout=60)
        produced = json.loads(out)
    finally:
        if proc is not None:
            proc.stop()
    measured = [start_ms + k * slot_ms for k in range(slots) if start_ms + k * slot_ms >= start_ms + warmup_s * 1000]
    latencies = sorted((visible[ts] * 1000 - ts) for ts in measured if ts in visible)
    lower = sorted((visible_from[ts] * 1000 - ts) for ts in measured if ts in visible)
    missing = sum(1 for ts in measured if ts not in visible)

    def pct(values: list[float], p: float) -> float | None:
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 1) if values else None

    return {
        "readings_per_s_offered": round(meters * 1000 / slot_ms),
        "seconds_measured": round(seconds, 1),
        "slots_measured": len(measured),
        "slots_not_visible": missing,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "p50_lower_bound_ms": pct(lower, 50),
        "p99_lower_bound_ms": pct(lower, 99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "publisher_late_p99_ms": produced["late_p99_ms"],
        "poll_period_ms": POLL_S * 1000,
        "query_p50_ms": round(statistics.median(query_ms), 1) if query_ms else None,
        "ingest_max_delay_s": max_delay_s,
        "mode": "direct" if direct else "pipeline",
    }


def _default_max_delay() -> float:
    from greenwire.cloud.ingest.config import BatchSection

    return BatchSection().max_delay_s


def write_floor(influx: Any, lines_per_write: int, writes: int = 40) -> dict[str, Any]:
    """The database's own round trip for one flush of this size: sequential writes, p50/p99."""
    from bench.common import T0_MS

    database = "bench_write_floor"
    influx.create_database(database)
    durations = []
    with httpx.Client(base_url=influx.url, timeout=30) as http:
        for w in range(writes):
            ts = (T0_MS + w * 1000) * 1_000_000
            body = "\n".join(
                f"readings,device=m{i:04d},gateway=gw-floor,site=bench active_power_w={48000 + i}.5,"
                f"energy_import_kwh={180000 + w}.25,voltage_l1_v=230.1,current_l1_a=69.8,quality=\"good\" {ts}"
                for i in range(lines_per_write)
            ).encode()
            started = time.perf_counter()
            response = http.post("/write", params={"db": database, "precision": "ns"}, content=body)
            durations.append((time.perf_counter() - started) * 1000)
            if response.status_code != 204:
                raise RuntimeError(f"InfluxDB refused: {response.status_code} {response.text}")
    durations.sort()
    return {"lines_per_write": lines_per_write, "writes": writes,
            "p50_ms": round(durations[len(durations) // 2], 1),
            "p99_ms": round(durations[min(len(durations) - 1, int(0.99 * len(durations)))], 1)}


if __name__ == "__main__":
    print(json.dumps(_source(**json.loads(sys.argv[1]))))
