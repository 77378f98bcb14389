"""Recorded energy series and their replay at a chosen speed.

A ``Series`` is hourly energy (kWh per hour) from a real meter. A ``Replay``
maps wall-clock time to series time (``speed`` series seconds per wall
second, starting at ``start``) and gives what a meter on that building would
show at that moment:

- ``power_w``: the average power of the hour being replayed (the recorded
  kWh of the hour, as W). Power is constant within an hour, so
- ``energy_kwh``: the import counter is the exact integral of that power. It
  rises by exactly the recorded kWh over each replayed hour, never goes
  backwards, and keeps rising when the replay wraps from the end of the
  series to its beginning.

The counter starts at the energy the building used from the start of the
series to ``start`` (as if the meter had been installed on the series' first
day), so two replays of one series at one instant agree.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Final

DATA_DIR: Final = Path(__file__).parent / "data"
BUILTIN: Final = {
    "b2": DATA_DIR / "cambridge-2022" / "b2-electricity-2022.csv",
    "b25": DATA_DIR / "cambridge-2022" / "b25-electricity-2022.csv",
    "b85": DATA_DIR / "cambridge-2022" / "b85-electricity-2022.csv",
}
"""The shipped series: three Cambridge University buildings, 2022 (see data/cambridge-2022/PROVENANCE.md)."""
GB_INTENSITY_2022: Final = DATA_DIR / "cambridge-2022" / "neso-gb-2022-hourly.csv"
"""The GB grid's hourly carbon intensity of the same year (NESO, from the same archive)."""

STEP_S: Final = 3600


@dataclass(frozen=True, slots=True)
class Series:
    """Hourly energy of one meter: ``kwh[i]`` was used in the hour starting ``start + i hours``."""

    name: str
    start: datetime
    kwh: tuple[float, ...]
    cumulative: tuple[float, ...] = field(init=False, repr=False)
    """``cumulative[i]``: energy used before hour ``i`` (``cumulative[len]`` is the total)."""

    def __post_init__(self) -> None:
        if not self.kwh:
            raise ValueError(f"series {self.name} is empty")
        if self.start.tzinfo is None:
            raise ValueError(f"series {self.name}: start must be timezone-aware")
        bad = [i for i, v in enumerate(self.kwh) if not (math.isfinite(v) and v >= 0)]
        if bad:
            raise ValueError(f"series {self.name}: hour {bad[0]} has energy {self.kwh[bad[0]]!r}")
        object.__setattr__(self, "cumulative", (0.0, *accumulate(self.kwh)))

    @property
    def duration_s(self) -> int:
        return len(self.kwh) * STEP_S

    @property
    def total_kwh(self) -> float:
        return self.cumulative[-1]

    def power_w_at(self, offset_s: float) -> float:
        """Average power of the hour ``offset_s`` seconds after ``start`` (wrapping around)."""
        hour = int(offset_s // STEP_S) % len(self.kwh)
        return self.kwh[hour] * 1000.0

    def energy_kwh_at(self, offset_s: float) -> float:
        """Energy used from ``start`` to ``offset_s`` seconds after it (past the end it wraps and adds up)."""
        cycles, within = divmod(offset_s, self.duration_s)
        hour = int(within // STEP_S)
        partial = self.kwh[hour] * (within - hour * STEP_S) / STEP_S
        return cycles * self.total_kwh + self.cumulative[hour] + partial


def load_series(path: Path, *, name: str | None = None) -> Series:
    """Read a ``datetime,<kWh>`` CSV of consecutive UTC hours (the Cambridge export format)."""
    values: list[float] = []
    start: datetime | None = None
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or len(header) < 2:
            raise ValueError(f"{path}: expected a header 'datetime,<energy kWh>'")
        for line, row in enumerate(reader, start=2):
            try:
                at = datetime.fromisoformat(row[0]).replace(tzinfo=UTC)
                value = float(row[1])
            except (IndexError, ValueError) as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
            if start is None:
                start = at
            expected = start + timedelta(hours=len(values))
            if at != expected:
                raise ValueError(f"{path}:{line}: expected hour {expected:%Y-%m-%d %H:%M}, found {row[0]}")
            values.append(value)
    if start is None:
        raise ValueError(f"{path}: no data")
    return Series(name or path.stem, start, tuple(values))


def builtin_series(name: str) -> Series:
    """One of the shipped series by building name: b2, b25 or b85."""
    try:
        path = BUILTIN[name]
    except KeyError:
        raise ValueError(f"unknown series {name!r}; shipped series: {', '.join(BUILTIN)}") from None
    return load_series(path, name=name)


class Replay:
    """A series played back from ``start`` at ``speed`` series seconds per wall second."""

    def __init__(
        self,
        series: Series,
        start: datetime,
        speed: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        initial_kwh: float | None = None,
    ) -> None:
        if speed <= 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a positive number, got {speed}")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self.series = series
        self.speed = speed
        self._clock = clock
        self._t0 = clock()
        self._offset0 = (start - series.start).total_seconds() % series.duration_s
        counter0 = series.energy_kwh_at(self._offset0)
        self._counter_base = (counter0 if initial_kwh is None else initial_kwh) - counter0

    def offset_s(self, at: float | None = None) -> float:
        """Seconds into the series at wall time ``at`` (default: now); grows past the end."""
        now = self._clock() if at is None else at
        return self._offset0 + max(0.0, now - self._t0) * self.speed

    def series_time(self, at: float | None = None) -> datetime:
        """The replayed moment at wall time ``at`` (default: now), wrapped into the series."""
        return self.series.start + timedelta(seconds=self.offset_s(at) % self.series.duration_s)

    def power_w(self, at: float | None = None) -> float:
        """Active power at wall time ``at`` (default: now)."""
        return self.series.power_w_at(self.offset_s(at))

    def energy_kwh(self, at: float | None = None) -> float:
        """The import counter at wall time ``at`` (default: now)."""
        return self._counter_base + self.series.energy_kwh_at(self.offset_s(at))
