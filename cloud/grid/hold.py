"""Through a provider outage, hold the last value with its age; never invent one.

The policy is pure: a :class:`HoldState` records the provider's last good answer
and its failures since; :func:`reading` says what to show at ``now``:

- ``current``: a value whose period contains ``now`` (an actual, else the provider's
  own forecast for that period: a forecast is the provider's word, not ours);
- ``held``: no value covers ``now``, so the newest one that started before it is
  shown, with ``stale`` set and its age, until ``max_age``;
- ``expired``: the held value is older than ``max_age``; it is still carried for
  display, but must not be used as the current intensity;
- ``none``: nothing has been received (or nothing started before ``now``).

The age is ``now - start`` of the value's period: how long ago the number
became true. No interpolation, no carrying a forecast past its period, no
fallback to another provider: those are decisions for the caller, who sees
``status`` and ``last_error``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries

HoldStatus = Literal["current", "held", "expired", "none"]


@dataclass(frozen=True, slots=True)
class HoldState:
    """The last good answer of one provider for one zone, and what went wrong since."""

    series: IntensitySeries | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failures: int = 0
    """Failed fetches since the last good one."""


def on_success(state: HoldState, series: IntensitySeries) -> HoldState:
    """A good answer replaces the held one and clears the failure count."""
    return HoldState(series, series.fetched_at, None, None, 0)


def on_failure(state: HoldState, error: str, at: datetime) -> HoldState:
    """A failed fetch keeps the held answer and counts the failure."""
    return replace(state, last_error=error, last_error_at=at, failures=state.failures + 1)


@dataclass(frozen=True, slots=True)
class Reading:
    """What the signal shows at ``at``: the value (if any), how old it is, and why."""

    status: HoldStatus
    at: datetime
    point: IntensityPoint | None
    age: timedelta | None
    stale: bool
    last_success_at: datetime | None
    last_error: str | None
    failures: int

    @property
    def g_per_kwh(self) -> float | None:
        """The value to use as the current intensity: None unless ``current`` or ``held``."""
        return (
            self.point.g_per_kwh
            if self.point is not None and self.status in ("current", "held")
            else None
        )


def reading(state: HoldState, now: datetime, *, max_age: timedelta | None = None) -> Reading:
    """What to show at ``now`` under the policy in the module docstring."""
    series = state.series
    point = series.at(now) if series is not None else None
    status: HoldStatus = "current"
    if point is None and series is not None:
        point = series.latest_before(now) or max(
            (p for p in series.points if p.start <= now), key=lambda p: p.start, default=None
        )
        status = "held"
    if point is None:
        return Reading(
            "none", now, None, None, False, state.last_success_at, state.last_error, state.failures
        )
    age = now - point.start
    if status == "held" and max_age is not None and age > max_age:
        status = "expired"
    return Reading(
        status,
        now,
        point,
        age,
        now >= point.end,
        state.last_success_at,
        state.last_error,
        state.failures,
    )
