"""A small typed builder for Grafana dashboards with InfluxQL panels. Pure, no I/O.

Why not grafana-foundation-sdk: its newest build (epoch 1769699379, Grafana 11.6) has
no InfluxDB query type, so every target would be an untyped dict anyway, and the five
panel kinds used here need about 300 lines. What this builder adds is what a facility
manager's screen needs and the SDK does not check: every panel has a unit, every query
is raw InfluxQL against the one provisioned datasource, thresholds are sorted, and the
layout is computed (panels flow left to right in a 24-column grid).

::

    Dashboard(uid="greenwire-fleet", title="Fleet", panels=(
        Panel("stat", "Gateways online", unit="none", queries=(Query("SELECT ..."),)),
    )).to_json()

The JSON validates against Grafana's dashboard schema (``deploy/grafana/schema``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

DATASOURCE_UID: Final = "greenwire-influxdb"
"""The energy database (``greenwire``): readings, carbon results, fleet and ingest metrics."""
HEALTH_DATASOURCE_UID: Final = "greenwire-influxdb-health"
"""The health pilot's own database (``greenwire_health``), kept apart from the energy data."""
DATASOURCE: Final = {"type": "influxdb", "uid": DATASOURCE_UID}


def datasource_ref(uid: str) -> dict[str, str]:
    """A panel's or target's reference to one of the provisioned InfluxDB datasources."""
    return {"type": "influxdb", "uid": uid}
SCHEMA_VERSION: Final = 39
"""Grafana 11's dashboard schema version (what Grafana 11.x writes when it saves a dashboard)."""
GRID_COLUMNS: Final = 24

