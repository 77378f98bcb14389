"""Real meter faults injected into a real consumption series: what a carbon engine must survive.

A ``FaultyCounter`` reads a meter's true cumulative energy (a ``Series``) every ``interval`` and
applies faults as they happen on real sites, each at a reading index:

reset        the counter is cleared between two readings and counts on from zero
replacement  the meter is swapped between two readings for one that starts at another value
outlier      one reading off the trajectory (above or below; a bad read), the next one good
spike        one reading wildly too high (a wrong register, a corrupt frame)
rollover     the counter wraps at its declared width (set so it wraps at that reading)
gap          readings missing (the gateway offline), the counter then resumes
duplicate    a reading delivered twice
reorder      two readings delivered out of order

Each fault names the intervals it makes unknowable (``faulty``: from the reading before it to
the reading after it), whose true energy bounds what any honest interpretation may lose.
Deterministic for a given seed; used by the property tests and ``make bench``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from greenwire.simulators.series import Series

Kind = Literal["reset", "replacement", "outlier", "spike", "rollover", "gap", "duplicate", "reorder"]
KINDS: tuple[Kind, ...] = ("reset", "replacement", "outlier", "spike", "rollover", "gap", "duplicate", "reorder")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: Kind
    index: int
    """The reading the fault happens at."""
    size: float = 0.0
    """Kind-specific: the new meter's start (replacement), the outlier's offset (outlier, spike),
    the number of readings missing (gap), the counter's width (rollover)."""


@dataclass(slots=True)
class FaultyCounter:
    series: Series
    interval: timedelta
    faults: list[Fault] = field(default_factory=list)

    def true_kwh(self, at: datetime) -> float:
        return self.series.energy_kwh_at((at - self.series.start).total_seconds())

    @property
    def count(self) -> int:
        return int(self.series.duration_s // self.interval.total_seconds())

    def time(self, index: int) -> datetime:
        return self.series.start + index * self.interval

    def readings(self) -> tuple[list[tuple[datetime, float, str]], int | None]:
        """The readings as delivered, and the rollover width declared (None without a rollover fault).

    A rollover fault must come before any reset or replacement (``monthly_faults`` puts it in
    the first days): the counter is started so that it wraps there."""
        by_index = {f.index: f for f in self.faults}
        offset = 0.0  # what the meter's counter reads minus the true energy since the series' start
        width: float | None = None
        wrap = next((f for f in self.faults if f.kind == "rollover"), None)
        if wrap is not None:  # the counter starts where it wraps halfway into that reading's interval
            width = wrap.size
            offset = width - self.true_kwh(self.time(wrap.index) - self.interval / 2)
        out: list[tuple[datetime, float, str]] = []
        skip_until = -1
        for i in range(self.count + 1):
            at = self.time(i)
            true = self.true_kwh(at)
            fault = by_index.get(i)
            if fault is not None and fault.kind in ("reset", "replacement"):
                # The swap happens halfway through the interval before this reading.
                moment = self.true_kwh(at - self.interval / 2)
                offset = (fault.size if fault.kind == "replacement" else 0.0) - moment
            value = true + offset
            if width is not None:
                value %= width
            if i <= skip_until:
                continue
            if fault is not None and fault.kind == "gap":
                skip_until = i + int(fault.size) - 1
                continue
            if fault is not None and fault.kind in ("outlier", "spike"):
                value = max(0.0, value + fault.size)
            out.append((at, value, "good"))
            if fault is not None and fault.kind == "duplicate":
                out.append((at, value, "good"))
            if fault is not None and fault.kind == "reorder" and len(out) >= 2:
                out[-1], out[-2] = out[-2], out[-1]
        return out, (None if width is None else int(width))

    def faulty_windows(self) -> list[tuple[datetime, datetime]]:
        """The intervals each fault makes unknowable (see the module docstring)."""
        windows: list[tuple[datetime, datetime]] = []
        for f in self.faults:
            if f.kind in ("duplicate", "reorder", "rollover"):
                continue
            after = f.index + (int(f.size) if f.kind == "gap" else 1)
            windows.append((self.time(f.index - 1), self.time(after)))
        return windows

    def faulty_kwh(self, start: datetime, end: datetime) -> float:
        """True energy of the faulty intervals within [start, end)."""
        total = 0.0
        for a, b in self.faulty_windows():
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += self.true_kwh(hi) - self.true_kwh(lo)
        return total


def monthly_faults(counter: FaultyCounter, rng: random.Random, *, per_month: int = 8) -> list[Fault]:
    """``per_month`` faults in each month of the series (the kinds in turn, so every kind at least
    once a year) and one rollover in the first days, spaced so no two touch the same interval."""
    per_day = int(timedelta(days=1) / counter.interval)
    faults: list[Fault] = []
    kinds = list(KINDS)
    used: set[int] = set()
    months = max(1, counter.count // (per_day * 30))
    wrap = rng.randrange(8, per_day * 5)
    used.add(wrap)
    faults.append(_fault("rollover", wrap, counter, rng))
    kinds.remove("rollover")
    for month in range(months):
        lo, hi = month * per_day * 30 + (per_day * 6 if month == 0 else 8), min(counter.count - 8,
                                                                               (month + 1) * per_day * 30 - 8)
        for n in range(per_month):
            kind = kinds[(month * per_month + n) % len(kinds)]
            for _ in range(100):
                index = rng.randrange(lo, hi)
                if not any(abs(index - u) < 12 for u in used):
                    break
            used.add(index)
            faults.append(_fault(kind, index, counter, rng))
    return sorted(faults, key=lambda f: f.index)


def _fault(kind: Kind, index: int, counter: FaultyCounter, rng: random.Random) -> Fault:
    if kind == "replacement":
        return Fault(kind, index, rng.choice([rng.uniform(1e4, 1e6), rng.uniform(1e6, 1e8)]))
    if kind == "outlier":
        return Fault(kind, index, rng.choice([-1, 1]) * rng.uniform(0.5, 20.0))
    if kind == "spike":
        return Fault(kind, index, rng.uniform(1e5, 1e9))
    if kind == "gap":
        return Fault(kind, index, rng.randint(2, 8))
    if kind == "rollover":
        return Fault(kind, index, 1e8)  # an eight-digit kWh register
    return Fault(kind, index)
