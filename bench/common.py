"""What the benches share: the readings, the ingestor processes, CPU accounting, InfluxDB counts.

The readings are synthetic but shaped like a fleet's: gateways of meters that
report 4 to 8 quantities each, with realistic magnitudes and strictly
increasing read times per device, so every reading is its own point in
InfluxDB (no overwrites that would make a write look cheaper than it is).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
"""BENCH_QUICK=1: smaller workloads so one run fits in a few minutes (figures are noisier)."""

QUANTITY_SETS = (
    ("active_power_w", "energy_import_kwh", "voltage_l1_v", "current_l1_a"),
    ("active_power_w", "energy_import_kwh", "voltage_l1_v", "current_l1_a", "frequency_hz"),
    ("active_power_w", "energy_import_kwh", "voltage_l1_v", "current_l1_a", "frequency_hz",
     "power_factor"),
    ("active_power_w", "energy_import_kwh", "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
     "current_l1_a", "frequency_hz"),
    ("active_power_w", "energy_import_kwh", "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
     "current_l1_a", "current_l2_a", "current_l3_a"),
)
"""4 to 8 quantities per reading, cycling over the devices."""

QUANTITIES_PER_READING = os.environ.get("BENCH_QUANTITIES", "")
"""BENCH_QUANTITIES=4: every reading carries the first set only (4 quantities), as in the
smaller-message measurement of issue 20 (50 readings of four quantities); unset, 4-8 cycling."""

T0_MS = 1_795_860_000_000  # 2026-11-28T10:00:00Z, a fixed past start so runs are comparable


def env_int(name: str, default: int, quick: int) -> int:
    """An integer knob: the environment's value, else the quick or full default."""
    return int(os.environ.get(name, quick if QUICK else default))


def env_float(name: str, default: float, quick: float) -> float:
    """A float knob: the environment's value, else the quick or full default."""
    return float(os.environ.get(name, quick if QUICK else default))