PanelKind = Literal["timeseries", "stat", "bargauge", "table", "state-timeline", "gauge"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """A colour from ``value`` upwards; the first step of a panel has ``value=None`` (the base)."""

    value: float | None
    color: str


def steps(base: str, *rest: tuple[float, str]) -> tuple[Threshold, ...]:
    """Threshold steps: a base colour, then (value, colour) pairs in increasing order."""
    values = [v for v, _ in rest]
    if values != sorted(values):
        raise ValueError(f"threshold values must increase: {values}")
    return (Threshold(None, base), *(Threshold(v, c) for v, c in rest))


@dataclass(frozen=True, slots=True)
class Query:
    """One raw InfluxQL target. ``alias`` may use ``$tag_<name>`` and ``$col``, as Grafana does."""

    sql: str
    alias: str | None = None
    format: Literal["time_series", "table"] = "time_series"
    datasource: str = DATASOURCE_UID

    def to_json(self, ref: str) -> dict[str, Any]:
        target: dict[str, Any] = {
            "refId": ref,
            "datasource": datasource_ref(self.datasource),
            "query": self.sql,
            "rawQuery": True,
            "resultFormat": self.format,
        }
        if self.alias:
            target["alias"] = self.alias
        return target


@dataclass(frozen=True, slots=True)
class ValueText:
    """Shows ``text`` in ``color`` for a numeric value (e.g. 1 -> online)."""

    value: str
    text: str
    color: str


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel. ``unit`` is a Grafana unit id (``kwatt``, ``percent``, ``s``) or ``suffix:...``."""

    kind: PanelKind
    title: str
    unit: str
    queries: tuple[Query, ...]
    description: str = ""
    thresholds: tuple[Threshold, ...] = (Threshold(None, "green"),)
    width: int = 8
    height: int = 8
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    mappings: tuple[ValueText, ...] = ()
    color_by_thresholds: bool = False
    stacked: bool = False
    bars: bool = False
    interval: str | None = None
    """Lower limit for $__interval (data is no finer than this)."""
    time_from: str | None = None
    """Panel's own relative range, e.g. ``now/d`` for "today"."""
    sort_by: str | None = None
    """Table panels: sort rows by this column, descending."""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.unit:
            raise ValueError(f"panel {self.title!r} has no unit")
        if not self.queries:
            raise ValueError(f"panel {self.title!r} has no query")
        if not 0 < self.width <= GRID_COLUMNS:
            raise ValueError(f"panel {self.title!r}: width {self.width} is not in 1..{GRID_COLUMNS}")
        if self.thresholds[0].value is not None:
            raise ValueError(f"panel {self.title!r}: the first threshold is the base (value None)")
        if len({q.datasource for q in self.queries}) > 1:
            raise ValueError(f"panel {self.title!r}: all queries of a panel use one datasource")

    def _field_config(self) -> dict[str, Any]:
        defaults: dict[str, Any] = {
            "unit": self.unit,
            "thresholds": {
                "mode": "absolute",
                "steps": [{"value": t.value, "color": t.color} for t in self.thresholds],
            },
            "color": {"mode": "thresholds"}
            if self.color_by_thresholds or self.kind != "timeseries"
            else {"mode": "palette-classic"},
        }
        for key in ("decimals", "min", "max"):
            value = getattr(self, key)
            if value is not None:
                defaults[key] = value
        if self.mappings:
            defaults["mappings"] = [
                {"type": "value", "options": {m.value: {"text": m.text, "color": m.color, "index": i}}}
                for i, m in enumerate(self.mappings)
            ]
        if self.kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "bars" if self.bars else "line",
                "fillOpacity": 60 if self.bars else 10,
                "lineWidth": 1,
                "spanNulls": False,
                "stacking": {"mode": "normal" if self.stacked else "none", "group": "A"},
                "thresholdsStyle": {"mode": "line" if self.color_by_thresholds else "off"},
            }
        return {"defaults": defaults, "overrides": []}

    def _options(self) -> dict[str, Any]:
        reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
        base: dict[str, Any]
        if self.kind == "timeseries":
            base = {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": ["mean", "max", "lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}}
        elif self.kind == "stat":
            base = {"reduceOptions": reduce, "colorMode": "background", "graphMode": "area",
                    "justifyMode": "auto", "orientation": "auto", "textMode": "auto"}
        elif self.kind == "bargauge":
            base = {"reduceOptions": reduce, "displayMode": "gradient", "orientation": "horizontal",
                    "showUnfilled": True}
        elif self.kind == "gauge":
            base = {"reduceOptions": reduce, "showThresholdMarkers": True, "showThresholdLabels": False}
        elif self.kind == "state-timeline":
            base = {"showValue": "auto", "mergeValues": True, "rowHeight": 0.9,
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
        else:
            base = {"showHeader": True, "cellHeight": "sm"}
        return {**base, **self.options}

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": datasource_ref(self.queries[0].datasource),
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [q.to_json(chr(ord("A") + i)) for i, q in enumerate(self.queries)],
            "fieldConfig": self._field_config(),
            "options": self._options(),
        }
        if self.interval:
            out["interval"] = self.interval
        if self.time_from:
            out["timeFrom"] = self.time_from
        if self.sort_by:
            out["transformations"] = [
                {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": self.sort_by, "desc": True}]}}
            ]
        return out


@dataclass(frozen=True, slots=True)
class Annotation:
    """Events from an InfluxQL query drawn on every time panel: each row's time (to ``time_end``,
    epoch milliseconds, for a region), ``text`` and ``tags`` columns, as Grafana's InfluxDB data
    source reads them."""

    name: str
    query: str
    text: str
    tags: str
    time_end: str = ""
    color: str = "orange"
    datasource: str = DATASOURCE_UID

    def to_json(self) -> dict[str, Any]:
        # The query in ``target``, as Grafana's InfluxDB data source stores an annotation's query
        # (its ``prepareAnnotation`` moves a legacy top-level ``query`` there too).
        return {"datasource": datasource_ref(self.datasource), "enable": True, "hide": False,
                "iconColor": self.color, "name": self.name,
                "target": {"refId": "Anno", "rawQuery": True, "query": self.query, "textColumn": self.text,
                           "tagsColumn": self.tags, "timeEndColumn": self.time_end}}


@dataclass(frozen=True, slots=True)
class Row:
    """A titled row that starts a new line of panels."""

    title: str


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable filled by an InfluxQL ``SHOW TAG VALUES`` query."""

    name: str
    label: str
    query: str
    multi: bool = False
    include_all: bool = False
    datasource: str = DATASOURCE_UID

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "query",
            "name": self.name,
            "label": self.label,
            "datasource": datasource_ref(self.datasource),
            "query": self.query,
            "refresh": 1,
            "sort": 1,
            "multi": self.multi,
            "includeAll": self.include_all,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}
            if self.include_all
            else {"selected": False, "text": "", "value": ""},
            "options": [],
            "hide": 0,
        }


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A whole dashboard; ``to_json()`` lays the panels out and numbers them."""

    uid: str
    title: str
    description: str
    panels: tuple[Panel | Row, ...]
    variables: tuple[Variable, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    tags: tuple[str, ...] = ("greenwire",)
    time_from: str = "now-24h"
    refresh: str = "1m"
    timezone: str = "browser"

    def panel_list(self) -> list[Panel]:
        """The panels (without rows), in order."""
        return [p for p in self.panels if isinstance(p, Panel)]

    def to_json(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        x = y = line_height = 0
        next_id = 1
        for item in self.panels:
            if isinstance(item, Row):
                if x:
                    y, x, line_height = y + line_height, 0, 0
                panels.append({"id": next_id, "type": "row", "title": item.title, "collapsed": False,
                               "gridPos": {"h": 1, "w": GRID_COLUMNS, "x": 0, "y": y}, "panels": []})
                y += 1
                next_id += 1
                continue
            if x + item.width > GRID_COLUMNS:
                y, x, line_height = y + line_height, 0, 0
            panels.append(item.to_json(next_id, x, y))
            next_id += 1
            x += item.width
            line_height = max(line_height, item.height)
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": self.timezone,
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "templating": {"list": [v.to_json() for v in self.variables]},
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
                "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
                "type": "dashboard",
            }, *(a.to_json() for a in self.annotations)]},
            "links": [{"title": "greenwire", "type": "dashboards", "tags": ["greenwire"], "icon": "external link",
                       "tooltip": "", "asDropdown": True, "targetBlank": False, "includeVars": True,
                       "keepTime": True}],
            "panels": panels,
        }
