"""Direct write, then the pipeline, on one fresh InfluxDB: one line per round.

For before/after comparisons on a shared machine, run it alternately from two
checkouts (each with its own virtualenv), a round at a time, so both see the
same load minutes apart::

    for i in 1 2 3; do
      (cd ../before && .venv/bin/python -m bench.interleave before)
      (cd ../after && .venv/bin/python -m bench.interleave after)
    done

``BENCH_READINGS`` (200,000 by default here), ``BENCH_READINGS_PER_MESSAGE``
and ``BENCH_QUANTITIES`` shape the workload as in ``make bench``;
``BENCH_ROUNDS`` (1) sets the rounds per call, ``BENCH_NO_COMMITS=1`` runs the
ingestor with ``commits: false``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench import ingest
from bench.common import env_int, ingest_config, tail_probe


def _without_commits(path: Path, **kwargs: object) -> Path:
    written = ingest_config(path, **kwargs)  # type: ignore[arg-type]
    written.write_text(written.read_text() + "commits: false\n")
    return written


def main() -> None:
    from greenwire.servers import InfluxDB1, Mosquitto

    label = sys.argv[1] if len(sys.argv) > 1 else "run"
    os.environ.setdefault("BENCH_READINGS", "200000")
    if os.environ.get("BENCH_NO_COMMITS", "") not in ("", "0"):
        # bench.ingest calls the name it imported: replace it there.
        setattr(ingest, "ingest_config", _without_commits)  # noqa: B010
    messages = ingest.workload()
    lines = ingest.encode_lines(messages)
    tail = tail_probe(lines)
    with tempfile.TemporaryDirectory(prefix="greenwire-interleave-") as tmp:
        work = Path(tmp)
        with InfluxDB1(work / "influxdb") as influx:
            for r in range(env_int("BENCH_ROUNDS", 1, 1)):
                direct = ingest.direct(influx, f"direct_{r}", lines)
                with Mosquitto(work / f"mosquitto-{r}") as broker:
                    pipe = ingest.pipeline(broker, influx, f"pipeline_{r}", messages, ingestors=1, work=work,
                                           tag=f"r{r}", tail=tail)
                print(f"{label} round {r}: direct {direct['readings_per_s']:,}/s, pipeline "
                      f"{pipe['readings_per_s']:,}/s, ratio {pipe['readings_per_s'] / direct['readings_per_s']:.2f}, "
                      f"ingestor {pipe['ingest_readings_per_cpu_s']:,} readings/CPU-s "
                      f"({pipe['ingest_cpu_s'][0]} CPU-s), InfluxDB {pipe['influx_cpu_s']} CPU-s "
                      f"(direct {direct['influx_cpu_s']})", flush=True)


if __name__ == "__main__":
    main()
