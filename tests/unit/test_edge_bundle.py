"""`greenwire edge bundle`: one tarball with everything a gateway needs, secrets kept private."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.edge.config import load_config


def test_bundle_carries_config_unit_secrets_and_checksums(tmp_path: Path) -> None:
    (tmp_path / "mqtt-password").write_text("s3cret\n")
    profile = (Path(__file__).parents[2] / "edge" / "profiles" / "eastron-sdm120.yaml").read_text()
    (tmp_path / "my-meter.yaml").write_text(profile.replace("name: eastron-sdm120", "name: my-meter"))
    config = tmp_path / "edge.yaml"
    config.write_text(
        "gateway: gw-roof\nsite: campus-b\n"
        "mqtt: {url: 'mqtts://broker.example.org:8883', username: gw-roof, password_file: mqtt-password}\n"
        "buses:\n  - name: rs485-1\n    type: serial\n    port: /dev/ttyUSB0\n    devices:\n"
        "      - {id: main, unit: 1, profile: eastron-sdm630}\n"
        "      - {id: pv, unit: 2, profile: my-meter.yaml}\n"
    )
    out = tmp_path / "bundle.tar.gz"
    result = CliRunner().invoke(app, ["edge", "bundle", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    expected_hash = load_config(config).config_hash
    assert expected_hash in result.output
    with tarfile.open(out) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        assert set(members) == {"edge.yaml", "greenwire-edge.service", "README", "SHA256SUMS", "install.sh",
                                "secrets/mqtt-password", "profiles/my-meter.yaml"}
        assert all(m.name.startswith(f"gw-roof-{expected_hash}/") for m in members.values())
        assert members["secrets/mqtt-password"].mode == 0o600
        read = {name: tar.extractfile(m).read() for name, m in members.items()}  # type: ignore[union-attr]
    assert b"/etc/greenwire/secrets/mqtt-password" in read["edge.yaml"]
    assert b"/etc/greenwire/profiles/my-meter.yaml" in read["edge.yaml"]
    assert b"ExecStart=/opt/greenwire/bin/greenwire edge run /etc/greenwire/edge.yaml" in read["greenwire-edge.service"]
    assert expected_hash.encode() in read["README"]
    for line in read["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(read[name]).hexdigest() == digest


def test_bundle_refuses_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text("gateway: GW 1\nsite: s\nbuses: []\n")
    result = CliRunner().invoke(app, ["edge", "bundle", str(config)])
    assert result.exit_code == 2 and "edge.yaml:1" in result.output


def test_bundle_carries_the_consent_list_never_the_pseudonym_key(tmp_path: Path) -> None:
    import os

    key = tmp_path / "pseudonym.key"
    key.write_text("ab" * 32)
    os.chmod(key, 0o600)
    (tmp_path / "consent.txt").write_text("Patient/pat-1\n")
    config = tmp_path / "edge.yaml"
    config.write_text(
        "gateway: care-gw\nsite: care-home\nwearables:\n  key_file: pseudonym.key\n  key_id: pilot2026\n"
        "  consent_file: consent.txt\n  sources:\n    - {id: ward-hub, url: 'http://192.0.2.20/fhir'}\n")
    out = tmp_path / "bundle.tar.gz"
    result = CliRunner().invoke(app, ["edge", "bundle", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with tarfile.open(out) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers()}
        read = {name: tar.extractfile(m).read() for name, m in members.items()}  # type: ignore[union-attr]
    assert members["secrets/consent.txt"].mode == 0o600
    assert b"/etc/greenwire/secrets/consent.txt" in read["edge.yaml"]
    assert not any("pseudonym" in name for name in members), "the key stays where it was made"
    assert ("ab" * 32).encode() not in b"".join(read.values())
    assert b"edge keygen" in read["README"]
