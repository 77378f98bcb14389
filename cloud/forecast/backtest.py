"""Rolling-origin evaluation of the day-ahead model against the seasonal-naive forecast.

For each local midnight in the period the model forecasts the next ``horizon`` hours from the
hours before that midnight only; it is retrained every ``refit_days`` on everything before the
day it is retrained on (features always use every hour before each origin). The baseline is the
seasonal-naive forecast: the same hour one week earlier. Both are scored on the hours where the
actual and the baseline are known, so neither is judged on hours the other skipped.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from greenwire.cloud.forecast.features import WEEK, Calendar
from greenwire.cloud.forecast.model import MIN_TRAIN_DAYS, NotEnoughHistory, train
from greenwire.cloud.forecast.series import Floats, HourlySeries


@dataclass(frozen=True)
class Skill:
    """What ``greenwire forecast evaluate --json`` prints for one building and role."""

    building: str
    days: int
    horizon_h: int
    model_mae_kwh: float
    baseline_mae_kwh: float
    ratio: float
    p90_coverage: float
    """Share of scored hours inside the P10-P90 band."""
    hours: int
    fits: int
    fit_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def evaluate(building: str, series: HourlySeries, cal: Calendar, start: datetime, end: datetime, *,
             horizon: int = 24, refit_days: int = 7, train_horizon: int | None = None,
             temperature: Floats | None = None) -> Skill:
    """Backtest every local midnight in [start, end) that has ``MIN_TRAIN_DAYS`` of history.

    The model is trained for the horizon it is scored on (``train_horizon``, default ``horizon``),
    as the service trains one model for the first day ahead and one for both days. With
    ``temperature`` (outdoor degC per hour, aligned with ``series``) the model uses it as the
    service does for a building with a configured series."""
    values = series.values
    train_horizon = train_horizon or horizon
    all_origins = cal.origins(series.start, series.end)
    evals = [int(o) for o in cal.origins(start, end) if o < len(values)]
    actual_all, model_all, lo_all, hi_all, base_all = [], [], [], [], []
    fits, fit_s, model = 0, 0.0, None
    days_since_fit = refit_days
    for o in evals:
        history = all_origins[all_origins < o]
        if len(history) < MIN_TRAIN_DAYS + 1:
            continue
        if model is None or days_since_fit >= refit_days:
            t0 = time.process_time()
            try:  # only the hours before the origin exist for the model: no training target after it
                model, days_since_fit = train(values[:o], cal, history, horizon=train_horizon,
                                              temperature=temperature), 0
                fits += 1
            except NotEnoughHistory:
                if model is None:
                    continue  # too little usable history yet: the day is not scored
            finally:
                fit_s += time.process_time() - t0
        days_since_fit += 1
        bands, target = model.predict(values[:o], cal, np.array([o], dtype=np.int64), temperature)
        bands, target = bands[:horizon], target[:horizon]
        ok = target < len(values)
        target, bands = target[ok], bands[ok]
        actual = values[target]
        baseline = np.where(target - WEEK >= 0, values[np.clip(target - WEEK, 0, None)], np.nan)
        scored = np.isfinite(actual) & np.isfinite(baseline)
        actual_all.append(actual[scored])
        base_all.append(baseline[scored])
        model_all.append(bands[scored, 1])
        lo_all.append(bands[scored, 0])
        hi_all.append(bands[scored, 2])
    if not actual_all:
        raise ValueError(f"no day of {start:%Y-%m-%d} to {end:%Y-%m-%d} has {MIN_TRAIN_DAYS} days of history before it")
    y, p50, base = np.concatenate(actual_all), np.concatenate(model_all), np.concatenate(base_all)
    lo, hi = np.concatenate(lo_all), np.concatenate(hi_all)
    model_mae, base_mae = float(np.mean(np.abs(y - p50))), float(np.mean(np.abs(y - base)))
    return Skill(building=building, days=len(actual_all), horizon_h=horizon, model_mae_kwh=model_mae,
                 baseline_mae_kwh=base_mae, ratio=model_mae / base_mae if base_mae > 0 else float("nan"),
                 p90_coverage=float(np.mean((y >= lo) & (y <= hi))), hours=len(y), fits=fits,
                 fit_seconds=fit_s)
