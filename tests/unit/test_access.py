"""Broker accounts from a site inventory: password hashes, ACL lines, files and their modes."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.access import (
    PBKDF2_ITERATIONS,
    Account,
    acl_text,
    hash_password,
    parse_inventory,
    verify_password,
    write_credentials,
)
from greenwire.cli import app
from greenwire.servers import find_binary
from greenwire.shared.errors import ConfigError

INVENTORY = """\
sites:
  - id: campus-a
    gateways: [gw-01, gw-02]
  - id: campus-b
    gateways: [gw-01]
grid_feeds:
  - {name: grid-feed, zones: [gb]}
readers:
  - {name: bms-a, sites: [campus-a]}
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_hash_is_pbkdf2_sha512_in_mosquittos_format() -> None:
    salt = bytes(range(12))
    encoded = hash_password("s3cret", salt=salt, iterations=101)
    _, kind, iterations, salt_b64, digest_b64 = encoded.split("$")
    assert (kind, iterations, base64.b64decode(salt_b64)) == ("7", "101", salt)
    assert len(base64.b64decode(digest_b64)) == 64
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret ", encoded)
    assert hash_password("s3cret").split("$")[2] == str(PBKDF2_ITERATIONS)
    assert hash_password("s3cret") != hash_password("s3cret"), "a fresh salt each time"


def test_the_hash_matches_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    """Same password and salt give the same digest as Mosquitto's own tool (Debian package mosquitto)."""
    passwd = tmp_path / "passwd"
    tool = find_binary("mosquitto_passwd", "mosquitto")
    subprocess.run([tool, "-c", "-b", str(passwd), "alice", "correct horse"], check=True)
    user, encoded = passwd.read_text().strip().split(":", 1)
    _, _, iterations, salt_b64, _ = encoded.split("$")
    assert user == "alice"
    assert hash_password("correct horse", salt=base64.b64decode(salt_b64), iterations=int(iterations)) == encoded
    assert verify_password("correct horse", encoded) and not verify_password("wrong", encoded)


def test_a_gateway_may_write_its_three_topics_and_read_only_its_commits() -> None:
    account = Account.for_gateway("campus-a", "gw-01")
    assert account.username == "campus-a.gw-01"
    assert account.write == (
        "greenwire/v1/campus-a/gw-01/readings",
        "greenwire/v1/campus-a/gw-01/vitals",
        "greenwire/v1/campus-a/gw-01/status",
    )
    assert account.read == ("greenwire/v1/campus-a/gw-01/commit",)


def test_the_acl_grants_per_account_and_nothing_else() -> None:
    text = acl_text(parse_inventory(INVENTORY).accounts())
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not any(line.startswith("pattern") for line in rules), "no rules that apply to everybody"
    assert rules[:4] == [
        "user campus-a.gw-01",
        "topic write greenwire/v1/campus-a/gw-01/readings",
        "topic write greenwire/v1/campus-a/gw-01/vitals",
        "topic write greenwire/v1/campus-a/gw-01/status",
    ]
    assert rules[4] == "topic read greenwire/v1/campus-a/gw-01/commit"
    ingest = rules[rules.index("user ingest") + 1 : rules.index("user grid-feed")]
    assert ingest == [
        "topic write greenwire/v1/campus-a/carbon/#",
        "topic write greenwire/v1/campus-a/alerts/#",
        "topic write greenwire/v1/campus-a/anomalies/#",
        "topic write greenwire/v1/campus-b/carbon/#",
        "topic write greenwire/v1/campus-b/alerts/#",
        "topic write greenwire/v1/campus-b/anomalies/#",
        "topic write greenwire/v1/+/+/commit",
        "topic read greenwire/v1/+/+/readings",
        "topic read greenwire/v1/+/+/vitals",
        "topic read greenwire/v1/+/+/status",
        "topic read greenwire/v1/grid/+/intensity",
    ]
    assert "topic write greenwire/v1/grid/gb/intensity" in rules
    assert "topic read greenwire/v1/campus-a/carbon/#" in rules
    assert "topic read greenwire/v1/campus-a/anomalies/#" in rules  # a reader sees its sites' findings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sites: [{id: a, gateways: [carbon]}]", "<inventory>:1:28: sites[0].gateways[0]: gateway id 'carbon' is reserved"),
        ("sites: [{id: a, gateways: [alerts]}]", "gateway id 'alerts' is reserved"),
        ("sites: [{id: a, gateways: [anomalies]}]", "gateway id 'anomalies' is reserved"),
        ("sites: [{id: grid, gateways: [g]}]", "site id 'grid' is reserved"),
        ("sites: [{id: a, gateways: [g, g]}]", "gateway 'g' is listed twice"),
        ("sites:\n  - {id: a, gateways: [g]}\n  - {id: a, gateways: [h]}\n", "<inventory>:3:6: sites[1].id: site 'a' is listed twice"),
        ("sites: [{id: a, gateways: [g]}]\ningestors: [x]\nreaders: [{name: x, sites: [a]}]", "'x' is used twice"),
        ("sites: [{id: a, gateways: [g]}]\nreaders: [{name: r, sites: [b]}]", "unknown site 'b'"),
        ("sites: [{id: A, gateways: [g]}]", "sites[0].id"),
    ],
)
def test_bad_inventories_are_refused_with_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_inventory(text)
    assert message in str(caught.value)


