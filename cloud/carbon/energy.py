"""Energy from cumulative counters: deltas, never integrated power.

``CounterTracker.add(ts, value, quality)`` turns a meter's successive counter
readings into energy intervals:

- the energy of ``[previous ts, ts]`` is the counter's rise;
- a rollover (flagged at the edge, or a drop that wrapping at the declared
  ``rollover`` explains) adds ``value + rollover - previous``;
- a reset or meter replacement (a drop nothing explains) counts the new
  counter's value, as used since it started from zero, flagged ``reset``;
- an implausible rise (flagged ``counter_jump`` at the edge, or more than
  ``max_power_kw`` x elapsed) is rejected: no energy, flagged ``jump_rejected``,
  and the counter continues from its new value;
- after a gap longer than ``max_gap``, the energy is assigned when the counter
  resumes, spread evenly over the gap and flagged ``estimated``: never invented
  while the meter is silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Flag = Literal["measured", "estimated", "reset", "rollover", "jump_rejected"]


@dataclass(frozen=True, slots=True)
class EnergyInterval:
    """Energy used between two readings of one counter."""

    start: datetime
    end: datetime
    kwh: float
    flag: Flag

    @property
    def estimated(self) -> bool:
        """True if the energy's timing within the interval is not measured."""
        return self.flag in ("estimated", "reset")


class CounterTracker:
    """Successive readings of one energy counter (kWh) to energy intervals."""

    def __init__(
        self,
        *,
        rollover: float | None = None,
        max_power_kw: float | None = None,
        max_gap: timedelta = timedelta(minutes=15),
    ) -> None:
        self.rollover = rollover
        self.max_power_kw = max_power_kw
        self.max_gap = max_gap
        self._last: tuple[datetime, float] | None = None
        self.rejected_kwh = 0.0

    def add(self, ts: datetime, value: float, quality: str = "good") -> EnergyInterval | None:
        """The energy since the previous reading, or None for the first one (or one out of order)."""
        previous, self._last = self._last, (ts, value)
        if previous is None:
            return None
        last_ts, last = previous
        if ts <= last_ts:
            self._last = previous  # a repeated or older reading changes nothing
            return None
        hours = (ts - last_ts).total_seconds() / 3600
        delta = value - last
        flag: Flag = "measured"
        if quality == "counter_rollover" or (delta < 0 and self._explained_by_rollover(last, value)):
            if self.rollover is None:
                return EnergyInterval(last_ts, ts, value, "reset")
            delta = value + self.rollover - last
            flag = "rollover"
        elif delta < 0 or quality == "counter_reset":
            return EnergyInterval(last_ts, ts, max(value, 0.0), "reset")
        if quality == "counter_jump" or (self.max_power_kw is not None and delta > self.max_power_kw * hours * 1.1):
            self.rejected_kwh += delta
            return EnergyInterval(last_ts, ts, 0.0, "jump_rejected")
        if ts - last_ts > self.max_gap and flag == "measured":
            flag = "estimated"
        return EnergyInterval(last_ts, ts, delta, flag)

    def _explained_by_rollover(self, last: float, value: float) -> bool:
        if self.rollover is None:
            return False
        wrapped = value + self.rollover - last
        return 0 <= wrapped < self.rollover / 2


def track(readings: Iterable[tuple[datetime, float, str]], tracker: CounterTracker) -> list[EnergyInterval]:
    """The energy intervals of one counter's readings (oldest first) through ``tracker``."""
    return [i for ts, value, quality in readings if (i := tracker.add(ts, value, quality)) is not None]
