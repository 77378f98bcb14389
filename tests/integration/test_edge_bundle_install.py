"""The gateway bundle installed as a Pi would run it: its install.sh into a throwaway root, then the
systemd unit's own commands (ExecStartPre, ExecStart) against a real broker, with /etc/greenwire
and /var/lib/greenwire bound to that root in a private mount namespace."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.servers import Mosquitto
from tests.mqttprobe import Probe

pytestmark = pytest.mark.integration

GREENWIRE = Path(sys.executable).parent / "greenwire"


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def _bundle(tmp_path: Path, broker_url: str) -> Path:
    (tmp_path / "pw").write_text("not-checked-by-an-anonymous-broker\n")  # a secret whose name says nothing
    os.chmod(tmp_path / "pw", 0o600)
    profile = (Path(__file__).parents[2] / "edge" / "profiles" / "eastron-sdm120.yaml").read_text()
    (tmp_path / "roof-meter.yaml").write_text(profile.replace("name: eastron-sdm120", "name: roof-meter"))
    config = tmp_path / "edge.yaml"
    config.write_text(
        "gateway: gw-roof\nsite: campus-b\n"
        f"mqtt: {{url: '{broker_url}', username: gw-roof, password_file: pw}}\n"
        "buffer: {path: /var/lib/greenwire/gw-roof.sqlite}\n"
        "buses:\n  - name: rs485-1\n    type: tcp\n    host: 127.0.0.1\n    port: 1\n    devices:\n"
        "      - {id: pv, unit: 2, profile: roof-meter.yaml, poll_interval_s: 5}\n"
    )
    out = tmp_path / "bundle.tar.gz"
    result = CliRunner().invoke(app, ["edge", "bundle", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.skipif(not _namespaces_work(), reason="needs root and mount namespaces (unshare)")
def test_bundle_installs_into_a_root_and_its_unit_starts(tmp_path: Path, mosquitto: Mosquitto) -> None:
    broker_url = mosquitto.url
    bundle = _bundle(tmp_path, broker_url)
    unpacked = tmp_path / "unpacked"
    with tarfile.open(bundle) as tar:
        tar.extractall(unpacked, filter="tar")
    (folder,) = unpacked.iterdir()
    root = tmp_path / "root"
    install = subprocess.run(["sh", "install.sh"], cwd=folder, env={**os.environ, "DESTDIR": str(root)},
                             capture_output=True, text=True, timeout=60)
    assert install.returncode == 0, install.stderr
    etc = root / "etc" / "greenwire"
    secret = etc / "secrets" / "pw"
    assert secret.read_text().startswith("not-checked"), "the password travels as a secret, whatever its name"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o640
    assert stat.S_IMODE((etc / "profiles" / "roof-meter.yaml").stat().st_mode) == 0o644
    installed = (etc / "edge.yaml").read_text()
    assert "/etc/greenwire/secrets/pw" in installed and "/etc/greenwire/profiles/roof-meter.yaml" in installed
    unit = (root / "etc" / "systemd" / "system" / "greenwire-edge.service").read_text()
    commands = {line.split("=", 1)[0]: shlex.split(line.split("=", 1)[1]) for line in unit.splitlines()
                if line.startswith(("ExecStartPre=", "ExecStart="))}
    made: list[Path] = []
    for mountpoint in (Path("/etc/greenwire"), Path("/var/lib/greenwire")):
        if not mountpoint.exists():
            mountpoint.mkdir(parents=True)
            made.append(mountpoint)
    try:
        def in_root(argv: list[str], seconds: float) -> subprocess.CompletedProcess[str]:
            argv = [str(GREENWIRE) if a == "/opt/greenwire/bin/greenwire" else a for a in argv]
            script = (f"mount --bind {etc} /etc/greenwire && mount --bind {root / 'var/lib/greenwire'} "
                      f"/var/lib/greenwire && cd /var/lib/greenwire && exec timeout --preserve-status -s TERM {seconds} "
                      + " ".join(map(shlex.quote, argv)))
            return subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True,
                                  timeout=seconds + 30)

        check = in_root(commands["ExecStartPre"], 30)
        assert check.returncode == 0, check.stdout + check.stderr
        host, port = mosquitto.host, mosquitto.port
        with Probe(host, port) as probe:
            probe.subscribe("greenwire/v1/campus-b/gw-roof/status")
            run = in_root(commands["ExecStart"], 6)
            status = [m for m in probe.messages if b'"state":"online"' in m.payload]
        assert run.returncode == 0, run.stderr[-2000:]
        assert status, "the agent started from the unit's command connected and said it was online"
        assert (root / "var/lib/greenwire/gw-roof.sqlite").exists(), "its buffer is where the config says"
    finally:
        for mountpoint in made:
            mountpoint.rmdir()
