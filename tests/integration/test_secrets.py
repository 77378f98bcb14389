"""Secrets stay secret: the ingestor, run for real at debug level, never writes a password or token.

``greenwire ingest run`` runs as a process against the TLS-only broker (MQTT
password from a 0600 file) and a real database (InfluxDB 1.x with a password
from a file, or VictoriaMetrics through the v2 API with a token from the
environment). It stores a batch, so every code path of a working ingestor has
logged; then ``greenwire ingest check`` meets a database that is down and a
broker that refuses a wrong password, so the error paths have logged too.
None of the output, nor anything in the state directory, contains a secret.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from greenwire.access import write_private
from greenwire.servers import InfluxDB1, VictoriaMetrics, free_port
from tests.helpers import GREENWIRE
from tests.integration.test_ingest import _batch
from tests.mqttprobe import Probe
from tests.securestack import SecureBroker

pytestmark = pytest.mark.integration

def _wait(predicate: Callable[[], object], within_s: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def _mqtt_section(secure: SecureBroker, password_line: str) -> str:
    return (
        f"mqtt:\n  url: {secure.url('ingest')}\n  client_id: secrets-{uuid.uuid4().hex[:8]}\n"
        f"  group: g{uuid.uuid4().hex[:8]}\n  username: ingest\n  {password_line}\n"
        f"  ca_file: {secure.ca_file}\n"
    )


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_no_secret_in_any_log_output(
    api: str, secure_broker: SecureBroker, influxdb: InfluxDB1, influx_db: str, victoria: VictoriaMetrics,
    processes: list[subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    secret = f"secret-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GREENWIRE_TEST_INFLUX_TOKEN": secret}
    if api == "v1":
        write_private(tmp_path / "influx-password", secret + "\n")
        influx = (f"influx:\n  api: v1\n  url: {influxdb.url}\n  database: {influx_db}\n  username: writer\n"
                  f"  password_file: {tmp_path / 'influx-password'}\n  timeout_s: 2\n")
        dead = f"influx:\n  api: v1\n  url: http://127.0.0.1:{free_port()}\n  database: x\n  username: writer\n" \
               f"  password_file: {tmp_path / 'influx-password'}\n  timeout_s: 2\n"
    else:
        influx = (f"influx:\n  api: v2\n  url: {victoria.url}\n  token_env: GREENWIRE_TEST_INFLUX_TOKEN\n"
                  f"  org: o\n  bucket: b{uuid.uuid4().hex[:8]}\n  timeout_s: 2\n")
        dead = (f"influx:\n  api: v2\n  url: http://127.0.0.1:{free_port()}\n  token_env: GREENWIRE_TEST_INFLUX_TOKEN\n"
                "  org: o\n  bucket: b\n  timeout_s: 2\n")
    state = tmp_path / "state"
    mqtt_password = secure_broker.password("ingest")
    config = tmp_path / "ingest.yaml"
    config.write_text(_mqtt_section(secure_broker, f"password_file: {secure_broker.password_file('ingest')}")
                      + influx + f"batch: {{max_delay_s: 0.1}}\nstate_dir: {state}\n")
    log = tmp_path / "ingest.log"
    with log.open("ab") as out:
        process = subprocess.Popen([*GREENWIRE, "ingest", "run", "--config", str(config), "--log-level", "debug"],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    processes.append(process)
    _wait(lambda: "subscribed: " in log.read_text(errors="replace"), 60, "the ingestor to subscribe", log)

    batch = _batch(1, datetime.now(UTC).replace(microsecond=0), gateway="gw-01")
    with Probe(secure_broker.broker.host, secure_broker.broker.port, username="campus-a.gw-01",
               password=secure_broker.password("campus-a.gw-01"), ca_file=secure_broker.ca_file,
               client_id=f"gw-{uuid.uuid4().hex[:6]}") as gateway:
        # a good batch and a rejected one, so both paths log
        assert gateway.publish("greenwire/v1/campus-a/gw-01/readings", orjson.dumps(batch)) == 0
        assert gateway.publish("greenwire/v1/campus-a/gw-01/readings", b'{"schema": "nope"}') == 0
    if api == "v1":
        _wait(lambda: len(influxdb.query(influx_db, 'SELECT * FROM "readings"')) == 4, 60, "the batch stored", log)
    else:
        at_ms = int(datetime.fromisoformat(batch["readings"][0]["ts"]).timestamp() * 1000)

        def stored_v2() -> bool:
            series = victoria.export('{__name__="readings_active_power_w",site="campus-a",gateway="gw-01"}')
            return any(at_ms in s["timestamps"] for s in series)

        _wait(stored_v2, 60, "the batch stored", log)
    _wait(lambda: list(state.glob("rejected-*.jsonl")), 30, "the rejected message kept", log)
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0

    # error paths: the database is down; the broker refuses a wrong password (which is a secret too)
    outputs = [log.read_text(errors="replace")]
    down = tmp_path / "down.yaml"
    down.write_text(_mqtt_section(secure_broker, f"password_file: {secure_broker.password_file('ingest')}") + dead)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(_mqtt_section(secure_broker, "password_env: GREENWIRE_TEST_INFLUX_TOKEN") + influx)
    for checked in (down, wrong):
        done = subprocess.run([*GREENWIRE, "ingest", "check", "--config", str(checked)], capture_output=True,
                              env=env, timeout=60, check=False)
        assert done.returncode != 0, done.stdout
        outputs.append(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))
    assert "DEBUG" in outputs[0] and "readings written 4" in outputs[0], "the run logged at debug level"
    assert any("Not authorized" in o or "not authorised" in o.lower() for o in outputs[1:]), outputs[2]

    for output in outputs:
        assert secret not in output
        assert mqtt_password not in output
    for path in state.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes() and mqtt_password.encode() not in path.read_bytes()
