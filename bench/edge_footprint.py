"""Edge footprint: the agent's CPU and peak RSS polling 100 simulated meters every second.

Ten `greenwire sim modbus` processes serve ten SDM630 meters each (units 1-10)
on their own ports; one `greenwire edge run` process polls all 100 every
second over ten TCP buses and publishes to a local Mosquitto, where a
subscriber takes the readings. After a warm-up, the agent's CPU time (from
/proc/PID/stat) over the measured window gives its share of one core, and
VmHWM its peak resident memory. Requests per poll cycle are compared with
the minimum the planner computes and with one request per register.

Run alone: ``python -m bench.edge_footprint`` (BENCH_EDGE_SECONDS sets the window, default 60).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

METERS_PER_ENDPOINT = 10
ENDPOINTS = 10
TARGET_CPU_PCT = 10.0
TARGET_RSS_MB = 64.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(seconds: float | None = None) -> dict[str, Any]:
    import orjson
    import paho.mqtt.client as mqtt

    from greenwire.edge.plan import build_plan
    from greenwire.edge.profile import load_profile
    from greenwire.servers import Mosquitto, free_port

    seconds = seconds or float(os.environ.get("BENCH_EDGE_SECONDS", "60"))
    plan = build_plan(load_profile("eastron-sdm630"))
    registers = sum(r.count for r in plan.requests)
    values = len(plan.slots)
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mqtt") as broker:
        received = [0, 0]  # batches, readings
        lock = threading.Lock()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")

        def on_message(_client: Any, _userdata: Any, message: Any) -> None:
            readings = len(orjson.loads(message.payload)["readings"])
            with lock:
                received[0] += 1
                received[1] += readings

        sub.on_message = on_message
        sub.connect(broker.host, broker.port)
        sub.subscribe("greenwire/v1/+/+/readings", qos=1)
        sub.loop_start()
        ports = [free_port() for _ in range(ENDPOINTS)]
        sims = []
        for port in ports:
            meters = [a for unit in range(1, METERS_PER_ENDPOINT + 1) for a in ("--meter", f"{unit}:b25")]
            sims.append(subprocess.Popen(
                [sys.executable, "-m", "greenwire", "sim", "modbus", "--port", str(port), *meters],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        buses = "".join(
            f"""  - name: endpoint-{i}
    host: 127.0.0.1
    port: {port}
    timeout_s: 0.3
    devices:
"""
            + "".join(
                f"      - {{id: m{i}-{u}, unit: {u}, profile: eastron-sdm630, poll_interval_s: 1, max_power_kw: 100000}}\n"
                for u in range(1, METERS_PER_ENDPOINT + 1)
            )
            for i, port in enumerate(ports)
        )
        config = Path(tmp) / "edge.yaml"
        config.write_text(
            f"gateway: gw-bench\nsite: bench\nmqtt: {{url: \"{broker.url}\"}}\n"
            f"buffer: {{path: \"{Path(tmp) / 'buffer.sqlite'}\"}}\nbuses:\n{buses}"
        )
        time.sleep(2.0)  # simulators up
        agent = subprocess.Popen(
            [sys.executable, "-m", "greenwire", "edge", "run", str(config), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(5.0)  # warm-up: imports, connections, first polls
            cpu0, t0 = _cpu_seconds(agent.pid), time.monotonic()
            with lock:
                msgs0, readings0 = received
            while time.monotonic() - t0 < seconds:
                time.sleep(1.0)
                if sys.stdout.isatty():
                    print(f"\r  measuring edge footprint {time.monotonic() - t0:4.0f}/{seconds:.0f} s", end="", flush=True)
            print()
            cpu1, t1 = _cpu_seconds(agent.pid), time.monotonic()
            with lock:
                msgs, readings = received[0] - msgs0, received[1] - readings0
            peak = _peak_rss_mb(agent.pid)
        finally:
            agent.terminate()
            agent.wait(20)
            for sim in sims:
                sim.terminate()
            for sim in sims:
                sim.wait(10)
            sub.disconnect()
            sub.loop_stop()
    meters = METERS_PER_ENDPOINT * ENDPOINTS
    cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
    return {
        "meters": meters,
        "registers_per_meter": registers,
        "values_per_meter": values,
        "window_s": round(t1 - t0, 1),
        "cpu_pct_of_one_core": round(cpu_pct, 2),
        "peak_rss_mb": round(peak, 1),
        "batches_received_per_s": round(msgs / (t1 - t0), 2),
        "readings_received_per_s": round(readings / (t1 - t0), 1),
        # The plan is the minimum for its gap tolerance (property-tested in tests/unit/test_plan.py).
        "requests_per_cycle_planned": meters * len(plan.requests),
        "requests_per_cycle_one_per_value": meters * values,
        "targets": {"cpu_pct": TARGET_CPU_PCT, "peak_rss_mb": TARGET_RSS_MB},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
