"""Proof without Grafana: every panel's query, as Grafana sends it, returns data from real InfluxDB.

The data went through the real system (see ``dashboard_world``). For each dashboard every
selection of its template variables is made (each site; each building, or "All"), each
panel's queries are interpolated for the panel's default range and run against InfluxDB
1.6. A panel passes when some selection returns non-null values; the health dashboard's
panels read the health service's database of the world's care home, and a missing
measurement there fails, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from greenwire.cloud.grafana.dashboards import all_dashboards
from greenwire.cloud.grafana.evaluate import Query, influx_query, run_panel, selections
from greenwire.cloud.grafana.model import DATASOURCE_UID, HEALTH_DATASOURCE_UID
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.shared.errors import StoreRejected
from tests.e2e.dashboard_world import World, build_world

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(_mosquitto: Mosquitto, _influxdb: InfluxDB1, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _mosquitto.start()
    _influxdb.start()
    built = build_world(_mosquitto, _influxdb, tmp_path_factory.mktemp("dashboards"))
    yield built
    if _influxdb.running:
        _influxdb.drop_database(built.db)
        _influxdb.drop_database(built.health_db)


def _measurements(world: World, db: str | None = None) -> set[str]:
    try:
        rows = influx_query(world.influx_url, db or world.db)("SHOW MEASUREMENTS")
    except StoreRejected:  # the database does not exist
        return set()
    return {row[0] for s in rows for row in s["values"]}


def _sources(world: World) -> dict[str, Query]:
    return {DATASOURCE_UID: influx_query(world.influx_url, world.db),
            HEALTH_DATASOURCE_UID: influx_query(world.influx_url, world.health_db)}


PANELS = [(name, panel.title) for name, board in all_dashboards().items() for panel in board.panel_list()]


@pytest.mark.parametrize(("dashboard", "title"), PANELS, ids=[f"{d}:{t}" for d, t in PANELS])
def test_panel_query_returns_data(world: World, dashboard: str, title: str) -> None:
    board = all_dashboards()[dashboard]
    panel = next(p for p in board.panel_list() if p.title == title)
    sources = _sources(world)
    if dashboard == "health":
        missing = _health_measurements(panel) - _measurements(world, world.health_db)
        assert not missing, (f"health-pilot measurement(s) {sorted(missing)} not in database {world.health_db}: "
                             "the world's health service (greenwire health run) did not write them")
    choices = list(selections(board, sources, world.now))
    assert choices, f"{dashboard}: no value for its template variables"
    results = [run_panel(board, panel, chosen, sources, world.now) for chosen in choices]
    assert any(r.has_values for r in results), (
        f"{dashboard}/{title}: no data for any selection; sent e.g. {results[0].sent}"
    )


def _health_measurements(panel: object) -> set[str]:
    import re

    return {m for q in panel.queries for m in re.findall(r'FROM "[a-z_]+"\."([a-z_]+)"', q.sql)}  # type: ignore[attr-defined]


def test_the_numbers_behind_the_panels_are_the_engines(world: World) -> None:
    """Spot checks: a panel shows what the carbon engine and the ingestor stored, not just "something"."""
    query = influx_query(world.influx_url, world.db)
    sources = _sources(world)
    board = all_dashboards()["portfolio"]
    ranking = next(p for p in board.panel_list() if p.title.startswith("Ranking"))
    chosen = next(c for c in selections(board, sources, world.now) if c["site"].values == ("cambridge",))
    data = run_panel(board, ranking, chosen, sources, world.now)
    rows = {s["tags"]["building"]: s["values"][0] for s in data.series}  # time, kgCO2e/m2
    assert set(rows) == {"b2", "b25"}
    for building, area in (("b2", 11500), ("b25", 4200)):
        stored = query(f'SELECT sum("scope2_location_kgco2e") FROM "carbon" WHERE "resolution" = \'1d\' AND '
                       f'"building" = \'{building}\' AND time >= {int(data.start.timestamp())}s')
        assert rows[building][1] == pytest.approx(stored[0]["values"][0][1] / area, rel=1e-9)
    # The building dashboard's district-heat emissions are the engine's: the stored day's heat x EPA's factor.
    building = all_dashboards()["building"]
    emissions = next(p for p in building.panel_list() if p.title.startswith("Emissions per day"))
    chosen = next(c for c in selections(building, sources, world.now) if c["building"].values == ("rsf",))
    shown = run_panel(building, emissions, chosen, sources, world.now).series[0]
    heat = shown["columns"].index("Scope 2 district heat")
    by_day = {row[0]: row[heat] for row in shown["values"] if row[heat] is not None}
    assert by_day and any(by_day.values()), "heat emissions show for the building with a heat factor"
    stored = query('SELECT "scope2_heat_kgco2e", "heat_kwh" FROM "carbon" WHERE "resolution" = \'1d\' '
                   'AND "building" = \'rsf\'')[0]
    # GROUP BY time(1d) buckets by UTC day; rsf's local days (America/Denver) start at 06:00 or 07:00 UTC.
    day_ms = 86_400_000
    compared = [(by_day[at // day_ms * day_ms], kg, kwh) for at, kg, kwh in stored["values"]
                if at // day_ms * day_ms in by_day]
    assert compared, (by_day, stored["values"])
    for panel_kg, kg, kwh in compared:
        assert panel_kg == pytest.approx(kg, rel=1e-9) and kg == pytest.approx(kwh * 0.22637, rel=1e-9)
    fleet = all_dashboards()["fleet"]
    errors = next(p for p in fleet.panel_list() if p.title == "Poll errors per device")
    chosen = next(c for c in selections(fleet, sources, world.now) if "cambridge" in c["site"].values)
    by_device = {s["tags"]["device"]: s for s in run_panel(fleet, errors, chosen, sources, world.now).series}
    assert sum(row[1] for row in by_device["b2-chiller"]["values"]) >= 1, "the silent unit's errors show"
    assert all(row[1] == 0 for row in by_device["b2-sub"]["values"])


def test_world_has_every_documented_measurement(world: World, tmp_path: Path) -> None:
    expected = {"readings", "ingest_rejected", "carbon", "carbon_live", "grid_intensity", "carbon_daily",
                "carbon_account", "gateway_status", "gateway_device", "ingest_lag", "ingest_stats", "grid_status"}
    assert expected <= _measurements(world)
    health = {"vitals", "environment", "health_alerts", "health_site", "vitals_1h", "environment_1h"}
    assert health <= _measurements(world, world.health_db)
    assert not health & _measurements(world), "health data is kept apart from energy"


def test_health_panels_show_the_health_services_figures(world: World) -> None:
    """Spot checks: the health panels tie to the raw data, and no query reads a person's data."""
    from zoneinfo import ZoneInfo

    from tests.e2e.care_site import SITE, TZ

    health = influx_query(world.influx_url, world.health_db)
    sources = _sources(world)
    board = all_dashboards()["health"]
    choices = list(selections(board, sources, world.now))
    assert [c["site"].values for c in choices] == [(SITE,)]
    chosen = choices[0]
    panels = {p.title: p for p in board.panel_list()}
    data = {title: run_panel(board, panel, chosen, sources, world.now) for title, panel in panels.items()}

    # Shared screen: no query names the per-participant measurements or the pseudonym tag, nothing returns it.
    for title, shown in data.items():
        for text in shown.sent:
            assert '"vitals"' not in text and '"vitals_1h"' not in text and "subject" not in text, (title, text)
        for series in shown.series:
            assert "subject" not in series.get("tags", {}) and "subject" not in series["columns"], title

    def values(title: str) -> list[list[object]]:
        return [row for series in data[title].series for row in series["values"]]

    # Participants today = distinct pseudonyms with a valid observation since local midnight in raw.vitals.
    midnight = world.now.astimezone(ZoneInfo(TZ)).replace(hour=0, minute=0, second=0, microsecond=0)
    per_subject = health(f'SELECT count("value") FROM "raw"."vitals" WHERE "site" = \'{SITE}\' '
                         f'AND "status" <> \'entered-in-error\' AND time >= {int(midnight.timestamp())}s '
                         'GROUP BY "subject"')
    participants = values("Participants monitored today")[-1][1]
    print(f"\nparticipants today: panel {participants}, distinct pseudonyms in raw.vitals {len(per_subject)}, "
          f"consented {world.participants}")
    assert participants == len(per_subject) == world.participants
    assert values("Participants monitored per day")[-1][1] == participants

    # Alerts: the panels count the health_alerts points, per rule and per day.
    raised = health(f'SELECT count("value") FROM "raw"."health_alerts" WHERE "state" = \'raised\' '
                    f'AND "site" = \'{SITE}\' AND time >= {int(data["Alerts raised per rule"].start.timestamp())}s '
                    'GROUP BY "rule"')
    stored = {s["tags"]["rule"]: s["values"][0][1] for s in raised}
    by_rule = {s["tags"]["rule"]: sum(row[1] for row in s["values"]) for s in data["Alerts raised per rule"].series}
    print(f"alerts raised per rule: panel {by_rule}, raw.health_alerts {stored}, service {world.health_alerts}")
    assert by_rule == stored == {k.split(":")[0]: v for k, v in world.health_alerts.items() if k.endswith(":raised")}
    assert stored["indoor_co2_high"] == stored["indoor_heat_index_high"] == 1
    per_day = data["Alerts raised per day"].series[0]
    columns = per_day["columns"]
    participant_rules = sum(row[columns.index("participant rules")] for row in per_day["values"])
    environment_rules = sum(row[columns.index("environment rules")] for row in per_day["values"])
    print(f"alerts raised per day: participant rules {participant_rules}, environment rules {environment_rules}")
    assert environment_rules == 2 and participant_rules == sum(by_rule.values()) - 2 > 0
    states = health(f'SELECT "state", "value" FROM "raw"."health_alerts" WHERE "site" = \'{SITE}\' '
                    'GROUP BY "rule", "subject", "device"')
    still_raised = sum(1 for s in states if s["values"][-1][1] == "raised")
    print(f"alerts active: panel {values('Alerts active')[-1][1]}, raised and not cleared {still_raised}")
    assert values("Alerts active")[-1][1] == still_raised >= 2

    # kgCO2e per participant-day: the day's building emissions over the day's participants.
    days = health(f'SELECT "kgco2e", "participant_days", "kgco2e_per_participant_day" FROM "aggregates"."health_site" '
                  f'WHERE "resolution" = \'1d\' AND "site" = \'{SITE}\' '
                  f'AND time >= {int(data["kgCO2e per participant-day (period)"].start.timestamp())}s')[0]["values"]
    period = values("kgCO2e per participant-day (period)")[-1][1]
    today = days[-1]
    print(f"kgCO2e today {today[1]:.1f} over {today[2]:.0f} participant-days = {today[3]:.2f} per participant-day; "
          f"period panel {period:.2f}")
    assert period == pytest.approx(sum(d[1] for d in days if d[1] is not None) / sum(d[2] for d in days))
    assert today[2] == world.participants and today[1] > 0
    assert values("kgCO2e per participant-day")[-1][1] == pytest.approx(today[1] / today[2])

    # Environment: the two rooms, hot and crowded, and the exposure hours of the hourly figures.
    co2 = {s["tags"]["device"]: max(r[1] for r in s["values"] if r[1] is not None)
           for s in data["Indoor CO2 per sensor"].series}
    heat = {s["tags"]["device"]: max(r[1] for r in s["values"] if r[1] is not None)
            for s in data["Indoor heat index per sensor"].series}
    print(f"max CO2 ppm {co2}, max heat index degC {heat}")
    assert set(co2) == set(heat) == {"lounge-env", "dining-env"}
    assert co2["dining-env"] > 1200 and heat["lounge-env"] > 32
    exposure = data["Hours above the heat and CO2 thresholds per day"].series[0]
    heat_h = sum(r[1] for r in exposure["values"])
    co2_h = sum(r[2] for r in exposure["values"])
    hourly = health(f'SELECT sum("heat_exposure_h"), sum("co2_exposure_h") FROM "aggregates"."health_site" '
                    f'WHERE "resolution" = \'1h\' AND "site" = \'{SITE}\' '
                    f'AND time >= {int(data["Hours above the heat and CO2 thresholds per day"].start.timestamp())}s')
    print(f"exposure hours: heat {heat_h:.4f}, CO2 {co2_h:.4f}")
    assert heat_h > 0 and co2_h > 0
    assert (heat_h, co2_h) == pytest.approx(tuple(hourly[0]["values"][0][1:]))


