"""Soak: the ingestor at a high message rate with hostile input mixed in, for minutes; memory must stay flat.

A local Mosquitto and InfluxDB (``greenwire.servers``) and one `greenwire ingest
run` process. A paho-mqtt publisher sends valid ``greenwire.readings.v1``
batches at a steady rate and, every ``HOSTILE_EVERY``-th message, the next
case of the hostile corpus (``tests/data/hostile/``: truncated JSON, deep
nesting, 1 MB payloads, NaN, wrong types, ...). The ingestor's RSS is read
from /proc every second. At the end every valid reading must be in InfluxDB
and every hostile case counted as rejected.

Figures: messages and readings per second offered and stored, rejected
messages, RSS after warm-up, at the end and at its peak, and the RSS slope
(MB per minute, least squares over the run after warm-up): flat memory is a
slope near zero, not a small peak.

Run: ``python -m bench.soak`` (``BENCH_SOAK_SECONDS``, default 300; ``--seconds 10`` for a
quick check; ``--rate`` messages per second, default 400; 20 readings per valid message).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_EVERY = 20
READINGS_PER_MESSAGE = 20
WARMUP_FRACTION = 0.2
TOPIC = "greenwire/v1/soak/gw-01/readings"


def _hostile_cases() -> list[tuple[dict[str, Any], bytes]]:
    spec = importlib.util.spec_from_file_location("hostile_build", ROOT / "tests" / "data" / "hostile" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Accepted cases would be stored too; the soak counts only valid messages of its own as stored.
    return [(entry, payload) for entry, payload in module.load() if entry["expect"] != "accepted"]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    if len(samples) < 3:
        return 0.0
    xs = [t for t, _ in samples]
    ys = [kb / 1024 for _, kb in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 60


def _valid(seq: int, base: datetime) -> bytes:
    at = base + timedelta(milliseconds=seq)
    ts = [(at + timedelta(microseconds=k)).isoformat().replace("+00:00", "Z") for k in range(READINGS_PER_MESSAGE)]
    return orjson.dumps({
        "schema": "greenwire.readings.v1", "gateway": "gw-01", "seq": seq, "sent_at": ts[0],
        "readings": [{"ts": t, "device": f"m{k}", "values": {"active_power_w": seq + k / 100,
                                                            "energy_import_kwh": 1e5 + seq}}
                     for k, t in enumerate(ts)],
    })


def run(seconds: float | None = None, rate: float = 400.0) -> dict[str, Any]:
    """Soak for ``seconds`` at ``rate`` messages/s; return the figures (raises if anything was lost)."""
    import paho.mqtt.client as mqtt

    from greenwire.servers import InfluxDB1, Mosquitto

    seconds = float(os.environ.get("BENCH_SOAK_SECONDS", 300)) if seconds is None else seconds
    hostile = _hostile_cases()
    with tempfile.TemporaryDirectory(prefix="greenwire-soak-") as tmp:
        root = Path(tmp)
        with Mosquitto(root / "mqtt") as broker, InfluxDB1(root / "influx", databases=("soak",)) as influx:
            config = root / "ingest.yaml"
            config.write_text(
                f"mqtt: {{url: '{broker.url}', client_id: soak, group: soak}}\n"
                f"influx: {{api: v1, url: '{influx.url}', database: soak}}\n"
                f"state_dir: '{root / 'state'}'\n"
            )
            log = (root / "ingest.log").open("wb")
            ingest = subprocess.Popen(
                [sys.executable, "-m", "greenwire", "ingest", "run", "--config", str(config)],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                deadline = time.monotonic() + 30
                while b"subscribed: " not in (root / "ingest.log").read_bytes():
                    if time.monotonic() > deadline or ingest.poll() is not None:
                        raise RuntimeError("the ingestor did not subscribe:\n"
                                           + (root / "ingest.log").read_text(errors="replace")[-2000:])
                    time.sleep(0.1)
                client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-publisher")
                client.max_inflight_messages_set(200)
                client.max_queued_messages_set(2000)
                client.connect(broker.host, broker.port)
                client.loop_start()
                base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
                sent_valid = sent_hostile = 0
                hostile_bytes = 0
                samples: list[tuple[float, int]] = []
                started = time.monotonic()
                next_sample = started
                n = 0
                pending: list[Any] = []
                while (now := time.monotonic()) - started < seconds:
                    if ingest.poll() is not None:
                        raise RuntimeError("the ingestor died during the soak")
                    due = int((now - started) * rate)
                    while n < due:
                        n += 1
                        if n % HOSTILE_EVERY == 0:
                            entry, payload = hostile[sent_hostile % len(hostile)]
                            pending.append(client.publish(entry["topic"], payload, qos=1))
                            sent_hostile += 1
                            hostile_bytes += len(payload)
                        else:
                            pending.append(client.publish(TOPIC, _valid(sent_valid, base), qos=1))
                            sent_valid += 1
                    pending = [p for p in pending if not p.is_published()]
                    if now >= next_sample:
                        samples.append((now - started, _rss_kb(ingest.pid)))
                        next_sample += 1.0
                    time.sleep(0.005)
                for info in pending:
                    info.wait_for_publish(30)
                elapsed = time.monotonic() - started
                client.disconnect()
                client.loop_stop()

                def stored() -> int:
                    rows = influx.query("soak", 'SELECT count("active_power_w") FROM "readings"')
                    return int(rows[0]["count"]) if rows else 0

                def rejected() -> int:
                    rows = influx.query("soak", 'SELECT count("bytes") FROM "ingest_rejected"')
                    return int(rows[0]["count"]) if rows else 0

                drain_deadline = time.monotonic() + 120
                while stored() < sent_valid * READINGS_PER_MESSAGE or rejected() < sent_hostile:
                    if time.monotonic() > drain_deadline:
                        break
                    time.sleep(0.5)
                drained_after = time.monotonic() - started - elapsed
                final_stored, final_rejected = stored(), rejected()
            finally:
                ingest.terminate()
                ingest.wait(30)
                log.close()
    measured = [s for s in samples if s[0] >= WARMUP_FRACTION * seconds] or samples
    result = {
        "seconds": round(elapsed, 1),
        "messages_per_s": round((sent_valid + sent_hostile) / elapsed, 1),
        "readings_per_s": round(sent_valid * READINGS_PER_MESSAGE / elapsed, 1),
        "valid_messages": sent_valid,
        "hostile_messages": sent_hostile,
        "hostile_bytes": hostile_bytes,
        "readings_sent": sent_valid * READINGS_PER_MESSAGE,
        "readings_stored": final_stored,
        "rejected_counted": final_rejected,
        "drain_after_s": round(drained_after, 1),
        "rss_after_warmup_mb": round(measured[0][1] / 1024, 1),
        "rss_end_mb": round(measured[-1][1] / 1024, 1),
        "rss_peak_mb": round(max(kb for _, kb in samples) / 1024, 1),
        "rss_slope_mb_per_min": round(_slope_mb_per_min(measured), 3),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rate", type=float, default=400.0, help="messages per second")
    args = parser.parse_args()
    result = run(args.seconds, args.rate)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    lost = result["readings_sent"] - result["readings_stored"]
    if lost or result["rejected_counted"] != result["hostile_messages"]:
        sys.exit(f"soak: {lost} readings not stored, {result['rejected_counted']} of "
                 f"{result['hostile_messages']} hostile messages counted")


if __name__ == "__main__":
    main()
