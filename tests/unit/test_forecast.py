"""The day-ahead forecaster on real buildings: no look-ahead, skill over the seasonal-naive
forecast on held-out weeks, a band that holds what it claims, and the hourly series from counters.

The held-out weeks here are short so the test runs in seconds; ``make bench`` (section forecast)
scores a year of rolling origins on every real building.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.buildings import building
from greenwire.cloud.forecast.backtest import evaluate
from greenwire.cloud.forecast.model import NotEnoughHistory, train
from greenwire.cloud.forecast.series import HourlySeries, from_counter


def _slice(name: str, start: datetime, end: datetime, role: str = "grid_import"):  # type: ignore[no-untyped-def]
    b = building(name, role)
    series = b.series().slice(start, end)
    return series, b.calendar(series)


def test_a_forecast_reads_nothing_at_or_after_its_origin() -> None:
    series, cal = _slice("cambridge-b85", datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 4, 1, tzinfo=UTC))
    origins = cal.origins(series.start, series.end)
    o = int(origins[60])
    model = train(series.values[:o], cal, origins[origins < o], horizon=48)
    before, _ = model.predict(series.values, cal, np.array([o]))
    scrambled = series.values.copy()
    scrambled[o:] = scrambled[o:][::-1] * 3.0
    after, target = model.predict(scrambled, cal, np.array([o]))
    assert np.array_equal(before, after)
    assert target[0] == o and len(target) == 48
    assert np.all(before[:, 0] <= before[:, 1]) and np.all(before[:, 1] <= before[:, 2])


@pytest.mark.parametrize(("name", "score_from"), [
    ("cambridge-b25", datetime(2022, 9, 1, tzinfo=UTC)),
    ("rat-health-tanya", datetime(2017, 3, 1, 5, tzinfo=UTC)),
])
def test_the_model_beats_the_seasonal_naive_forecast_on_held_out_weeks(name: str, score_from: datetime) -> None:
    end = score_from + timedelta(days=56)
    series, cal = _slice(name, score_from - timedelta(days=200), end)
    skill = evaluate(name, series, cal, score_from, end, refit_days=7)
    assert skill.days >= 55 and skill.fits == -(-skill.days // 7)
    assert skill.ratio < 0.9, skill.as_dict()
    assert 0.7 <= skill.p90_coverage <= 0.92, skill.as_dict()


def test_too_little_history_is_a_clear_error() -> None:
    series, cal = _slice("cambridge-b2", datetime(2022, 3, 1, tzinfo=UTC), datetime(2022, 3, 10, tzinfo=UTC))
    with pytest.raises(NotEnoughHistory, match="needs at least 14"):
        train(series.values, cal, cal.origins(series.start, series.end))


def test_hourly_energy_from_counter_readings_matches_the_meter() -> None:
    b = building("cambridge-b2")
    hourly = b.series().slice(datetime(2022, 2, 1, tzinfo=UTC), datetime(2022, 2, 3, tzinfo=UTC))
    readings: list[tuple[datetime, float, str]] = []
    total = 100_000.0
    for i, kwh in enumerate(hourly.values):
        for q in range(4):  # a reading every 15 minutes, the hour's energy spread evenly
            if 20 <= i < 23:
                continue  # three hours with no reading at all
            readings.append((hourly.at(i) + timedelta(minutes=15 * q), total, "good"))
            total += kwh / 4
    readings.append((hourly.end, total, "good"))
    series = from_counter(readings, hourly.start, hourly.end)
    assert isinstance(series, HourlySeries) and len(series) == len(hourly)
    known = np.isfinite(series.values)
    assert not known[20:23].any()  # the gap's energy is counted by the account, but not placed
    np.testing.assert_allclose(series.values[known & (np.arange(len(hourly)) != 19)],
                               hourly.values[known & (np.arange(len(hourly)) != 19)], rtol=1e-9)
