"""Known anomalies put into a real meter series, to measure the detectors against.

Each kind is injected on its own copy of the series, ``count`` times a year, into stretches the
original has fully known and non-zero (never onto a gap the data already had), after a first
``WARMUP_DAYS`` that the detectors need as reference, at random places (a seeded generator):

==================  ==========================================================================
stopped_reporting   3-48 hours with no reading
frozen_counter      4-36 hours of zero energy (the counter stood still; the energy is lost)
out_of_hours        3-7 working-day nights in a row (22:00-05:59 local) at the working-hours
                    level of the previous four weeks (plant left running); only into a building
                    whose working hours use ``MIN_SWING`` more than its nights (elsewhere the
                    kind does not apply and is reported so), and only where the first
                    three of those nights then use ``MIN_SWING`` more than they did (a gas
                    meter whose nights already run at the day's level in the heating season
                    would otherwise get an "anomaly" that changes nothing)
step_change         the load times 1.25 from a day on, then back to 1 about 7 weeks later:
                    each change is one step
baseload_drift      a constant load rising from 0 to ``DRIFT_SHARE_OF_BASE`` x the building's
                    median baseload over 14 days, held 7 days, then falling away over 14
submeter_mismatch   one of the sub-meters reads two thirds (a current clamp off one phase) for
                    2-10 days, while the main meter is unchanged
==================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from greenwire.cloud.anomalies.findings import Kind, Truth
from greenwire.cloud.forecast.features import Calendar
from greenwire.cloud.forecast.series import Floats, HourlySeries

WARMUP_DAYS = 42
MIN_SWING = 0.15
"""Out-of-hours running is injected only where working hours use this much more than nights."""
DRIFT_SHARE_OF_BASE = 0.3
STEP_FACTOR = 1.25


def _clean(values: Floats, a: int, b: int) -> bool:
    v = values[max(a - 24, 0):b + 24]
    return bool(np.isfinite(v).all() and (v > 0).all())


def _places(values: Floats, rng: np.random.Generator, count: int, length: int, spacing: int,
            start: int, fits: Callable[[int], bool] = lambda a: True) -> list[int]:
    """``count`` start hours of ``length``-hour events on clean data, ``spacing`` hours apart at
    least, where ``fits`` holds."""
    chosen: list[int] = []
    for _ in range(2000):
        if len(chosen) == count:
            break
        a = int(rng.integers(start, len(values) - length - 24))
        if _clean(values, a, a + length) and all(abs(a - c) >= spacing for c in chosen) and fits(a):
            chosen.append(a)
    return sorted(chosen)


def inject(series: HourlySeries, cal: Calendar, kind: Kind, count: int = 6,
           seed: int = 0) -> tuple[HourlySeries, list[Truth]]:
    """A copy of ``series`` with ``count`` anomalies of ``kind``, and where they are."""
    rng = np.random.default_rng(seed)
    v = series.values.copy()
    start = WARMUP_DAYS * 24
    truths: list[Truth] = []

    def truth(a: int, b: int) -> None:
        truths.append(Truth(kind, series.at(a), series.at(b)))

    if kind in ("stopped_reporting", "frozen_counter"):
        lo, hi = (3, 48) if kind == "stopped_reporting" else (4, 36)
        for a in _places(v, rng, count, hi, 24 * 14, start):
            b = a + int(rng.integers(lo, hi + 1))
            v[a:b] = np.nan if kind == "stopped_reporting" else 0.0
            truth(a, b)
    elif kind == "out_of_hours":
        if swing(series, cal) < MIN_SWING:
            return replace(series, values=v), []  # nights already run at the day's level: nothing to inject
        midnights = [int(o) for o in cal.origins(series.start, series.end) if o >= start]

        def level(first: int) -> float:
            """The working-hours level of the four weeks' working days before."""
            lo = max(0, first - 24 * 28)
            past, hours, off = series.values[lo:first], cal.hour[lo:first], cal.off_day[lo:first]
            return float(np.nanmedian(past[(hours >= 9) & (hours < 17) & (off == 0)]))

        def nights_from(first: int) -> list[npt.NDArray[np.int64]]:
            return [np.arange(o - 2, o + 6) for o in midnights if o >= first and not cal.off_day[o]]

        def visible(a: int) -> bool:
            """The first three nights at the working-hours level use ``MIN_SWING`` more than they did."""
            first = next(o for o in midnights if o >= a)
            idx = np.concatenate(nights_from(first)[:3])
            return float(np.sum(np.maximum(level(first), v[idx]))) >= (1 + MIN_SWING) * float(np.sum(v[idx]))

        for a in _places(v, rng, count, 24 * 7, 24 * 28, start, visible):
            first = next(o for o in midnights if o >= a)
            nights = int(rng.integers(3, 8))
            at = level(first)
            for idx in nights_from(first)[:nights]:
                v[idx] = np.maximum(v[idx], at)
                truth(int(idx[0]), int(idx[-1]) + 1)
        truths = _merge(truths, kind)
    elif kind == "step_change":
        period = (len(v) - start) // (count + 1)
        for k in range(count):
            a = start + period * (k + 1) - int(rng.integers(0, period // 4))
            a = next(int(o) for o in cal.origins(series.at(a), series.end))
            truth(a, a + 24)
            if k % 2 == 0:
                v[a:] = v[a:] * STEP_FACTOR
            else:
                v[a:] = v[a:] / STEP_FACTOR
    elif kind == "baseload_drift":
        night = series.values[(cal.hour[: len(v)] < 6)]
        base = float(np.nanmedian(night[night > 0])) * DRIFT_SHARE_OF_BASE
        shape = np.concatenate([np.linspace(0, 1, 24 * 14), np.ones(24 * 7), np.linspace(1, 0, 24 * 14)])
        for a in _places(v, rng, count, len(shape), len(shape) + 24 * 14, start):
            v[a:a + len(shape)] += base * shape
            truth(a + 24 * 5, a + 24 * 28)
    else:
        raise ValueError(f"{kind} is injected into a set of meters: use inject_submeters")
    return replace(series, values=v), truths


def swing(series: HourlySeries, cal: Calendar) -> float:
    """How much more a working hour (09:00-16:59) uses than a night hour (00:00-05:59), relative."""
    hours, off = cal.hour[: len(series)], cal.off_day[: len(series)]
    work = float(np.nanmedian(series.values[(hours >= 9) & (hours < 17) & (off == 0)]))
    night = float(np.nanmedian(series.values[hours < 6]))
    return work / night - 1 if night > 0 else float("inf")


def _merge(truths: list[Truth], kind: Kind) -> list[Truth]:
    """Nights of one event (a weekend between them at most) as one known anomaly."""
    out: list[Truth] = []
    for t in sorted(truths, key=lambda t: t.start):
        if out and t.start - out[-1].end <= timedelta(days=3):
            out[-1] = Truth(kind, out[-1].start, t.end)
        else:
            out.append(t)
    return out


def inject_submeters(subs: list[HourlySeries], count: int = 6,
                     seed: int = 0) -> tuple[list[HourlySeries], list[Truth]]:
    """Copies of the sub-meters with ``count`` under-reading episodes (one sub-meter at 2/3)."""
    rng = np.random.default_rng(seed)
    values = [s.values.copy() for s in subs]
    total = np.sum(np.stack(values), axis=0)
    truths = []
    for a in _places(total, rng, count, 24 * 10, 24 * 30, WARMUP_DAYS * 24):
        b = a + 24 * int(rng.integers(2, 11))
        which = int(rng.integers(0, len(values)))
        values[which][a:b] *= 2 / 3
        truths.append(Truth("submeter_mismatch", subs[0].at(a), subs[0].at(b)))
    return [replace(s, values=v) for s, v in zip(subs, values, strict=True)], truths
