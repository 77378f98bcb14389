"""On an edge-only install, a cloud or report command names the extra to install, in one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

V2_CONFIG = """mqtt: {url: 'mqtt://127.0.0.1:1'}
influx: {api: v2, url: 'http://127.0.0.1:1', token: t, org: o, bucket: b}
"""
V1_CONFIG = """mqtt: {url: 'mqtt://127.0.0.1:1'}
influx: {api: v1, url: 'http://127.0.0.1:1', database: greenwire}
"""


def _run_without(module: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``greenwire ARGV`` in a Python where ``module`` cannot be imported, as on an edge-only install."""
    code = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['greenwire', *{argv!r}]; "
            "from greenwire.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("influxdb_client", ["ingest", "check", "--config", "v2.yaml"], "cloud"),
        ("matplotlib", ["report", "--site", "campus", "--from", "2026-01-01", "--to", "2026-01-02", "--config", "v1.yaml"], "report"),
        ("cryptography", ["deploy", "certs", "--out", "pki", "--host", "broker.example.org"], "cloud"),
        ("sklearn", ["forecast", "run", "--sites", "sites.yaml", "--config", "v1.yaml"], "forecast"),
    ],
)
def test_a_missing_extra_is_named_in_one_line(tmp_path: Path, module: str, argv: list[str], extra: str) -> None:
    (tmp_path / "v2.yaml").write_text(V2_CONFIG)
    (tmp_path / "v1.yaml").write_text(V1_CONFIG)
    result = _run_without(module, argv, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: this command needs greenwire's {extra!r} extra ({module} is not installed): "
                     f"pip install 'greenwire[{extra}]'"]
