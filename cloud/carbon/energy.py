"""Energy from cumulative counters: deltas, never integrated power, and never invented.

``counter_intervals(readings, limits)`` classifies each step of one meter's counter
(oldest first; duplicates and out-of-order readings are sorted out first) using the
readings on both sides of it:

measured     the counter rose by no more than the meter can plausibly use in the time;
             after a gap longer than ``max_gap`` the rise is spread evenly over the gap and
             flagged ``estimated`` (the energy is measured, its timing is not)
rollover     a drop that wrapping at the declared ``rollover`` width explains (or that the
             edge flagged ``counter_rollover``)
outlier      a single reading off a consistent trajectory, above or below (``LOOKAHEAD``):
             ignored, and the step is taken from the reading before it to the one after
reset        a drop to near zero (a new meter or a cleared counter): the new value counts as
             the energy since zero only if it is plausible for the elapsed time and below half
             the old reading (a restarted replay or re-based counter is not a reset); ``reset``
excluded     a drop to any other value (a replacement or re-baseline): no energy for that
             interval; what the meter would have used at its recent rate is reported as
             ``excluded_kwh``, never counted
rejected     a rise the meter cannot have used in the time (or flagged ``counter_jump`` at
             the edge): no energy, the rise reported as ``rejected_kwh``, the interval's
             recent-rate estimate as ``excluded_kwh``; the counter continues from the new value

Plausible means at most ``max_power_kw`` x elapsed (with 10 % and ``SLACK_KWH`` of margin for
timing jitter and counter resolution). The limit needs no per-meter setting: the site model's
``max_power_kw`` for the meter overrides; else the gateway's (the profile's or the device's own,
sent in its status message); else the meter's own history: ``HISTORY_MULTIPLE`` times the
90th percentile of its rate (at most ``MEDIAN_MULTIPLE`` times its median rising rate) over
spans of at least ``RATE_SPAN`` in the readings given, never below ``FLOOR_KW`` (``NO_HISTORY_KW``
with fewer than eight such spans); over intervals longer than 15 minutes the multiple falls
towards ``LONG_MULTIPLE``. A counter's last reading has no look-ahead: its step is provisional
until the next reading arrives (a recomputation then corrects it).

The result never counts more energy than the counter's consistent rises: every fault costs at
most the energy of its own interval (reported as excluded), which the property tests check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Literal

Flag = Literal["measured", "estimated", "reset", "rollover", "excluded", "rejected"]

LOOKAHEAD = 1
"""Readings looked past to find where a trajectory resumes after an outlier. One: two or more
readings in a row that agree with each other are a new trajectory (a re-baseline), not outliers."""
SLACK_KWH = 0.05
"""Rise always plausible whatever the elapsed time (counter resolution and poll jitter)."""
HISTORY_MULTIPLE = 10.0
MEDIAN_MULTIPLE = 5.0
"""The history's high percentile is at most this many times the median of its rising spans."""
LONG_MULTIPLE = 2.0
"""Over long intervals the history multiple falls as 1/sqrt(hours) from ``HISTORY_MULTIPLE`` at 15
minutes to this (see ``_Classifier.allowed_kwh``)."""
FLOOR_KW = 50.0
"""The history-based limit never goes below this (a meter idle all day may still start up)."""
NO_HISTORY_KW = 10_000.0
"""The limit of a counter with too little history and no declared limit: a 10 MW connection, the
top of what a building takes at medium voltage, so only gross faults (a replaced meter's reading,
a wrong register) are caught until the meter has a history."""
RATE_SPAN = timedelta(minutes=5)
"""Rates for the history are measured over at least this long, so 1 s polls do not look spiky."""


