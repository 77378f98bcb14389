"""One type for every provider's carbon intensity: frozen points in a frozen series.

A provider's answer, whatever its shape, becomes an :class:`IntensitySeries`: the
zone, what kind of number it is (``average`` or ``marginal``; ``direct`` or
``lifecycle`` emissions), who said it, and :class:`IntensityPoint` values, each
holding for its period ``[start, end)`` and marked ``actual`` (measured or
estimated after the fact) or ``forecast``. A series may hold an actual and a
forecast for the same period (NESO publishes both), never two of the same status.

The kind and the basis are never converted into each other: a marginal WattTime
MOER and a Electricity Maps lifecycle average are different quantities, and an
account must say which one it used.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Kind = Literal["average", "marginal"]
Basis = Literal["direct", "lifecycle"]
Status = Literal["actual", "forecast"]

MAX_G_PER_KWH = 5000.0
"""No grid emits more than this per kWh (lignite is about 1,100); a larger value is a unit error."""


def _utc(at: datetime, what: str) -> None:
    if at.tzinfo is None or at.utcoffset() != timedelta(0):
        raise ValueError(f"{what} must be a UTC datetime, got {at!r}")


@dataclass(frozen=True, slots=True)
class IntensityPoint:
    """Grams of CO2(e) per kWh for the period ``[start, end)``, actual or forecast."""

    start: datetime
    end: datetime
    g_per_kwh: float
    status: Status = "actual"
    estimated: bool = False
    """The provider flagged the value as estimated (Electricity Maps ``isEstimated``)."""

    def __post_init__(self) -> None:
        _utc(self.start, "start")
        _utc(self.end, "end")
        if self.end <= self.start:
            raise ValueError(f"period ends ({self.end}) at or before it starts ({self.start})")
        if not math.isfinite(self.g_per_kwh) or not 0 <= self.g_per_kwh <= MAX_G_PER_KWH:
            raise ValueError(f"intensity {self.g_per_kwh!r} g/kWh is outside 0..{MAX_G_PER_KWH:g}")
        if self.status not in ("actual", "forecast"):
            raise ValueError(f"status must be 'actual' or 'forecast', got {self.status!r}")

    def contains(self, at: datetime) -> bool:
        """Whether ``at`` falls in this point's period (start included, end excluded)."""
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class IntensitySeries:
    """What one provider said about one zone: points sorted by start, then actual before forecast."""

    zone: str
    provider: str
    source: str
    """Who produced the numbers and how, for the account (e.g. ``"NESO Carbon Intensity API"``)."""
    kind: Kind
    basis: Basis
    points: tuple[IntensityPoint, ...]
    fetched_at: datetime

    def __post_init__(self) -> None:
        if not self.zone:
            raise ValueError("a series needs a zone")
        if self.kind not in ("average", "marginal"):
            raise ValueError(f"kind must be 'average' or 'marginal', got {self.kind!r}")
        if self.basis not in ("direct", "lifecycle"):
            raise ValueError(f"basis must be 'direct' or 'lifecycle', got {self.basis!r}")
        _utc(self.fetched_at, "fetched_at")
        for status in ("actual", "forecast"):
            same = [p for p in self.points if p.status == status]
            for before, after in itertools.pairwise(same):
                if after.start < before.end:
                    raise ValueError(
                        f"series {self.zone}: {status} periods overlap or are unsorted "
                        f"({before.start:%Y-%m-%dT%H:%MZ} and {after.start:%Y-%m-%dT%H:%MZ})"
                    )
        order = [(p.start, p.status != "actual") for p in self.points]
        if order != sorted(order):
            raise ValueError(f"series {self.zone}: points must be sorted by start, actual first")

    @classmethod
    def build(
        cls,
        *,
        zone: str,
        provider: str,
        source: str,
        kind: Kind,
        basis: Basis,
        points: Iterable[IntensityPoint],
        fetched_at: datetime,
    ) -> IntensitySeries:
        """A series from points in any order (sorted here); duplicates of a status are an error."""
        ordered = tuple(sorted(points, key=lambda p: (p.start, p.status != "actual")))
        return cls(zone, provider, source, kind, basis, ordered, fetched_at)

    @property
    def actuals(self) -> tuple[IntensityPoint, ...]:
        return tuple(p for p in self.points if p.status == "actual")

    @property
    def forecasts(self) -> tuple[IntensityPoint, ...]:
        return tuple(p for p in self.points if p.status == "forecast")

    def at(self, when: datetime) -> IntensityPoint | None:
        """The point whose period contains ``when``: the actual if there is one, else the forecast."""
        found = [p for p in self.points if p.contains(when)]
        return found[0] if found else None

    def latest_before(self, when: datetime) -> IntensityPoint | None:
        """The actual that started last at or before ``when`` (what to hold when nothing covers it)."""
        started = [p for p in self.actuals if p.start <= when]
        return started[-1] if started else None


def combine(first: IntensitySeries, *later: IntensitySeries) -> IntensitySeries:
    """One series from answers of the same provider about the same zone (e.g. "now" and "next 48 h").

    A point of a later answer replaces one of the same start and status: the
    later answer is the newer word. Answers of another zone, provider, kind or
    basis are refused: they are different quantities.
    """
    keep = {(p.start, p.status): p for p in first.points}
    for other in later:
        if (other.zone, other.provider, other.kind, other.basis) != (
            first.zone,
            first.provider,
            first.kind,
            first.basis,
        ):
            raise ValueError(
                f"cannot combine {other.provider}/{other.zone} ({other.kind}, {other.basis}) "
                f"with {first.provider}/{first.zone} ({first.kind}, {first.basis})"
            )
        keep.update({(p.start, p.status): p for p in other.points})
    last = later[-1] if later else first
    return IntensitySeries.build(
        zone=first.zone,
        provider=first.provider,
        source=last.source,
        kind=first.kind,
        basis=first.basis,
        points=keep.values(),
        fetched_at=last.fetched_at,
    )
