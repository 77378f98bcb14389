"""`greenwire stack up --secure`: the local stack with TLS, accounts and ACLs, used by commands without a config."""

from __future__ import annotations

import asyncio
import stat
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from tests.mqttprobe import NOT_AUTHORIZED, Probe

pytestmark = pytest.mark.integration

INVENTORY = """\
sites:
  - id: cambridge
    gateways: [gw-demo, gw-roof]
ingestors: [ingest]
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secure_stack_up_env_ingest_check_and_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from greenwire import stack
    from greenwire.shared.errors import BrokerError

    home = tmp_path / "home"
    monkeypatch.setenv("GREENWIRE_HOME", str(home))
    inventory = tmp_path / "sites.yaml"
    inventory.write_text(INVENTORY)
    runner = CliRunner()
    wrong = runner.invoke(app, ["stack", "up", "--inventory", str(inventory)])
    assert wrong.exit_code == 1 and "--inventory goes with --secure" in wrong.output

    started = runner.invoke(app, ["stack", "up", "--secure", "--inventory", str(inventory)])
    assert started.exit_code == 0, started.output
    try:
        assert "stack up (secure)" in started.output
        env = stack.discover()
        assert env is not None and env.secure is not None
        assert env.mqtt_url.startswith("mqtts://127.0.0.1:")
        printed = runner.invoke(app, ["stack", "env"])
        values = dict(line.split("=", 1) for line in printed.output.splitlines())
        assert values["GREENWIRE_MQTT_CA_FILE"] == str(env.secure.ca_file)
        assert values["GREENWIRE_MQTT_INTERNAL_URL"] == env.secure.internal_url != env.mqtt_url

        # every secret 0600, every directory on the way to one 0700, passwords never printed
        secure_root = home / "stack" / "secure"
        secrets = [*secure_root.rglob("mqtt-password"), *secure_root.rglob("*.key"),
                   secure_root / "credentials" / "broker" / "passwd-external",
                   secure_root / "credentials" / "broker" / "passwd-internal"]
        assert len(secrets) == 3 + 2 + 2  # gw-demo, gw-roof, ingest; CA and broker keys; two password files
        for secret in secrets:
            assert mode(secret) == 0o600, secret
            assert secret.read_text().strip() not in started.output
            for parent in secret.relative_to(secure_root).parents:
                assert mode(secure_root / parent) == 0o700, secure_root / parent

        # the broker: anonymous refused, the gateways' accounts admitted
        host, port = "127.0.0.1", int(env.mqtt_url.rsplit(":", 1)[1])
        with Probe(host, port, ca_file=env.secure.ca_file, client_id=f"a-{uuid.uuid4().hex[:6]}") as anonymous:
            assert anonymous.connack == NOT_AUTHORIZED
        password = env.secure.gateway_password_file("cambridge", "gw-roof").read_text().strip()
        with Probe(host, port, username="cambridge.gw-roof", password=password, ca_file=env.secure.ca_file,
                   client_id=f"g-{uuid.uuid4().hex[:6]}") as gateway:
            assert gateway.connected
            assert gateway.publish("greenwire/v1/cambridge/gw-demo/readings", b"forged") == NOT_AUTHORIZED

        # commands without a config find their account: the ingestor's check connects over TLS
        from greenwire.cloud.adapters.mqtt import probe
        from greenwire.cloud.ingest.config import IngestConfig

        config = IngestConfig.from_stack(env)
        assert config.mqtt.username == "ingest" and config.mqtt.ca_file == env.secure.ca_file
        assert config.mqtt.url == env.secure.internal_url
        asyncio.run(probe(config.mqtt))
        checked = runner.invoke(app, ["ingest", "check", "--json"])
        assert checked.exit_code == 0, checked.output
        # the edge's fallback for a gateway of the inventory, and a clear error for one that is not
        mqtt = env.secure.gateway_mqtt(env.mqtt_url, "cambridge", "gw-demo")
        assert mqtt["username"] == "cambridge.gw-demo"
        with pytest.raises(Exception, match="has no account on the secure stack"):
            env.secure.gateway_mqtt(env.mqtt_url, "cambridge", "gw-unknown")
        # an anonymous client configured for the plain stack gets a clear refusal
        from greenwire.cloud.ingest.config import MqttSection

        with pytest.raises(BrokerError, match="Not authorized"):
            asyncio.run(probe(MqttSection(url=env.mqtt_url, ca_file=env.secure.ca_file), timeout_s=5))

        # a history import publishes with the gateway's own account (and only for gateways of the inventory)
        history = tmp_path / "history.csv"
        history.write_text("timestamp,device,quantity,value\n2026-01-01T00:00:00Z,main,energy_import_kwh,1.5\n"
                           "2026-01-01T00:15:00Z,main,energy_import_kwh,2.5\n")
        internal = int(env.secure.internal_url.rsplit(":", 1)[1])
        ingest_password = env.secure.service_password_file("ingest").read_text().strip()
        with Probe(host, internal, username="ingest", password=ingest_password, ca_file=env.secure.ca_file,
                   client_id=f"i-{uuid.uuid4().hex[:6]}") as ingestor:
            assert ingestor.subscribe("greenwire/v1/cambridge/gw-roof/readings") == [1]
            imported = runner.invoke(app, ["import", "readings", str(history), "--site", "cambridge",
                                           "--gateway", "gw-roof"])
            assert imported.exit_code == 0, imported.output
            assert "published 2 readings" in imported.output
            ingestor.wait_until(lambda: any(b"energy_import_kwh" in m.payload for m in ingestor.messages),
                                "the imported batch")
        unknown = runner.invoke(app, ["import", "readings", str(history), "--site", "cambridge", "--gateway", "gw-x"])
        assert unknown.exit_code == 2 and "has no account on the secure stack" in unknown.output

        # a plain `up` while the secure stack runs is refused instead of silently downgrading
        plain = runner.invoke(app, ["stack", "up"])
        assert plain.exit_code == 1 and "running with --secure" in plain.output
    finally:
        stopped = runner.invoke(app, ["stack", "down"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert stack.discover() is None
