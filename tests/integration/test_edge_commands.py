"""Installer commands against a simulated meter: probe, scan, schema, validate."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from tests.helpers import served_port

pytestmark = pytest.mark.integration


@pytest.fixture
def meters(tmp_path: Path) -> Iterator[int]:
    """`greenwire sim modbus` serving units 1 and 3 on a port of its choosing, as a separate process."""
    log = tmp_path / "sim.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "greenwire", "sim", "modbus", "--port", "0", "--meter", "1:b2", "--meter", "3:b25"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        yield served_port(process, log)
    finally:
        process.terminate()
        process.wait(10)


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(
        f"""gateway: gw-install
site: campus-d
buses:
  - name: plant-room
    host: 127.0.0.1
    port: {port}
    timeout_s: 0.3
    devices:
      - {{id: main, unit: 1, profile: eastron-sdm630}}
      - {{id: spare, unit: 2, profile: eastron-sdm630}}
"""
    )
    return path


def test_probe_prints_every_value_with_units(meters: int, tmp_path: Path) -> None:
    config = _config(tmp_path, meters)
    runner = CliRunner()
    result = runner.invoke(app, ["edge", "probe", str(config), "--device", "main", "--json"])
    assert result.exit_code == 0, result.output
    values = orjson.loads(result.output)["values"]
    assert len(values) == 23 and 220 < values["voltage_l1_v"] < 240 and values["energy_import_kwh"] > 0
    table = runner.invoke(app, ["edge", "probe", str(config), "--device", "main"])
    assert "voltage_l1_v" in table.output and " V " in table.output and "kWh" in table.output
    # Not a terminal (as when piped to a file): every quantity whole on its own line, none folded.
    lines = table.output.splitlines()
    assert all(any(f" {name} " in line for line in lines) for name in values), table.output
    dead = runner.invoke(app, ["edge", "probe", str(config), "--device", "spare"])
    assert dead.exit_code == 1 and "unit 2 answered exception code 11" in dead.output


def test_scan_finds_the_answering_units_and_their_profile(meters: int, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["edge", "scan", str(_config(tmp_path, meters)), "--bus", "plant-room", "--last", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    found = orjson.loads(result.output)["found"]
    assert [entry["unit"] for entry in found] == [1, 3]
    assert all("eastron-sdm630" in entry["profiles"] for entry in found)


def test_schema_describes_the_config() -> None:
    result = CliRunner().invoke(app, ["edge", "schema"])
    assert result.exit_code == 0
    schema = orjson.loads(result.output)
    # buses or wearables (or both): the config validator requires one of them
    assert set(schema["required"]) == {"gateway", "site"}
    assert {"SerialBusConfig", "TcpBusConfig", "RtuOverTcpBusConfig", "WearablesConfig"} <= set(schema["$defs"])


class _SilentBus:
    """A Modbus TCP endpoint that accepts connections and never answers, counting the requests sent."""

    def __init__(self) -> None:
        import socket
        import threading

        self.requests = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent-bus", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket

        connections: list[socket.socket] = []
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
                connection.setblocking(False)
                connections.append(connection)
            except TimeoutError:
                pass
            for connection in connections:
                try:
                    data = connection.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.requests += len(data) // 12  # a read request over Modbus TCP is 12 bytes
        for connection in connections:
            connection.close()
        self._server.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def test_scan_of_a_silent_bus_sends_one_request_per_id_and_says_so(tmp_path: Path) -> None:
    import time

    bus = _SilentBus()
    try:
        config = _config(tmp_path, bus.port)
        config.write_text(config.read_text().replace("timeout_s: 1.0", "timeout_s: 0.3"))
        started = time.monotonic()
        result = CliRunner().invoke(app, ["edge", "scan", str(config), "--bus", "plant-room", "--first", "1",
                                          "--last", "8"])
        elapsed = time.monotonic() - started
        time.sleep(0.5)
    finally:
        bus.close()
    assert result.exit_code == 1
    assert "no unit id from 1 to 8 answered" in result.output and "wiring" in result.output
    assert "send:" not in result.output and "No response received" not in result.output
    assert bus.requests == 8, "one request per unit id, no retries"
    assert elapsed < 8 * 0.3 * 2 + 3


def test_scan_of_an_unreachable_host_prints_one_sentence(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = CliRunner().invoke(app, ["edge", "scan", str(_config(tmp_path, port)), "--bus", "plant-room",
                                      "--last", "3"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: cannot connect to tcp://127.0.0.1:{port}"]
