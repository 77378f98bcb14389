"""Best windows against a brute-force reference that tries every minute and never skips a gap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries
from greenwire.cloud.grid.windows import (
    DURATIONS,
    BestWindow,
    NoWindow,
    best_window,
    best_windows,
    windows_json,
)

T0 = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _series(points: list[IntensityPoint]) -> IntensitySeries:
    return IntensitySeries.build(
        zone="GB",
        provider="test",
        source="test",
        kind="average",
        basis="direct",
        points=points,
        fetched_at=T0,
    )


def test_hourly_example_by_hand() -> None:
    values = [300, 200, 100, 400, 500, 500, 500, 500, 500, 500]
    points = [
        IntensityPoint(T0 + i * H, T0 + (i + 1) * H, v, "forecast") for i, v in enumerate(values)
    ]
    one, two, four, eight = best_windows(_series(points), T0)
    assert isinstance(one, BestWindow) and (one.start, one.mean_g_per_kwh) == (T0 + 2 * H, 100)
    assert one.saving_g_per_kwh == 200 and one.saving_percent == pytest.approx(200 / 3)
    assert isinstance(two, BestWindow) and (
        two.start,
        two.mean_g_per_kwh,
        two.now_mean_g_per_kwh,
    ) == (T0 + H, 150, 250)
    assert isinstance(four, BestWindow) and (four.start, four.mean_g_per_kwh) == (T0, 250)
    assert four.saving_g_per_kwh == 0 and four.saving_percent == 0
    assert (
        isinstance(eight, BestWindow) and eight.start == T0
    )  # the only 8 h windows: from 0:00, 1:00, 2:00


def test_a_gap_is_never_bridged_and_a_late_forecast_has_no_saving() -> None:
    points = [
        IntensityPoint(T0 + 2 * H, T0 + 3 * H, 50, "forecast"),
        IntensityPoint(T0 + 4 * H, T0 + 6 * H, 80, "forecast"),
    ]
    one, two, four, _ = best_windows(_series(points), T0)
    assert (
        isinstance(one, BestWindow) and one.start == T0 + 2 * H and one.now_mean_g_per_kwh is None
    )
    assert one.saving_g_per_kwh is None and one.saving_percent is None
    assert isinstance(two, BestWindow) and (two.start, two.mean_g_per_kwh) == (T0 + 4 * H, 80)
    assert isinstance(four, NoWindow) and "without a gap" in four.reason


def test_now_inside_a_period_and_the_horizon_end() -> None:
    points = [IntensityPoint(T0 + i * H, T0 + (i + 1) * H, 100, "forecast") for i in range(30)]
    now = T0 + timedelta(minutes=20)
    one = best_window(points, now, H)
    assert isinstance(one, BestWindow) and one.start == now and one.end <= now + timedelta(hours=24)


def test_actual_wins_over_the_forecast_of_its_period() -> None:
    points = [
        IntensityPoint(T0, T0 + H, 400, "actual"),
        IntensityPoint(T0, T0 + H, 10, "forecast"),
        IntensityPoint(T0 + H, T0 + 2 * H, 300, "forecast"),
    ]
    (one,) = best_windows(_series(points), T0, durations=[H])
    assert isinstance(one, BestWindow) and (one.start, one.mean_g_per_kwh) == (T0 + H, 300)


def test_recorded_neso_forecast() -> None:
    """The 2023-03-16/17 NESO record as a forward forecast: the windows are those of the brute force."""
    data = json.loads(
        (Path(__file__).parent / "fixtures/neso/national_pt24h_2023-03-17T0331Z.json").read_text()
    )
    points = []
    for entry in data["data"]:
        start = datetime.fromisoformat(entry["from"])
        points.append(
            IntensityPoint(
                start, start + timedelta(minutes=30), entry["intensity"]["forecast"], "forecast"
            )
        )
    now = points[0].start
    for window in best_windows(_series(points), now):
        assert isinstance(window, BestWindow)
        assert _reference(points, now, window.duration) == (
            window.start,
            pytest.approx(window.mean_g_per_kwh),
        )


def _reference(
    points: list[IntensityPoint],
    now: datetime,
    duration: timedelta,
    horizon: timedelta = timedelta(hours=24),
) -> tuple[datetime, Fraction] | None:
    """Every whole-minute start, means in exact fractions; None where a minute is not covered."""
    minute = timedelta(minutes=1)
    span = int(horizon / minute)
    values: list[int | None] = []
    for k in range(span):
        at = now + k * minute
        covering = [p for p in points if p.start <= at < p.end]
        values.append(int(covering[0].g_per_kwh) if covering else None)
    length = int(duration / minute)
    best: tuple[datetime, Fraction] | None = None
    for k in range(span - length + 1):
        window = values[k : k + length]
        if any(v is None for v in window):
            continue
        mean = Fraction(sum(v for v in window if v is not None), length)
        if best is None or mean < best[1]:
            best = (now + k * minute, mean)
    return best


segments = st.lists(
    st.tuples(
        st.sampled_from([5, 15, 30, 60, 90]),
        st.integers(0, 900),
        st.sampled_from([0] * 12 + [30, 120]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(segments=segments, offset=st.integers(0, 90), duration=st.sampled_from(DURATIONS))
def test_best_window_is_the_brute_force_minimum(
    segments: list[tuple[int, int, int]], offset: int, duration: timedelta
) -> None:
    points, at = [], T0
    for length, value, gap in segments:
        at += timedelta(minutes=gap)
        points.append(IntensityPoint(at, at + timedelta(minutes=length), value, "forecast"))
        at += timedelta(minutes=length)
    now = T0 + timedelta(minutes=offset)
    found = best_window(points, now, duration)
    expected = _reference(points, now, duration)
    if expected is None:
        assert isinstance(found, NoWindow)
        return
    assert isinstance(found, BestWindow)
    assert found.start == expected[0]
    assert found.mean_g_per_kwh == pytest.approx(float(expected[1]), abs=1e-9)
    at_now = _reference(points, now, duration, horizon=duration)
    if at_now is None:
        assert found.now_mean_g_per_kwh is None
    else:
        assert found.now_mean_g_per_kwh == pytest.approx(float(at_now[1]), abs=1e-9)
        assert found.saving_g_per_kwh is not None and found.saving_g_per_kwh >= -1e-9


def test_windows_json_for_the_carbon_signal() -> None:
    points = [
        IntensityPoint(T0 + i * H, T0 + (i + 1) * H, v, "forecast")
        for i, v in enumerate([300, 100, 200])
    ]
    one, two, four = best_windows(_series(points), T0, durations=[H, 2 * H, 4 * H])
    encoded = windows_json([one, two, four])
    assert encoded[0] == {
        "duration_h": 1,
        "start": "2026-12-02T01:00:00Z",
        "end": "2026-12-02T02:00:00Z",
        "g_per_kwh": 100.0,
        "now_g_per_kwh": 300.0,
        "saving_g_per_kwh": 200.0,
        "saving_percent": pytest.approx(200 / 3),
    }
    assert encoded[1]["start"] == "2026-12-02T01:00:00Z" and encoded[1]["g_per_kwh"] == 150.0
    assert encoded[2]["start"] is None and "without a gap" in str(encoded[2]["reason"])
