"""A building's carbon signal (``greenwire.carbon.v1``, :mod:`greenwire.shared.signal`): pure.

:func:`outlook` turns the zone's stored intensity (actuals) and its stored forecast
(``grid_intensity`` points tagged ``status=forecast``, written by ``greenwire grid run``; read
by :func:`greenwire.cloud.carbon.fetch.fetch_forecast`) into the next 24 h and the best 1, 2,
4 and 8 h windows (:mod:`greenwire.cloud.carbon.windows`: an actual wins over the forecast of
its period; a gap is never bridged). :func:`signal_payload` writes the retained message, with
the building's forecast emission rate at its present load (the live window's mean power).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from greenwire.cloud.carbon.bands import SCHEME, band
from greenwire.cloud.carbon.windows import (
    DURATIONS,
    HORIZON,
    BestWindow,
    NoWindow,
    Step,
    merged,
    windows_json,
    windows_of,
)
from greenwire.cloud.sites import Building
from greenwire.shared.intensity import IntensitySeries
from greenwire.shared.signal import CARBON_SCHEMA, CarbonSignalMessage


@dataclass(frozen=True, slots=True)
class Forecast:
    """A zone's stored forecast: who made it, and its periods (sorted, not overlapping)."""

    source: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Outlook:
    """The next ``horizon`` of a zone as the signal carries it."""

    source: str | None
    """The forecast's maker; None when no forecast is stored."""
    forecast: tuple[Step, ...]
    """Forecast periods that end after now and start before now + horizon."""
    windows: tuple[BestWindow | NoWindow, ...]


def steps_of(series: IntensitySeries | None) -> tuple[Step, ...]:
    """The periods of a stored series."""
    if series is None:
        return ()
    return tuple(Step(s, s + p, v) for s, v, p in zip(series.starts, series.values, series.periods, strict=True))


def outlook(actual: IntensitySeries | None, forecast: Forecast | None, now: datetime, *,
            durations: Sequence[timedelta] = DURATIONS, horizon: timedelta = HORIZON) -> Outlook:
    """The forecast of the next ``horizon`` and the best window of each duration (``durations``
    and ``horizon`` are scaled down by the demo, whose replay runs faster than the clock)."""
    ahead = () if forecast is None else tuple(
        s for s in forecast.steps if s.end > now and s.start < now + horizon)
    timeline = merged(steps_of(actual), ahead)
    return Outlook(None if forecast is None else forecast.source, ahead,
                   windows_of(timeline, now, durations=durations, horizon=horizon))


def present_kw(live: tuple[datetime, float, float]) -> float | None:
    """The live window's mean power: kgCO2e/h / (gCO2e/kWh) x 1000 (None at zero intensity)."""
    _, intensity, rate = live
    return rate * 1000 / intensity if intensity > 0 else None


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def signal_payload(
    site: str, building: Building, live: tuple[datetime, float, float], today_kg: float, grid_g_per_kwh: float,
    today_budget_kg: float | None = None, ahead: Outlook | None = None,
) -> bytes:
    """The retained carbon signal for building-management systems (``greenwire.carbon.v1``).

    ``today_budget_kgco2e`` is the day's share of the annual budget (null for a building
    without one), so a BMS can compare ``today_kgco2e`` with it without the site model.
    ``ahead`` gives the forecast and the best windows (without it: an empty forecast, no windows).
    """
    end, intensity, rate = live
    load = present_kw(live)
    forecast = [] if ahead is None else [
        {"start": _stamp(s.start), "end": _stamp(s.end), "g_per_kwh": round(s.g_per_kwh, 3),
         "emission_rate_kg_per_h": None if load is None else round(s.g_per_kwh * load / 1000, 4)}
        for s in ahead.forecast
    ]
    payload = orjson.dumps({
        "schema": CARBON_SCHEMA,
        "site": site,
        "building": building.id,
        "ts": end.isoformat().replace("+00:00", "Z"),
        "intensity_g_per_kwh": round(intensity, 3),
        "emission_rate_kg_per_h": round(rate, 4),
        "today_kgco2e": round(today_kg, 3),
        "today_budget_kgco2e": None if today_budget_kg is None else round(today_budget_kg, 3),
        "grid_intensity_g_per_kwh": round(grid_g_per_kwh, 3),
        "grid_band": band(grid_g_per_kwh, end.year),
        "band_scheme": SCHEME,
        "forecast_source": None if ahead is None else ahead.source,
        "forecast_load_kw": None if load is None else round(load, 3),
        "forecast": forecast,
        "best_windows": [] if ahead is None else windows_json(ahead.windows),
    })
    CarbonSignalMessage.model_validate_json(payload)  # a ValidationError here is a bug of ours
    return payload
