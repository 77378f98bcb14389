"""One building's day-ahead forecast from the readings in InfluxDB (``greenwire forecast run``).

At each run the models are trained afresh on the building's last ``HISTORY_DAYS`` of hourly energy
per role (a year of hours trains in about a second on one core, so nothing is kept between runs
and memory stays that of one building at a time), then forecasts ``HORIZON`` hours from today's
local midnight. Emissions are the forecast energy times the zone's forecast intensity where one
is stored, else the factor in force (:func:`greenwire.cloud.forecast.store.intensity`).

Where the site model configures the building's ``outdoor_temperature`` and the series knows at
least half of the hours whose load is known, the models also learn from it (and the stored model
version says so); otherwise they are trained on the calendar and the load alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.forecast.features import calendar_for, country_of, enough_temperature
from greenwire.cloud.forecast.model import Forecaster, NotEnoughHistory, train
from greenwire.cloud.forecast.series import HOUR, Floats, HourlySeries
from greenwire.cloud.forecast.store import (
    forecast_lines,
    intensity,
    outdoor_temperature,
    role_series,
)
from greenwire.cloud.sites import Building, Role

HISTORY_DAYS = 365
HORIZON = 48


def local_midnight(building: Building, at: datetime) -> datetime:
    """The start of ``at``'s local day in the building's timezone, as an aware time."""
    local = at.astimezone(ZoneInfo(building.timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class RoleForecast:
    """A forecast of one role of one building, ready to store."""

    role: str
    start: datetime
    bands: Floats
    g_per_kwh: Floats
    intensity_source: str
    model: Forecaster
    lines: list[str]

    def summary(self) -> dict[str, object]:
        kg = self.bands * self.g_per_kwh[:, None] / 1000
        return {"role": self.role, "from": self.start.isoformat(), "hours": len(self.bands),
                "kwh_p10": round(float(self.bands[:, 0].sum()), 2), "kwh_p50": round(float(self.bands[:, 1].sum()), 2),
                "kwh_p90": round(float(self.bands[:, 2].sum()), 2),
                "kgco2e_p50": round(float(np.nansum(kg[:, 1])), 2), "intensity_source": self.intensity_source,
                "model": self.model.version, "trained_from": self.model.trained_from.isoformat(),
                "trained_to": self.model.trained_to.isoformat(), "training_rows": self.model.rows}


def forecast_role(influx: InfluxQLClient, site: str, building: Building, role: Role, now: datetime,
                  history_days: int = HISTORY_DAYS, horizon: int = HORIZON) -> RoleForecast | None:
    """The forecast of ``role`` from today's local midnight; None if the building has no such meter.
    Raises ``NotEnoughHistory`` when its meters have too few known days."""
    origin = local_midnight(building, now)
    start = origin - timedelta(days=history_days)
    series = role_series(influx, building, role, start, origin)
    if series is None:
        return None
    if role == "pv_generation":
        raise NotEnoughHistory("PV generation is not forecast yet: a PV meter reads zero every night, and the "
                               "model trains only on weeks whose hours are mostly above zero")
    series = series.slice(series.start, origin)
    cal = calendar_for(series, building.timezone, country_of(building.zone), extra_hours=horizon)
    o = len(series)
    origins = cal.origins(series.start, series.end)
    at = np.array([o], dtype=np.int64)
    temperature = temperature_for(influx, building, series)
    # one model for the first day ahead (scored by the backtest), one for the hours after it
    model = train(series.values, cal, origins, horizon=min(horizon, 24), temperature=temperature)
    bands, _ = model.predict(series.values, cal, at, temperature)
    if horizon > 24:
        later = train(series.values, cal, origins, horizon=horizon, temperature=temperature)
        bands = np.concatenate([bands, later.predict(series.values, cal, at, temperature)[0][24:]])
    first = series.start + o * HOUR
    g, source = intensity(influx, building, role, first, horizon)
    lines = forecast_lines(site, building.id, role, first, bands, g, source, model.version, now,
                           (model.trained_from, model.trained_to))
    return RoleForecast(role, first, bands, g, source, model, lines)


def temperature_for(influx: InfluxQLClient, building: Building, series: HourlySeries) -> Floats | None:
    """The building's outdoor temperature over the hours of ``series`` (aligned with it), or None
    where none is configured or it knows too few of them to learn from."""
    found = outdoor_temperature(influx, building, series.start, series.end)
    if found is None:
        return None
    values = found.slice(series.start, series.end).values
    return values if enough_temperature(values, series.values) else None


def history(influx: InfluxQLClient, building: Building, role: Role, start: datetime,
            end: datetime) -> HourlySeries | None:
    """The building's hourly energy of a role (for ``forecast evaluate``)."""
    return role_series(influx, building, role, start, end)
