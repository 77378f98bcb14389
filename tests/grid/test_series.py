"""The intensity series type: what it refuses, how answers combine, how Retry-After is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from greenwire.cloud.grid.http import parse_retry_after
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries, combine

T0 = datetime(2026, 12, 2, 10, tzinfo=UTC)
H = timedelta(hours=1)


def _series(*points: IntensityPoint, zone: str = "GB", kind: str = "average") -> IntensitySeries:
    return IntensitySeries.build(
        zone=zone,
        provider="neso",
        source="s",
        kind=kind,
        basis="direct",  # type: ignore[arg-type]
        points=points,
        fetched_at=T0,
    )


@pytest.mark.parametrize(
    ("start", "end", "value", "message"),
    [
        (T0.replace(tzinfo=None), T0 + H, 1.0, "UTC"),
        (T0.astimezone(timezone(timedelta(hours=8))), T0 + H, 1.0, "UTC"),
        (T0, T0, 1.0, "at or before"),
        (T0, T0 + H, -1.0, "outside"),
        (T0, T0 + H, 5001.0, "outside"),
        (T0, T0 + H, float("nan"), "outside"),
    ],
)
def test_point_refuses(start: datetime, end: datetime, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IntensityPoint(start, end, value)


def test_series_refuses_overlaps_of_one_status_but_keeps_actual_and_forecast_apart() -> None:
    both = _series(
        IntensityPoint(T0, T0 + H, 1.0, "forecast"), IntensityPoint(T0, T0 + H, 2.0, "actual")
    )
    assert [p.status for p in both.points] == ["actual", "forecast"]
    with pytest.raises(ValueError, match="actual periods overlap"):
        _series(IntensityPoint(T0, T0 + H, 1.0), IntensityPoint(T0 + H / 2, T0 + 2 * H, 2.0))
    with pytest.raises(ValueError, match="kind"):
        _series(kind="mean")


def test_combine_prefers_the_later_answer_and_refuses_other_quantities() -> None:
    now = _series(IntensityPoint(T0, T0 + H, 100.0, "forecast"))
    ahead = _series(
        IntensityPoint(T0, T0 + H, 110.0, "forecast"),
        IntensityPoint(T0 + H, T0 + 2 * H, 90.0, "forecast"),
    )
    assert [p.g_per_kwh for p in combine(now, ahead).points] == [110.0, 90.0]
    with pytest.raises(ValueError, match="cannot combine"):
        combine(now, _series(zone="GB-13"))
    with pytest.raises(ValueError, match="cannot combine"):
        combine(now, _series(kind="marginal"))


def test_retry_after_forms() -> None:
    assert parse_retry_after("120", T0) == 120.0
    assert parse_retry_after("Wed, 02 Dec 2026 10:00:30 GMT", T0) == 30.0
    assert parse_retry_after("Wed, 02 Dec 2026 09:00:00 GMT", T0) == 0.0  # already past: no wait
    assert parse_retry_after("soon", T0) is None
    assert parse_retry_after(None, T0) is None
    assert parse_retry_after("-5", T0) is None
