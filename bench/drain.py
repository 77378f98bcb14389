"""Backlog drain: a gateway comes back after an outage with 1,000,000 readings in its SQLite buffer.

The buffer file is filled through ``SqliteBuffer.append`` (batches of 500
readings, the default ``max_batch_readings``), as the agent's collector
would have filled it during the outage. Then a real ``greenwire edge run``
starts on that file, polling ``BENCH_DRAIN_LIVE_METERS`` simulated SDM630
meters every second while its publisher drains the backlog at QoS 1
(``max_inflight`` 16, the default) to Mosquitto. A subscriber counts
backlog and live readings as they arrive. No ingestor runs, so nothing commits: the agent
forgets on PUBACK (``commit_wait_s: 0``); ``bench.commit`` measures the drain through the
ingestor with and without commits.

The limit beside it: the broker's raw QoS 1 rate for the same messages from
a paho client with the same window of 16 unacknowledged messages, to the
same subscriber, measured in the same run.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import T0_MS, Message, cpu_seconds, env_int, reading

BATCH_READINGS = 500
INFLIGHT = 16


class Counter:
    """A QoS 1 subscriber on every gateway's readings: backlog and live readings as they arrive."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.lock = threading.Lock()
        self.backlog = 0
        self.live = 0
        self.first_at: float | None = None
        self.backlog_done_at: float | None = None
        self.expected_backlog = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-drain-sub",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe("greenwire/v1/+/+/readings", qos=1)
        self.client.loop_start()

    def reset(self, expected_backlog: int) -> None:
        with self.lock:
            self.backlog = self.live = 0
            self.first_at = self.backlog_done_at = None
            self.expected_backlog = expected_backlog

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        now = time.monotonic()
        # Counting keys in the bytes keeps this subscriber far cheaper than the publishers it
        # measures (a JSON parse per message would make it the bottleneck of the raw rate).
        payload = message.payload
        readings = payload.count(b'"device":')
        live = payload.count(b'"device":"live-')
        with self.lock:
            if self.first_at is None:
                self.first_at = now
            self.backlog += readings - live
            self.live += live
            if self.backlog >= self.expected_backlog and self.backlog_done_at is None:
                self.backlog_done_at = now

    def wait_backlog(self, timeout: float, progress: Any = None) -> float:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                done, seen = self.backlog_done_at, self.backlog
            if progress is not None:
                progress(seen)
            if done is not None:
                return done
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {seen} of {self.expected_backlog} backlog readings arrived")
            time.sleep(0.1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _backlog_batches(total: int) -> list[tuple[bytes, int, int]]:
    """(readings JSON, count, first ts ms) per stored batch: what the buffer holds after the outage."""
    batches = []
    step = 0
    meters = 100
    while step < total:
        count = min(BATCH_READINGS, total - step)
        readings = []
        for k in range(step, step + count):
            meter, cycle = k % meters, k // meters
            readings.append(reading(meter, T0_MS + cycle * 1000 + meter * 3, cycle))
        batches.append((orjson.dumps(readings), count, T0_MS + (step // meters) * 1000))
        step += count
    return batches


def raw_broker_rate(broker: Any, counter: Counter, messages: list[Message], *,
                    inflight: int = INFLIGHT) -> dict[str, Any]:
    """The payloads published by paho with a window of ``inflight``: the broker's QoS 1 rate here."""
    import paho.mqtt.client as mqtt

    total = sum(m.readings for m in messages)
    counter.reset(total)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-drain-raw", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        start = time.monotonic()
        infos = [client.publish(m.topic, m.payload, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(120)
        done = counter.wait_backlog(300)
    finally:
        client.disconnect()
        client.loop_stop()
    return {"readings": total, "messages": len(messages), "seconds": round(done - start, 3),
            "readings_per_s": round(total / (done - start)),
            "messages_per_s": round(len(messages) / (done - start)), "inflight": inflight}


def run(broker: Any, work: Path, progress: Any = None) -> dict[str, Any]:
    """Fill a buffer, run the agent on it with live meters, time the drain; then the broker's raw rate."""
    from datetime import UTC, datetime

    from greenwire.servers import free_port
    from greenwire.transport.buffer import SqliteBuffer, StoredBatch
    from greenwire.transport.publisher import encode_batch

    total = env_int("BENCH_DRAIN_READINGS", 1_000_000, 200_000)
    live_meters = env_int("BENCH_DRAIN_LIVE_METERS", 20, 10)
    path = work / "drain-buffer.sqlite"
    batches = _backlog_batches(total)
    buffer = SqliteBuffer(path, max_readings=max(5_000_000, total * 2))
    fill_start = time.monotonic()
    for readings_json, count, first_ms in batches:
        buffer.append(readings_json, count, first_ms)
    fill_s = time.monotonic() - fill_start
    stored = [StoredBatch(i + 1, c, f, j) for i, (j, c, f) in enumerate(batches)]
    buffer.close()
    db_mb = path.stat().st_size / 1e6

    counter = Counter(broker.host, broker.port)
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "greenwire", "sim", "modbus", "--port", str(port),
         *[a for unit in range(1, live_meters + 1) for a in ("--meter", f"{unit}:b25")]],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    devices = "".join(
        f"      - {{id: live-{u}, unit: {u}, profile: eastron-sdm630, poll_interval_s: 1, max_power_kw: 100000}}\n"
        for u in range(1, live_meters + 1)
    )
    config = work / "drain-edge.yaml"
    config.write_text(
        f"gateway: gw-drain\nsite: bench\nmqtt: {{url: \"{broker.url}\"}}\n"
        f"buffer: {{path: \"{path}\", max_readings: {max(5_000_000, total * 2)}}}\n"
        f"publish: {{max_inflight: {INFLIGHT}, max_batch_readings: {BATCH_READINGS}, commit_wait_s: 0}}\n"
        f"buses:\n  - name: live\n    host: 127.0.0.1\n    port: {port}\n    timeout_s: 0.3\n"
        f"    devices:\n{devices}"
    )
    try:
        time.sleep(2.0)  # the simulator is up
        counter.reset(total)
        agent = subprocess.Popen(
            [sys.executable, "-m", "greenwire", "edge", "run", str(config), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=(work / "drain-agent.log").open("wb"),
        )
        try:
            started = time.monotonic()
            done = counter.wait_backlog(600, progress)
            cpu = cpu_seconds(agent.pid)
            with counter.lock:
                first = counter.first_at or started
                live_during = counter.live
            # Live readings polled during the drain arrive right behind the backlog (FIFO).
            time.sleep(3.0)
            with counter.lock:
                live_after = counter.live
        finally:
            agent.terminate()
            agent.wait(30)
    finally:
        sim.terminate()
        sim.wait(10)
    drain_s = done - first
    result: dict[str, Any] = {
        "backlog_readings": total,
        "buffer_file_mb": round(db_mb, 1),
        "fill_seconds": round(fill_s, 2),
        "seconds_to_first_message": round(first - started, 2),
        "drain_seconds": round(drain_s, 2),
        "readings_per_s": round(total / drain_s),
        "agent_cpu_s": round(cpu, 2),
        "live_meters": live_meters,
        "live_readings_received_during_drain": live_during,
        "live_readings_received_3s_after": live_after,
        "live_readings_polled_expected": round(live_meters * (done - started)),
    }
    sent_at = datetime.now(UTC)
    messages = [Message("greenwire/v1/bench/gw-drain/readings", encode_batch("gw-drain", b, sent_at), b.count)
                for b in stored]
    result["broker_raw"] = raw_broker_rate(broker, counter, messages)
    counter.close()
    result["ratio"] = round(result["readings_per_s"] / result["broker_raw"]["readings_per_s"], 3)
    return result
