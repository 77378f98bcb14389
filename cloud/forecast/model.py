"""The day-ahead model: gradient-boosted quantile regression with a calibrated P10-P90 band.

Three scikit-learn ``HistGradientBoostingRegressor`` models (quantile loss at 0.1, 0.5, 0.9) are
trained per building and energy role on the rows of :func:`greenwire.cloud.forecast.features.design`.
A quantile model's band is usually too narrow on days it has not seen, so the last
``CALIBRATION_DAYS`` of the training window are held out of the fit and used to widen (or
narrow) the band until it holds ``CALIBRATION_LEVEL`` of those hours (split-conformal quantile regression,
Romano et al. 2019); the band is then what it claims on new days, not on the training days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn.ensemble  # noqa: F401  (the forecast extra: a command without it says so before any I/O)

from greenwire.cloud.forecast.features import FEATURES, Calendar, design
from greenwire.cloud.forecast.series import Floats

QUANTILES = (0.1, 0.5, 0.9)
BAND = 0.8
CALIBRATION_LEVEL = 0.82
"""The share the band is calibrated to hold on the calibration days: a little above ``BAND``,
since the days just before a forecast resemble each other more than they resemble the days it
forecasts (at 0.80 the development buildings' bands held 75-78 % of new hours)."""
"""The share of hours the P10-P90 band should hold."""
CALIBRATION_DAYS = 28
MIN_TRAIN_DAYS = 14
HALF_LIFE_DAYS = 60.0
"""Training rows' weight halves every this many days back (set on the development buildings,
cambridge-b2 and panther-office-larry: 60 d gave MAE ratios 0.78/0.80 against 0.76/0.86 unweighted)."""
MODEL_VERSION = "hgb-quantile-3"
"""Named in every stored forecast; change it when features or parameters change (3: a week read
as zero has level 0). A model trained with outdoor temperature is ``TEMPERATURE_VERSION``."""
TEMPERATURE_VERSION = f"{MODEL_VERSION}+outdoor-temperature"
PARAMS: dict[str, Any] = {"max_iter": 60, "learning_rate": 0.15, "max_leaf_nodes": 15, "max_bins": 63,
                          "min_samples_leaf": 30, "l2_regularization": 1.0, "early_stopping": False}


class NotEnoughHistory(ValueError):
    """Fewer known days before the origin than a model needs."""


@dataclass(frozen=True)
class Forecaster:
    """A trained model: its quantile regressors, band margin and what it was trained on."""

    models: tuple[Any, ...]
    margin: float
    horizon: int
    trained_from: datetime
    trained_to: datetime
    rows: int
    version: str = MODEL_VERSION
    calibration_coverage: float = field(default=float("nan"))
    temperature: bool = False
    """Trained with the outdoor temperature features: ``predict`` needs the series too."""

    def predict(self, values: Floats, cal: Calendar, origins: npt.NDArray[np.int64],
                temperature: Floats | None = None) -> tuple[Floats, npt.NDArray[np.int64]]:
        """(P10, P50, P90 per row, shape (n, 3); the target index of each row). ``temperature``
        is read only by a model trained with it, and such a model needs it."""
        if self.temperature and temperature is None:
            raise ValueError("this model was trained with outdoor temperature: predict needs the series")
        x, level, target, _ = design(values, cal, origins, self.horizon,
                                     temperature if self.temperature else None)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            raw = np.stack([m.predict(x) for m in self.models], axis=1)
        return _band(raw, self.margin) * level[:, None], target


def _band(raw: Floats, margin: float) -> Floats:
    lo = np.minimum(raw[:, 0], raw[:, 1]) - margin
    hi = np.maximum(raw[:, 2], raw[:, 1]) + margin
    mid = np.clip(raw[:, 1], lo, hi)
    return np.asarray(np.clip(np.stack([np.minimum(lo, mid), mid, np.maximum(hi, mid)], axis=1), 0.0, None),
                      dtype=float)


def _rows(values: Floats, cal: Calendar, origins: npt.NDArray[np.int64], horizon: int,
          temperature: Floats | None = None) -> tuple[Floats, Floats, Floats]:
    """(features, targets, weights) of the usable rows; a row's weight halves every
    ``HALF_LIFE_DAYS`` before the newest origin, so a building that changed its ways is followed."""
    x, level, target, usable = design(values, cal, origins, horizon, temperature)
    y = np.full(len(target), np.nan)
    inside = target < len(values)
    y[inside] = values[target[inside]] / np.where(level[inside] > 0, level[inside], np.nan)
    keep = np.isfinite(y) & usable
    age_days = (float(origins[-1]) - np.repeat(origins, horizon).astype(float)) / 24
    weight = 0.5 ** (age_days / HALF_LIFE_DAYS) if HALF_LIFE_DAYS else np.ones(len(y))
    return x[keep], y[keep], weight[keep]


def train(values: Floats, cal: Calendar, origins: npt.NDArray[np.int64], horizon: int = 48,
          seed: int = 0, temperature: Floats | None = None) -> Forecaster:
    """A model from the days starting at ``origins`` (each with ``horizon`` hours of targets,
    cut where the data ends); the last :data:`CALIBRATION_DAYS` of them calibrate the band.

    With ``temperature`` (the building's outdoor temperature per hour, aligned with ``values``)
    the model also learns from :data:`~greenwire.cloud.forecast.features.TEMPERATURE_FEATURES`;
    without it, it is the same model as before the series was configured."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    origins = origins[design(values, cal, origins, 1)[3]]  # days whose week before the meter reported
    if len(origins) < MIN_TRAIN_DAYS:
        raise NotEnoughHistory(f"{len(origins)} days with a reported week before them; a forecast needs at "
                               f"least {MIN_TRAIN_DAYS}")
    n_cal = min(CALIBRATION_DAYS, len(origins) // 4)
    fit_o, cal_o = origins[: len(origins) - n_cal], origins[len(origins) - n_cal:]
    # a fit day's targets may reach into the calibration days' hours: cut them at the first one
    x, y, w = _rows(values[: int(cal_o[0])] if n_cal else values, cal, fit_o, horizon, temperature)
    if len(y) < 24 * MIN_TRAIN_DAYS // 2:
        raise NotEnoughHistory(f"{len(y)} known hours in the training window; a forecast needs more")
    # One OpenMP thread: on a shared two-core machine more threads spin against each other and a
    # fit takes 25-50 times longer; buildings are trained one after another, or in processes.
    with threadpool_limits(1):
        models = tuple(HistGradientBoostingRegressor(loss="quantile", quantile=q, random_state=seed, **PARAMS)
                       .fit(x, y, sample_weight=w) for q in QUANTILES)
    margin, coverage = 0.0, float("nan")
    if n_cal:
        xc, yc, _ = _rows(values, cal, cal_o, horizon, temperature)
        if len(yc):
            with threadpool_limits(1):
                raw = np.stack([m.predict(xc) for m in models], axis=1)
            scores = np.maximum(np.minimum(raw[:, 0], raw[:, 1]) - yc, yc - np.maximum(raw[:, 2], raw[:, 1]))
            level = min(1.0, CALIBRATION_LEVEL * (1 + 1 / len(scores)))
            margin = float(np.quantile(scores, level))
            band = _band(raw, margin)
            coverage = float(np.mean((yc >= band[:, 0]) & (yc <= band[:, 2])))
    return Forecaster(models=models, margin=margin, horizon=horizon, trained_from=cal.start_of(int(origins[0])),
                      trained_to=cal.start_of(int(origins[-1]) + horizon), rows=len(y),
                      calibration_coverage=coverage, temperature=temperature is not None,
                      version=TEMPERATURE_VERSION if temperature is not None else MODEL_VERSION)


__all__ = ["BAND", "FEATURES", "MODEL_VERSION", "QUANTILES", "TEMPERATURE_VERSION", "Forecaster", "NotEnoughHistory",
           "train"]
