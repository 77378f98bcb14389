"""What ``grid run`` publishes and stores for one zone after one poll (pure: no I/O).

From the held answer (:class:`greenwire.cloud.grid.hold.HoldState`) and the time, a
:class:`ZoneUpdate` holds:

- ``intensity``: the ``greenwire.grid.v1`` message for the value that holds now
  (``current``) or the last one through an outage (``held``), on
  ``greenwire/v1/grid/{zone}/intensity``: exactly what ``greenwire carbon run`` consumes
  (:mod:`greenwire.cloud.carbon.feed`; it is validated with that model here). None when
  the value is ``expired`` or there is none: a value is never invented or stretched;
  the message restates the value's own period, so a repeated one overwrites itself.
- ``forecast``: the retained ``greenwire.grid-forecast.v1`` message on
  ``greenwire/v1/grid/{zone}/forecast``::

      {"schema": "greenwire.grid-forecast.v1", "zone": "GB", "provider": "neso",
       "kind": "average", "basis": "direct", "source": "...", "at": "...Z", "fetched_at": "...Z",
       "current": {"status": "held", "g_per_kwh": 240.0, "start": "...Z", "end": "...Z",
                   "age_s": 5400.0, "stale": true},
       "failures": 3, "last_error": "neso: HTTP 503 on /intensity: ...",
       "forecast": [{"start": "...Z", "end": "...Z", "g_per_kwh": 231.0}, ...],
       "best_windows": [{"duration_h": 1, "start": ..., "g_per_kwh": ..., ...}, ...]}

  ``current`` is null when nothing was ever received; ``status`` is ``current``, ``held``
  or ``expired``; ``age_s`` is ``at - start`` (how long ago the value became true).
- ``lines`` for InfluxDB, measurement ``grid_intensity``: the actual (and current) values
  with the tags and fields of the feed's own line (so the carbon service's write of the same
  message is the same point), and the forecast values with the extra tag
  ``status=forecast`` (kept apart: the carbon engine reads only points without it); and one
  ``grid_status`` point at ``at`` (tags ``zone``, ``provider``; fields ``status``,
  ``status_code`` 0 current / 1 held / 2 expired / 3 none, ``age_s``, ``g_per_kwh``,
  ``failures``) for the Portfolio dashboard's "age of the grid data".

The ``source`` tag is the provider's fixed name (``SOURCES``), not the answer's free text
(ENTSO-E names unknown production types in it), so that every answer of a zone stays one
InfluxDB series and later values overwrite earlier ones of the same period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from greenwire.cloud.adapters.influxql import GRID_MEASUREMENT, _ns
from greenwire.cloud.carbon.feed import GRID_SCHEMA, GridIntensityMessage, feed_line
from greenwire.cloud.grid.hold import HoldState, Reading, reading
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries
from greenwire.cloud.grid.windows import best_windows, windows_json
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.shared.topics import grid_forecast_topic, grid_topic

FORECAST_SCHEMA: Final = "greenwire.grid-forecast.v1"
STATUS_MEASUREMENT: Final = "grid_status"
STATUS_CODES: Final = {"current": 0, "held": 1, "expired": 2, "none": 3}
"""``grid_status.status_code`` (and the dashboard's value mappings)."""

SOURCES: Final = {
    "neso": "NESO Carbon Intensity API (CC BY 4.0)",
    "electricitymaps": "Electricity Maps API v3",
    "watttime": "WattTime API v3",
    "entsoe": "ENTSO-E Transparency Platform A75, IPCC AR5 lifecycle factors",
    "china": "MEE & NBS Announcement 2025 No. 47 provincial factors",
    "recorded": "a recorded series replayed on the clock",
}
"""The ``source`` tag of each provider's values (see the module docstring)."""


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ZoneUpdate:
    """Everything one poll of one zone publishes and stores (see the module docstring)."""

    reading: Reading
    intensity_topic: str
    intensity: bytes | None
    forecast_topic: str
    forecast: bytes
    lines: tuple[str, ...]


def intensity_message(zone: str, point: IntensityPoint, series: IntensitySeries, source: str) -> bytes:
    """The ``greenwire.grid.v1`` message for ``point``, checked with the carbon feed's own model."""
    payload = orjson.dumps(
        {
            "schema": GRID_SCHEMA,
            "zone": zone,
            "start": _stamp(point.start),
            "period_s": int((point.end - point.start).total_seconds()),
            "g_per_kwh": point.g_per_kwh,
            "kind": series.kind,
            "basis": series.basis,
            "source": source,
        }
    )
    GridIntensityMessage.model_validate_json(payload)  # a ValidationError here is a bug of ours
    return payload


def _forecast_lines(zone: str, series: IntensitySeries, source: str, now: datetime) -> list[str]:
    prefix = SeriesPrefix(
        GRID_MEASUREMENT,
        {"zone": zone, "kind": series.kind, "basis": series.basis, "source": source, "status": "forecast"},
    )
    return [
        prefix.line(
            {"g_per_kwh": p.g_per_kwh, "period_s": int((p.end - p.start).total_seconds())}, _ns(p.start)
        )
        for p in series.forecasts
        if p.end > now
    ]


def status_line(zone: str, provider: str, shown: Reading) -> str:
    """The ``grid_status`` point of a reading (see the module docstring)."""
    fields: dict[str, Any] = {
        "status": shown.status,
        "status_code": STATUS_CODES[shown.status],
        "failures": shown.failures,
    }
    if shown.age is not None:
        fields["age_s"] = shown.age.total_seconds()
    if shown.point is not None:
        fields["g_per_kwh"] = shown.point.g_per_kwh
    prefix = SeriesPrefix(STATUS_MEASUREMENT, {"zone": zone, "provider": provider})
    return prefix.line(fields, _ns(shown.at))


def zone_update(
    zone: str, provider: str, state: HoldState, now: datetime, *, max_age_s: float
) -> ZoneUpdate:
    """What to publish and store for ``zone`` at ``now`` under the hold policy."""
    shown = reading(state, now, max_age=timedelta(seconds=max_age_s))
    series = state.series
    source = SOURCES.get(provider, provider)
    topic_zone = zone.lower()
    intensity_topic = grid_topic(topic_zone)
    lines: list[str] = []
    intensity: bytes | None = None
    if series is not None and shown.point is not None and shown.status in ("current", "held"):
        intensity = intensity_message(zone, shown.point, series, source)
    if series is not None:
        for point in series.actuals:
            line, why = feed_line(intensity_topic, intensity_message(zone, point, series, source))
            assert line is not None, why
            lines.append(line)
        if intensity is not None and shown.point is not None and shown.point.status == "forecast":
            # The provider's own word for now (NESO regions publish forecasts only): stored as
            # the feed stores it, so the carbon engine has a value for the period.
            line, why = feed_line(intensity_topic, intensity)
            assert line is not None, why
            lines.append(line)
        lines += _forecast_lines(zone, series, source, now)
    lines.append(status_line(zone, provider, shown))
    forecast = orjson.dumps(
        {
            "schema": FORECAST_SCHEMA,
            "zone": zone,
            "provider": provider,
            "kind": series.kind if series else None,
            "basis": series.basis if series else None,
            "source": source,
            "at": _stamp(now),
            "fetched_at": _stamp(state.last_success_at) if state.last_success_at else None,
            "current": None
            if shown.point is None or shown.age is None
            else {
                "status": shown.status,
                "g_per_kwh": shown.point.g_per_kwh,
                "start": _stamp(shown.point.start),
                "end": _stamp(shown.point.end),
                "age_s": shown.age.total_seconds(),
                "stale": shown.stale,
            },
            "failures": shown.failures,
            "last_error": shown.last_error,
            "forecast": []
            if series is None
            else [
                {"start": _stamp(p.start), "end": _stamp(p.end), "g_per_kwh": p.g_per_kwh}
                for p in series.forecasts
                if p.end > now
            ],
            "best_windows": [] if series is None else windows_json(best_windows(series, now)),
        }
    )
    return ZoneUpdate(
        shown, intensity_topic, intensity, grid_forecast_topic(topic_zone), forecast, tuple(lines)
    )
