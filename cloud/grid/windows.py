"""The best windows of a provider's answer: its actuals, and its forecasts where no actual is.

The window maths is the carbon engine's (:mod:`greenwire.cloud.carbon.windows`, which the
building's carbon signal uses too); this applies it to an :class:`IntensitySeries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from greenwire.cloud.carbon.windows import (
    DURATIONS,
    HORIZON,
    BestWindow,
    NoWindow,
    best_window,
    merged,
    windows_json,
    windows_of,
)
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries

__all__ = ["DURATIONS", "HORIZON", "BestWindow", "NoWindow", "best_window", "best_windows", "timeline",
           "windows_json"]


def timeline(series: IntensitySeries) -> tuple[IntensityPoint, ...]:
    """One value per moment: the series' actuals, and its forecasts where no actual overlaps them."""
    points = merged(series.actuals, series.forecasts)
    return tuple(p for p in series.points if p in points)


def best_windows(
    series: IntensitySeries,
    now: datetime,
    *,
    durations: Sequence[timedelta] = DURATIONS,
    horizon: timedelta = HORIZON,
) -> tuple[BestWindow | NoWindow, ...]:
    """The best window of each duration (1, 2, 4 and 8 h by default) in the series' next ``horizon``."""
    return windows_of(timeline(series), now, durations=durations, horizon=horizon)
