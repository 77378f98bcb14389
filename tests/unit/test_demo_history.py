"""The demo's history site: recorded months moved by whole weeks to end at the demo's hour."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from greenwire.demo_history import DAYS, RECORDED_END, readings_lines, shift_for


@pytest.mark.parametrize("now", [datetime(2026, 12, 3, 14, 25, tzinfo=UTC), datetime(2027, 1, 2, 0, 5, tzinfo=UTC),
                                 datetime(2026, 7, 1, 9, 0, tzinfo=UTC)])
def test_the_history_ends_at_the_last_full_hour_with_weekdays_kept(now: datetime) -> None:
    shift = shift_for(now)
    assert shift % timedelta(weeks=1) == timedelta(0)
    assert timedelta(0) <= RECORDED_END + shift - now.replace(minute=0) < timedelta(weeks=1)
    times, values = [], []
    for line in readings_lines("b85", now):
        fields, stamp = line.rsplit(" ", 2)[1:]
        times.append(datetime.fromtimestamp(int(stamp) / 1e9, UTC))
        values.append(float(fields.split(",")[0].split("=")[1]))
    assert times[-1] == now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    assert times[0] == now.replace(minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
    assert all(b >= a for a, b in itertools.pairwise(values))  # a counter never runs back
    # b85's known anomaly: a run of hours in which the counter stood still
    still = sum(b == a for a, b in itertools.pairwise(values))
    assert 4 <= still <= 36


def test_a_run_an_hour_later_writes_the_same_values() -> None:
    first = datetime(2026, 12, 3, 14, 25, tzinfo=UTC)
    a = set(readings_lines("b2", first))
    b = set(readings_lines("b2", first + timedelta(hours=1)))
    assert len(a & b) >= len(a) - 30  # all but the first hour and the injected nights, which move with the window
