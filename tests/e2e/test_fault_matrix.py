"""Combined failures in one world: nothing lost, nothing twice, because the gateway waits for the commit.

One path (``tests/e2e/pipeline.py``): simulated SDM630 meters -> `greenwire edge run` (under
libfaketime, for the clock row) -> Mosquitto -> `greenwire ingest run` -> InfluxDB. The faults
follow each other in that one world, each with the readings the gateway buffered during it
(journal seqs) tallied on their own at the end:

- the issue's scenario, six times: the ingestor stopped as in a deploy, and while readings
  queue for it at the broker, the broker SIGKILLed and restarted (it restarts from its last
  autosave: what it acknowledged since is gone, and only the gateway still has it);
- broker SIGKILL while InfluxDB is down;
- ingestor SIGKILL while the broker restarts;
- the edge agent SIGKILLed while the broker is down (a power cut: its SQLite buffer commits
  with ``synchronous=FULL``), then started again;
- the gateway's clock stepped back an hour and forward again while the ingestor is away.

"In" is every reading the agent committed to its buffer; "out" the rows of InfluxDB. Before
the end-to-end commit (PUBACK deletes), the first row lost tens of readings per run.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.pipeline import Pipeline

pytestmark = pytest.mark.e2e

QUEUE_S = 1.5
"""How long readings queue for the away ingestor before the broker is killed, and after."""


async def _ingest_away_broker_killed(pipe: Pipeline) -> None:
    assert pipe.ingest is not None
    pipe.ingest.send_signal(signal.SIGTERM)  # a deploy: the ingestor stops cleanly
    await asyncio.to_thread(pipe.ingest.wait, 30)
    await asyncio.sleep(QUEUE_S)
    await pipe.crash_broker()
    await asyncio.sleep(QUEUE_S)
    pipe.start_ingest()


async def _broker_killed_influx_down(pipe: Pipeline) -> None:
    await asyncio.to_thread(pipe.influxdb.stop)
    await asyncio.sleep(QUEUE_S)
    await pipe.crash_broker()
    await asyncio.sleep(QUEUE_S)
    await asyncio.to_thread(pipe.influxdb.start)


async def _ingest_killed_broker_restarts(pipe: Pipeline) -> None:
    assert pipe.ingest is not None
    await pipe.kill(pipe.ingest)
    await asyncio.sleep(QUEUE_S)
    await asyncio.to_thread(pipe.mosquitto.restart)
    await asyncio.sleep(QUEUE_S)
    pipe.start_ingest()


async def _edge_killed_broker_down(pipe: Pipeline) -> None:
    assert pipe.edge is not None
    await asyncio.to_thread(pipe.mosquitto.stop)
    await asyncio.sleep(QUEUE_S)
    await pipe.kill(pipe.edge)
    pipe.start_edge()
    await asyncio.sleep(QUEUE_S)
    await asyncio.to_thread(pipe.mosquitto.start)


async def _clock_steps_ingest_away(pipe: Pipeline) -> None:
    assert pipe.ingest is not None
    await pipe.kill(pipe.ingest)
    for offset in (-3600, 0):
        pipe.step_gateway_clock(offset)
        await asyncio.sleep(QUEUE_S + 1)  # libfaketime reads the file once a second
    pipe.start_ingest()


FAULTS: list[tuple[str, Callable[[Pipeline], Awaitable[None]]]] = [
    *((f"ingestor stopped, broker SIGKILL while readings queue ({n}/6)", _ingest_away_broker_killed)
      for n in range(1, 7)),
    ("broker SIGKILL while InfluxDB is down", _broker_killed_influx_down),
    ("ingestor SIGKILL while the broker restarts", _ingest_killed_broker_restarts),
    ("edge SIGKILL (power cut) while the broker is down", _edge_killed_broker_down),
    ("gateway clock -1 h then back while the ingestor is away", _clock_steps_ingest_away),
]


async def test_combined_faults_lose_nothing_and_store_nothing_twice(tmp_path: Path) -> None:
    async with Pipeline(tmp_path, "matrix", faketime=True, meters=2, poll_interval_s=0.25) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 10, 60, "readings flowing")
        windows: list[tuple[str, int, int]] = []
        for name, fault in FAULTS:
            first = pipe.journal_seq() + 1
            await fault(pipe)
            # On a loaded machine the agent may journal nothing in a 3-5 s fault: the window then
            # runs on to its first reading (a stall that lasts is still a failure).
            await pipe.wait(lambda seq=first: pipe.journal_seq() >= seq, 30, f"a reading journaled during or after: {name}")
            windows.append((name, first, pipe.journal_seq()))
        tally = await pipe.finish("the whole matrix, one world", within_s=90)
        rows = [pipe.tally_seqs(name, first, last) for name, first, last in windows]
    print("\n| fault | readings in | out | lost | duplicated | notes |\n|---|---|---|---|---|---|")
    for row in [*rows, tally]:
        print(row.row())
    for row in [*rows, tally]:
        assert row.readings_in > 0, row
        assert (row.lost, row.duplicated, row.wrong_values) == (0, 0, 0), row
    assert tally.readings_out == tally.readings_in
    assert "kept until committed" in pipe.edge_log.read_text(errors="replace"), "the gateway ran in commit mode"
    assert pipe.observer is not None
    status = pipe.observer.status
    assert status is not None and status["schema"] == "greenwire.status.v3"
    print(f"the gateway's last status (since its restart): {status['delivery']}")
