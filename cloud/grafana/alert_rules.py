"""Grafana alert rules as code: a gateway offline, a buffer growing, a carbon budget at risk.

Written by ``greenwire grafana build`` as a Grafana alerting provisioning file
(``deploy/grafana/provisioning/alerting/greenwire.yaml``) and pushed through the
provisioning API by ``greenwire grafana push``. Each rule queries InfluxQL (the same
datasource as the dashboards), reduces each series to its last value and compares it
with a threshold; one alert per series (per gateway, per building).

- **Gateway offline**: the gateway's last status in 15 minutes is offline (a clean
  shutdown or its last will), for 5 minutes. No status at all in the window (the whole
  fleet silent, or the ingestor down) is "no data", which alerts too.
- **Buffer growing**: the oldest reading in a gateway's buffer is more than 15 minutes
  old and the buffer grew over the last 30 minutes: the uplink or broker is not keeping up.
- **Carbon budget at risk**: a building's year account is at risk or over, for 1 hour.
- **Anomaly found**: a finding of ``greenwire anomalies run`` with a confidence of at least 0.5
  that started in the last week (a step change is known five days after it began), one alert
  per building and kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from greenwire.cloud.grafana.model import DATASOURCE_UID

FOLDER_UID: Final = "greenwire"
FOLDER_TITLE: Final = "greenwire"
GROUP: Final = "greenwire"


@dataclass(frozen=True, slots=True)
class InfluxQuery:
    ref: str
    sql: str
    range_s: int


@dataclass(frozen=True, slots=True)
class Rule:
    uid: str
    title: str
    queries: tuple[InfluxQuery, ...]
    expression: str
    """A Grafana math expression over the reduced queries (``$A``, ``$B``), true means firing."""
    for_: str
    summary: str
    severity: str
    no_data: str = "OK"


RULES: Final = (
    Rule(
        uid="greenwire-gateway-offline",
        title="Gateway offline",
        queries=(InfluxQuery("A", 'SELECT last("online") FROM "gateway_status" WHERE $timeFilter '
                                  'GROUP BY "site", "gateway"', 900),),
        expression="$RA < 1",
        for_="5m",
        summary="Gateway {{ $labels.gateway }} of site {{ $labels.site }} is offline (shut down or connection lost).",
        severity="critical",
        no_data="Alerting",
    ),
    Rule(
        uid="greenwire-buffer-growing",
        title="Gateway buffer growing",
        queries=(
            InfluxQuery("A", 'SELECT last("oldest_reading_age_s") FROM "gateway_status" WHERE $timeFilter '
                             'GROUP BY "site", "gateway"', 1800),
            InfluxQuery("B", 'SELECT last("buffer_readings") - first("buffer_readings") FROM "gateway_status" '
                             'WHERE $timeFilter GROUP BY "site", "gateway"', 1800),
        ),
        expression="$RA > 900 && $RB > 0",
        for_="10m",
        summary="Gateway {{ $labels.gateway }} of site {{ $labels.site }} is falling behind: its oldest buffered "
        "reading is over 15 minutes old and the buffer keeps growing.",
        severity="warning",
    ),
    Rule(
        uid="greenwire-uncommitted-growing",
        title="Gateway readings not committed",
        queries=(
            InfluxQuery("A", 'SELECT last("oldest_uncommitted_age_s") FROM "gateway_status" WHERE $timeFilter '
                             'GROUP BY "site", "gateway"', 1800),
            InfluxQuery("B", 'SELECT last("uncommitted_readings") - first("uncommitted_readings") '
                             'FROM "gateway_status" WHERE $timeFilter GROUP BY "site", "gateway"', 1800),
        ),
        expression="$RA > 600 && $RB > 0",
        for_="10m",
        summary="Gateway {{ $labels.gateway }} of site {{ $labels.site }} has readings the cloud has not confirmed "
        "as stored for over 10 minutes, and more keep coming: is the ingestor or InfluxDB down, or do commits "
        "not reach the gateway (broker ACL)?",
        severity="warning",
    ),
    Rule(
        uid="greenwire-budget-at-risk",
        title="Carbon budget at risk",
        queries=(InfluxQuery("A", 'SELECT last("status_code") FROM "carbon_account" WHERE $timeFilter '
                                  'GROUP BY "site", "building"', 7200),),
        expression="$RA >= 1",
        for_="1h",
        summary="Building {{ $labels.building }} of site {{ $labels.site }} is projected to exceed its annual "
        "carbon budget (or already has).",
        severity="warning",
    ),
    Rule(
        uid="greenwire-anomaly-found",
        title="Anomaly found in a building's meters",
        queries=(InfluxQuery("A", 'SELECT max("confidence") FROM "anomalies" WHERE $timeFilter '
                                  'GROUP BY "site", "building", "kind"', 7 * 86400),),
        expression="$RA >= 0.5",
        for_="0m",
        summary="Building {{ $labels.building }} of site {{ $labels.site }}: {{ $labels.kind }} found in its meters "
        "this week (greenwire anomalies run; the finding's period, kWh and kgCO2e are on the Building dashboard).",
        severity="warning",
    ),
)


def _data(rule: Rule) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = []
    for q in rule.queries:
        data.append({
            "refId": q.ref,
            "relativeTimeRange": {"from": q.range_s, "to": 0},
            "datasourceUid": DATASOURCE_UID,
            "model": {"refId": q.ref, "rawQuery": True, "query": q.sql, "resultFormat": "time_series",
                      "intervalMs": 60000, "maxDataPoints": 43200},
        })
    for q in rule.queries:
        data.append({
            "refId": f"R{q.ref}",
            "relativeTimeRange": {"from": 0, "to": 0},
            "datasourceUid": "__expr__",
            "model": {"refId": f"R{q.ref}", "type": "reduce", "expression": q.ref, "reducer": "last",
                      "settings": {"mode": "dropNN"}},
        })
    data.append({
        "refId": "C",
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": "__expr__",
        "model": {"refId": "C", "type": "math", "expression": rule.expression},
    })
    return data


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "uid": rule.uid,
        "title": rule.title,
        "condition": "C",
        "data": _data(rule),
        "noDataState": rule.no_data,
        "execErrState": "Error",
        "for": rule.for_,
        "annotations": {"summary": rule.summary},
        "labels": {"severity": rule.severity, "service": "greenwire"},
        "isPaused": False,
    }


def provisioning() -> dict[str, Any]:
    """The alerting provisioning document (``apiVersion: 1``)."""
    return {
        "apiVersion": 1,
        "groups": [{
            "orgId": 1,
            "name": GROUP,
            "folder": FOLDER_TITLE,
            "interval": "1m",
            "rules": [_rule(r) for r in RULES],
        }],
    }


def api_rule_group() -> dict[str, Any]:
    """The same rules as the provisioning API's rule group (``PUT .../folder/{uid}/rule-groups/{group}``)."""
    return {
        "title": GROUP,
        "folderUid": FOLDER_UID,
        "interval": 60,
        "rules": [{**_rule(r), "folderUID": FOLDER_UID, "ruleGroup": GROUP, "orgID": 1} for r in RULES],
    }
