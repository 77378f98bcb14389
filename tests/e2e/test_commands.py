"""The three commands an installer runs, as separate processes: sim, edge agent, ingestor.

`greenwire sim modbus` serves a meter, `greenwire edge run` polls it and
publishes, `greenwire ingest run` stores into InfluxDB; each stops cleanly on
SIGTERM with exit code 0. This is what a user types, end to end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from greenwire.servers import InfluxDB1, Mosquitto
from tests.helpers import GREENWIRE, served_port

pytestmark = pytest.mark.e2e

def _start(started: list[subprocess.Popen[bytes]], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([*GREENWIRE, *args], stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    started.append(process)
    return process


def _wait(predicate: object, within_s: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs)
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.2)


def test_sim_edge_and_ingest_commands(
    mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    logs = [tmp_path / name for name in ("sim.log", "edge.log", "ingest.log")]
    sim = _start(processes, logs[0], "sim", "modbus", "--port", "0", "--meter", "1:b2", "--speed", "3600")
    port = served_port(sim, logs[0])
    (tmp_path / "edge.yaml").write_text(
        f"""gateway: gw-cli
site: campus-c
mqtt:
  url: {mosquitto.url}
buffer:
  path: {tmp_path / "buffer.sqlite"}
buses:
  - name: plant-room
    host: 127.0.0.1
    port: {port}
    timeout_s: 0.3
    devices:
      - id: main-incomer
        unit: 1
        profile: eastron-sdm630
        poll_interval_s: 1
        max_power_kw: 7200000   # 2 MW (a CT-connected meter) replayed x3600
"""
    )
    (tmp_path / "ingest.yaml").write_text(
        f"""mqtt:
  url: {mosquitto.url}
  client_id: ingest-cli-{influx_db}
  group: g-{influx_db}
influx:
  api: v1
  url: {influxdb.url}
  database: {influx_db}
batch:
  max_delay_s: 0.2
state_dir: {tmp_path / "ingest"}
"""
    )
    validated = subprocess.run([*GREENWIRE, "edge", "validate", str(tmp_path / "edge.yaml"), "--json"],
                               capture_output=True, text=True, check=False)
    assert validated.returncode == 0, validated.stderr
    assert '"requests":3' in validated.stdout

    ingest = _start(processes, logs[2], "ingest", "run", "--config", str(tmp_path / "ingest.yaml"))
    edge = _start(processes, logs[1], "edge", "run", str(tmp_path / "edge.yaml"))

    def stored() -> int:
        rows = influxdb.query(influx_db, 'SELECT count("energy_import_kwh") FROM "readings"')
        return int(rows[0]["count"]) if rows else 0

    _wait(lambda: stored() >= 3, 120, "three readings in InfluxDB", logs)
    for process in (edge, ingest, sim):
        process.send_signal(signal.SIGTERM)
    assert [p.wait(20) for p in (edge, ingest)] == [0, 0], "clean exit on SIGTERM"
    sim.wait(20)
    rows = influxdb.query(influx_db, 'SELECT * FROM "readings"')
    assert {(r["site"], r["gateway"], r["device"]) for r in rows} == {("campus-c", "gw-cli", "main-incomer")}
    counters = [r["energy_import_kwh"] for r in rows]
    assert counters == sorted(counters) and counters[-1] > counters[0]
    assert "Traceback" not in "".join(p.read_text(errors="replace") for p in logs)
