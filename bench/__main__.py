"""``make bench``: what greenwire measures, and the first figures.

Each figure is printed beside a reference measured in the same run on the
same machine, because shared machines are noisy and absolute numbers mean
little. Results go to ``bench-results/results.json`` and ``results.md``.

Measured now: the line-protocol encoder against influxdb-client's ``Point``,
and strict validation of ``greenwire.readings.v1`` against plain JSON parsing.
Planned (the performance issue fills these in): pipeline ingest throughput
against InfluxDB's own write limit, end-to-end latency p50/p99 at 10,000
readings/s, edge CPU and RSS at 100 meters x 60 registers per second,
backlog drain rate, carbon-stage throughput, and scale-out with two ingestors.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

PLANNED = [
    "ingest throughput: pipeline vs direct line-protocol writes to InfluxDB (target ratio >= 0.8)",
    "end-to-end latency p50/p99 at 10,000 readings/s (target p99 <= poll interval + 250 ms)",
    "backlog drain: 1,000,000 buffered readings (target >= 50,000 readings/s)",
    "carbon engine: readings/s and share of ingest CPU",
    "scale-out: 2 ingestors on one shared subscription vs 1",
]


def _rate(label: str, n: int, fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    rate = n / best
    print(f"  {label:<55} {rate:>12,.0f} /s")
    return rate


def _sample_batch(n: int) -> bytes:
    t0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
    readings = [
        {
            "ts": (t0 + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z"),
            "device": f"meter-{i % 100}",
            "values": {
                "active_power_w": 48210.5 + i,
                "energy_import_kwh": 183442.61 + i / 1000,
                "voltage_l1_v": 230.1,
                "current_l1_a": 69.8,
                "frequency_hz": 50.01,
                "power_factor": 0.95,
            },
            "quality": "good",
        }
        for i in range(n)
    ]
    return orjson.dumps(
        {"schema": "greenwire.readings.v1", "gateway": "gw-01", "seq": 1,
         "sent_at": "2026-11-22T10:00:01.250Z", "readings": readings}
    )


def main() -> None:
    from shared.lineprotocol import SeriesPrefix
    from shared.wire import ReadingsBatch

    results: dict[str, object] = {"machine": platform.machine(), "python": platform.python_version()}
    print("greenwire bench\n\nplanned (performance issue):")
    for item in PLANNED:
        print(f"  - {item}")

    print("\nline-protocol encoding (lines of 6 fields):")
    n = 50_000
    fields = {"active_power_w": 48210.5, "energy_import_kwh": 183442.61, "voltage_l1_v": 230.1,
              "current_l1_a": 69.8, "frequency_hz": 50.01, "power_factor": 0.95}
    prefix = SeriesPrefix("readings", {"site": "campus-a", "gateway": "gw-01", "device": "m1"})
    ours = _rate("greenwire SeriesPrefix.line", n,
                 lambda: [prefix.line(fields, 1_700_000_000_000_000_000 + i) for i in range(n)])
    try:
        from influxdb_client import Point

        def points() -> None:
            for i in range(n):
                p = Point("readings").tag("site", "campus-a").tag("gateway", "gw-01").tag("device", "m1")
                for k, v in fields.items():
                    p = p.field(k, v)
                p.time(1_700_000_000_000_000_000 + i).to_line_protocol()

        theirs = _rate("influxdb-client Point (reference)", n, points)
        results["encode"] = {"greenwire_lines_per_s": ours, "point_lines_per_s": theirs,
                             "ratio": ours / theirs}
        print(f"  ratio {ours / theirs:.1f}x")
    except ImportError:
        results["encode"] = {"greenwire_lines_per_s": ours}

    print("\nvalidation of greenwire.readings.v1 (100-reading batches):")
    payload = _sample_batch(100)
    batches = 500
    parse = _rate("orjson.loads only (reference: the JSON parse floor)", batches * 100,
                  lambda: [orjson.loads(payload) for _ in range(batches)])
    strict = _rate("ReadingsBatch.model_validate_json (strict)", batches * 100,
                   lambda: [ReadingsBatch.model_validate_json(payload) for _ in range(batches)])
    results["validate"] = {"readings_per_s": strict, "json_parse_readings_per_s": parse,
                           "ratio": strict / parse}
    print(f"  ratio {strict / parse:.2f} of the JSON parse floor")

    from bench import edge_footprint

    print("\nedge footprint: 100 SDM630 meters (108 registers, 23 values each) polled every second:")
    edge = edge_footprint.run()
    results["edge"] = edge
    print(f"  agent CPU {edge['cpu_pct_of_one_core']:.2f} % of one core (target <= {edge_footprint.TARGET_CPU_PCT:g} %), "
          f"peak RSS {edge['peak_rss_mb']:.1f} MB (target <= {edge_footprint.TARGET_RSS_MB:g} MB)")
    print(f"  {edge['readings_received_per_s']:.0f} readings/s reached the broker (100 expected); "
          f"{edge['requests_per_cycle_planned']} requests per cycle "
          f"(one per value would be {edge['requests_per_cycle_one_per_value']})")

    from bench import soak

    print("\nsoak: the ingestor at 400 msgs/s with hostile input mixed in (BENCH_SOAK_SECONDS, default 300):")
    results["soak"] = soaked = soak.run()
    print(f"  {soaked['readings_stored']:,} of {soaked['readings_sent']:,} readings stored, "
          f"{soaked['rejected_counted']} of {soaked['hostile_messages']} hostile messages counted; RSS "
          f"{soaked['rss_after_warmup_mb']} MB -> {soaked['rss_end_mb']} MB (peak {soaked['rss_peak_mb']}, "
          f"slope {soaked['rss_slope_mb_per_min']} MB/min)")

    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| figure | value | reference | ratio |", "|---|---|---|---|"]
    enc = results["encode"]
    if isinstance(enc, dict) and "point_lines_per_s" in enc:
        lines.append(f"| line protocol, lines/s | {enc['greenwire_lines_per_s']:,.0f} | "
                     f"{enc['point_lines_per_s']:,.0f} (influxdb-client Point) | {enc['ratio']:.1f} |")
    val = results["validate"]
    assert isinstance(val, dict)
    lines.append(f"| strict validation, readings/s | {val['readings_per_s']:,.0f} | "
                 f"{val['json_parse_readings_per_s']:,.0f} (orjson parse) | {val['ratio']:.2f} |")
    lines.append(f"| edge agent CPU, % of one core (100 meters/s) | {edge['cpu_pct_of_one_core']:.2f} | "
                 f"target <= {edge_footprint.TARGET_CPU_PCT:g} | {edge['cpu_pct_of_one_core'] / edge_footprint.TARGET_CPU_PCT:.2f} |")
    lines.append(f"| edge agent peak RSS, MB | {edge['peak_rss_mb']:.1f} | target <= {edge_footprint.TARGET_RSS_MB:g} | "
                 f"{edge['peak_rss_mb'] / edge_footprint.TARGET_RSS_MB:.2f} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}/results.json and {out}/results.md")


if __name__ == "__main__":
    main()
