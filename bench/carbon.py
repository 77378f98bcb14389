"""The carbon stage alone: counter readings to minute emissions, roll-ups and result lines.

A building with ``BENCH_CARBON_METERS`` grid-import meters (10), each read
every 10 s for a day, against a half-hourly intensity series: exactly the
work ``greenwire carbon backfill``/``carbon run`` do per building once the
readings are fetched (``greenwire.cloud.carbon.results.minutes``, ``roll_up`` and
``lines``), timed in this process, best of three. Its CPU per reading is
set beside the ingestor's CPU per reading from the pipeline run.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import env_int


def run() -> dict[str, Any]:
    """Readings per second through the carbon stage, and the work it did."""
    from greenwire.cloud.carbon.factors import load_factors
    from greenwire.cloud.carbon.intensity import IntensitySeries
    from greenwire.cloud.carbon.results import lines, minutes, roll_up
    from greenwire.cloud.sites import Building, MeterRef

    meters = env_int("BENCH_CARBON_METERS", 10, 10)
    hours = env_int("BENCH_CARBON_HOURS", 24, 6)
    start = datetime(2026, 11, 27, tzinfo=UTC)
    end = start + timedelta(hours=hours)
    building = Building(
        id="b1", floor_area_m2=5000, zone="GB", timezone="Europe/London",
        meters=tuple(MeterRef(gateway="gw-000", device=f"m{i:04d}", role="grid_import", max_power_kw=500)
                     for i in range(meters)),
    )
    counters: dict[str, list[tuple[datetime, float, str]]] = {}
    for i in range(meters):
        readings = []
        value = 180_000.0 + i * 1000
        t = start
        k = 0
        while t < end:
            value += 0.05 + (k % 7) * 0.01  # 18-43 kW
            readings.append((t, value, "good"))
            t += timedelta(seconds=10)
            k += 1
        counters[f"m{i:04d}"] = readings
    total = sum(len(r) for r in counters.values())
    slots = hours * 2
    series = IntensitySeries(
        zone="GB", kind="average", basis="direct", source="bench series",
        starts=tuple(start + timedelta(minutes=30 * j) for j in range(slots)),
        values=tuple(150.0 + (j % 12) * 10 for j in range(slots)),
        periods=tuple(timedelta(minutes=30) for _ in range(slots)),
    )
    table = load_factors()
    best = float("inf")
    out: list[str] = []
    for _ in range(3):
        t0 = time.process_time()
        result = minutes(building, counters, series, start, end, table)
        rolled = roll_up(result, building.timezone)
        out = lines("bench", building, rolled, table.version)
        best = min(best, time.process_time() - t0)
    return {
        "meters": meters,
        "readings": total,
        "minutes": len(result),
        "result_lines": len(out),
        "cpu_seconds": round(best, 4),
        "readings_per_cpu_s": round(total / best),
    }
