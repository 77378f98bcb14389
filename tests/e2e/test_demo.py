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
from zoneinfo import ZoneInfo

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
        # Each run starts its replay up to an hour after REPLAY_START (the wall clock's seconds into
        # the minute, x60: replay hours begin on wall-clock minutes).
        replayed = sum(series.energy_kwh_at(offset + 3600 + 60.0 * s) - series.energy_kwh_at(offset) for s in ran_s)
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


def _the_grid_is_the_record(printed: str, last_run: datetime, home: Path) -> None:
    """The grid line shows NESO's 2022 intensity of the hour it names and its best windows; the grid
    intensity stored and the building's minutes move with the record, one recorded hour a minute."""
    import csv

    from greenwire.demo import REPLAY_START

    with (Path(__file__).parents[1] / "data" / "neso-gb-2022-hourly.csv").open(newline="") as handle:
        record = {datetime.fromisoformat(r[0]).replace(tzinfo=UTC): float(r[1]) * 1000
                  for r in list(csv.reader(handle))[1:]}
    lines = re.findall(r"^grid GB \(NESO 2022 replayed\) (\d\d) Jun (\d\d):00 (\d+) g/kWh; best windows in the next 24 h "
                       r"\(start, g/kWh; the forecast is the record\): 1 h (\d\d):00 (\d+), 2 h", printed, re.MULTILINE)
    assert lines, printed[-3000:]
    for day, hour, value, best_hour, best_value in lines:
        at = datetime(2022, 6, int(day), int(hour), tzinfo=UTC)
        assert int(value) == round(record[at]), (at, value)
        # The engine's "now" is the next wall minute, a whole recorded hour: the best 1 h window is
        # one recorded hour, one or two after the grid's (its value may be a poll older), at most as
        # dirty as any hour both horizons hold.
        start = at.replace(hour=int(best_hour)) + timedelta(days=1 if int(best_hour) <= int(hour) else 0)
        assert 1 <= (start - at) / timedelta(hours=1) <= 25
        assert int(best_value) == round(record[start])
        assert record[start] <= min(record[at + timedelta(hours=k)] for k in range(2, 25)) + 1e-9
    assert len({(d, h) for d, h, *_ in lines}) >= 2, "the grid's hour moved during the runs"

    env = dict(line.split("=", 1) for line in _run(home, "stack", "env").stdout.split())
    influx = InfluxV1(env["GREENWIRE_INFLUX_URL"], env["GREENWIRE_INFLUX_DB"])
    minutes = influx.query('SELECT "intensity_g_per_kwh" AS g FROM "carbon" WHERE "building" = \'b2\' '
                           f"AND \"resolution\" = '1m' AND time >= '{last_run:%Y-%m-%dT%H:%M:%SZ}' AND time < "
                           f"'{last_run + timedelta(minutes=2):%Y-%m-%dT%H:%M:%SZ}'")
    # The last run's replay starts at REPLAY_START in the minute it began, and an hour on in the next.
    assert [round(r["g"], 3) for r in minutes] == [round(record[REPLAY_START + timedelta(hours=k)], 3)
                                                  for k in range(2)], minutes
    grid = influx.query('SELECT "g_per_kwh" FROM "grid_intensity" WHERE "zone" = \'GB\' AND "status" != \'forecast\' '
                        f"AND time >= '{last_run:%Y-%m-%dT%H:%M:%SZ}' AND time < '{last_run + timedelta(minutes=3):%Y-%m-%dT%H:%M:%SZ}'")
    assert [r["g_per_kwh"] for r in grid] == [record[REPLAY_START + timedelta(hours=k)] for k in range(len(grid))]
    assert len(grid) >= 2


