"""Counter faults: every building-month of the real Cambridge year, with faults of every kind injected.

For each building (b2, b25, b85) and each of ``BENCH_COUNTER_SEEDS`` seeds, a year of 15-minute
counter readings gets eight faults a month (``greenwire.simulators.counter_faults``: resets,
replacements, outliers, spikes, a rollover, gaps, duplicates, reordering). Each building-month
is accounted as the engine does it (``greenwire.cloud.carbon.meters.counter_minutes``) and set
beside the truth (the series) and the energy of its faulty intervals:

- worst excess over the truth (the engine must never be above it);
- worst shortfall, as a share of the faulty intervals' energy (at most 1: never lose more);
- the same months under the naive reading (any drop is a reset to zero, no plausibility check:
  what Home Assistant's total_increasing and the engine before this one did), to show the stakes;
- the classifier's readings per second beside a plain sum of positive deltas over the same
  readings, and the whole engine's (classification, minute buckets, day by day).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import env_int

TZ = "Europe/London"


def _months() -> list[tuple[datetime, datetime]]:
    tz = ZoneInfo(TZ)
    out = []
    for month in range(1, 13):
        start = datetime(2022, month, 1, tzinfo=tz)
        end = datetime(2022, month + 1, 1, tzinfo=tz) if month < 12 else datetime(2022, 12, 31, 23, tzinfo=tz)
        out.append((start.astimezone(UTC), end.astimezone(UTC)))
    return out


def naive_kwh(readings: list[tuple[datetime, float, str]], start: datetime, end: datetime) -> float:
    """Positive deltas, and after a drop the new value as energy since zero, for readings ending in the period."""
    total, last = 0.0, None
    for ts, value, _ in sorted(readings, key=lambda r: r[0]):
        if last is not None and start < ts <= end:
            total += value - last if value >= last else value
        last = value
    return total


def run() -> dict[str, Any]:
    from greenwire.cloud.carbon.energy import CounterLimits, counter_intervals
    from greenwire.cloud.carbon.meters import counter_minutes
    from greenwire.simulators.counter_faults import FaultyCounter, monthly_faults
    from greenwire.simulators.series import builtin_series

    seeds = env_int("BENCH_COUNTER_SEEDS", 3, 1)
    worst_over = worst_naive_over = 0.0
    worst_lost_share = 0.0
    months = within = 0
    readings_total = 0
    engine_s = plain_s = classify_s = 0.0
    for name in ("b2", "b25", "b85"):
        series = builtin_series(name)
        for seed in range(seeds):
            counter = FaultyCounter(series, timedelta(minutes=15))
            counter.faults = monthly_faults(counter, random.Random(seed))
            readings, width = counter.readings()
            readings_total += len(readings)
            limits = {"m": CounterLimits(rollover=width)}
            began = time.perf_counter()
            counter_intervals(readings, limits["m"])
            classify_s += time.perf_counter() - began
            for start, end in _months():
                began = time.perf_counter()
                reported = sum(e.kwh for e in counter_minutes({"m": readings}, limits, start, end, TZ).values())
                engine_s += time.perf_counter() - began
                in_month = [r for r in readings if start - timedelta(hours=1) <= r[0] <= end]
                began = time.perf_counter()
                naive = naive_kwh(in_month, start, end)
                plain_s += time.perf_counter() - began
                true = counter.true_kwh(end) - counter.true_kwh(start)
                faulty = counter.faulty_kwh(start, end)
                over = reported - true
                lost = true - reported
                months += 1
                within += over <= 1e-6 * true and lost <= faulty + 1e-6 * true
                worst_over = max(worst_over, over)
                worst_naive_over = max(worst_naive_over, naive - true)
                if faulty > 0:
                    worst_lost_share = max(worst_lost_share, lost / faulty)
    return {
        "building_months": months,
        "within_bounds": within,
        "worst_excess_kwh": round(worst_over, 6),
        "worst_shortfall_of_faulty_share": round(worst_lost_share, 3),
        "naive_worst_excess_kwh": round(worst_naive_over, 1),
        "classify_readings_per_s": round(readings_total / max(classify_s, 1e-9)),
        "engine_readings_per_s": round(readings_total / max(engine_s, 1e-9)),
        "plain_delta_readings_per_s": round(readings_total / max(plain_s, 1e-9)),
        "seeds": seeds,
    }


if __name__ == "__main__":
    print(run())
