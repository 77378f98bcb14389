"""A grid carbon-intensity series: what kind of number it is, and a value that holds for its period.

A pure value type shared by the carbon engine, the grid feed and the grid connectors. A series
keeps what kind of number it is (average or marginal; direct or lifecycle) and where it came
from; the period of each value is the step to the next timestamp.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal


@dataclass(frozen=True, slots=True)
class IntensitySeries:
    """Carbon intensity of one zone over time, in g per kWh consumed."""

    zone: str
    kind: Literal["average", "marginal"]
    basis: Literal["direct", "lifecycle"]
    source: str
    starts: tuple[datetime, ...]
    values: tuple[float, ...]
    periods: tuple[timedelta, ...]
    _epochs: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (len(self.starts) == len(self.values) == len(self.periods)) or not self.starts:
            raise ValueError(f"series {self.zone}: starts, values and periods must be non-empty and equal in length")
        epochs = tuple(s.timestamp() for s in self.starts)
        if any(b <= a for a, b in itertools.pairwise(epochs)):
            raise ValueError(f"series {self.zone}: timestamps must increase")
        if any(v < 0 for v in self.values):
            raise ValueError(f"series {self.zone}: negative intensity")
        object.__setattr__(self, "_epochs", epochs)

    def value_at(self, at: datetime) -> float | None:
        """The value whose period contains ``at``; None outside the series."""
        t = at.timestamp()
        index = bisect.bisect_right(self._epochs, t) - 1
        if index < 0 or t >= self._epochs[index] + self.periods[index].total_seconds():
            return None
        return self.values[index]

    @property
    def end(self) -> datetime:
        return self.starts[-1] + self.periods[-1]