def test_credentials_are_written_private_and_kept_across_runs(tmp_path: Path) -> None:
    inventory = parse_inventory(INVENTORY)
    root = tmp_path / "secrets"
    first = write_credentials(inventory, root)
    assert set(first.created) == {a.username for a in first.accounts}
    secrets = [first.secret_path(a) for a in first.accounts]
    assert all(mode(p) == 0o600 for p in [*secrets, first.external_password_file, first.internal_password_file])
    directories = [root, root / "broker", root / "gateways", root / "gateways" / "campus-a",
                   root / "gateways" / "campus-a" / "gw-01", root / "services" / "ingest"]
    assert all(mode(d) == 0o700 for d in directories)
    passwords = {p: p.read_text().strip() for p in secrets}
    assert len(set(passwords.values())) == len(secrets), "one password per account"
    assert all(len(pw) >= 43 for pw in passwords.values())
    external = dict(line.split(":", 1) for line in first.external_password_file.read_text().splitlines())
    internal = dict(line.split(":", 1) for line in first.internal_password_file.read_text().splitlines())
    assert set(internal) == {"ingest"}, "only ingestors on the listener where client ids are free"
    assert set(external) == {a.username for a in first.accounts} - {"ingest"}
    for account in first.accounts:
        hashes = internal if account.internal else external
        assert verify_password(passwords[first.secret_path(account)], hashes[account.username])
        for passwd in (first.external_password_file, first.internal_password_file):
            assert passwords[first.secret_path(account)] not in passwd.read_text()
    # a second run keeps every password; --rotate replaces them all
    second = write_credentials(inventory, root)
    assert second.created == ()
    assert {p: p.read_text().strip() for p in secrets} == passwords
    third = write_credentials(inventory, root, rotate=True)
    assert len(third.created) == len(secrets)
    assert all(p.read_text().strip() != passwords[p] for p in secrets)
    snippet = (root / "gateways" / "campus-b" / "gw-01" / "mqtt.yaml").read_text()
    assert "username: campus-b.gw-01" in snippet and "password_file:" in snippet


def test_private_files_ignore_a_permissive_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        written = write_credentials(parse_inventory(INVENTORY), tmp_path / "s")
    finally:
        os.umask(old)
    assert mode(written.external_password_file) == mode(written.internal_password_file) == 0o600
    assert all(mode(written.secret_path(a)) == 0o600 for a in written.accounts)


def test_deploy_credentials_command_never_prints_a_password(tmp_path: Path) -> None:
    inventory = tmp_path / "sites.yaml"
    inventory.write_text(INVENTORY)
    out = tmp_path / "secrets"
    result = CliRunner().invoke(app, ["deploy", "credentials", str(inventory), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "campus-a.gw-02" in result.output and "new password" in result.output
    for secret in out.rglob("mqtt-password"):
        assert secret.read_text().strip() not in result.output
    again = CliRunner().invoke(app, ["deploy", "credentials", str(inventory), "--out", str(out), "--json"])
    assert again.exit_code == 0 and '"new":false' in again.output and '"new":true' not in again.output
    inventory.write_text("sites: [{id: a, gateways: [carbon]}]\n")
    bad = CliRunner().invoke(app, ["deploy", "credentials", str(inventory), "--out", str(out)])
    assert bad.exit_code == 2 and "sites.yaml:1" in bad.output


def test_deploy_certs_command_issues_a_server_certificate_for_every_host(tmp_path: Path) -> None:
    import ipaddress

    from cryptography import x509

    out = tmp_path / "pki"
    result = CliRunner().invoke(
        app, ["deploy", "certs", "--out", str(out), "--host", "broker.example.org", "--host", "192.0.2.5",
              "--client", "campus-a.gw-01"],
    )
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate((out / "server.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["broker.example.org"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.5")]
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert mode(out / "ca.key") == mode(out / "server.key") == 0o600
    assert mode(out / "clients" / "campus-a.gw-01" / "client.key") == 0o600
    client = x509.load_pem_x509_certificate((out / "clients" / "campus-a.gw-01" / "client.crt").read_bytes())
    assert client.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "campus-a.gw-01"
    # a second run reuses the CA, so clients' ca_file stays valid
    before = (out / "ca.crt").read_bytes()
    assert CliRunner().invoke(app, ["deploy", "certs", "--out", str(out), "--host", "x.example"]).exit_code == 0
    assert (out / "ca.crt").read_bytes() == before
