"""``make bench``: greenwire's figures, each beside a limit measured in the same run.

Shared machines are noisy, so no figure stands alone: the pipeline's ingest
rate is set beside InfluxDB's own write rate, the backlog drain beside the
broker's raw QoS 1 rate, the carbon stage beside the ingestor's CPU per
reading, two ingestors beside one, and so on, all measured minutes apart on
the same machine against the same real servers (Mosquitto 2, InfluxDB 1.x).

Sections (each its own module, runnable alone for debugging):

======================  ===========================================  ===================
section                 figure                                       target
======================  ===========================================  ===================
micro                   line-protocol encoder vs influxdb-client      -
                        Point; strict validation vs orjson parse
ingest (bench.ingest)   pipeline readings/s vs direct /write          ratio >= 0.8
scale-out               2 ingestors on one shared subscription vs 1   -
latency                 read -> visible in InfluxDB at 10k/s, p99     <= 250 ms
drain (bench.drain)     1,000,000 buffered readings, live polling on  >= 50,000/s
counters                a year of 3 real buildings, 8 meter faults a  above truth: 0 kWh;
  (bench.counters)      month: worst excess over the truth, worst     shortfall <= the
                        shortfall vs the faulty intervals' energy     faulty energy
carbon (bench.carbon)   carbon stage readings/CPU-s, share of ingest  -
edge footprint          agent CPU and RSS, 100 meters every second    <= 10 %, <= 64 MB
commit (bench.commit)   end-to-end commit: backlog drain readings/s,  lost = 0 with it
                        edge CPU and RSS, with and without it; six
                        broker SIGKILLs with the ingestor away: lost
                        and duplicated readings, with and without it;
                        20 broker SIGKILLs at random under load
forecast                day-ahead MAE vs seasonal naive per real      <= 0.8, 75-85 %
(bench.forecast)        building, P10-P90 coverage; training cost
anomalies               injected anomalies found, precision and       >= 0.8 each
(bench.anomalies)       recall per kind; false findings on clean      <= 1 per month
======================  ===========================================  ===================

Results: ``bench/results/latest.json`` and ``latest.md`` (a full run; they
are committed, and ``python -m bench.capacity`` builds the capacity model
from them), or ``quick.json``/``quick.md`` with ``BENCH_QUICK=1``.

Knobs (environment): ``BENCH_QUICK=1`` (a run of a few minutes),
``BENCH_ONLY=ingest,latency`` (sections to run), ``BENCH_PROFILE=1`` (run
the pipeline's ingestor under py-spy and keep its top functions),
``BENCH_READINGS``, ``BENCH_REPEAT``, ``BENCH_LATENCY_SECONDS``,
``BENCH_DRAIN_READINGS``, ``BENCH_EDGE_SECONDS``, ``BENCH_OUT`` (a
directory).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.common import QUICK, env_int, tail_probe

INGEST_CPU_TARGET = 400_000
"""Readings per CPU-second of one ingestor (issue 20)."""
SECTIONS = ("micro", "counters", "carbon", "ingest", "latency", "drain", "edge", "commit", "soak", "forecast",
            "anomalies")
TARGETS = {
    "ingest_ratio": 0.8,
    "latency_p99_ms": 250.0,
    "drain_readings_per_s": 50_000,
    "edge_cpu_pct": 10.0,
    "edge_rss_mb": 64.0,
}

console = Console()


def _best_rate(n: int, fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def micro() -> dict[str, Any]:
    """The encoder against influxdb-client's Point; strict validation against the JSON parse."""
    import orjson
    from influxdb_client import Point

    from bench.common import fleet_messages
    from greenwire.shared.lineprotocol import SeriesPrefix
    from greenwire.shared.wire import ReadingsBatch

    n = 50_000
    fields = {"active_power_w": 48210.5, "energy_import_kwh": 183442.61, "voltage_l1_v": 230.1,
              "current_l1_a": 69.8, "frequency_hz": 50.01, "power_factor": 0.95}
    prefix = SeriesPrefix("readings", {"site": "campus-a", "gateway": "gw-01", "device": "m1"})
    ours = _best_rate(n, lambda: [prefix.line(fields, 1_700_000_000_000_000_000 + i) for i in range(n)])

    def points() -> None:
        for i in range(n):
            p = Point("readings").tag("site", "campus-a").tag("gateway", "gw-01").tag("device", "m1")
            for k, v in fields.items():
                p = p.field(k, v)
            p.time(1_700_000_000_000_000_000 + i).to_line_protocol()

    theirs = _best_rate(n, points)
    payload = fleet_messages(100, gateways=1, per_message=100)[0].payload
    batches = 500
    parse = _best_rate(batches * 100, lambda: [orjson.loads(payload) for _ in range(batches)])
    strict = _best_rate(batches * 100, lambda: [ReadingsBatch.model_validate_json(payload) for _ in range(batches)])
    codecs = _codec_rates()
    return {
        "encode": {"greenwire_lines_per_s": round(ours), "point_lines_per_s": round(theirs),
                   "ratio": round(ours / theirs, 2)},
        "validate": {"readings_per_s": round(strict), "json_parse_readings_per_s": round(parse),
                     "ratio": round(strict / parse, 3)},
        "codec": codecs,
    }


