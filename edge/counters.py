"""Counter sanity at the edge: a rollover, a reset or an implausible jump is flagged, never passed on silently.

Energy accounting downstream uses counter deltas, so a counter that goes
back to zero (meter replaced, memory cleared), wraps at its register width,
or leaps by more than the meter could have measured must be visible in the
reading itself. ``CounterGuard.check`` compares each counter of a new reading
with the device's previous reading and returns the reading's ``quality``:

==================  ==========================================================
counter_rollover    the value went down, and wrapping at the declared width
                    (``rollover`` in the profile, or 2^bits x scale for an
                    unsigned integer register) explains it with a plausible
                    delta
counter_reset       the value went down and no rollover explains it
counter_jump        the value rose by more than ``max_power_kw`` x elapsed
                    time (energy) or ``max_flow_m3_per_h`` x elapsed (volume),
                    with a margin for the register's resolution
good                none of these
==================  ==========================================================

When several counters disagree, the most severe flag wins (reset, then
jump, then rollover). A flagged value still becomes the new baseline, so the
next reading is judged against it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from greenwire.shared.quantities import COUNTERS, QUANTITIES
from greenwire.shared.wire import Quality

SEVERITY: Final = {
    Quality.GOOD: 0,
    Quality.COUNTER_ROLLOVER: 1,
    Quality.COUNTER_JUMP: 2,
    Quality.COUNTER_RESET: 3,
}
JUMP_MARGIN: Final = 1.10
"""A delta up to 10 % over the maximum rate is still plausible (clock jitter between reads)."""


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """What is known about one counter of a device."""

    quantity: str
    rollover: float | None = None
    """The value at which the counter wraps to zero, if it does."""
    resolution: float = 0.0
    """The smallest step the register can show (its scale for integer registers)."""


class CounterGuard:
    """Judges the counters of one device's successive readings."""

    def __init__(
        self,
        counters: list[CounterSpec],
        *,
        max_power_kw: float | None = None,
        max_flow_m3_per_h: float | None = None,
    ) -> None:
        self._specs = {c.quantity: c for c in counters if c.quantity in COUNTERS}
        self._max_rate: dict[str, float | None] = {}
        for name in self._specs:
            unit = QUANTITIES[name].unit
            if unit in ("kWh", "kvarh"):
                self._max_rate[name] = max_power_kw
            elif unit == "m3":
                self._max_rate[name] = max_flow_m3_per_h
            else:
                self._max_rate[name] = None
        self._last: dict[str, tuple[datetime, float]] = {}
        self.flagged: dict[Quality, int] = {}
        self.detail: str | None = None
        """The figures behind the last reading's flag (quantity, values, elapsed time, limit)."""

    def check(self, ts: datetime, values: dict[str, float]) -> Quality:
        """The quality of a new reading; remembers its counters as the new baseline."""
        worst = Quality.GOOD
        self.detail = None
        for name, spec in self._specs.items():
            value = values.get(name)
            if value is None:
                continue
            previous = self._last.get(name)
            self._last[name] = (ts, value)
            if previous is None:
                continue
            flag = self._judge(spec, previous, ts, value)
            if SEVERITY[flag] > SEVERITY[worst]:
                worst = flag
                self.detail = self._describe(spec, previous, ts, value)
        if worst is not Quality.GOOD:
            self.flagged[worst] = self.flagged.get(worst, 0) + 1
        return worst

    def _judge(self, spec: CounterSpec, previous: tuple[datetime, float], ts: datetime, value: float) -> Quality:
        last_ts, last = previous
        elapsed_h = (ts - last_ts).total_seconds() / 3600
        limit = self._limit(spec, elapsed_h)
        if value < last - spec.resolution:
            if spec.rollover is not None:
                wrapped = value + spec.rollover - last
                if wrapped >= 0 and (limit is None or wrapped <= limit):
                    return Quality.COUNTER_ROLLOVER
            return Quality.COUNTER_RESET
        if limit is not None and value - last > limit:
            return Quality.COUNTER_JUMP
        return Quality.GOOD

    def _describe(self, spec: CounterSpec, previous: tuple[datetime, float], ts: datetime, value: float) -> str:
        """``energy_import_kwh 1,204.5 -> 9,876.0 in 10 s (at most 26.4 plausible)``."""
        last_ts, last = previous
        elapsed_s = (ts - last_ts).total_seconds()
        unit = QUANTITIES[spec.quantity].unit
        limit = self._limit(spec, elapsed_s / 3600)
        bound = f", at most {limit:,.4g} {unit} plausible" if limit is not None else ""
        wrap = f", wraps at {spec.rollover:,.6g}" if spec.rollover is not None else ""
        return f"{spec.quantity} {last:,.6g} -> {value:,.6g} in {elapsed_s:,.0f} s{bound}{wrap}"

    def _limit(self, spec: CounterSpec, elapsed_h: float) -> float | None:
        """The largest plausible rise over ``elapsed_h`` hours, or None when unknown."""
        rate = self._max_rate.get(spec.quantity)
        if rate is None or elapsed_h <= 0:  # no maximum known, or the clock went back
            return None
        return rate * elapsed_h * JUMP_MARGIN + 2 * spec.resolution
