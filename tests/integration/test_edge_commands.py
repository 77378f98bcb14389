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