def _forecasts_and_findings(home: Path, printed: str) -> None:
    """The demo's history site: each building's day-ahead forecast and the anomaly put into it are
    printed, stored, on the Building dashboard's panels and in the month's statement notes."""
    from greenwire.cloud.grafana.dashboards import all_dashboards
    from greenwire.cloud.grafana.evaluate import influx_query, run_annotation, run_panel, selections
    from greenwire.cloud.grafana.model import DATASOURCE_UID
    from greenwire.demo_history import DAYS, INJECTED, SITE

    env = dict(line.split("=", 1) for line in _run(home, "stack", "env").stdout.split())
    influx = InfluxV1(env["GREENWIRE_INFLUX_URL"], env["GREENWIRE_INFLUX_DB"])
    for name, kind in INJECTED.items():
        line = re.search(rf"^forecast and anomalies, site {SITE}: {name}-history: next 24 h ([\d,]+) kWh "
                         rf"\(P10 ([\d,]+), P90 ([\d,]+)\), [\d,]+ kgCO2e; anomalies in \d+ days: (.*)$", printed, re.MULTILINE)
        assert line, printed[-3000:]
        p10, p50, p90 = (float(line[k].replace(",", "")) for k in (2, 1, 3))
        assert 0 < p10 <= p50 <= p90
        assert kind in line[4], (name, line[4])
        where = f"WHERE \"site\" = '{SITE}' AND \"building\" = '{name}-history'"
        stored = influx.query(f'SELECT sum("kwh_p50") AS kwh FROM "carbon_forecast" {where} AND time >= now() - 1d '
                              "AND time < now() + 2d")
        assert stored and stored[0]["kwh"] > 0
        assert any(r["kind"] == kind for r in influx.query(f'SELECT * FROM "anomalies" {where}'))
        actual = influx.query(f'SELECT count("grid_import_kwh") AS n FROM "carbon" {where} AND "resolution" = \'1h\'')
        assert actual and actual[0]["n"] >= 48, "the last days accounted: the actuals beside the forecast"
    building = all_dashboards()["building"]
    sources = {DATASOURCE_UID: influx_query(env["GREENWIRE_INFLUX_URL"], env["GREENWIRE_INFLUX_DB"])}
    now = datetime.now(UTC)
    chosen = [c for c in selections(building, sources, now) if SITE in c["site"].values]
    assert chosen, "the history site is a choice of the Building dashboard"
    for title in ("Grid import per hour: actual and day-ahead forecast", "Anomalies found: kgCO2e by kind",
                  "Emissions per hour: actual and day-ahead forecast"):
        panel = next(p for p in building.panel_list() if p.title == title)
        assert all(run_panel(building, panel, c, sources, now, start=now - timedelta(days=DAYS), end=now
                             + timedelta(days=2)).has_values for c in chosen), title
    emissions = next(p for p in building.panel_list() if p.title == "Emissions per hour: actual and day-ahead forecast")
    for c in chosen:  # the forecast's kgCO2e summed over its roles, hour by hour (a subquery)
        data = run_panel(building, emissions, c, sources, now, start=now - timedelta(days=1), end=now + timedelta(days=2))
        ahead = [s for s in data.series if "forecast P50" in s["columns"]]
        assert ahead and any(row[ahead[0]["columns"].index("forecast P50")] for row in ahead[0]["values"]), data.series
    [annotation] = building.annotations  # each finding, as a region on every time panel
    for c in chosen:
        events = run_annotation(annotation, c, sources, now - timedelta(days=DAYS), now)
        assert events and all(e["end_ms"] > e["time"] and e["kind"] and e["detail"] for e in events), events
    # A run while the history was still arriving may have stored a shorter, overlapping finding
    # of the same event; the statement keeps the longest (cloud/carbon/fetch.py), and so does this.
    frozen = max(influx.query("SELECT * FROM \"anomalies\" WHERE \"building\" = 'b85-history' "
                              "AND \"kind\" = 'frozen_counter'"),
                 key=lambda r: datetime.fromisoformat(r["end"]).timestamp() - r["time"] / 1e9)
    month = datetime.fromtimestamp(frozen["time"] / 1e9, UTC).astimezone(ZoneInfo("Europe/London")).strftime("%Y-%m")
    statement = _run(home, "carbon", "statement", "--site", SITE, "--building", "b85-history", "--period", month)
    assert statement.returncode == 0, statement.stderr
    notes = statement.stdout.split("## Notes", 1)[-1]
    assert "Frozen counter (energy not measured)" in notes and f"| {frozen['kgco2e']:,.1f} |" in notes, notes


def test_demo_then_carbon_report(tmp_path: Path) -> None:
    home = tmp_path / "state"
    up = _run(home, "stack", "up")
    assert up.returncode == 0, up.stderr
    try:
        started = datetime.now(UTC)
        # Three times in one state directory, as a new user tries it: each run restarts the replay,
        # so the meters' counters go back to where the first run began.
        ran_s, printed = [], ""
        for seconds in ("12", "12", "30"):
            if seconds == "30":
                # The last run starts 35-40 s into a minute, so its replay crosses a recorded hour
                # (a wall-clock minute) while it runs.
                while not 35 <= datetime.now(UTC).second < 40:
                    time.sleep(0.2)
            begun = time.monotonic()
            demo = _run(home, "demo", DEMO_SECONDS=seconds)
            ran_s.append(time.monotonic() - begun)
            assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
            printed += demo.stdout
        progress = [line for line in demo.stdout.splitlines() if line.startswith("[") and " in InfluxDB " in line]
        assert progress, demo.stdout[-3000:]
        last = progress[-1]
        stored = int(re.search(r"in InfluxDB (\d+)", last)[1])  # type: ignore[index]
        assert stored > 0 and "rejected 0" in last
        for building in ("b2", "b25", "b85"):  # intensity, budget status and best window of every building
            assert re.search(rf"{building}: \d+ g/kWh (on track|at risk|over) best 1 h \d\d:\d\d \d+", last), last
        began = re.search(r"^meters and grid replay 2022 from 01 Jun 06:00 at (\d\d):(\d\d) UTC", demo.stdout, re.MULTILINE)
        assert began, demo.stdout[:2000]
        today = datetime.now(UTC)
        last_run = today.replace(hour=int(began[1]), minute=int(began[2]), second=0, microsecond=0)
        if last_run > today:  # the run began before midnight
            last_run -= timedelta(days=1)
        _the_grid_is_the_record(printed, last_run, home)

        model = load_sites(home / "sites.yaml")
        assert [b.id for b in model.sites[0].buildings] == ["b2", "b25", "b85"]
        _forecasts_and_findings(home, demo.stdout)
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
