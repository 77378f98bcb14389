"""`make demo` as a new user runs it: `greenwire demo` on the local stack, then the carbon commands.

The demo starts simulated meters, an edge agent and the ingestor against the stack, shows each
building's carbon figures, and leaves its site model behind so that `greenwire carbon report
--building b2` works afterwards without any option but the period.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.sites import load_sites
from tests.helpers import GREENWIRE

pytestmark = pytest.mark.e2e

def _run(home: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GREENWIRE, *args], capture_output=True, text=True, timeout=timeout, cwd=home.parent,
                          env={**os.environ, "GREENWIRE_HOME": str(home), "COLUMNS": "200", **env}, check=False)


def test_demo_then_carbon_report(tmp_path: Path) -> None:
    home = tmp_path / "state"
    up = _run(home, "stack", "up")
    assert up.returncode == 0, up.stderr
    try:
        started = datetime.now(UTC)
        demo = _run(home, "demo", DEMO_SECONDS="25")
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        progress = [line for line in demo.stdout.splitlines() if line.startswith("[") and " in InfluxDB " in line]
        assert progress, demo.stdout[-3000:]
        last = progress[-1]
        stored = int(re.search(r"in InfluxDB (\d+)", last)[1])  # type: ignore[index]
        assert stored > 0 and "rejected 0" in last
        for building in ("b2", "b25", "b85"):  # carbon intensity and budget status of every building
            assert re.search(rf"{building}: \d+ g/kWh (on track|at risk|over)", last), last

        model = load_sites(home / "sites.yaml")
        assert [b.id for b in model.sites[0].buildings] == ["b2", "b25", "b85"]
        report = _run(home, "carbon", "report", "--building", "b2", "--json",
                      "--from", (started - timedelta(days=1)).isoformat(), "--to", datetime.now(UTC).isoformat())
        assert report.returncode == 0, report.stderr
        figures = orjson.loads(report.stdout)
        assert figures["energy_kwh"] > 0 and figures["emissions_location_kg"] > 0
        assert figures["factor_sources"], figures

        # The results Grafana reads are in InfluxDB: minutes, the day, the month and the live figures.
        env = dict(line.split("=", 1) for line in _run(home, "stack", "env").stdout.split())
        influx = InfluxV1(env["GREENWIRE_INFLUX_URL"], env["GREENWIRE_INFLUX_DB"])
        for building in ("b2", "b25", "b85"):
            where = f"WHERE \"building\" = '{building}'"
            resolutions = {r["resolution"] for r in influx.query(f'SELECT * FROM "carbon" {where}')}
            assert resolutions == {"1m", "1h", "1d", "1mo"}, (building, resolutions)
            live = influx.query(f'SELECT * FROM "carbon_live" {where}')
            assert live and live[-1]["intensity_g_per_kwh"] > 0
    finally:
        down = _run(home, "stack", "down")
        assert down.returncode == 0, down.stderr
