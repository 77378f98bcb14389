"""What a day-ahead forecast knows at its origin: the calendar and the building's recent load.

A forecast is made at a local midnight (the *origin*) for the ``horizon`` hours after it, from
the hours before it only. For a target hour ``t`` at ``h`` hours ahead the features are

* the calendar of ``t`` in the building's timezone: hour of day, day of week, whether the day is
  a weekend day or a public holiday of the building's country (``holidays``), and the day of the
  year as a sine and cosine (daylight and season);
* the load at the same hour on the most recent known day (``t - 24 * ceil(h / 24)``), one week
  before, and the mean of the same hour over the last four weeks; whether that recent day was
  an off day;
* the mean of the last 24 hours before the origin and the last hour's load;
* where the building has an outdoor temperature series (``outdoor_temperature`` in the site
  model), :data:`TEMPERATURE_FEATURES`: the temperature at the hour of the most recent day's load
  lag, the mean of the 24 hours before the origin and the last hour's. Only temperatures before
  the origin are read, as for
  the load: the model learns how tomorrow's load follows the recent weather, not tomorrow's
  weather (no weather forecast is read).

Every load feature and the target are divided by the building's mean load over the week before
the origin (its *level*), so one model serves a building whose load drifts over the year and a
tree never has to extrapolate beyond the loads it was trained on; the forecast is the model's
answer times the level (so a week of zeros forecasts zero).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from greenwire.cloud.forecast.series import HOUR, Floats, HourlySeries

FEATURES = ("hour", "dow", "off_day", "doy_sin", "doy_cos", "ahead_day", "lag_day", "lag_day_off",
            "lag_week", "same_hour_4w", "same_type_1", "same_type_3", "last_24h", "last_hour")
TEMPERATURE_FEATURES = ("temp_lag_day", "temp_last_24h", "temp_last_hour")
WEEK = 168
USABLE_SHARE = 0.75
TEMPERATURE_SHARE = 0.5


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[object]:
    import holidays

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def country_of(zone: str) -> str:
    """The ISO country of a grid zone id (``GB``, ``CN-JS`` -> ``CN``, ``US-CAL-CISO`` -> ``US``)."""
    return zone.split("-")[0].upper()


@dataclass(frozen=True, slots=True)
class Calendar:
    """Per-hour calendar columns from ``start`` (UTC) for ``hours`` hours in one timezone and country."""

    start: datetime
    hour: npt.NDArray[np.float64]
    dow: npt.NDArray[np.float64]
    off_day: npt.NDArray[np.float64]
    doy: npt.NDArray[np.float64]
    midnight: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, start: datetime, hours: int, timezone: str, country: str) -> Calendar:
        tz = ZoneInfo(timezone)
        local = [(start + i * HOUR).astimezone(tz) for i in range(hours)]
        off = [d.weekday() >= 5 or d.date() in _holidays(country, d.year) for d in local]
        return cls(start=start.astimezone(UTC),
                   hour=np.array([d.hour for d in local], dtype=float),
                   dow=np.array([d.weekday() for d in local], dtype=float),
                   off_day=np.array(off, dtype=float),
                   doy=np.array([d.timetuple().tm_yday for d in local], dtype=float),
                   midnight=np.array([d.hour == 0 for d in local], dtype=bool))

    def start_of(self, i: int) -> datetime:
        """The UTC start of hour ``i``."""
        return self.start + timedelta(hours=i)

    def origins(self, start: datetime, end: datetime) -> npt.NDArray[np.int64]:
        """Indices of the local midnights in [start, end)."""
        a = max(0, int((start - self.start) // HOUR))
        b = min(len(self.hour), math.ceil((end - self.start) / HOUR))
        return np.flatnonzero(self.midnight[a:b]).astype(np.int64) + a


def calendar_for(series: HourlySeries, timezone: str, country: str, extra_hours: int = 48) -> Calendar:
    """The calendar of every hour of ``series`` and ``extra_hours`` beyond it (to forecast into)."""
    return Calendar.of(series.start, len(series) + extra_hours, timezone, country)


def _take(values: Floats, idx: npt.NDArray[np.int64]) -> Floats:
    out = np.full(idx.shape, np.nan)
    ok = (idx >= 0) & (idx < len(values))
    out[ok] = values[idx[ok]]
    return out


def enough_temperature(temperature: Floats | None, values: Floats) -> bool:
    """Whether an outdoor temperature series (aligned with ``values``) knows at least
    :data:`TEMPERATURE_SHARE` of the hours whose load is known (a sensor that reported a few
    days of a year teaches the model nothing)."""
    if temperature is None:
        return False
    known = np.isfinite(values)
    both = known[: len(temperature)] & np.isfinite(temperature[: len(values)])
    return bool(known.any() and np.count_nonzero(both) >= TEMPERATURE_SHARE * np.count_nonzero(known))


def design(values: Floats, cal: Calendar, origins: npt.NDArray[np.int64], horizon: int,
           temperature: Floats | None = None) -> tuple[Floats, Floats, npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(features, level, targets' indices, usable): one row per origin and hour ahead.

    ``features`` has ``len(origins) * horizon`` rows in :data:`FEATURES` order, followed by
    :data:`TEMPERATURE_FEATURES` where ``temperature`` (degC per hour, aligned with ``values``,
    NaN where unknown) is given; ``level`` is each
    row's divisor; the target of a row is ``values[target] / level`` (NaN beyond the series).
    Only values before each origin are read. A row is *usable* for training when at least
    :data:`USABLE_SHARE` of the week before its origin has known, non-zero load (a meter that
    was not yet reporting, or a frozen one, teaches nothing). The level is the mean of the week
    before wherever that share of its hours is known, zeros included, and the mean of the
    positive hours of the four weeks before where it is not (a gap). A week known to be zero
    throughout has level 0: the forecast is zero until the meter reads again, which is what the
    seasonal-naive forecast says too (the old level would forecast a building that stopped as if
    it ran: on BDG2's panther-office-christin, 23 days of zeros in 2017 cost more than the rest
    of the year)."""
    known = values.copy()
    ahead = np.arange(1, horizon + 1)
    target = origins[:, None] + ahead[None, :] - 1
    day_back = 24 * np.ceil(ahead / 24).astype(np.int64)
    o = origins[:, None]

    def before(idx: npt.NDArray[np.int64], series: Floats = known) -> Floats:
        got = _take(series, idx)
        got[idx >= o] = np.nan  # never the origin or later
        return got

    window = np.arange(-4 * WEEK, 0)
    month = _take(known, origins[:, None] + window[None, :])
    week = month[:, -WEEK:]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is expected: a gap
        usable = np.mean(np.nan_to_num(week, nan=0.0) > 0, axis=1) >= USABLE_SHARE
        reported = np.mean(np.isfinite(week), axis=1) >= USABLE_SHARE
        positive = np.where(month > 0, month, np.nan)
        level: Floats = np.asarray(np.where(reported, np.nanmean(week, axis=1), np.nanmean(positive, axis=1)),
                                   dtype=float)
        # a week the meter reported as zero throughout: level 0, so the forecast is zero
        level = np.asarray(np.where(np.isfinite(level) & (level >= 0), level, 1.0), dtype=float)
        last24 = np.nanmean(week[:, -24:], axis=1)
        same4 = np.nanmean(np.stack([before(target - WEEK * k) for k in range(1, 5)]), axis=0)
        same_type = _same_type(known, cal, target, o)
        type1, type3 = same_type[0], np.nanmean(same_type, axis=0)
    lag_idx = target - day_back[None, :]
    cal_idx = np.clip(target, 0, len(cal.hour) - 1)
    lag_cal = np.clip(lag_idx, 0, len(cal.hour) - 1)
    lv = np.where(level > 0, level, 1.0)[:, None]  # features of a zero week stay finite
    cols = [
        cal.hour[cal_idx], cal.dow[cal_idx], cal.off_day[cal_idx],
        np.sin(2 * np.pi * cal.doy[cal_idx] / 365.25), np.cos(2 * np.pi * cal.doy[cal_idx] / 365.25),
        np.broadcast_to(day_back[None, :] // 24, target.shape).astype(float),
        before(lag_idx) / lv, cal.off_day[lag_cal], before(target - WEEK) / lv, same4 / lv,
        type1 / lv, type3 / lv,
        np.broadcast_to(last24[:, None] / lv, target.shape),
        np.broadcast_to(_take(known, origins - 1)[:, None] / lv, target.shape),
    ]
    if temperature is not None:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a day the sensor was silent
            day_t = np.nanmean(_take(temperature, origins[:, None] + np.arange(-24, 0)[None, :]), axis=1)
        cols += [before(lag_idx, temperature), np.broadcast_to(day_t[:, None], target.shape),
                 np.broadcast_to(_take(temperature, origins - 1)[:, None], target.shape)]
    features = np.stack([np.asarray(c, dtype=float).reshape(-1) for c in cols], axis=1)
    return features, np.repeat(level, horizon), target.reshape(-1), np.repeat(usable, horizon)


def _same_type(known: Floats, cal: Calendar, target: npt.NDArray[np.int64],
               origin: npt.NDArray[np.int64], wanted: int = 3) -> Floats:
    """The same hour on the ``wanted`` most recent days before the origin that are of the target
    day's type (working or off day), nearest first; NaN where fewer are found within 14 days."""
    off = cal.off_day[np.clip(target, 0, len(cal.off_day) - 1)]
    out = np.full((wanted, *target.shape), np.nan)
    found = np.zeros(target.shape, dtype=np.int64)
    for k in range(1, 15):
        idx = target - 24 * k
        ok = (idx < origin) & (idx >= 0) & (found < wanted)
        ok &= cal.off_day[np.clip(idx, 0, len(cal.off_day) - 1)] == off
        rows, cols = np.nonzero(ok)
        out[found[rows, cols], rows, cols] = _take(known, idx[rows, cols])
        found[rows, cols] += 1
    return out