@dataclass(frozen=True, slots=True)
class EnergyInterval:
    """Energy used between two readings of one counter.

    ``kwh`` is what counts; ``excluded_kwh`` is the meter's recent-rate estimate for an interval
    left out (a replacement, re-baseline or rejected rise) and ``rejected_kwh`` the implausible
    rise itself: both reported, never counted.
    """

    start: datetime
    end: datetime
    kwh: float
    flag: Flag
    excluded_kwh: float = 0.0
    rejected_kwh: float = 0.0

    @property
    def estimated(self) -> bool:
        """True if the energy's timing within the interval is not measured."""
        return self.flag in ("estimated", "reset")


@dataclass(frozen=True, slots=True)
class CounterLimits:
    """What is known about how fast one counter can rise."""

    max_power_kw: float | None = None
    """The site model's limit for the meter (overrides everything)."""
    device_max_power_kw: float | None = None
    """The gateway's limit (the device's profile or its own edge setting)."""
    rollover: float | None = None
    """The counter's declared wrap width."""
    max_gap: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class _Point:
    ts: datetime
    value: float
    quality: str


def _points(readings: Iterable[tuple[datetime, float, str]]) -> list[_Point]:
    """Finite readings, oldest first, one per timestamp (the first received wins)."""
    seen: dict[datetime, _Point] = {}
    for ts, value, quality in readings:
        if ts not in seen and math.isfinite(value):
            seen[ts] = _Point(ts, value, quality)
    return [seen[ts] for ts in sorted(seen)]


def _hours(a: _Point, b: _Point) -> float:
    return (b.ts - a.ts).total_seconds() / 3600


