"""The real servers the stack, the demo and the tests run on, and `greenwire stack`."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from greenwire import servers
from greenwire.cli import app
from greenwire.servers import InfluxDB1, Mosquitto, VictoriaMetrics, pid_alive, stop_pid
from greenwire.shared.errors import StackError

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


def test_mosquitto_keeps_queued_messages_of_an_offline_session_across_a_restart(
    mosquitto: Mosquitto,
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    topic = f"greenwire/v1/test/{os.getpid()}/readings"
    received: queue.Queue[bytes] = queue.Queue()

    def session(client_id: str) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.on_message = lambda _c, _u, message: received.put(message.payload)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        client.connect(mosquitto.host, mosquitto.port, clean_start=False, properties=properties)
        client.loop_start()
        return client

    def close(client: mqtt.Client) -> None:
        client.disconnect()
        client.loop_stop()

    import threading

    subscriber = session("ingest-persistent")
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *_: subscribed.set()
    subscriber.subscribe(topic, qos=1)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
    publisher.connect(mosquitto.host, mosquitto.port)
    publisher.loop_start()
    try:
        assert subscribed.wait(5), "the subscription was not acknowledged"
        publisher.publish(topic, b"online", qos=1).wait_for_publish(5)
        assert received.get(timeout=5) == b"online"
        close(subscriber)
        publisher.publish(topic, b"while-away", qos=1).wait_for_publish(5)
    finally:
        if subscriber.is_connected():
            close(subscriber)
        else:
            subscriber.loop_stop()
        publisher.disconnect()
        publisher.loop_stop()

    mosquitto.restart()  # persistence: the queued message is on disk, not only in memory

    subscriber = session("ingest-persistent")
    try:
        assert received.get(timeout=5) == b"while-away"
    finally:
        close(subscriber)


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
        with pytest.raises(StackError, match=r"influxdb exited with code \d+ at start \(log .*influxdb\.log\):\n.*address already in use"):
            server.start()
    assert not server.running


def test_a_missing_binary_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(servers, "_SEARCH_PATH", ())
    with pytest.raises(StackError, match=r"influxd is not installed: run `make install`"):
        InfluxDB1(tmp_path / "influx").start()


def test_stop_pid_leaves_a_process_that_reused_the_pid_alone() -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        # Until the child has exec'd, its /proc cmdline is the forking parent's, or empty.
        cmdline = Path(f"/proc/{stranger.pid}/cmdline")
        deadline = time.monotonic() + 10
        while b"time.sleep(30)" not in cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not stop_pid(stranger.pid, "influxd")
        assert stranger.poll() is None
        assert stop_pid(stranger.pid, Path(sys.executable).name)
        assert not pid_alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def test_stack_starts_again_on_the_same_ports_after_a_service_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenwire import stack

    monkeypatch.setenv("GREENWIRE_HOME", str(tmp_path / "home"))
    first = stack.up()
    try:
        assert stack.up() == first  # already up: the same stack, nothing started
        os.kill(stack.status()["influxdb"]["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 10  # the kernel takes a moment to end it on a loaded machine
        while stack.status()["influxdb"]["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not stack.status()["influxdb"]["running"]
        assert stack.discover() is None
        assert stack.up() == first
        assert stack.discover() == first
        assert stack.env_lines(first) == [
            f"export GREENWIRE_MQTT_URL={first.mqtt_url}",
            f"export GREENWIRE_INFLUX_URL={first.influx_url}",
            "export GREENWIRE_INFLUX_DB=greenwire",
        ]
    finally:
        stack.down()
    assert not any(s["running"] for s in stack.status().values())


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


def test_a_port_is_free_for_a_server_while_a_closed_connection_waits_but_not_while_one_listens() -> None:
    from greenwire.stack import _port_free

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    assert not _port_free(port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server's side closes first: its end, on `port`, goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old check saw: the port looked taken
    assert _port_free(port)


@pytest.mark.parametrize("kind", [Mosquitto, InfluxDB1])
def test_a_picked_port_taken_before_the_server_binds_it_is_picked_again(
    kind: type[Mosquitto] | type[InfluxDB1], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        clash = taken.getsockname()[1]
        picks = iter([clash])
        real = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda host=servers.HOST: next(picks, None) or real(host))
        server = kind(tmp_path / "server")
        server.start()
        try:
            assert server.running and server.port not in (0, clash)
            assert "already in use" in server.log_path.read_text(errors="replace").lower()  # the first try's words
        finally:
            server.stop()
