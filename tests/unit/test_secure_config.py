"""TLS files and secrets in the edge and ingestor configs: what is accepted, what is refused, and how."""

from __future__ import annotations

import ssl
import stat
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.ingest.config import parse_config as parse_ingest
from greenwire.edge.agent import broker_settings
from greenwire.edge.config import parse_config as parse_edge
from greenwire.pki import ensure_ca, issue_client
from greenwire.shared.errors import ConfigError
from greenwire.shared.tls import client_context, explain

BUS = "buses:\n  - {name: b, host: 127.0.0.1, devices: [{id: m, unit: 1, profile: eastron-sdm630}]}\n"
INFLUX_V1 = "influx: {api: v1, url: 'http://127.0.0.1:8086', database: greenwire}\n"


def edge(mqtt: str) -> str:
    return f"gateway: gw-01\nsite: campus-a\nmqtt:\n{mqtt}{BUS}"


def test_edge_tls_files_reach_the_publishers_context(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path / "pki")
    client = issue_client(ca, tmp_path / "client", "campus-a.gw-01")
    config = parse_edge(edge(
        f"  url: mqtts://broker.example.org:8883\n  ca_file: {ca.cert_file}\n"
        f"  cert_file: {client.cert_file}\n  key_file: {client.key_file}\n"
    ))
    settings = broker_settings(config)
    assert (settings.tls, settings.ca_file, settings.cert_file) == (True, ca.cert_file, client.cert_file)
    context = settings.tls_context()
    assert context is not None
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("organizationName", "greenwire"),), (("commonName", "greenwire local CA"),))
    ]
    plain = broker_settings(parse_edge(edge("  url: mqtt://127.0.0.1:1883\n")))
    assert plain.tls_context() is None


@pytest.mark.parametrize(
    ("mqtt", "message"),
    [
        ("  url: mqtt://b:1883\n  ca_file: /etc/ca.crt\n", "mqtt: ca_file: only for an mqtts:// url"),
        ("  url: mqtts://b:8883\n  cert_file: /etc/c.crt\n", "give cert_file and key_file together"),
    ],
)
def test_edge_tls_mistakes_are_refused_with_the_line(mqtt: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_edge(edge(mqtt))
    assert message in str(caught.value) and "<config>:3" in str(caught.value)


def test_unreadable_certificates_are_named(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.crt"
    bogus.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=f"{bogus}: cannot load the CA certificate"):
        client_context(bogus)
    with pytest.raises(ConfigError, match="cannot load the client certificate"):
        client_context(None, bogus, bogus)


def test_tls_refusals_are_explained() -> None:
    mismatch = ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address mismatch, "
                "certificate is not valid for '10.0.0.1'. (_ssl.c:1006)")
    assert explain(mismatch, "10.0.0.1").startswith("TLS: the broker's certificate is not valid for '10.0.0.1'")
    unknown = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate"
    assert "not signed by the CA in /etc/ca.crt" in explain(unknown, "b", Path("/etc/ca.crt"))
    assert "not signed by the system's trusted CAs" in explain(unknown, "b")
    assert explain("connection refused", "b") == "connection refused"


def test_ingest_secrets_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PW", "mqtt-s3cret")
    monkeypatch.setenv("INFLUX_TOKEN", "tok-s3cret")
    config = parse_ingest(
        "mqtt: {url: 'mqtt://b:1883', username: ingest, password_env: MQTT_PW}\n"
        "influx: {api: v2, url: 'http://i:8086', token_env: INFLUX_TOKEN, org: o, bucket: b}\n"
    )
    assert config.mqtt.resolved_password() == "mqtt-s3cret"
    assert config.influx.resolved_token() == "tok-s3cret"
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.summary())
    monkeypatch.delenv("INFLUX_TOKEN")
    with pytest.raises(ConfigError, match=r"the environment variable INFLUX_TOKEN .* is not set"):
        config.influx.resolved_token()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mqtt: {url: 'mqtt://b:1883', username: u, password: p, password_env: P}\n" + INFLUX_V1,
         "give one of password, password_file, password_env for the password, not password and password_env"),
        ("mqtt: {url: 'mqtt://b:1883', password_env: P}\n" + INFLUX_V1, "a password needs a username"),
        ("mqtt: {url: 'mqtt://b:1883', password_env: 'not a name'}\n" + INFLUX_V1, "password_env"),
        ("mqtt: {url: 'mqtt://b:1883'}\ninflux: {api: v2, url: 'http://i', token: t, token_env: T, org: o, bucket: b}\n",
         "for the token, not token and token_env"),
        ("mqtt: {url: 'mqtt://b:1883'}\ninflux: {api: v1, url: 'http://i', database: d, token_env: T}\n",
         "token_env: v2 settings, but api is v1"),
        ("mqtt: {url: 'mqtt://b:1883', ca_file: CA}\n" + INFLUX_V1, "only for an mqtts:// url"),
    ],
)
def test_ingest_secret_mistakes_are_refused(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "CA").write_text("x")
    with pytest.raises(ConfigError) as caught:
        parse_ingest(text, base_dir=tmp_path)
    assert message in str(caught.value)


def test_the_bundle_carries_tls_files_as_private_secrets(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path / "pki")
    (tmp_path / "mqtt-password").write_text("pw\n")
    config = tmp_path / "edge.yaml"
    config.write_text(edge(
        "  url: mqtts://broker.example.org:8883\n  username: campus-a.gw-01\n  password_file: mqtt-password\n"
        f"  ca_file: {ca.cert_file}\n"
    ))
    out = tmp_path / "b.tar.gz"
    result = CliRunner().invoke(app, ["edge", "bundle", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with tarfile.open(out) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        assert stat.S_IMODE(members["secrets/ca.crt"].mode) == 0o600
        assert stat.S_IMODE(members["secrets/mqtt-password"].mode) == 0o600
        text = tar.extractfile(members["edge.yaml"]).read().decode()  # type: ignore[union-attr]
    assert "ca_file: /etc/greenwire/secrets/ca.crt" in text