def test_alert_rule_queries_return_data(world: World) -> None:
    from datetime import timedelta

    from greenwire.cloud.grafana.alert_rules import RULES
    from greenwire.cloud.grafana.macros import interpolate

    query = influx_query(world.influx_url, world.db)
    for rule in RULES:
        for q in rule.queries:
            sent = interpolate(q.sql, start=world.now - timedelta(seconds=q.range_s), end=world.now, variables={},
                               interval=timedelta(minutes=1))
            series = query(sent)
            assert any(v is not None for s in series for row in s["values"] for v in row[1:]), (rule.title, sent)
            assert all({"site"} <= set(s.get("tags", {})) for s in series), "one alert per site and gateway/building"


def test_report_draws_the_panels_and_chromium_shows_them(world: World, tmp_path: Path) -> None:
    """`greenwire report` from the same queries; headless Chromium shows every chart with data, at a
    laptop's and a phone's width, without overflow (``tests.e2e.browser.look_at_charts``)."""
    from typer.testing import CliRunner

    from greenwire.cli import app
    from tests.e2e.browser import look_at_charts

    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", "--site", "cambridge", "--from", world.start.isoformat(),
                                      "--to", world.now.isoformat(), "--out", str(out),
                                      "--config", str(world.ingest_yaml)])
    assert result.exit_code == 0, result.output
    charts = look_at_charts(out / "index.html", tmp_path, "dashboard-world")[0]["charts"]
    assert len(charts) == 4 + 2 * 2, "four portfolio panels, two per building (b2, b25)"
    assert not [c for c in charts if c["empty"]], "every chart of the report has data"


