"""Dashboards as code: the checked-in JSON is what the code generates, it is valid Grafana
dashboard JSON, and every panel is usable by a facility manager (a unit, a query, thresholds)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.grafana.build import generated, stale
from greenwire.cloud.grafana.dashboards import all_dashboards
from greenwire.cloud.grafana.macros import (
    VariableValue,
    calculate_interval,
    format_interval,
    interpolate,
    resolve_relative,
    variables_used,
)
from greenwire.cloud.grafana.model import Panel, Query, Threshold

ROOT = Path(__file__).parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
SCHEMA = json.loads((ROOT / "tests" / "data" / "grafana-dashboard-schema" / "dashboard.jsonschema.json").read_text())


def test_checked_in_json_is_what_the_code_generates() -> None:
    assert stale(GRAFANA) == [], "run `greenwire grafana build` and commit deploy/grafana"


def test_check_fails_on_a_changed_file(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["grafana", "build", "--out", str(tmp_path)]).exit_code == 0
    assert runner.invoke(app, ["grafana", "build", "--out", str(tmp_path), "--check"]).exit_code == 0
    fleet = tmp_path / "dashboards" / "fleet.json"
    fleet.write_text(fleet.read_text().replace("Gateways online", "Gateways up"))
    result = runner.invoke(app, ["grafana", "build", "--out", str(tmp_path), "--check"])
    assert result.exit_code == 1
    assert "fleet.json" in result.output
    (tmp_path / "dashboards" / "stray.json").write_text("{}")
    assert "dashboards/stray.json" in stale(tmp_path)
    (tmp_path / "provisioning" / "alerting" / "greenwire.yaml").unlink()
    assert "provisioning/alerting/greenwire.yaml" in stale(tmp_path)


@pytest.mark.parametrize("name", sorted(n for n in generated() if n.endswith(".json")))
def test_dashboard_validates_against_grafanas_schema(name: str) -> None:
    document = json.loads(generated()[name])
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)


def test_the_schema_rejects_what_grafana_would_reject() -> None:
    document = json.loads(generated()["dashboards/fleet.json"])
    document["panels"][0]["gridPos"]["w"] = 30
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)
    document = json.loads(generated()["dashboards/fleet.json"])
    document["panels"][0]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize("name", sorted(all_dashboards()))
def test_every_panel_has_a_unit_thresholds_and_influxql(name: str) -> None:
    board = all_dashboards()[name]
    document = board.to_json()
    defined = {v["name"] for v in document["templating"]["list"]}
    assert document["time"]["from"].startswith("now-")
    for panel in document["panels"]:
        if panel["type"] == "row":
            continue
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"], panel["title"]
        steps = defaults["thresholds"]["steps"]
        assert steps[0]["value"] is None and all(s["color"] for s in steps), panel["title"]
        for target in panel["targets"]:
            assert target["rawQuery"] is True
            assert target["query"].startswith(("SELECT", "SHOW")), target["query"]
            assert "$timeFilter" in target["query"], f"{panel['title']}: the query ignores the time range"
        assert variables_used([t["query"] for t in panel["targets"]]) <= defined, panel["title"]
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap() -> None:
    for board in all_dashboards().values():
        cells: set[tuple[int, int]] = set()
        for panel in board.to_json()["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24
            mine = {(pos["x"] + i, pos["y"] + j) for i in range(pos["w"]) for j in range(pos["h"])}
            assert not cells & mine, panel["title"]
            cells |= mine


def test_health_dashboard_shows_no_individual_identifiers() -> None:
    """docs/health-schema.md: shared screens read site-level measurements only, never a pseudonym."""
    from greenwire.cloud.grafana.health_pilot import ALLOWED_MEASUREMENTS

    document = all_dashboards()["health"].to_json()
    queries = [t["query"] for p in document["panels"] for t in p.get("targets", [])]
    queries += [v["query"] for v in document["templating"]["list"]]
    assert len(queries) >= 10
    for query in queries:
        assert "subject" not in query and "vitals" not in query, query
        for source in re.findall(r'FROM ("[a-z_]+"\."[a-z_]+"|"[a-z_]+")', query):
            assert source in ALLOWED_MEASUREMENTS, f"{source} is not for shared screens: {query}"
    assert {p["datasource"]["uid"] for p in document["panels"] if p["type"] != "row"} == {"greenwire-influxdb-health"}


@pytest.mark.parametrize("timezone", ["Europe/London", "Asia/Shanghai", "America/Denver", "UTC"])
@pytest.mark.parametrize("hour", [0, 10, 23])
def test_health_today_panel_holds_the_sites_current_day_whatever_the_viewers_timezone(timezone: str,
                                                                                        hour: int) -> None:
    """health_site 1d points start at the site's local midnight: the "today" stat's range must hold that
    point and not the day before, or the stat shows no data (or yesterday) for part of the day."""
    from zoneinfo import ZoneInfo

    from greenwire.cloud.grafana.evaluate import panel_range

    board = all_dashboards()["health"]
    panel = next(p for p in board.panel_list() if p.title == "Participants monitored today")
    now = datetime(2026, 7, 15, hour, 30, tzinfo=UTC)  # summer: London is UTC+1
    start, end = panel_range(board, panel, now)
    local = now.astimezone(ZoneInfo(timezone))
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)  # wall-clock arithmetic: the previous local midnight
    assert start <= today <= end
    assert yesterday < start


def test_builder_refuses_a_panel_without_unit_or_query() -> None:
    with pytest.raises(ValueError, match="no unit"):
        Panel("stat", "x", "", (Query("SELECT 1"),))
    with pytest.raises(ValueError, match="no query"):
        Panel("stat", "x", "kwatt", ())
    with pytest.raises(ValueError, match="base"):
        Panel("stat", "x", "kwatt", (Query("SELECT 1"),), thresholds=(Threshold(5, "red"),))


# -- Grafana's substitution ---------------------------------------------------------------------

START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_time_filter_and_interval_as_grafana_sends_them() -> None:
    end = START + timedelta(hours=6)
    interval = calculate_interval(START, end)
    assert format_interval(interval) == "20s"  # 21.6 s per point rounds to 20 s
    text = interpolate(
        'SELECT mean("x") FROM "m" WHERE "site" =~ /^$site$/ AND $timeFilter GROUP BY time($__interval)',
        start=START, end=end, variables={"site": VariableValue(("campus-a",))}, interval=interval,
    )
    assert text == (
        'SELECT mean("x") FROM "m" WHERE "site" =~ /^campus-a$/ AND '
        "time >= 1795996800000ms and time <= 1796018400000ms GROUP BY time(20s)"
    )


def test_multi_value_and_all_variables_become_regex_alternatives() -> None:
    query = 'WHERE "building" =~ /^$building$/ AND "g" = \'${gateway}\' AND [[site]]'
    out = interpolate(
        query, start=START, end=START + timedelta(days=1), interval=timedelta(minutes=1),
        variables={
            "building": VariableValue(("b2", "b25.x"), multi=True, include_all=True),
            "gateway": VariableValue(("gw-01",)),
            "site": VariableValue(("c",), multi=True),
        },
    )
    assert out == 'WHERE "building" =~ /^(b2|b25\\.x)$/ AND "g" = \'gw-01\' AND c'
    with pytest.raises(KeyError, match="zone"):
        interpolate("$zone", start=START, end=START, variables={}, interval=timedelta(seconds=1))


def test_min_interval_and_formatting() -> None:
    assert calculate_interval(START, START + timedelta(hours=1), min_interval="1m") == timedelta(minutes=1)
    assert calculate_interval(START, START + timedelta(days=30)) == timedelta(minutes=30)  # 43.2 min -> 30 min
    assert format_interval(timedelta(days=2)) == "2d"
    assert format_interval(timedelta(milliseconds=100)) == "100ms"
    now = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    assert resolve_relative("now-6h", now) == now - timedelta(hours=6)
    assert resolve_relative("now/d", now) == datetime(2026, 12, 1, tzinfo=UTC)


def test_alert_rules_provisioning_is_well_formed() -> None:
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load((GRAFANA / "provisioning" / "alerting" / "greenwire.yaml").read_text())
    rules = document["groups"][0]["rules"]
    assert {r["title"] for r in rules} == {"Gateway offline", "Gateway buffer growing", "Gateway readings not committed",
                                           "Carbon budget at risk", "Anomaly found in a building's meters"}
    for rule in rules:
        refs = [d["refId"] for d in rule["data"]]
        assert rule["condition"] in refs and len(refs) == len(set(refs))
        for item in rule["data"]:
            model = item["model"]
            if item["datasourceUid"] == "__expr__":
                used = set(re.findall(r"\$(\w+)", model["expression"])) if model["type"] == "math" else {
                    model["expression"]}
                assert used <= set(refs), (rule["title"], used)
            else:
                assert item["datasourceUid"] == "greenwire-influxdb" and "$timeFilter" in model["query"]
                assert item["relativeTimeRange"]["from"] > 0
        assert re.fullmatch(r"\d+[mh]", rule["for"])


def test_provisioning_files_name_the_dashboards_datasource() -> None:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    sources = yaml.load((GRAFANA / "provisioning" / "datasources" / "greenwire.yaml").read_text())["datasources"]
    provisioned = {s["uid"] for s in sources}
    assert provisioned == {"greenwire-influxdb", "greenwire-influxdb-health"}
    assert all(s["type"] == "influxdb" and s["jsonData"]["dbName"].startswith("${") for s in sources)
    assert all(s["jsonData"]["version"] == "InfluxQL" for s in sources)
    provider = yaml.load((GRAFANA / "provisioning" / "dashboards" / "greenwire.yaml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"].endswith("/greenwire")
    for text in generated().values():
        if text.startswith("{"):
            uids = {t["datasource"]["uid"] for p in json.loads(text)["panels"] for t in p.get("targets", [])}
            assert uids <= provisioned


def test_value_mappings_and_units_apply_to_a_single_value_column() -> None:
    """A panel's unit and value mappings apply to every field; a panel with several value columns would
    show a wrong unit, or turn a count of 1 into "online"."""
    for board in all_dashboards().values():
        for panel in board.panel_list():
            if panel.mappings or panel.kind == "table":
                for query in panel.queries:
                    assert _columns(query.sql.split(" FROM ")[0]) == 1, (panel.title, query.sql)


def _columns(select: str) -> int:
    """Value columns of a SELECT list: commas outside parentheses, plus one."""
    depth, columns = 0, 1
    for char in select:
        depth += {"(": 1, ")": -1}.get(char, 0)
        columns += char == "," and depth == 0
    return columns