def _codec_rates() -> dict[str, Any]:
    """MQTT payload to lines, the fast path against the reference, on the ingest bench's messages."""
    import time as clock

    from bench.common import fleet_messages
    from greenwire.cloud.ingest.fastpath import FastPath, ReferencePath

    class Limits:
        max_payload_bytes = 1 << 30
        max_future_s = 300.0

    per_message = env_int("BENCH_READINGS_PER_MESSAGE", 100, 100)
    messages = fleet_messages(20_000, gateways=20, per_message=per_message)
    now = clock.time_ns()
    rates = {}
    for name, codec in (("fast", FastPath(Limits())), ("reference", ReferencePath(Limits()))):
        rates[name] = _best_rate(20_000, lambda c=codec: [c.encode(m.topic, m.payload, now) for m in messages])
    return {"fast_readings_per_s": round(rates["fast"]), "reference_readings_per_s": round(rates["reference"]),
            "ratio": round(rates["fast"] / rates["reference"], 2), "readings_per_message": per_message}


def ingest_section(influx: Any, mosquitto: Callable[[str], Any], work: Path, profile_dir: Path | None,
                   progress: Callable[[str], None]) -> dict[str, Any]:
    """Direct writes, the pipeline with one ingestor, and with two; best of ``BENCH_REPEAT``."""
    from bench import ingest

    messages = ingest.workload()
    progress(f"encoding {sum(m.readings for m in messages):,} readings for the direct writes")
    lines = ingest.encode_lines(messages)
    tail = tail_probe(lines)
    repeat = env_int("BENCH_REPEAT", 3, 1)
    runs: dict[str, list[dict[str, Any]]] = {"direct": [], "one": [], "two": []}
    for r in range(repeat):
        progress(f"direct /write, 5,000-line requests (round {r + 1}/{repeat})")
        runs["direct"].append(ingest.direct(influx, f"bench_direct_{r}", lines))
        for tag, count in (("one", 1), ("two", 2)):
            progress(f"pipeline, {count} ingestor{'s' if count > 1 else ''} (round {r + 1}/{repeat})")
            with mosquitto(f"ingest-{tag}-{r}") as broker:
                profile = profile_dir if (profile_dir is not None and r == 0) else None
                runs[tag].append(ingest.pipeline(broker, influx, f"bench_{tag}_{r}", messages, ingestors=count,
                                                 work=work, tag=f"{tag}{r}", profile_dir=profile,
                                                 tail=tail))

    def best(key: str) -> dict[str, Any]:
        return max(runs[key], key=lambda x: x["readings_per_s"])

    direct, one, two = best("direct"), best("one"), best("two")
    progress("the broker alone: the same messages, QoS 1, to one subscriber")
    from bench.drain import Counter, raw_broker_rate

    with mosquitto("raw") as broker:
        counter = Counter(broker.host, broker.port)
        try:
            broker_raw = raw_broker_rate(broker, counter, messages, inflight=1000)
        finally:
            counter.close()
    return {
        "direct": direct, "pipeline": one, "pipeline_two_ingestors": two, "broker_raw": broker_raw,
        "all_runs": runs,
        "ratio": round(one["readings_per_s"] / direct["readings_per_s"], 3),
        "scale_out_ratio": round(two["readings_per_s"] / one["readings_per_s"], 3),
        "two_vs_direct_ratio": round(two["readings_per_s"] / direct["readings_per_s"], 3),
    }


