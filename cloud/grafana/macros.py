"""Grafana's substitution of template variables and time macros in InfluxQL. Pure, no I/O.

What Grafana sends to InfluxDB is not what the dashboard JSON holds. Two steps happen:

1. The browser interpolates template variables (``$site``, ``${building}``,
   ``[[gateway]]``). For the InfluxDB datasource a variable that is multi-value or
   has "All" is regex-escaped and, with several values, joined as ``(a|b)``; a
   single-value variable is inserted as it is (Grafana's ``interpolateQueryExpr``).
2. The server (``pkg/tsdb/influxdb``, InfluxQL mode) replaces ``$timeFilter`` with
   ``time >= {from}ms and time <= {to}ms``, and ``$__interval``/``$interval`` with the
   panel's interval formatted like Go's ``gtime.FormatInterval`` (``10s``, ``5m``,
   ``1h``, ``1d``), ``$__interval_ms`` with milliseconds.

The interval is Grafana's ``calculateInterval``: (to - from) / max data points,
rounded to a "nice" step (``roundInterval``), never below the panel's min interval.
The test suite uses this module to run every panel's query as Grafana would; the
report command uses it to draw the same panels without Grafana.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

DEFAULT_MAX_DATA_POINTS: Final = 1000
"""About the width in pixels of a wide panel, which is what Grafana uses."""

_ROUNDING: Final = (  # (upper bound in ms, rounded interval in ms), from Grafana's rangeutil.roundInterval
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000),
    (1050000, 900000), (1500000, 1200000), (2700000, 1800000), (5400000, 3600000),
    (9000000, 7200000), (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)
_YEAR_MS: Final = 31536000000
_UNITS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": _YEAR_MS}
_REGEX_SPECIAL: Final = re.compile(r"([\\/&$*+?.()|{}\[\]^])")
_VARIABLE: Final = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]")
_BUILTIN: Final = frozenset({"timeFilter", "interval", "__interval", "__interval_ms"})


@dataclass(frozen=True, slots=True)
class VariableValue:
    """The selected value(s) of a template variable and how it was declared."""

    values: tuple[str, ...]
    multi: bool = False
    include_all: bool = False


def parse_interval(text: str) -> timedelta:
    """``10s``, ``1m``, ``1h``, ``1d`` ... as a timedelta."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w|y)", text.strip())
    if match is None:
        raise ValueError(f"not an interval: {text!r}")
    return timedelta(milliseconds=int(match[1]) * _UNITS[match[2]])


def round_interval(ms: float) -> int:
    """Grafana's rounding of a raw interval to a nice step, in milliseconds."""
    for bound, rounded in _ROUNDING:
        if ms < bound:
            return rounded
    return _YEAR_MS


def calculate_interval(
    start: datetime, end: datetime, *, max_data_points: int = DEFAULT_MAX_DATA_POINTS, min_interval: str | None = None
) -> timedelta:
    """The ``$__interval`` of a panel over [start, end)."""
    raw_ms = (end - start).total_seconds() * 1000 / max_data_points
    ms = round_interval(raw_ms)
    if min_interval is not None:
        ms = max(ms, int(parse_interval(min_interval).total_seconds() * 1000))
    return timedelta(milliseconds=ms)


def format_interval(interval: timedelta) -> str:
    """Like Go's ``gtime.FormatInterval``: the largest whole unit (``1d``, ``2h``, ``30s``, ``100ms``)."""
    ms = int(interval.total_seconds() * 1000)
    for unit, size in (("y", _YEAR_MS), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return "1ms"


def _regex_escape(value: str) -> str:
    return _REGEX_SPECIAL.sub(r"\\\1", value)


def format_variable(variable: VariableValue) -> str:
    """How the InfluxDB datasource inserts a variable's value into a query."""
    if not variable.multi and not variable.include_all:
        return variable.values[0] if variable.values else ""
    escaped = [_regex_escape(v) for v in variable.values]
    if len(escaped) == 1:
        return escaped[0]
    return "(" + "|".join(escaped) + ")"


def interpolate(
    query: str,
    *,
    start: datetime,
    end: datetime,
    variables: Mapping[str, VariableValue],
    interval: timedelta,
) -> str:
    """The query exactly as Grafana sends it to InfluxDB for the range [start, end]."""

    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[3]
        if name in _BUILTIN:
            return match[0]
        if name not in variables:
            raise KeyError(f"query uses ${name}, which the dashboard does not define")
        return format_variable(variables[name])

    text = _VARIABLE.sub(replace, query)
    from_ms = int(start.timestamp() * 1000)
    to_ms = int(end.timestamp() * 1000)
    text = text.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    interval_text = format_interval(interval)
    text = text.replace("$interval", interval_text)
    text = text.replace("$__interval_ms", str(int(interval.total_seconds() * 1000)))
    return text.replace("$__interval", interval_text)


def variables_used(queries: Sequence[str]) -> set[str]:
    """Names of template variables the queries refer to (not Grafana's built-ins)."""
    names: set[str] = set()
    for query in queries:
        for match in _VARIABLE.finditer(query):
            name = match[1] or match[2] or match[3]
            if name not in _BUILTIN:
                names.add(name)
    return names


def resolve_relative(expr: str, now: datetime) -> datetime:
    """Grafana's ``now``, ``now-6h``, ``now/d`` (UTC day) in a panel's or dashboard's range."""
    text = expr.strip()
    if not text.startswith("now"):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    at = now
    rest = text[3:]
    match = re.match(r"^-(\d+)(ms|s|m|h|d|w|y)", rest)
    if match:
        at -= timedelta(milliseconds=int(match[1]) * _UNITS[match[2]])
        rest = rest[match.end():]
    if rest == "/d":
        at = at.replace(hour=0, minute=0, second=0, microsecond=0)
    elif rest:
        raise ValueError(f"unsupported time expression {expr!r}")
    return at
