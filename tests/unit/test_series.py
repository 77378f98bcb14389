"""Replaying recorded series: the counter accumulates exactly the recorded energy."""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenwire.simulators.series import BUILTIN, Replay, Series, builtin_series, load_series

JUNE = datetime(2022, 6, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _recorded(name: str) -> list[float]:
    with BUILTIN[name].open() as handle:
        return [float(row[1]) for row in list(csv.reader(handle))[1:]]


@pytest.mark.parametrize("name", ["b2", "b25", "b85"])
def test_builtin_series_are_the_recorded_year(name: str) -> None:
    series = builtin_series(name)
    assert series.start == datetime(2022, 1, 1, tzinfo=UTC)
    assert len(series.kwh) == 8760
    assert list(series.kwh) == _recorded(name)


def test_counter_rises_by_each_recorded_hour() -> None:
    clock = Clock()
    series = builtin_series("b25")
    replay = Replay(series, start=JUNE, speed=3600, clock=clock)
    first = (JUNE - series.start) // timedelta(hours=1)
    recorded = _recorded("b25")
    counters = []
    for hour in range(49):
        clock.now = 1_000_000.0 + hour  # one wall second = one replayed hour
        counters.append(replay.energy_kwh())
    deltas = [b - a for a, b in itertools.pairwise(counters)]
    assert deltas == pytest.approx(recorded[first : first + 48], abs=1e-6)
    assert replay.series_time(1_000_000.0 + 1.5) == JUNE + timedelta(hours=1, minutes=30)


def test_power_is_the_hours_average_and_energy_its_integral() -> None:
    clock = Clock()
    series = builtin_series("b2")
    replay = Replay(series, start=JUNE, speed=60, clock=clock)
    hour_kwh = series.kwh[(JUNE - series.start) // timedelta(hours=1)]
    assert replay.power_w() == hour_kwh * 1000
    before = replay.energy_kwh()
    clock.now += 30  # 30 wall seconds at x60 = half an hour
    assert replay.energy_kwh() - before == pytest.approx(hour_kwh / 2)


def test_counter_starts_at_the_energy_since_the_series_began_and_wraps_without_going_back() -> None:
    clock = Clock()
    series = builtin_series("b85")
    replay = Replay(series, start=datetime(2022, 12, 31, 23, tzinfo=UTC), speed=3600, clock=clock)
    assert replay.energy_kwh() == pytest.approx(series.total_kwh - series.kwh[-1])
    clock.now += 2  # past the end of the year, into its beginning again
    assert replay.series_time() == series.start + timedelta(hours=1)
    assert replay.energy_kwh() == pytest.approx(series.total_kwh + series.kwh[0])
    assert Replay(series, start=JUNE, clock=clock, initial_kwh=10.0).energy_kwh() == 10.0


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown series .b99.; shipped series: b2, b25, b85"):
        builtin_series("b99")
    with pytest.raises(ValueError, match="speed must be a positive number"):
        Replay(builtin_series("b2"), start=JUNE, speed=0)
    gap = tmp_path / "gap.csv"
    gap.write_text("datetime,kWh\n2022-01-01 00:00:00,1\n2022-01-01 02:00:00,1\n")
    with pytest.raises(ValueError, match=r"gap\.csv:3: expected hour 2022-01-01 01:00"):
        load_series(gap)
    with pytest.raises(ValueError, match=r"has energy -1\.0"):
        Series("neg", JUNE, (1.0, -1.0))
