"""Capacity model: gateways x meters x rate -> brokers, ingestors, database nodes.

Built from the per-process figures of a bench run (``bench/results/latest.json``),
measured as throughput per CPU-second so that they carry over from the noisy
2-core machine they were measured on to a server of known cores::

    python -m bench.capacity --gateways 2000 --meters 40 --interval 10
    python -m bench.capacity --gateways 2000 --meters 40 --interval 10 --json

Needs only the standard library and the JSON file (no greenwire import), so
it runs wherever the results file is copied.

The model, per component (``utilisation`` is the share of a core planned for
steady load, 0.5 by default: headroom for backlog drains after outages, GC
pauses, compaction):

- readings/s  = gateways x meters / interval
- messages/s  = gateways x min(meters / interval, 1 / publish interval): a batch per
  gateway per publish window in which it read something
- ingestors   = readings/s / (ingest readings per CPU-second x utilisation); one core each
  (an ingestor is one Python process, one event loop)
- brokers     = messages/s / (broker QoS 1 messages/s x utilisation); Mosquitto is
  single-threaded, so one core per broker; a cluster (EMQX, HiveMQ, VerneMQ) scales
  about linearly in nodes for shared-subscription fan-in
- database    = readings/s / (InfluxDB readings per CPU-second x cores per node x utilisation)
- gateway     = the edge agent's CPU share of one core, scaled from the footprint bench
  (100 meters polled every second) to this gateway's meters and interval
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_RESULTS = Path(__file__).parent / "results" / "latest.json"


@dataclass(frozen=True)
class Rates:
    """Per-process throughput from a bench run."""

    ingest_readings_per_cpu_s: float
    influx_readings_per_cpu_s: float
    broker_messages_per_s: float
    broker_readings_per_message: float
    edge_cpu_pct_per_meter_hz: float
    edge_rss_mb: float
    source: str

    @classmethod
    def from_results(cls, results: dict[str, Any], source: str) -> Rates:
        ingest = results["ingest"]
        direct = ingest["direct"]
        broker = ingest.get("broker_raw") or results["drain"]["broker_raw"]
        edge = results.get("edge") or {}
        meters = edge.get("meters", 100)
        return cls(
            ingest_readings_per_cpu_s=float(ingest["pipeline"]["ingest_readings_per_cpu_s"]),
            influx_readings_per_cpu_s=float(direct["readings"]) / float(direct["influx_cpu_s"]),
            broker_messages_per_s=float(broker["messages_per_s"]),
            broker_readings_per_message=float(broker["readings"]) / float(broker["messages"]),
            edge_cpu_pct_per_meter_hz=float(edge.get("cpu_pct_of_one_core", float("nan"))) / meters,
            edge_rss_mb=float(edge.get("peak_rss_mb", float("nan"))),
            source=source,
        )


@dataclass(frozen=True)
class Plan:
    """What a fleet needs."""

    readings_per_s: float
    messages_per_s: float
    readings_per_message: float
    ingestors: int
    brokers: int
    database_nodes: int
    database_cores_per_node: int
    gateway_cpu_pct: float
    gateway_rss_mb: float
    notes: tuple[str, ...]


def plan(rates: Rates, *, gateways: int, meters: int, interval_s: float, publish_interval_s: float = 1.0,
         db_cores: int = 8, utilisation: float = 0.5) -> Plan:
    """The number of each component for ``gateways`` x ``meters`` read every ``interval_s``."""
    readings = gateways * meters / interval_s
    # Meters are polled on their own schedules, so a gateway publishes in every window in
    # which it read something: at most once per publish window, at most once per reading.
    messages = gateways * min(meters / interval_s, 1 / publish_interval_s)
    per_message = readings / messages
    notes = []
    if per_message > 2 * rates.broker_readings_per_message:
        notes.append(f"messages of {per_message:.0f} readings are larger than the measured "
                     f"{rates.broker_readings_per_message:.0f}: the broker figure is optimistic")
    ingestors = max(1, math.ceil(readings / (rates.ingest_readings_per_cpu_s * utilisation)))
    brokers = max(1, math.ceil(messages / (rates.broker_messages_per_s * utilisation)))
    database = max(1, math.ceil(readings / (rates.influx_readings_per_cpu_s * db_cores * utilisation)))
    if database > 1:
        notes.append("more than one database node: InfluxDB 3 Enterprise or Clustered "
                     "(InfluxDB 1.x/2.x OSS is a single node)")
    if brokers > 1:
        notes.append("more than one broker: a clustered broker (EMQX, HiveMQ, VerneMQ) with shared "
                     "subscriptions across nodes")
    return Plan(
        readings_per_s=round(readings, 1),
        messages_per_s=round(messages, 1),
        readings_per_message=round(per_message, 1),
        ingestors=ingestors,
        brokers=brokers,
        database_nodes=database,
        database_cores_per_node=db_cores,
        gateway_cpu_pct=round(rates.edge_cpu_pct_per_meter_hz * meters / interval_s, 2),
        gateway_rss_mb=rates.edge_rss_mb,
        notes=tuple(notes),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, required=True)
    parser.add_argument("--meters", type=int, required=True, help="meters per gateway")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval of each meter, s")
    parser.add_argument("--publish-interval", type=float, default=1.0, help="gateway publish window, s")
    parser.add_argument("--db-cores", type=int, default=8, help="cores per database node")
    parser.add_argument("--utilisation", type=float, default=0.5, help="planned share of each core")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
        rates = Rates.from_results(results, str(args.results))
    except (OSError, ValueError, KeyError, ZeroDivisionError) as exc:
        print(f"error: {args.results}: not a full bench result ({type(exc).__name__}: {exc}); "
              "run `make bench` first", file=sys.stderr)
        return 2
    result = plan(rates, gateways=args.gateways, meters=args.meters, interval_s=args.interval,
                  publish_interval_s=args.publish_interval, db_cores=args.db_cores,
                  utilisation=args.utilisation)
    if args.json:
        print(json.dumps({"rates": asdict(rates), "plan": asdict(result)}, indent=2))
        return 0
    print(f"fleet: {args.gateways} gateways x {args.meters} meters every {args.interval:g} s")
    print(f"  {result.readings_per_s:,.0f} readings/s in {result.messages_per_s:,.0f} messages/s "
          f"({result.readings_per_message:,.0f} readings each)")
    print(f"per-process rates from {rates.source}:")
    print(f"  ingestor {rates.ingest_readings_per_cpu_s:,.0f} readings per CPU-second; "
          f"InfluxDB {rates.influx_readings_per_cpu_s:,.0f} readings per CPU-second; "
          f"broker {rates.broker_messages_per_s:,.0f} QoS 1 messages/s")
    print(f"at {100 * args.utilisation:.0f} % planned utilisation:")
    print(f"  ingestors (one core each, one shared-subscription group): {result.ingestors}")
    print(f"  brokers (one core each for Mosquitto; nodes of a cluster otherwise): {result.brokers}")
    print(f"  database nodes of {result.database_cores_per_node} cores: {result.database_nodes}")
    if math.isnan(result.gateway_cpu_pct):
        print("  each gateway: not measured in this run (it has no edge section)")
    else:
        print(f"  each gateway: {result.gateway_cpu_pct:.2f} % of one core, about {result.gateway_rss_mb:.0f} MB RSS")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
