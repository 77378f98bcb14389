"""End-to-end commit: what it costs, and what it buys, with and without it in the same run.

Cost: a gateway comes back with a backlog of ``BENCH_COMMIT_READINGS`` readings (200,000;
50,000 quick) in its SQLite buffer (batches of 500, as the collector writes them). A real
``greenwire edge run`` drains it to Mosquitto, a real ``greenwire ingest run`` stores it in
InfluxDB 1.x. Timed from the agent's start until InfluxDB holds every backlog reading and the
agent's buffer is empty; the agent's and the ingestor's CPU seconds and the agent's peak RSS
(VmHWM) are read from /proc. With commits (the ingestor commits each flush, the gateway
forgets on the commit) and without (``commits: false``; the gateway falls back to forgetting on
PUBACK at once, ``commit_wait_s: 0``), alternately, ``BENCH_REPEAT`` times (3; 1 quick), best
run of each kept (all runs in ``drain_runs``).

What it buys: the issue's scenario on the fault tests' world (``tests/e2e/pipeline.py``):
``BENCH_COMMIT_CYCLES`` (6) times the ingestor is stopped, readings queue for it, the broker is
SIGKILLed and restarted, the ingestor comes back. Readings the gateway buffered against rows in
InfluxDB: lost and duplicated, with and without commits. And ``BENCH_COMMIT_KILLS`` (20) broker
SIGKILLs at random instants (0.5 to 3 s apart) while three meters are polled four times a
second, with commits.

Run alone: ``python -m bench.commit``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import IngestProcess, cpu_seconds, env_int, influx_count, ingest_config
from bench.drain import BATCH_READINGS, _backlog_batches


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _buffer_depth(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return int(db.execute("SELECT COALESCE(SUM(count), 0) FROM batches").fetchone()[0])


def drain(broker: Any, influx: Any, work: Path, *, commits: bool, total: int, run: int = 0) -> dict[str, Any]:
    """Drain a ``total``-reading backlog through edge, broker and ingestor into InfluxDB, once."""
    from greenwire.servers import free_port
    from greenwire.transport.buffer import SqliteBuffer

    tag = f"{'with' if commits else 'without'}-{run}"
    database = f"bench_commit_{tag.replace('-', '_')}"
    influx.create_database(database)
    path = work / f"commit-{tag}.sqlite"
    buffer = SqliteBuffer(path, max_readings=total * 2)
    for readings_json, count, first_ms in _backlog_batches(total):
        buffer.append(readings_json, count, first_ms)
    buffer.close()
    config = ingest_config(work / f"commit-{tag}-ingest.yaml", mqtt_url=broker.url, influx_url=influx.url,
                           database=database, client_id=f"bench-commit-{tag}", state_dir=work / f"ingest-{tag}",
                           group=f"commit{tag}")
    config.write_text(config.read_text() + f"commits: {str(commits).lower()}\n")
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "greenwire", "sim", "modbus", "--port", str(port),
                            "--meter", "1:b25"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    edge = work / f"commit-{tag}-edge.yaml"
    edge.write_text(
        f"gateway: gw-commit-{tag}\nsite: bench\nmqtt: {{url: \"{broker.url}\"}}\n"
        f"buffer: {{path: \"{path}\", max_readings: {total * 2}}}\n"
        f"publish: {{max_batch_readings: {BATCH_READINGS}, commit_wait_s: {60 if commits else 0}}}\n"
        f"buses:\n  - name: live\n    host: 127.0.0.1\n    port: {port}\n    timeout_s: 0.3\n"
        f"    devices:\n      - {{id: live-1, unit: 1, profile: eastron-sdm630, poll_interval_s: 1, "
        f"max_power_kw: 100000}}\n"
    )
    ingest = IngestProcess(config, work / f"commit-{tag}-ingest.log")
    try:
        time.sleep(3.0)  # the simulator listens, the ingestor subscribes
        started = time.monotonic()
        agent = subprocess.Popen([sys.executable, "-m", "greenwire", "edge", "run", str(edge),
                                  "--log-level", "warning"],
                                 stdout=subprocess.DEVNULL, stderr=(work / f"commit-{tag}-edge.log").open("wb"))
        try:
            deadline = started + 600
            first: float | None = None  # from the first stored reading: the agent's start-up left out
            while (seen := influx_count(influx.url, database)) < total or _buffer_depth(path) > 2 * BATCH_READINGS:
                if first is None and seen > 0:
                    first = time.monotonic()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{tag}: the backlog did not drain in 600 s")
                time.sleep(0.1)
            seconds = time.monotonic() - (first or started)
            edge_cpu, edge_rss = cpu_seconds(agent.pid), _peak_rss_mb(agent.pid)
            ingest_cpu = cpu_seconds(ingest.pid)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
    finally:
        ingest.stop()
        sim.terminate()
        sim.wait(10)
    return {"readings": total, "seconds": round(seconds, 2), "readings_per_s": round(total / seconds),
            "edge_cpu_s": round(edge_cpu, 2), "edge_peak_rss_mb": round(edge_rss, 1),
            "ingest_cpu_s": round(ingest_cpu, 2)}


async def _scenario(root: Path, *, commits: bool, cycles: int) -> dict[str, Any]:
    from tests.e2e.pipeline import Pipeline

    tag = "with" if commits else "without"
    async with Pipeline(root, f"scenario-{tag}", commits=commits, commit_wait_s=60 if commits else 0,
                        poll_interval_s=1.0, meters=3) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 10, 60, "readings flowing")
        for _ in range(cycles):
            assert pipe.ingest is not None
            pipe.ingest.send_signal(signal.SIGTERM)
            await asyncio.to_thread(pipe.ingest.wait, 30)
            await asyncio.sleep(3)
            await pipe.crash_broker()
            await asyncio.sleep(2)
            pipe.start_ingest()
            await asyncio.sleep(3)
        await pipe.stop_meters()
        await asyncio.sleep(10 if commits else 5)  # resends, then the drain
        await pipe.wait(lambda: pipe.buffer_depth() == 0, 120, "the edge buffer to drain")
        await asyncio.sleep(2)
        tally = pipe.tally(f"{cycles} x (ingestor stopped, broker SIGKILL), {tag} commits")
    return {"readings_in": tally.readings_in, "readings_out": tally.readings_out, "lost": tally.lost,
            "duplicated": tally.duplicated, "wrong_values": tally.wrong_values, "row": tally.row()}


async def _random_kills(root: Path, *, kills: int, seed: int = 14) -> dict[str, Any]:
    """The broker SIGKILLed ``kills`` times at random instants (0.5-3 s apart) while readings flow."""
    import random

    from tests.e2e.pipeline import Pipeline

    rng = random.Random(seed)
    async with Pipeline(root, "random-kills", poll_interval_s=0.25, meters=3) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 10, 60, "readings flowing")
        started = time.monotonic()
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            await pipe.crash_broker()
        seconds = time.monotonic() - started
        await pipe.stop_meters()
        await pipe.wait(lambda: pipe.buffer_depth() == 0, 180, "the edge buffer to drain")
        await asyncio.sleep(2)
        tally = pipe.tally(f"broker SIGKILL x{kills} at random instants, {seconds:.0f} s")
    return {"kills": kills, "seconds": round(seconds, 1), "readings_in": tally.readings_in,
            "readings_out": tally.readings_out, "lost": tally.lost, "duplicated": tally.duplicated,
            "wrong_values": tally.wrong_values, "row": tally.row()}


def run(broker_factory: Any, influx: Any, work: Path, progress: Any = None) -> dict[str, Any]:
    """Both measures, each with and without commits."""
    total = env_int("BENCH_COMMIT_READINGS", 200_000, 50_000)
    cycles = env_int("BENCH_COMMIT_CYCLES", 6, 6)
    repeat = env_int("BENCH_REPEAT", 3, 1)
    out: dict[str, Any] = {"drain": {}, "scenario": {}, "drain_runs": {"with": [], "without": []}}
    for r in range(repeat):  # alternating, so both see the same shared machine
        for commits in (True, False):
            tag = "with" if commits else "without"
            if progress is not None:
                progress(f"backlog of {total:,} readings, edge -> broker -> ingestor -> InfluxDB, {tag} commits "
                         f"(round {r + 1}/{repeat})")
            with broker_factory(f"commit-{tag}-{r}") as broker:
                out["drain_runs"][tag].append(drain(broker, influx, work, commits=commits, total=total, run=r))
    for tag, runs in out["drain_runs"].items():
        out["drain"][tag] = max(runs, key=lambda x: x["readings_per_s"])
    for commits in (True, False):
        tag = "with" if commits else "without"
        if progress is not None:
            progress(f"{cycles} broker SIGKILLs with the ingestor away, {tag} commits")
        out["scenario"][tag] = asyncio.run(_scenario(work, commits=commits, cycles=cycles))
    kills = env_int("BENCH_COMMIT_KILLS", 20, 20)
    if progress is not None:
        progress(f"{kills} broker SIGKILLs at random instants under load, with commits")
    out["random_kills"] = asyncio.run(_random_kills(work, kills=kills))
    with_, without = out["drain"]["with"], out["drain"]["without"]
    out["throughput_ratio"] = round(with_["readings_per_s"] / without["readings_per_s"], 3)
    out["edge_cpu_ratio"] = round(with_["edge_cpu_s"] / max(without["edge_cpu_s"], 0.01), 2)
    return out


def main() -> None:
    import contextlib
    import json

    from greenwire.servers import InfluxDB1, Mosquitto

    with tempfile.TemporaryDirectory() as tmp, InfluxDB1(Path(tmp) / "influx") as influx:
        work = Path(tmp)

        @contextlib.contextmanager
        def broker(name: str) -> Any:
            with Mosquitto(work / f"mqtt-{name}") as server:
                yield server

        result = run(broker, influx, work, progress=lambda text: print(text, file=sys.stderr))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