def format_ms(ms: int) -> str:
    """RFC 3339 UTC with milliseconds, as gateways send it (fast: no datetime per reading)."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def reading(device_index: int, ts_ms: int, step: int) -> dict[str, Any]:
    """One wire reading of device ``device_index`` at ``ts_ms`` (its ``step``-th reading)."""
    if QUANTITIES_PER_READING:
        names = next(q for q in QUANTITY_SETS if len(q) == int(QUANTITIES_PER_READING))
    else:
        names = QUANTITY_SETS[device_index % len(QUANTITY_SETS)]
    base = {
        "active_power_w": 48210.5 + (step * 37 + device_index) % 9000,
        "energy_import_kwh": 183442.61 + step * 0.013 + device_index,
        "voltage_l1_v": 230.1 + (step % 7) * 0.1,
        "voltage_l2_v": 229.8 + (step % 5) * 0.1,
        "voltage_l3_v": 231.2 - (step % 3) * 0.1,
        "current_l1_a": 69.8 + (step % 11) * 0.25,
        "current_l2_a": 68.1 + (step % 13) * 0.25,
        "current_l3_a": 70.4 + (step % 17) * 0.25,
        "frequency_hz": 50.0 + (step % 9 - 4) * 0.01,
        "power_factor": 0.95 - (step % 6) * 0.01,
    }
    return {"ts": format_ms(ts_ms), "device": f"m{device_index:04d}",
            "values": {name: base[name] for name in names}, "quality": "good"}


@dataclass(frozen=True, slots=True)
class Message:
    """One ``greenwire.readings.v1`` message as a gateway publishes it."""

    topic: str
    payload: bytes
    readings: int


def batch_payload(gateway: str, seq: int, readings: list[dict[str, Any]], sent_ms: int) -> bytes:
    """The JSON of one batch."""
    return orjson.dumps({"schema": "greenwire.readings.v1", "gateway": gateway, "seq": seq,
                         "sent_at": format_ms(sent_ms), "readings": readings})


def fleet_messages(total: int, *, gateways: int, per_message: int, site: str = "bench",
                   meters_per_gateway: int = 100) -> list[Message]:
    """``total`` readings as messages of ``per_message`` readings from ``gateways`` gateways.

    Each gateway polls ``meters_per_gateway`` meters once a second; its
    messages carry consecutive readings of its meters, so read times
    increase per device and no two readings share a series and timestamp.
    """
    messages: list[Message] = []
    seqs = [0] * gateways
    steps = [0] * gateways
    made = 0
    g = 0
    while made < total:
        count = min(per_message, total - made)
        readings = []
        for _ in range(count):
            step = steps[g]
            meter = step % meters_per_gateway
            cycle = step // meters_per_gateway
            ts = T0_MS + cycle * 1000 + meter * 3
            readings.append(reading(g * meters_per_gateway + meter, ts, cycle))
            steps[g] += 1
        seqs[g] += 1
        gateway = f"gw-{g:03d}"
        messages.append(Message(f"greenwire/v1/{site}/{gateway}/readings",
                                batch_payload(gateway, seqs[g], readings, T0_MS), count))
        made += count
        g = (g + 1) % gateways
    return messages


# -- processes ---------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest_config(path: Path, *, mqtt_url: str, influx_url: str, database: str, client_id: str,
                  state_dir: Path, max_delay_s: float | None = None, group: str = "ingest") -> Path:
    """Write an ingestor config file and return its path (batching: the ingestor's defaults)."""
    batch = f"batch:\n  max_delay_s: {max_delay_s}\n" if max_delay_s is not None else ""
    path.write_text(
        f"mqtt:\n  url: {mqtt_url}\n  client_id: {client_id}\n  group: {group}\n"
        f"  session_expiry_s: 60\n"
        f"influx:\n  api: v1\n  url: {influx_url}\n  database: {database}\n"
        f"{batch}state_dir: {state_dir}\n"
    )
    return path


class IngestProcess:
    """``greenwire ingest run --config FILE`` as a child process.

    With ``profile``, :meth:`start_profile` attaches py-spy to the running
    ingestor (so start-up imports stay out of the profile) and
    :meth:`stop_profile` ends the recording before the ingestor stops.
    """

    def __init__(self, config: Path, log: Path, *, profile: Path | None = None) -> None:
        command = [sys.executable, "-m", "greenwire", "ingest", "run", "--config", str(config),
                   "--log-level", "warning"]
        self._log = log.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        self._profile = profile
        self._spy: subprocess.Popen[bytes] | None = None

    def start_profile(self) -> None:
        """Attach py-spy (raw collapsed stacks, 200 Hz, idle samples left out)."""
        if self._profile is None:
            return
        spy = Path(sys.executable).with_name("py-spy")
        self._spy = subprocess.Popen(
            [str(spy), "record", "--pid", str(self.pid), "--nonblocking", "--format", "raw",
             "--rate", "200", "--output", str(self._profile)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # py-spy attaches

    def stop_profile(self) -> None:
        """Stop py-spy; it writes the profile on SIGINT."""
        if self._spy is not None:
            self._spy.send_signal(2)
            self._spy.wait(30)
            self._spy = None

    def stop(self) -> None:
        """Stop profiling, then SIGTERM (the ingestor drains and disconnects) and wait."""
        self.stop_profile()
        self.process.terminate()
        self.process.wait(30)
        self._log.close()


def wait_subscribed(mqtt_host: str, mqtt_port: int, topic: str, timeout: float = 20.0) -> None:
    """Publish probes at QoS 1 until the broker answers a PUBACK with reason 0 (a subscriber exists).

    The probe goes to a topic the ingestor subscribes to but under an invalid
    gateway id, so it is rejected and never stored as a reading.
    """
    import paho.mqtt.client as mqtt

    codes: list[int] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.on_publish = lambda _c, _u, _mid, rc, _p: codes.append(int(getattr(rc, "value", rc)))
    client.connect(mqtt_host, mqtt_port)
    client.loop_start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes.clear()
            client.publish(topic, b"probe", qos=1).wait_for_publish(5)
            time.sleep(0.05)
            if codes and codes[0] == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"nobody subscribed to {topic} after {timeout:g} s")
    finally:
        client.disconnect()
        client.loop_stop()


def influx_count(influx_url: str, database: str, field: str = "active_power_w",
                 measurement: str = "readings") -> int:
    """How many points of ``measurement`` have ``field``: what is visible to a query."""
    response = httpx.get(f"{influx_url}/query",
                         params={"db": database, "q": f'SELECT count("{field}") FROM "{measurement}"'},
                         timeout=60)
    series = response.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def tail_probe(lines: list[str]) -> tuple[str, int]:
    """A cheap visibility check for a workload: ``(InfluxQL WHERE clause, expected count)``.

    The last point of each gateway's series set, by time: a count restricted
    to those few series and to the time from the oldest of them touches a
    handful of points, where a ``count()`` over the whole measurement scans
    every series and costs InfluxDB CPU it would take from the writes being
    measured.
    """
    last: dict[str, tuple[int, str]] = {}
    parsed = []
    for line in lines:
        series, _, rest = line.partition(" ")
        ts = int(rest.rsplit(" ", 1)[1])
        tags = dict(part.split("=", 1) for part in series.split(",")[1:])
        parsed.append((tags["gateway"], tags["device"], ts))
        if ts >= last.get(tags["gateway"], (-1, ""))[0]:
            last[tags["gateway"]] = (ts, tags["device"])
    probes = {(gateway, device) for gateway, (_, device) in last.items()}
    since = min(ts for ts, _ in last.values())
    expected = sum(1 for gateway, device, ts in parsed if ts >= since and (gateway, device) in probes)
    series_filter = " OR ".join(f"(\"gateway\" = '{g}' AND \"device\" = '{d}')" for g, d in sorted(probes))
    return f"time >= {since} AND ({series_filter})", expected


def _tail_count(influx_url: str, database: str, where: str) -> int:
    q = f'SELECT count("active_power_w") FROM "readings" WHERE {where}'
    response = httpx.get(f"{influx_url}/query", params={"db": database, "q": q}, timeout=60)
    series = response.json()["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def wait_count(influx_url: str, database: str, expected: int, *, timeout: float,
               poll_s: float = 0.1, tail: tuple[str, int] | None = None) -> float:
    """Poll until ``expected`` points are visible; returns the monotonic time they were.

    A ``count()`` over the whole workload costs InfluxDB real CPU, which it
    would take from the writes being measured. With ``tail`` (see
    :func:`tail_probe`), the poll first counts only the last points of each
    gateway (cheap: a few series), and the whole count runs once those are
    all there (and again, until it matches, if earlier points are still
    missing, as they may be with several ingestors).
    """
    deadline = time.monotonic() + timeout
    tail_done = tail is None
    while True:
        if not tail_done:
            assert tail is not None
            tail_done = _tail_count(influx_url, database, tail[0]) >= tail[1]
        if tail_done:
            seen = influx_count(influx_url, database)
            if seen >= expected:
                return time.monotonic()
        else:
            seen = -1
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {seen} of {expected} points visible after {timeout:g} s")
        time.sleep(poll_s)


def publish_all(host: str, port: int, messages: Iterator[Message] | list[Message], *,
                client_id: str = "bench-publisher", inflight: int = 1000) -> float:
    """Publish at QoS 1 as fast as the broker acknowledges; returns when all PUBACKs are in."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    try:
        infos = [client.publish(m.topic, m.payload, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(120)
        return time.monotonic()
    finally:
        client.disconnect()
        client.loop_stop()
