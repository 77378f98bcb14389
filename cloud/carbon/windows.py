"""The best time to run a load: the lowest-intensity contiguous window of 1, 2, 4 and 8 hours.

Like the Carbon Aware SDK's ``best`` answer (``/emissions/forecasts/current`` with a
``windowSize``: the optimal data point of the rolling average), for each duration
``d`` this finds the window ``[s, s + d)`` inside ``[now, now + horizon]`` whose
time-weighted mean intensity is lowest, and compares it with starting now.

The intensity is a step function (each value holds for its period), so the
mean over ``[s, s + d)`` is piecewise linear in ``s`` and its minimum lies where
``s`` or ``s + d`` meets a period boundary, or at ``now`` or at the horizon end;
those are the only starts tried, which makes the answer exact, not sampled.
A window must be covered without gaps: where the forecast has a hole, no window
crosses it (a value is never invented). Ties go to the earliest start.

Pure, and over anything with a ``start``, an ``end`` and a ``g_per_kwh`` (:class:`Period`):
the grid connectors' points (``greenwire.cloud.grid.windows`` applies it to a provider's
answer) and the stored forecast the carbon signal is built from
(``greenwire.cloud.carbon.signal``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

DURATIONS = (timedelta(hours=1), timedelta(hours=2), timedelta(hours=4), timedelta(hours=8))
HORIZON = timedelta(hours=24)
_TIE = 1e-9


class Period(Protocol):
    """A value that holds for ``[start, end)`` (UTC)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...

    @property
    def g_per_kwh(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Step:
    """The plain :class:`Period`: ``g_per_kwh`` for ``[start, end)``."""

    start: datetime
    end: datetime
    g_per_kwh: float


@dataclass(frozen=True, slots=True)
class BestWindow:
    """The cleanest window of one duration, and what it saves against starting now.

    ``now_mean_g_per_kwh`` and the savings are None when the forecast does not
    cover ``[now, now + duration)`` (it starts later): there is nothing to compare.
    """

    duration: timedelta
    start: datetime
    end: datetime
    mean_g_per_kwh: float
    now_mean_g_per_kwh: float | None
    saving_g_per_kwh: float | None
    saving_percent: float | None


@dataclass(frozen=True, slots=True)
class NoWindow:
    """No window of this duration fits in the covered part of the horizon."""

    duration: timedelta
    reason: str


def merged(actuals: Sequence[Period], forecasts: Sequence[Period]) -> tuple[Period, ...]:
    """One value per moment: the actuals, and the forecasts where no actual overlaps them."""
    free = [f for f in forecasts if not any(a.start < f.end and f.start < a.end for a in actuals)]
    return tuple(sorted((*actuals, *free), key=lambda p: p.start))


class _Steps:
    """A gap-aware step function over sorted, non-overlapping points."""

    def __init__(self, points: Sequence[Period]) -> None:
        self.points = tuple(sorted(points, key=lambda p: p.start))
        self.starts = [p.start for p in self.points]

    def mean(self, start: datetime, end: datetime) -> float | None:
        """Time-weighted mean over ``[start, end)``, or None if any part of it is not covered."""
        i = bisect.bisect_right(self.starts, start) - 1
        if i < 0:
            return None
        at, total = start, 0.0
        while at < end:
            if i >= len(self.points) or not self.points[i].start <= at < self.points[i].end:
                return None
            point = self.points[i]
            until = min(end, point.end)
            total += point.g_per_kwh * (until - at).total_seconds()
            at = until
            i += 1
        return total / (end - start).total_seconds()


def _candidates(
    points: Iterable[Period], now: datetime, duration: timedelta, last: datetime
) -> list[datetime]:
    bounds = {b for p in points for b in (p.start, p.end)}
    starts = {now, last - duration} | bounds | {b - duration for b in bounds}
    return sorted(s for s in starts if now <= s <= last - duration)


def best_window(
    points: Sequence[Period],
    now: datetime,
    duration: timedelta,
    *,
    horizon: timedelta = HORIZON,
) -> BestWindow | NoWindow:
    """The lowest-mean window of ``duration`` starting at or after ``now`` and ending by ``now + horizon``."""
    if duration <= timedelta(0) or duration > horizon:
        return NoWindow(duration, f"a window must last more than 0 and at most {horizon}")
    steps = _Steps(points)
    best: tuple[float, datetime] | None = None
    for start in _candidates(steps.points, now, duration, now + horizon):
        mean = steps.mean(start, start + duration)
        if mean is not None and (best is None or mean < best[0] - _TIE * max(1.0, abs(best[0]))):
            best = (mean, start)
    if best is None:
        return NoWindow(
            duration, f"the forecast does not cover {duration} without a gap in the next {horizon}"
        )
    mean, start = best
    now_mean = steps.mean(now, now + duration)
    saving = None if now_mean is None else now_mean - mean
    percent = (
        None
        if now_mean is None or saving is None
        else (100.0 * saving / now_mean if now_mean > 0 else 0.0)
    )
    return BestWindow(duration, start, start + duration, mean, now_mean, saving, percent)


def windows_of(
    points: Sequence[Period],
    now: datetime,
    *,
    durations: Sequence[timedelta] = DURATIONS,
    horizon: timedelta = HORIZON,
) -> tuple[BestWindow | NoWindow, ...]:
    """The best window of each duration (1, 2, 4 and 8 h by default) in the next ``horizon`` of
    ``points`` (non-overlapping: :func:`merged` makes them so)."""
    return tuple(best_window(points, now, d, horizon=horizon) for d in durations)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def windows_json(windows: Sequence[BestWindow | NoWindow]) -> list[dict[str, object]]:
    """The windows as the carbon signal carries them: one object per duration, ``reason`` when none fits.

    ``{"duration_h": 2, "start": "...Z", "end": "...Z", "g_per_kwh": 152.5, "now_g_per_kwh": 231.0,
    "saving_g_per_kwh": 78.5, "saving_percent": 34.0}``; a missing comparison is null, never 0.
    """
    out: list[dict[str, object]] = []
    for w in windows:
        hours = w.duration.total_seconds() / 3600
        duration = int(hours) if hours.is_integer() else hours
        if isinstance(w, NoWindow):
            out.append(
                {
                    "duration_h": duration,
                    "start": None,
                    "end": None,
                    "g_per_kwh": None,
                    "now_g_per_kwh": None,
                    "saving_g_per_kwh": None,
                    "saving_percent": None,
                    "reason": w.reason,
                }
            )
            continue
        out.append(
            {
                "duration_h": duration,
                "start": _stamp(w.start),
                "end": _stamp(w.end),
                "g_per_kwh": w.mean_g_per_kwh,
                "now_g_per_kwh": w.now_mean_g_per_kwh,
                "saving_g_per_kwh": w.saving_g_per_kwh,
                "saving_percent": w.saving_percent,
            }
        )
    return out
