"""`greenwire report` as a person sees it: the page in headless Chromium at a laptop's and a phone's width.

A small world in real InfluxDB 1.6: two days up to now of two Cambridge University buildings'
recorded 2022 electricity (simulators/data, MIT), encoded by the ingestor's own encoder
(``PointEncoder``) and written to InfluxDB, without building tags as the demo's ingestor writes
them (it runs without a site model). b2's grid meter reads power as well as its counter (as an
SDM630 does); b25's meter only a counter. The NESO
hourly GB intensity (tests/data) shifted onto the window is imported with ``greenwire import
grid``, then ``greenwire carbon backfill`` and ``greenwire carbon run --once``. (The way through
MQTT and the ingestor is ``dashboard_world``'s; this world is built in seconds.)

The report for those days is opened in Chromium at 1,400 and 390 px: no horizontal overflow,
every chart box either drawn with data (coloured ink where the browser shows it) or saying "no
data for this period", the narrow pictures chosen on the phone; the same for a month without
data, where every box says so. The screenshots go to ``$GREENWIRE_ARTIFACTS/report/`` when that is
set (to be looked at), else into the test's temporary directory.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.ingest.points import PointEncoder
from greenwire.servers import InfluxDB1
from greenwire.shared.wire import ReadingsBatch
from greenwire.simulators.series import Replay, builtin_series
from tests.e2e.browser import look_at_charts

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parents[1] / "data"
STEP = timedelta(minutes=5)

SITES_YAML = """\
sites:
  - id: cambridge
    buildings:
      - id: b2
        floor_area_m2: 11500
        zone: GB
        timezone: Europe/London
        annual_budget_kgco2e: 250000
        meters:
          - {gateway: gw-c, device: b2-main, role: grid_import}
      - id: b25
        floor_area_m2: 4200
        zone: GB
        timezone: Europe/London
        annual_budget_kgco2e: 60000
        meters:
          - {gateway: gw-c, device: b25-main, role: grid_import}
"""

def _ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _readings(start: datetime, now: datetime) -> list[str]:
    """Line protocol of the two meters' readings every 5 minutes, as the ingestor writes them."""
    encoder = PointEncoder()
    lines: list[str] = []
    for name, with_power in (("b2", True), ("b25", False)):
        replay = Replay(builtin_series(name), start=datetime(2022, 11, 28, tzinfo=UTC), speed=1.0,
                        clock=lambda: 0.0)
        readings = []
        at = start
        while at <= now:
            offset = (at - start).total_seconds()
            values = {"energy_import_kwh": replay.energy_kwh(offset)}
            if with_power:
                values["active_power_w"] = replay.power_w(offset)
            readings.append({"ts": _ts(at), "device": f"{name}-main", "values": values})
            at += STEP
        for seq, first in enumerate(range(0, len(readings), 500)):
            batch = ReadingsBatch.model_validate_json(json.dumps({
                "schema": "greenwire.readings.v1", "gateway": "gw-c", "seq": seq, "sent_at": _ts(now),
                "readings": readings[first:first + 500]}))
            lines += encoder.lines("cambridge", "gw-c", batch)
    return lines


def _grid_csv(path: Path, start: datetime, now: datetime) -> None:
    """NESO's 2022 hourly GB intensity from 28 November, shifted onto the window."""
    with (DATA / "neso-gb-2022-hourly.csv").open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()[1:]
    first = (datetime(2022, 11, 28, tzinfo=UTC) - datetime(2022, 1, 1, tzinfo=UTC)).days * 24
    out = ["timestamp,gco2_per_kwh"]
    at, i = start - timedelta(hours=2), first
    while at <= now + timedelta(hours=2):
        out.append(f"{_ts(at)},{float(lines[i].split(',')[1]) * 1000!r}")
        at += timedelta(hours=1)
        i += 1
    path.write_text("\n".join(out) + "\n")


def test_report_page_reflows_and_every_chart_shows_data_or_says_why_not(
        influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(days=2)).replace(hour=0, minute=0)
    sites_yaml = tmp_path / "sites.yaml"
    sites_yaml.write_text(SITES_YAML)
    ingest_yaml = tmp_path / "ingest.yaml"
    ingest_yaml.write_text(f"mqtt: {{url: 'mqtt://127.0.0.1:1'}}\ninflux: {{api: v1, url: '{influxdb.url}', "
                           f"database: {influx_db}}}\nstate_dir: '{tmp_path / 'ingest'}'\n")
    influxdb.write(influx_db, _readings(start, now))
    grid = tmp_path / "grid.csv"
    _grid_csv(grid, start, now)
    runner = CliRunner()
    for args in (
        ["import", "grid", str(grid), "--zone", "GB"],
        ["carbon", "backfill", "--sites", str(sites_yaml), "--from", start.date().isoformat(),
         "--to", (now + timedelta(days=1)).date().isoformat()],
        ["carbon", "run", "--sites", str(sites_yaml), "--once", "--no-publish"],
    ):
        result = runner.invoke(app, [*args, "--config", str(ingest_yaml)])
        assert result.exit_code == 0, (args, result.output)

    out = tmp_path / "report"
    result = runner.invoke(app, ["report", "--site", "cambridge", "--from", start.isoformat(), "--to",
                                 now.isoformat(), "--out", str(out), "--config", str(ingest_yaml)],
                           env={"GREENWIRE_SITES": str(sites_yaml)})
    assert result.exit_code == 0, result.output
    index = out / "index.html"
    layouts = look_at_charts(index, tmp_path, "cambridge-2-days")
    charts = layouts[0]["charts"]
    assert len(charts) == 4 + 2 * 2, "four site panels, two per building (b2, b25)"
    assert not [c for c in charts if c["empty"]], "every chart of these days has data"
    text = {c["index"]: c["text"] for c in charts}
    # b2's power from its meter's power field, in kW: Cambridge b2 drew 400-1,100 kW in late November.
    assert "active power of the grid-import meter(s) b2-main" in text[4], text[4]
    assert "kW" in text[4].splitlines()[2] and "MW" not in text[4], text[4]
    assert "From the energy counters" in text[6] and "no power field" in text[6], text[6]
    page = index.read_text(encoding="utf-8")
    assert "1970" not in page

    # A month before any data: every box says so, and why.
    empty = tmp_path / "empty"
    before = start - timedelta(days=40)
    result = runner.invoke(app, ["report", "--site", "cambridge", "--from", before.isoformat(), "--to",
                                 (before + timedelta(days=7)).isoformat(), "--out", str(empty),
                                 "--config", str(ingest_yaml)], env={"GREENWIRE_SITES": str(sites_yaml)})
    assert result.exit_code == 0, result.output
    layouts = look_at_charts(empty / "index.html", tmp_path, "cambridge-no-data")
    assert all(c["empty"] for c in layouts[0]["charts"])
    assert "Nothing in `grid_intensity` between" in (empty / "index.html").read_text(encoding="utf-8")
    assert not list(empty.glob("*.png"))
