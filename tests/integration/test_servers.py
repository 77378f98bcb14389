"""The real servers the stack, the demo and the tests run on, and `greenwire stack`."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.servers import InfluxDB1, Mosquitto, VictoriaMetrics, pid_alive
from shared.errors import StackError

pytestmark = pytest.mark.integration


def test_restart_keeps_the_port_and_the_data(influxdb: InfluxDB1, influx_db: str) -> None:
    port = influxdb.port
    influxdb.write(influx_db, ["readings,device=m1 active_power_w=1500.5 1654070400000000000"])
    influxdb.restart()
    assert influxdb.port == port
    rows = influxdb.query(influx_db, 'SELECT * FROM "readings"')
    assert rows == [{"time": 1654070400000000000, "device": "m1", "active_power_w": 1500.5,
                     "_measurement": "readings"}]


def test_a_refused_query_is_a_stack_error(influxdb: InfluxDB1, influx_db: str) -> None:
    with pytest.raises(StackError, match="InfluxDB refused"):
        influxdb.query(influx_db, "SELEKT nothing")


def test_mosquitto_restarts_on_the_same_port(mosquitto: Mosquitto) -> None:
    port, pid = mosquitto.port, mosquitto.pid
    mosquitto.restart()
    assert mosquitto.port == port and mosquitto.pid != pid
    with socket.create_connection((mosquitto.host, mosquitto.port), timeout=2):
        pass


def test_victoria_reads_back_line_protocol(victoria: VictoriaMetrics) -> None:
    httpx.post(f"{victoria.url}/write", content=b"probe_m,site=s1 x=42.25 1654070400000000000").raise_for_status()
    series = victoria.export('{__name__="probe_m_x"}')
    assert series == [{"metric": {"__name__": "probe_m_x", "site": "s1"}, "values": [42.25],
                       "timestamps": [1654070400000]}]


def test_a_port_in_use_fails_with_the_servers_own_words(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = InfluxDB1(tmp_path / "influx", port=taken.getsockname()[1])
        with pytest.raises(StackError, match=r"influxdb exited with code \d+ at start:\n.*address already in use"):
            server.start()
    assert not server.running


def test_stack_up_status_env_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENWIRE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    down = runner.invoke(app, ["stack", "status"])
    assert down.exit_code == 3

    started = runner.invoke(app, ["stack", "up"])
    assert started.exit_code == 0, started.output
    try:
        env = runner.invoke(app, ["stack", "env"])
        assert env.exit_code == 0
        values = dict(line.split("=", 1) for line in env.output.splitlines())
        assert set(values) == {"GREENWIRE_MQTT_URL", "GREENWIRE_INFLUX_URL", "GREENWIRE_INFLUX_DB"}
        assert values["GREENWIRE_INFLUX_DB"] == "greenwire"
        assert httpx.get(f"{values['GREENWIRE_INFLUX_URL']}/ping", timeout=2).status_code == 204
        databases = httpx.get(f"{values['GREENWIRE_INFLUX_URL']}/query", params={"q": "SHOW DATABASES"}).json()
        assert ["greenwire"] in databases["results"][0]["series"][0]["values"]

        again = runner.invoke(app, ["stack", "up"])  # idempotent: the same stack
        assert again.exit_code == 0 and values["GREENWIRE_MQTT_URL"] in again.output
        status = runner.invoke(app, ["stack", "status", "--json"])
        assert status.exit_code == 0 and '"up":true' in status.output
        exported = runner.invoke(app, ["stack", "env", "--export"])
        assert exported.output.startswith("export GREENWIRE_MQTT_URL=mqtt://127.0.0.1:")
    finally:
        stopped = runner.invoke(app, ["stack", "down"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    from greenwire import stack

    assert all(not pid_alive(s["pid"]) for s in stack.status().values() if s["pid"])
    assert stack.discover() is None
    gone = runner.invoke(app, ["stack", "env"])
    assert gone.exit_code == 1 and "not running" in gone.output
