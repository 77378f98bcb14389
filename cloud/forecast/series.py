"""Hourly energy series: what the forecaster and the anomaly detectors read.

An :class:`HourlySeries` is one meter role of one building as energy per UTC hour, ``NaN`` where
nothing is known (no reading covers the hour). It is built from counter readings through the
carbon engine's own interpretation (:func:`greenwire.cloud.carbon.energy.counter_intervals`), so a
forecast never sees energy the account would not count, or from a recorded CSV (tests, bench).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from greenwire.cloud.carbon.energy import CounterLimits, EnergyInterval, counter_intervals

HOUR = timedelta(hours=1)
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class HourlySeries:
    """Energy (kWh) per hour from ``start`` (UTC, on the hour); ``NaN`` = unknown."""

    start: datetime
    values: Floats

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.minute or self.start.second or self.start.microsecond:
            raise ValueError(f"an hourly series starts on a UTC hour, not {self.start!r}")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def end(self) -> datetime:
        """The end of the last hour (exclusive)."""
        return self.start + len(self.values) * HOUR

    def index(self, at: datetime) -> int:
        """The index of the hour starting at ``at`` (may be outside the series)."""
        return int((at - self.start) // HOUR)

    def at(self, i: int) -> datetime:
        return self.start + i * HOUR

    def slice(self, start: datetime, end: datetime) -> HourlySeries:
        """The hours of [start, end), NaN where this series does not reach."""
        a, b = self.index(start), self.index(end)
        out = np.full(b - a, np.nan)
        lo, hi = max(a, 0), min(b, len(self.values))
        if hi > lo:
            out[lo - a: hi - a] = self.values[lo:hi]
        return HourlySeries(self.start + a * HOUR, out)


def floor_hour(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def from_intervals(intervals: Iterable[EnergyInterval], start: datetime, end: datetime) -> HourlySeries:
    """Energy per hour of [start, end) from counter intervals, each spread evenly over its time.

    An hour no counted interval touches is unknown (``NaN``); so are the hours of an excluded or
    rejected interval (the account counts none of its energy) and of an estimated one longer
    than an hour (a gap in the readings: its energy is known, but not when it was used)."""
    start, hours = floor_hour(start), math.ceil((end - floor_hour(start)) / HOUR)
    energy = np.zeros(hours)
    seen = np.zeros(hours, dtype=bool)
    for iv in intervals:
        if iv.flag in ("excluded", "rejected") or iv.end <= start or (iv.estimated and iv.end - iv.start > HOUR):
            continue
        span = (iv.end - iv.start).total_seconds()
        first = max(0, int((iv.start - start) // HOUR))
        last = min(hours - 1, int((iv.end - start - timedelta(microseconds=1)) // HOUR))
        for h in range(first, last + 1):
            h0 = start + h * HOUR
            overlap = (min(iv.end, h0 + HOUR) - max(iv.start, h0)).total_seconds()
            if overlap > 0 and span > 0:
                energy[h] += iv.kwh * overlap / span
                seen[h] = True
    return HourlySeries(start, np.where(seen, energy, np.nan))


def from_counter(readings: Sequence[tuple[datetime, float, str]], start: datetime, end: datetime,
                 limits: CounterLimits | None = None) -> HourlySeries:
    """Energy per hour of one counter's readings, as the carbon engine interprets the counter."""
    return from_intervals(counter_intervals(readings, limits), start, end)


def read_csv(path: Path, column: str, timezone: str = "UTC") -> HourlySeries:
    """One column of an hourly CSV (first column the hour's start, in ``timezone``); blank = NaN.

    Local times that repeat (the autumn DST hour) keep their first value; hours the file does not
    have stay NaN."""
    tz = ZoneInfo(timezone)
    stamps: list[datetime] = []
    values: list[float] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        if column not in header:
            raise ValueError(f"{path.name} has no column {column!r} (it has {', '.join(header[1:])})")
        j = header.index(column)
        for row in reader:
            local = datetime.fromisoformat(row[0])
            stamps.append((local.replace(tzinfo=tz) if local.tzinfo is None else local).astimezone(UTC))
            values.append(float(row[j]) if row[j].strip() else math.nan)
    first = floor_hour(min(stamps))
    out = np.full(int((floor_hour(max(stamps)) - first) // HOUR) + 1, np.nan)
    for at, v in zip(stamps, values, strict=True):
        i = int((floor_hour(at) - first) // HOUR)
        if math.isnan(out[i]):
            out[i] = v
    return HourlySeries(first, out)