def latency_section(influx: Any, mosquitto: Callable[[str], Any], work: Path,
                    progress: Callable[[str], None]) -> dict[str, Any]:
    from bench import latency

    max_delay = latency._default_max_delay()
    progress("InfluxDB round trip for one flush at 10,000 readings/s")
    floor = latency.write_floor(influx, max(1, int(10_000 * max_delay)))
    seconds = os.environ.get("BENCH_LATENCY_SECONDS", 10 if QUICK else 30)
    progress(f"the limit: the same readings batched alike, written straight to InfluxDB, {seconds} s")
    limit = latency.run(None, influx, work, direct=True)
    progress(f"the pipeline: steady 10,000 readings/s for {seconds} s")
    with mosquitto("latency") as broker:
        result = latency.run(broker, influx, work)
    result["write_floor"] = floor
    result["direct"] = limit
    result["p99_ratio"] = round(result["p99_ms"] / limit["p99_ms"], 2)
    return result


def drain_section(mosquitto: Callable[[str], Any], work: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    from bench import drain

    total = env_int("BENCH_DRAIN_READINGS", 1_000_000, 200_000)
    progress(f"filling the buffer with {total:,} readings, then draining")
    with mosquitto("drain") as broker:
        return drain.run(broker, work, progress=lambda seen: progress(
            f"draining: {seen:,} of {total:,} backlog readings at the subscriber"))


def carbon_section(ingest_result: dict[str, Any] | None) -> dict[str, Any]:
    from bench import carbon

    result = carbon.run()
    if ingest_result is not None:
        ingest_rate = ingest_result["pipeline"].get("ingest_readings_per_cpu_s")
        if ingest_rate:
            carbon_cost = 1 / result["readings_per_cpu_s"]
            ingest_cost = 1 / ingest_rate
            result["ingest_readings_per_cpu_s"] = ingest_rate
            result["share_of_ingest_cpu"] = round(carbon_cost / (carbon_cost + ingest_cost), 3)
            result["vs_ingest_ratio"] = round(result["readings_per_cpu_s"] / ingest_rate, 2)
    return result


def edge_section() -> dict[str, Any]:
    from bench import edge_footprint

    seconds = float(os.environ.get("BENCH_EDGE_SECONDS", 15 if QUICK else 60))
    return edge_footprint.run(seconds)


# -- output ------------------------------------------------------------------------------------


def _row(figure: str, value: str, limit: str, ratio: str, target: str, met: bool | None) -> list[str]:
    return [figure, value, limit, ratio, target, "-" if met is None else ("yes" if met else "NO")]


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """The figures, each beside its limit: figure, value, limit, ratio, target, met."""
    rows: list[list[str]] = []
    m = results.get("micro")
    if m:
        e, v = m["encode"], m["validate"]
        rows.append(_row("line protocol encoder, lines/s", f"{e['greenwire_lines_per_s']:,}",
                         f"{e['point_lines_per_s']:,} (influxdb-client Point)", f"{e['ratio']:.1f}", "-", None))
        rows.append(_row("strict validation, readings/s", f"{v['readings_per_s']:,}",
                         f"{v['json_parse_readings_per_s']:,} (orjson parse)", f"{v['ratio']:.2f}", "-", None))
        c = m.get("codec")
        if c:
            rows.append(_row(f"validate + encode, fast path, readings/s ({c['readings_per_message']}-reading messages)",
                             f"{c['fast_readings_per_s']:,}", f"{c['reference_readings_per_s']:,} (reference: pydantic "
                             "models, PointEncoder)", f"{c['ratio']:.1f}", "-", None))
    i = results.get("ingest")
    if i:
        rows.append(_row("ingest pipeline, readings/s (1 ingestor)", f"{i['pipeline']['readings_per_s']:,}",
                         f"{i['direct']['readings_per_s']:,} (direct /write, 5,000 lines)", f"{i['ratio']:.2f}",
                         ">= 0.8", i["ratio"] >= TARGETS["ingest_ratio"]))
        b = i["broker_raw"]
        per = round(i["pipeline"]["readings"] / i["pipeline"]["messages"])
        rows.append(_row(f"broker alone, QoS 1 messages/s ({per}-reading messages)", f"{b['messages_per_s']:,}",
                         f"{i['pipeline']['readings_per_s'] / per:,.0f} (pipeline's messages/s)",
                         f"{i['pipeline']['readings_per_s'] / b['readings_per_s']:.2f}", "-", None))
        rows.append(_row("ingest pipeline, readings/s (2 ingestors, shared subscription)",
                         f"{i['pipeline_two_ingestors']['readings_per_s']:,}",
                         f"{i['pipeline']['readings_per_s']:,} (1 ingestor)", f"{i['scale_out_ratio']:.2f}",
                         "-", None))
        rows.append(_row("ingestor CPU efficiency, readings per CPU-second",
                         f"{i['pipeline']['ingest_readings_per_cpu_s']:,}",
                         f"{round(i['direct']['readings'] / i['direct']['influx_cpu_s']):,} (InfluxDB, direct)",
                         f"{i['pipeline']['ingest_readings_per_cpu_s'] * i['direct']['influx_cpu_s'] / i['direct']['readings']:.2f}",
                         f">= {INGEST_CPU_TARGET:,}", i['pipeline']['ingest_readings_per_cpu_s'] >= INGEST_CPU_TARGET))
    lat = results.get("latency")
    if lat:
        direct_lat = lat["direct"]
        rows.append(_row("latency read -> visible, p50 ms (10,000 readings/s)", f"{lat['p50_ms']:.0f}",
                         f"{direct_lat['p50_ms']:.0f} (same batching, straight to InfluxDB)",
                         f"{lat['p50_ms'] / direct_lat['p50_ms']:.2f}", "-", None))
        rows.append(_row("latency read -> visible, p99 ms (10,000 readings/s)", f"{lat['p99_ms']:.0f}",
                         f"{direct_lat['p99_ms']:.0f} (same batching, straight to InfluxDB)",
                         f"{lat['p99_ratio']:.2f}", "<= 250 (+ poll interval)",
                         lat["p99_ms"] <= TARGETS["latency_p99_ms"]))
    d = results.get("drain")
    if d:
        rows.append(_row(f"backlog drain, readings/s ({d['backlog_readings']:,} buffered, live polling)",
                         f"{d['readings_per_s']:,}", f"{d['broker_raw']['readings_per_s']:,} (broker raw QoS 1, same messages)",
                         f"{d['ratio']:.2f}", ">= 50,000", d["readings_per_s"] >= TARGETS["drain_readings_per_s"]))
    k = results.get("counters")
    if k:
        rows.append(_row(f"counter faults: building-months within bounds ({k['seeds']} seeds x 3 buildings x 12)",
                         f"{k['within_bounds']} of {k['building_months']}", "-", "-", "all",
                         k["within_bounds"] == k["building_months"]))
        rows.append(_row("counter faults: worst excess over the true energy, kWh", f"{k['worst_excess_kwh']:,}",
                         f"{k['naive_worst_excess_kwh']:,} (naive: a drop is a reset)", "-", "0",
                         k["worst_excess_kwh"] <= 1e-6))
        rows.append(_row("counter faults: worst shortfall, share of the faulty intervals' energy",
                         f"{k['worst_shortfall_of_faulty_share']:.3f}", "1 (all of it)", "-", "<= 1",
                         k["worst_shortfall_of_faulty_share"] <= 1))
        rows.append(_row("counter classification, readings/s", f"{k['classify_readings_per_s']:,}",
                         f"{k['plain_delta_readings_per_s']:,} (plain positive-delta sum)",
                         f"{k['classify_readings_per_s'] / k['plain_delta_readings_per_s']:.2f}", "-", None))
        rows.append(_row("counters to minute energy, day by day, readings/s (15-min readings)",
                         f"{k['engine_readings_per_s']:,}", "-", "-", "-", None))
    c = results.get("carbon")
    if c:
        limit = f"{c['ingest_readings_per_cpu_s']:,} (ingestor)" if "ingest_readings_per_cpu_s" in c else "-"
        ratio = f"{c['vs_ingest_ratio']:.1f}" if "vs_ingest_ratio" in c else "-"
        rows.append(_row("carbon stage, readings per CPU-second", f"{c['readings_per_cpu_s']:,}", limit, ratio, "-", None))
        if "share_of_ingest_cpu" in c:
            rows.append(_row("carbon stage, share of ingest + carbon CPU", f"{100 * c['share_of_ingest_cpu']:.0f} %",
                             "-", "-", "-", None))
    ed = results.get("edge")
    if ed:
        rows.append(_row("edge agent CPU, % of one core (100 meters/s)", f"{ed['cpu_pct_of_one_core']:.2f}",
                         "10 (target)", f"{ed['cpu_pct_of_one_core'] / TARGETS['edge_cpu_pct']:.2f}", "<= 10 %",
                         ed["cpu_pct_of_one_core"] <= TARGETS["edge_cpu_pct"]))
        rows.append(_row("edge agent peak RSS, MB", f"{ed['peak_rss_mb']:.1f}", "64 (target)",
                         f"{ed['peak_rss_mb'] / TARGETS['edge_rss_mb']:.2f}", "<= 64 MB",
                         ed["peak_rss_mb"] <= TARGETS["edge_rss_mb"]))
    cm = results.get("commit")
    if cm:
        w, wo = cm["drain"]["with"], cm["drain"]["without"]
        rows.append(_row(f"end-to-end commit: backlog drain to InfluxDB, readings/s ({w['readings']:,})",
                         f"{w['readings_per_s']:,}", f"{wo['readings_per_s']:,} (without commits)",
                         f"{cm['throughput_ratio']:.2f}", "-", None))
        rows.append(_row("end-to-end commit: edge CPU s / peak RSS MB during the drain",
                         f"{w['edge_cpu_s']} / {w['edge_peak_rss_mb']}",
                         f"{wo['edge_cpu_s']} / {wo['edge_peak_rss_mb']} (without commits)",
                         f"{cm['edge_cpu_ratio']:.2f}", "-", None))
        sw, swo = cm["scenario"]["with"], cm["scenario"]["without"]
        rows.append(_row("broker SIGKILL x6 with the ingestor away: readings lost / duplicated",
                         f"{sw['lost']} / {sw['duplicated']} of {sw['readings_in']}",
                         f"{swo['lost']} / {swo['duplicated']} of {swo['readings_in']} (without commits)",
                         "-", "0 / 0", sw["lost"] == 0 and sw["duplicated"] == 0))
        rk = cm.get("random_kills")
        if rk:
            rows.append(_row(f"broker SIGKILL x{rk['kills']} at random instants under load: lost / duplicated",
                             f"{rk['lost']} / {rk['duplicated']} of {rk['readings_in']}", "-", "-", "0 / 0",
                             rk["lost"] == 0 and rk["duplicated"] == 0))
    so = results.get("soak")
    if so:
        rows.append(_row(f"soak {so.get('seconds', '?')} s: readings stored of sent (hostile messages mixed in)",
                         f"{so['readings_stored']:,} of {so['readings_sent']:,}",
                         f"{so['rejected_counted']} of {so['hostile_messages']} hostile counted", "-", "none lost",
                         so["readings_stored"] == so["readings_sent"]))
        rows.append(_row("soak: ingestor RSS after warm-up -> end (peak), MB; slope MB/min",
                         f"{so['rss_after_warmup_mb']} -> {so['rss_end_mb']} ({so['rss_peak_mb']}); "
                         f"{so['rss_slope_mb_per_min']}", "-", "-", "flat", None))
    if results.get("forecast"):
        from bench import forecast

        rows += forecast.table_rows(results["forecast"], _row)
    if results.get("anomalies"):
        from bench import anomalies

        rows += anomalies.table_rows(results["anomalies"], _row)
    return rows


HEADER = ["figure", "value", "limit measured in the same run", "ratio", "target", "met"]


def markdown(results: dict[str, Any]) -> str:
    """The results table, and the profile summaries, as Markdown."""
    meta = results["meta"]
    out = [f"# greenwire bench, {meta['finished']}", "",
           f"`{meta['command']}` on {meta['machine']} ({meta['cpus']} CPUs, shared), Python {meta['python']}, "
           f"{'quick' if meta['quick'] else 'full'} run of {meta['seconds']:.0f} s.", "",
           "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    for name, summary in results.get("profiles", {}).items():
        from bench.profiles import render

        out += ["", f"## profile: {name}", "", "```", render(summary), "```"]
    return "\n".join(out) + "\n"


def main() -> None:
    from greenwire.servers import InfluxDB1, Mosquitto

    only = [s.strip() for s in os.environ.get("BENCH_ONLY", ",".join(SECTIONS)).split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"BENCH_ONLY: unknown sections {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    profile = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
    out_dir = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))
    stem = "quick" if QUICK else "latest"
    started = time.monotonic()
    results: dict[str, Any] = {}
    console.print(f"[bold]greenwire bench[/] ({'quick' if QUICK else 'full'} run; sections: {', '.join(only)})")
    with tempfile.TemporaryDirectory(prefix="greenwire-bench-") as tmp, ExitStack() as stack, Progress(
        SpinnerColumn(), TextColumn("[bold]{task.fields[section]:<8}"), TextColumn("{task.description}"),
        BarColumn(bar_width=20), TimeElapsedColumn(), console=console, transient=False,
    ) as bar:
        work = Path(tmp)
        task = bar.add_task("starting", total=len(only), section="")
        influx = None
        if {"ingest", "latency", "commit"} & set(only):
            bar.update(task, description="starting InfluxDB", section="servers")
            influx = stack.enter_context(InfluxDB1(work / "influxdb"))

        def mosquitto(name: str) -> Mosquitto:
            # A fresh broker per run: no persistent sessions of an earlier run queue messages in this one.
            return Mosquitto(work / f"mosquitto-{name}")

        def note(section: str) -> Callable[[str], None]:
            return lambda text: bar.update(task, description=text, section=section)

        profile_dir = work / "profiles" if profile else None
        if profile_dir is not None:
            profile_dir.mkdir()
        for section in only:
            note(section)("running")
            if section == "micro":
                results["micro"] = micro()
            elif section == "ingest":
                results["ingest"] = ingest_section(influx, mosquitto, work, profile_dir, note(section))
            elif section == "latency":
                results["latency"] = latency_section(influx, mosquitto, work, note(section))
            elif section == "drain":
                results["drain"] = drain_section(mosquitto, work, note(section))
            elif section == "counters":
                from bench import counters

                note(section)("a faulty year of three buildings, month by month")
                results["counters"] = counters.run()
            elif section == "carbon":
                results["carbon"] = {}  # filled after ingest, which gives the ingestor's CPU per reading
            elif section == "edge":
                note(section)("100 simulated meters polled every second")
                results["edge"] = edge_section()
            elif section == "commit":
                from bench import commit

                results["commit"] = commit.run(mosquitto, influx, work, progress=note(section))
            elif section == "soak":
                from bench import soak

                seconds = float(os.environ.get("BENCH_SOAK_SECONDS", 30 if QUICK else 300))
                note(section)(f"ingestor at 400 msgs/s with hostile input mixed in, {seconds:g} s")
                results["soak"] = soak.run(seconds)
            elif section == "forecast":
                from bench import forecast

                results["forecast"] = forecast.run(note(section))
            elif section == "anomalies":
                from bench import anomalies

                results["anomalies"] = anomalies.run(note(section))
            bar.advance(task)
        if "carbon" in results:
            note("carbon")("carbon stage alone")
            results["carbon"] = carbon_section(results.get("ingest"))
        if profile_dir is not None:
            from bench.profiles import summarize

            results["profiles"] = {p.stem: summarize(p) for p in sorted(profile_dir.glob("*.txt"))}
        bar.update(task, description="done", section="")
    results["meta"] = {
        "command": " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("BENCH_"))
        + (" " if any(k.startswith("BENCH_") for k in os.environ) else "") + ".venv/bin/python -m bench",
        "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "quick": QUICK, "seconds": round(time.monotonic() - started, 1), "sections": only,
        "targets": TARGETS,
    }
    table = Table(*HEADER, title="greenwire bench")
    for row in table_rows(results):
        table.add_row(*row)
    console.print(table)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / f"{stem}.md").write_text(markdown(results))
    console.print(f"wrote {out_dir / stem}.json and .md in {results['meta']['seconds']:.0f} s")


if __name__ == "__main__":
    main()
