"""Run a dashboard's panels against InfluxDB the way Grafana would, without Grafana.

Template variables are filled by their own ``SHOW TAG VALUES`` queries in order (a later
variable's query may use an earlier one), then each panel's queries are interpolated by
:mod:`greenwire.cloud.grafana.macros` for the panel's time range (its ``timeFrom`` or the
dashboard's) and sent to InfluxDB's ``/query`` with millisecond epochs, as Grafana's
InfluxQL backend does. Used by the panel-query proof in the tests and by ``greenwire report``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from greenwire.cloud.grafana.macros import (
    VariableValue,
    calculate_interval,
    interpolate,
    resolve_relative,
)
from greenwire.cloud.grafana.model import Annotation, Dashboard, Panel, Variable

Query = Callable[[str], list[dict[str, Any]]]
"""InfluxQL text -> the ``series`` of its result (``name``, ``tags``, ``columns``, ``values``)."""
Sources = Mapping[str, Query]
"""Datasource uid -> how to query its database (the energy and the health databases differ)."""


def influx_query(url: str, database: str, *, timeout_s: float = 30.0) -> Query:
    """A :data:`Query` against InfluxDB's 1.x ``/query`` (also on 2.x with a DBRP mapping)."""
    from greenwire.cloud.adapters.influxql import InfluxV1

    influx = InfluxV1(url, database, timeout_s=timeout_s)

    def run(q: str) -> list[dict[str, Any]]:
        return influx.query_series(q, epoch="ms")

    return run


def variable_values(variable: Variable, chosen: dict[str, VariableValue], sources: Sources,
                    now: datetime) -> list[str]:
    """The options of a variable given the earlier variables' selection."""
    text = interpolate(variable.query, start=now, end=now, variables=chosen, interval=calculate_interval(now, now))
    values = {str(row[1]) for s in sources[variable.datasource](text) for row in s["values"]}
    return sorted(values)


def selections(board: Dashboard, sources: Sources, now: datetime) -> Iterator[dict[str, VariableValue]]:
    """Every selection a user can make: each value of a single-value variable, "All" of a multi one."""

    def walk(index: int, chosen: dict[str, VariableValue]) -> Iterator[dict[str, VariableValue]]:
        if index == len(board.variables):
            yield dict(chosen)
            return
        variable = board.variables[index]
        options = variable_values(variable, chosen, sources, now)
        picks = [tuple(options)] if variable.include_all else [(o,) for o in options]
        for pick in picks:
            if not pick:
                continue
            chosen[variable.name] = VariableValue(pick, multi=variable.multi, include_all=variable.include_all)
            yield from walk(index + 1, chosen)
        chosen.pop(variable.name, None)

    yield from walk(0, {})


@dataclass(frozen=True, slots=True)
class PanelData:
    """What one panel's queries returned for one selection and range."""

    panel: Panel
    sent: tuple[str, ...]
    series: tuple[dict[str, Any], ...]
    start: datetime
    end: datetime

    @property
    def has_values(self) -> bool:
        """True if some series has a non-null value in a column other than time."""
        return any(v is not None for s in self.series for row in s["values"] for v in row[1:])


def panel_range(board: Dashboard, panel: Panel, now: datetime, start: datetime | None = None,
                end: datetime | None = None) -> tuple[datetime, datetime]:
    """The range a panel queries: an explicit one, else its own ``timeFrom``, else the dashboard's."""
    if start is not None and end is not None:
        return start, end
    return resolve_relative(panel.time_from or board.time_from, now), now


def run_panel(board: Dashboard, panel: Panel, chosen: dict[str, VariableValue], sources: Sources, now: datetime,
              *, start: datetime | None = None, end: datetime | None = None,
              max_data_points: int = 1000) -> PanelData:
    """Interpolate and run every query of ``panel``."""
    t0, t1 = panel_range(board, panel, now, start, end)
    interval = calculate_interval(t0, t1, max_data_points=max_data_points, min_interval=panel.interval)
    sent = tuple(interpolate(q.sql, start=t0, end=t1, variables=chosen, interval=interval) for q in panel.queries)
    series = tuple(itertools.chain.from_iterable(
        sources[q.datasource](text) for q, text in zip(panel.queries, sent, strict=True)))
    return PanelData(panel, sent, series, t0, t1)


def run_annotation(annotation: Annotation, chosen: dict[str, VariableValue], sources: Sources, start: datetime,
                   end: datetime) -> list[dict[str, Any]]:
    """The events an annotation query gives over [start, end], one dict per row (``time`` in ms)."""
    text = interpolate(annotation.query, start=start, end=end, variables=chosen,
                       interval=calculate_interval(start, end))
    return [dict(zip(s["columns"], row, strict=True)) for s in sources[annotation.datasource](text)
            for row in s["values"]]
