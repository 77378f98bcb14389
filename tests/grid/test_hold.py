"""Hold the last value with its age through an outage, on a controlled clock; never invent a value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from greenwire.cloud.grid.hold import HoldState, on_failure, on_success, reading
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
HALF = timedelta(minutes=30)


def _series(*points: IntensityPoint, fetched_at: datetime = T0) -> IntensitySeries:
    return IntensitySeries.build(
        zone="GB",
        provider="neso",
        source="test",
        kind="average",
        basis="direct",
        points=points,
        fetched_at=fetched_at,
    )


def test_nothing_received_is_none_not_zero() -> None:
    shown = reading(on_failure(HoldState(), "neso: cannot reach", T0), T0)
    assert (shown.status, shown.point, shown.g_per_kwh, shown.failures) == ("none", None, None, 1)
    assert shown.last_error == "neso: cannot reach"


def test_current_then_held_with_its_age_then_expired() -> None:
    state = on_success(HoldState(), _series(IntensityPoint(T0, T0 + HALF, 180.0)))
    assert reading(state, T0 + timedelta(minutes=10)).status == "current"
    state = on_failure(state, "neso: HTTP 500", T0 + timedelta(minutes=35))
    later = T0 + timedelta(hours=3)
    shown = reading(state, later, max_age=timedelta(hours=6))
    assert (shown.status, shown.g_per_kwh, shown.age, shown.stale) == (
        "held",
        180.0,
        timedelta(hours=3),
        True,
    )
    assert (shown.failures, shown.last_error, shown.last_success_at) == (1, "neso: HTTP 500", T0)
    gone = reading(state, T0 + timedelta(hours=7), max_age=timedelta(hours=6))
    assert (gone.status, gone.g_per_kwh, gone.point.g_per_kwh) == ("expired", None, 180.0)  # type: ignore[union-attr]


def test_the_providers_forecast_for_now_counts_as_current() -> None:
    state = on_success(
        HoldState(),
        _series(
            IntensityPoint(T0, T0 + HALF, 180.0),
            IntensityPoint(T0 + HALF, T0 + 2 * HALF, 150.0, "forecast"),
        ),
    )
    shown = reading(on_failure(state, "down", T0 + HALF), T0 + timedelta(minutes=40))
    assert (shown.status, shown.g_per_kwh, shown.point.status) == ("current", 150.0, "forecast")  # type: ignore[union-attr]
    assert reading(state, T0 + timedelta(minutes=70)).point.g_per_kwh == 180.0  # type: ignore[union-attr]


def test_a_good_answer_clears_the_failures() -> None:
    state = on_failure(on_failure(HoldState(), "a", T0), "b", T0)
    state = on_success(state, _series(IntensityPoint(T0, T0 + HALF, 99.0)))
    assert (state.failures, state.last_error) == (0, None)


@given(values=st.lists(st.floats(0, 2000), min_size=1, max_size=20), later=st.integers(0, 48 * 60))
def test_the_value_shown_is_always_one_the_provider_gave(values: list[float], later: int) -> None:
    points = [IntensityPoint(T0 + i * HALF, T0 + (i + 1) * HALF, v) for i, v in enumerate(values)]
    shown = reading(on_success(HoldState(), _series(*points)), T0 + timedelta(minutes=later))
    assert shown.point in points
    assert shown.age is not None and shown.age >= timedelta(0)