def history_rate_kw(points: Sequence[_Point]) -> float | None:
    """About the 90th percentile of the counter's rate (kW) over spans of at least ``RATE_SPAN``;
    None with fewer than eight such spans."""
    rates: list[float] = []
    anchor = points[0] if points else None
    for point in points[1:]:
        assert anchor is not None
        if point.value < anchor.value:
            anchor = point
        elif point.ts - anchor.ts >= RATE_SPAN:
            rates.append((point.value - anchor.value) / _hours(anchor, point))
            anchor = point
    if len(rates) < 8:
        return None
    rates.sort()
    # The top tenth, and never fewer than the three highest, are left out: a day's faults (a jump,
    # a replacement, a spike) each make one such rate, and must not set the limit that judges them.
    high = rates[len(rates) - 1 - max(3, len(rates) // 10)]
    # A day with more faults than that still has a sound median of its rising spans: the high
    # percentile is held to MEDIAN_MULTIPLE times it (a building's peak is a few times its median).
    rising = [r for r in rates if r > 0]
    return min(high, MEDIAN_MULTIPLE * rising[len(rising) // 2]) if rising else high


def limit_kw(limits: CounterLimits, history: float | None) -> float:
    """The counter's plausible maximum power (see the module docstring)."""
    if limits.max_power_kw is not None:
        return limits.max_power_kw
    if limits.device_max_power_kw is not None:
        return limits.device_max_power_kw
    return max(FLOOR_KW, HISTORY_MULTIPLE * history) if history is not None else NO_HISTORY_KW


class _Classifier:
    def __init__(self, points: list[_Point], limits: CounterLimits) -> None:
        self.points = points
        self.limits = limits
        declared = limits.max_power_kw is not None or limits.device_max_power_kw is not None
        self.history = None if declared else history_rate_kw(points)
        self.limit = limit_kw(limits, self.history)
        self.recent: list[float] = []

    def allowed_kwh(self, hours: float) -> float:
        """The most the counter can plausibly rise in ``hours``. A history-based limit tightens
        over long intervals: a building's mean power over many hours stays much closer to its usual
        peak than over a few minutes, so a meter replaced while its gateway was offline is not taken
        for the energy of the gap."""
        limit = self.limit
        if self.history is not None and hours > 0.25:
            limit = max(FLOOR_KW, self.history * max(LONG_MULTIPLE, HISTORY_MULTIPLE / math.sqrt(hours / 0.25)))
        return limit * hours * 1.1 + SLACK_KWH

    def plausible(self, a: _Point, b: _Point) -> bool:
        rise = b.value - a.value
        return 0 <= rise <= self.allowed_kwh(_hours(a, b))

    def rollover(self, a: _Point, b: _Point) -> float | None:
        width = self.limits.rollover
        if width is None:
            return None
        wrapped = b.value + width - a.value
        if b.quality == "counter_rollover" or 0 <= wrapped < width / 2:
            return wrapped
        return None

    def resumes_at(self, i: int, prev: _Point) -> int | None:
        """The first reading after ``i`` (within ``LOOKAHEAD``) that continues ``prev``'s trajectory,
        with every reading between off it; None if there is none."""
        cur = self.points[i]
        for j in range(i + 1, min(i + 1 + LOOKAHEAD, len(self.points))):
            after = self.points[j]
            off = cur.value > after.value or cur.value < prev.value  # not on the way from prev to after
            if off and self.plausible(prev, after):
                return j
        return None

    def recent_estimate(self, hours: float) -> float:
        """The interval's energy at the meter's recent rate (median of its last measured steps)."""
        return median(self.recent) * hours if self.recent else 0.0

    def measured(self, a: _Point, b: _Point, kwh: float, flag: Flag) -> EnergyInterval:
        hours = _hours(a, b)
        if flag == "measured" and b.ts - a.ts > self.limits.max_gap:
            flag = "estimated"
        if flag == "measured" and hours > 0:
            self.recent = [*self.recent[-23:], kwh / hours]
        return EnergyInterval(a.ts, b.ts, kwh, flag)

    def intervals(self) -> list[EnergyInterval]:
        out: list[EnergyInterval] = []
        points = self.points
        prev_i, i = 0, 1
        while i < len(points):
            prev, cur = points[prev_i], points[i]
            out_i = self.step(prev, cur, i, out)
            if out_i is not None:  # outliers skipped: take the step to where the trajectory resumes
                i = out_i
                continue
            prev_i, i = i, i + 1
        return out

    def step(self, prev: _Point, cur: _Point, i: int, out: list[EnergyInterval]) -> int | None:
        """Classify prev -> cur into ``out``; or return the index to step to instead (outliers)."""
        rise = cur.value - prev.value
        hours = _hours(prev, cur)
        wrapped = self.rollover(prev, cur) if rise < 0 or cur.quality == "counter_rollover" else None
        if wrapped is not None and wrapped <= self.allowed_kwh(hours):
            out.append(self.measured(prev, cur, wrapped, "rollover"))
            return None
        if cur.quality != "counter_jump" and self.plausible(prev, cur) and cur.quality != "counter_reset":
            after = self.points[i + 1] if i + 1 < len(self.points) else None
            if after is not None and after.value < cur.value and self.plausible(prev, after):
                return i + 1  # a reading above the trajectory that the next one goes back from
            out.append(self.measured(prev, cur, rise, "measured"))
            return None
        resume = self.resumes_at(i, prev)
        if resume is not None:
            return resume
        estimate = self.recent_estimate(hours)
        if rise < 0 or cur.quality == "counter_reset":
            if 0 <= cur.value <= min(prev.value / 2, self.allowed_kwh(hours)):
                out.append(EnergyInterval(prev.ts, cur.ts, cur.value, "reset"))
            else:
                out.append(EnergyInterval(prev.ts, cur.ts, 0.0, "excluded", excluded_kwh=estimate))
            return None
        out.append(EnergyInterval(prev.ts, cur.ts, 0.0, "rejected", excluded_kwh=estimate, rejected_kwh=rise))
        return None


def counter_intervals(readings: Iterable[tuple[datetime, float, str]],
                      limits: CounterLimits | None = None) -> list[EnergyInterval]:
    """The energy intervals of one counter's readings (any order) under ``limits``."""
    points = _points(readings)
    if len(points) < 2:
        return []
    return _Classifier(points, limits or CounterLimits()).intervals()
