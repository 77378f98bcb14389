"""One truth per building and day: every place a figure is shown agrees, and faults do not inflate it.

A real building's day (Cambridge b25, read every minute) is stored in InfluxDB as counter
readings with real faults in it: the meter replaced by one starting at 2,500,000 kWh, a spike of
a wrong register, a bad read a few kWh back, the simulator restarted from an earlier point of
its replay, and a gap. Then, on the same InfluxDB:

- the carbon engine's update (what `greenwire carbon run` and the demo's live view do) stores
  the day (`carbon` 1d), `carbon_daily` and `carbon_account` and returns today's kgCO2e;
- `greenwire carbon report --json`, `greenwire carbon account --json` and
  `greenwire carbon statement --format csv` print theirs.

All of them must give the same energy and emissions for the day, and the energy must lie
between the true energy minus that of the faulty intervals and the true energy.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.carbon.facts import AccountSchedule
from greenwire.cloud.carbon.live import refresh
from greenwire.cloud.sites import load_sites
from greenwire.servers import InfluxDB1
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.simulators.series import builtin_series

pytestmark = pytest.mark.e2e

TZ = ZoneInfo("Europe/London")


def _day_readings(today: datetime, now: datetime) -> tuple[list[tuple[datetime, float]], float, float]:
    """(readings, true kWh, kWh of the faulty intervals) of b25 replayed from 1 March 2022 into today."""
    series = builtin_series("b25")
    offset = (datetime(2022, 3, 1, tzinfo=UTC) - series.start).total_seconds()
    minutes = int((now - today).total_seconds() // 60)

    def true(m: float) -> float:
        return series.energy_kwh_at(offset + m * 60)

    readings: list[tuple[datetime, float]] = []
    faulty = 0.0
    base = 0.0  # what the counter reads minus the true energy
    for m in range(minutes):
        value = true(m) + base
        if m == minutes // 4:  # meter replaced by one starting at 2,500,000 kWh
            base = 2_500_000.0 - true(m - 0.5)
            value = true(m) + base
            faulty += true(m) - true(m - 1)
        if m == minutes // 3:  # a wrong register read once
            value = 9.99e8
            faulty += true(m + 1) - true(m - 1)
        if m == minutes // 2:  # a bad read a few kWh back
            value -= 4.0
            faulty += true(m + 1) - true(m - 1)
        if m == 2 * minutes // 3:  # the simulator restarted from two hours earlier in its replay
            base -= true(m - 0.5) - true(m - 120.5)
            value = true(m) + base
            faulty += true(m) - true(m - 1)
        if 3 * minutes // 4 <= m < 3 * minutes // 4 + 20:  # the gateway offline for 20 minutes
            continue
        readings.append((today + timedelta(minutes=m), value))
    gap = 3 * minutes // 4
    faulty += true(gap + 20) - true(gap - 1)
    return readings, true(minutes - 1) - true(0), faulty


def test_every_place_shows_the_same_plausible_day(influxdb: InfluxDB1, influx_db: str, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    today = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    if now - today < timedelta(hours=2):  # too early in the day for a meaningful day: use yesterday's
        today, now = today - timedelta(days=1), today - timedelta(minutes=1)
    readings, true_kwh, faulty_kwh = _day_readings(today, now)
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw", "device": "main"})
    influxdb.write(influx_db, [prefix.line({"energy_import_kwh": v, "quality": "good"}, int(t.timestamp()) * 10**9)
                               for t, v in readings])
    (tmp_path / "ingest.yaml").write_text(
        f"mqtt: {{url: 'mqtt://127.0.0.1:1883'}}\ninflux: {{api: v1, url: '{influxdb.url}', database: {influx_db}}}\n")
    (tmp_path / "sites.yaml").write_text(
        "sites:\n  - id: s\n    buildings:\n"
        "      - {id: b25, floor_area_m2: 1000, zone: GB, timezone: Europe/London, annual_budget_kgco2e: 60000,\n"
        "         meters: [{gateway: gw, device: main, role: grid_import}]}\n")
    building = load_sites(tmp_path / "sites.yaml").sites[0].buildings[0]
    influx = InfluxV1(influxdb.url, influx_db)

    update = refresh(influx, "s", building, now, AccountSchedule())
    stored_day = influx.query(f'SELECT grid_import_kwh, total_kgco2e, excluded_kwh FROM "carbon" WHERE '
                              f'"building" = \'b25\' AND "resolution" = \'1d\' AND time = {int(today.timestamp())}s')
    daily = influx.query(f'SELECT grid_import_kwh, kgco2e_per_m2 FROM "carbon_daily" WHERE "building" = \'b25\' '
                         f'AND time = {int(today.timestamp())}s')
    account_row = influx.query('SELECT last("today_kgco2e") AS kg FROM "carbon_account" WHERE "building" = \'b25\'')

    opts = ["--building", "b25", "--sites", str(tmp_path / "sites.yaml"), "--config", str(tmp_path / "ingest.yaml")]
    period = ["--from", today.isoformat(), "--to", (now + timedelta(minutes=1)).isoformat()]
    runner = CliRunner()
    report = runner.invoke(app, ["carbon", "report", *opts, *period, "--json"])
    assert report.exit_code == 0, report.output
    reported = json.loads(report.output)
    account = runner.invoke(app, ["carbon", "account", *opts, "--year", str(now.astimezone(TZ).year),
                                  "--as-of", now.isoformat(), "--json"])
    assert account.exit_code == 0, account.output
    statement = runner.invoke(app, ["carbon", "statement", *opts, *period, "--format", "csv"])
    assert statement.exit_code == 0, statement.output
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(
        line for line in statement.output.splitlines() if not line.startswith("#"))}

    kwh = reported["grid_import_kwh"]
    kg = reported["total_kgco2e"]
    assert true_kwh - faulty_kwh - 1e-6 <= kwh <= true_kwh + 1e-6, (kwh, true_kwh, faulty_kwh)
    assert reported["excluded_kwh"] > 0  # the replacement and the restart are reported as left out
    assert stored_day[0]["grid_import_kwh"] == pytest.approx(kwh, rel=1e-9)
    assert stored_day[0]["total_kgco2e"] == pytest.approx(kg, rel=1e-9)
    assert stored_day[0]["excluded_kwh"] == pytest.approx(reported["excluded_kwh"], rel=1e-9)
    assert update.today_kgco2e == pytest.approx(kg, rel=1e-9)
    assert daily[0]["grid_import_kwh"] == pytest.approx(kwh, rel=1e-9)
    assert daily[0]["kgco2e_per_m2"] * 1000 == pytest.approx(kg, rel=1e-9)
    if now.astimezone(TZ).date() == datetime.now(TZ).date():  # the year account speaks of today
        assert account_row[0]["kg"] == pytest.approx(kg, rel=1e-9)
    assert json.loads(account.output)["emitted_kgco2e"] == pytest.approx(kg, rel=1e-6)
    assert float(rows[("energy", "grid import")]) == pytest.approx(kwh, rel=1e-9)
    assert float(rows[("energy", "excluded (replaced or re-based counters: the meter's recent rate, "
                       "not counted)")]) == pytest.approx(reported["excluded_kwh"], rel=1e-9)


def test_a_meter_read_once_a_day_is_accounted_from_influxdb(influxdb: InfluxDB1, influx_db: str,
                                                             tmp_path: Path) -> None:
    """Reads at 00:00 UTC (08:00 in Shanghai), 100 kWh a day: the day's account and its stored day both
    reach past the read margin for the reads either side."""
    from greenwire.cloud.carbon.factors import load_factors
    from greenwire.cloud.carbon.fetch import account_from_influx, fetch_readings
    from greenwire.cloud.carbon.results import day_results

    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw", "device": "daily"})
    influxdb.write(influx_db, [prefix.line({"energy_import_kwh": 1000.0 + 100 * d, "quality": "good"},
                                           int(datetime(2026, 3, d, tzinfo=UTC).timestamp()) * 10**9)
                               for d in range(1, 8)])
    (tmp_path / "sites.yaml").write_text(
        "sites:\n  - id: s\n    buildings:\n"
        "      - {id: hi, floor_area_m2: 100, zone: CN-HI, timezone: Asia/Shanghai,\n"
        "         meters: [{gateway: gw, device: daily, role: grid_import}]}\n")
    building = load_sites(tmp_path / "sites.yaml").sites[0].buildings[0]
    influx = InfluxV1(influxdb.url, influx_db)
    day = datetime(2026, 3, 4, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
    assert account_from_influx(influx, building, day, day + timedelta(days=1)).grid_import_kwh == pytest.approx(100)
    readings = fetch_readings(influx, building, day, day + timedelta(days=1))
    rolled = day_results(building, readings.counters, readings.gas, readings.series, day, day + timedelta(days=1),
                         load_factors())
    assert rolled["1d"][day].grid_import_kwh == pytest.approx(100)