def test_health_queries_parse_and_name_existing_retention_policies(world: World) -> None:
    """InfluxDB 1.6 accepts every health query against an empty database laid out as docs/health-schema.md
    says (raw 30 d default, aggregates 730 d), for a multi-site selection, and refuses an unknown policy."""
    from datetime import timedelta

    from greenwire.cloud.grafana.macros import VariableValue, calculate_interval, interpolate

    db = f"{world.health_db}_layout"
    query = influx_query(world.influx_url, db)
    query(f'CREATE DATABASE "{db}" WITH DURATION 30d REPLICATION 1 SHARD DURATION 1d NAME "raw"')
    query(f'CREATE RETENTION POLICY "aggregates" ON "{db}" DURATION 730d REPLICATION 1 SHARD DURATION 7d')
    try:
        board = all_dashboards()["health"]
        site = {"site": VariableValue(("care-a", "care-b"), multi=True, include_all=True)}
        start = world.now - timedelta(days=7)
        texts = [board.variables[0].query] + [
            interpolate(q.sql, start=start, end=world.now, variables=site,
                        interval=calculate_interval(start, world.now, min_interval=p.interval))
            for p in board.panel_list() for q in p.queries
        ]
        for text in texts:
            assert query(text) == [], text  # accepted (an unknown RP or bad syntax raises StoreRejected)
        with pytest.raises(StoreRejected):
            query('SELECT last("participants") FROM "nonexistent_rp"."health_site" WHERE time > now() - 1h')
    finally:
        query(f'DROP DATABASE "{db}"')
