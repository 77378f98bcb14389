"""`make demo` as a new user runs it: `greenwire demo` on the local stack, then the carbon commands.

The demo starts simulated meters, an edge agent and the ingestor against the stack, shows each
building's carbon figures, and leaves its site model behind so that `greenwire carbon report
--building b2` works afterwards without any option but the period.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
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


def _plausible_and_the_same_everywhere(home: Path, influx: InfluxV1, ran_s: list[float]) -> None:
    """Each building's day is no more than the series energy its replays covered, and the stored day,
    `carbon report` and the year account's today agree."""
    from greenwire.demo import REPLAY_START
    from greenwire.simulators.series import builtin_series

    for building in ("b2", "b25", "b85"):
        series = builtin_series(building)
        offset = (REPLAY_START - series.start).total_seconds()
        replayed = sum(series.energy_kwh_at(offset + 60.0 * s) - series.energy_kwh_at(offset) for s in ran_s)
        where = f"WHERE \"building\" = '{building}'"
        day = influx.query(f'SELECT "grid_import_kwh" AS kwh, "total_kgco2e" AS kg FROM "carbon" '
                           f"{where} AND \"resolution\" = '1d' ORDER BY time DESC LIMIT 1")[0]
        assert 0 < day["kwh"] <= replayed, (building, day, replayed)
        start = datetime.fromtimestamp(int(day["time"]) / 1e9, UTC)
        report = _run(home, "carbon", "report", "--building", building, "--json", "--from", start.isoformat(),
                      "--to", (start + timedelta(days=1)).isoformat())
        assert report.returncode == 0, report.stderr
        figures = orjson.loads(report.stdout)
        assert figures["grid_import_kwh"] == pytest.approx(day["kwh"], rel=1e-6), building
        assert figures["total_kgco2e"] == pytest.approx(day["kg"], rel=1e-6), building
        today = influx.query(f'SELECT last("today_kgco2e") AS kg FROM "carbon_account" {where}')[0]["kg"]
        assert today <= day["kg"] * (1 + 1e-6), building  # the account is at most a few seconds older


def test_demo_then_carbon_report(tmp_path: Path) -> None:
    home = tmp_path / "state"
    up = _run(home, "stack", "up")
    assert up.returncode == 0, up.stderr
    try:
        started = datetime.now(UTC)
        # Three times in one state directory, as a new user tries it: each run restarts the replay,
        # so the meters' counters go back to where the first run began.
        ran_s = []
        for seconds in ("12", "12", "20"):
            begun = time.monotonic()
            demo = _run(home, "demo", DEMO_SECONDS=seconds)
            ran_s.append(time.monotonic() - begun)
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
        _plausible_and_the_same_everywhere(home, influx, ran_s)
        for building in ("b2", "b25", "b85"):
            where = f"WHERE \"building\" = '{building}'"
            resolutions = {r["resolution"] for r in influx.query(f'SELECT * FROM "carbon" {where}')}
            assert resolutions == {"1m", "1h", "1d", "1mo"}, (building, resolutions)
            live = influx.query(f'SELECT * FROM "carbon_live" {where}')
            assert live and live[-1]["intensity_g_per_kwh"] > 0

        # Every gateway's status is stored, the care gateway's (greenwire.status.v2) included, with its
        # wearable source's counters, and the Fleet dashboard's queries return them.
        from greenwire.cloud.grafana.dashboards import all_dashboards
        from greenwire.cloud.grafana.evaluate import influx_query, run_panel, selections
        from greenwire.cloud.grafana.model import DATASOURCE_UID
        from greenwire.demo_care import GATEWAY as CARE_GATEWAY

        gateways = {r["gateway"] for r in influx.query('SELECT last("online") FROM "gateway_status" GROUP BY "gateway"')}
        assert CARE_GATEWAY in gateways, gateways
        care = influx.query(f'SELECT last("received") AS r, last("forwarded") AS f FROM "gateway_wearable" '
                            f"WHERE \"gateway\" = '{CARE_GATEWAY}' GROUP BY \"source\"")
        assert care and care[0]["r"] > 0 and care[0]["f"] > 0, care
        assert not influx.query('SELECT * FROM "ingest_rejected" WHERE "reason" = \'unexpected_field\'')
        fleet = all_dashboards()["fleet"]
        sources = {DATASOURCE_UID: influx_query(env["GREENWIRE_INFLUX_URL"], env["GREENWIRE_INFLUX_DB"])}
        now = datetime.now(UTC)
        chosen = [c for c in selections(fleet, sources, now) if CARE_GATEWAY in c["gateway"].values]
        assert chosen, "the care gateway is a choice of the Fleet dashboard"
        for title in ("Gateways online", "Wearable observations per source", "Wearable rejects by reason"):
            panel = next(p for p in fleet.panel_list() if p.title == title)
            assert any(run_panel(fleet, panel, c, sources, now).has_values for c in chosen), title
    finally:
        down = _run(home, "stack", "down")
        assert down.returncode == 0, down.stderr
