"""Delivery under faults: every reading the edge committed reaches InfluxDB once, whatever fails.

Each test runs a whole path of its own (``tests/e2e/pipeline.py``): simulated
meters, `greenwire edge run` and `greenwire ingest run` as processes, a
Mosquitto and an InfluxDB of its own. It breaks one thing while readings
flow, repairs it, lets the backlog drain, and compares readings in (what the
edge committed to its buffer) with readings out (InfluxDB): nothing lost,
nothing twice, every value as read.

The three long outages (broker down, InfluxDB down, link cut) are
independent and run at the same time, each for ``GREENWIRE_FAULT_OUTAGE_S``
seconds (60 by default). The edge agent killed during an outage is
``tests/e2e/test_edge_kill.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path

import pytest

from tests.e2e.pipeline import Pipeline, Tally, outage_s, rss_kb

pytestmark = pytest.mark.e2e


def _assert_exact(tally: Tally) -> None:
    print(tally.row())
    assert tally.readings_in > 0
    assert tally.lost == 0, tally
    assert tally.duplicated == 0, tally
    assert tally.wrong_values == 0, tally
    assert tally.readings_out == tally.readings_in, tally


def _max_gap_s(pipe: Pipeline) -> float:
    """The longest time between two successive readings of a device in InfluxDB."""
    worst = 0.0
    for device in {d for d, _ in pipe.stored()}:
        times = sorted(t for d, t in pipe.stored() if d == device)
        worst = max([worst, *((b - a) / 1e9 for a, b in itertools.pairwise(times))])
    return worst


async def test_broker_restart(tmp_path: Path) -> None:
    async with Pipeline(tmp_path, "restart") as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        for _ in range(2):
            await asyncio.to_thread(pipe.mosquitto.restart)
            await asyncio.sleep(3)
        tally = await pipe.finish("broker restarted twice (SIGTERM, start)")
    _assert_exact(tally)


async def test_broker_sigkill(tmp_path: Path) -> None:
    """Mosquitto killed outright three times: it restarts from its last autosave (1 s old at most).

    What it had acknowledged to the gateway and already handed to the ingestor is not in that
    save; the ingestor writes those readings even though it can no longer acknowledge them.
    """
    async with Pipeline(tmp_path, "brokerkill") as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        for _ in range(3):
            await pipe.crash_broker()
            await asyncio.sleep(3)
        tally = await pipe.finish("broker SIGKILL x3 (restart from its last autosave)")
    _assert_exact(tally)


async def test_ingestor_sigkill_in_the_middle_of_a_batch(tmp_path: Path) -> None:
    # A flush waits 2 s for more messages, so the ingestor always holds unacknowledged ones.
    async with Pipeline(tmp_path, "ingkill", max_delay_s=2.0) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        assert pipe.ingest is not None
        # Kill while the ingestor holds published readings it has not stored (its flush waits 2 s).
        observer = pipe.observer
        assert observer is not None
        await pipe.wait(lambda: observer.readings() > pipe.stored_rows(), 30, "the ingestor to hold unstored readings")
        await pipe.kill(pipe.ingest)
        held = observer.readings() - pipe.stored_rows()
        await asyncio.sleep(3)  # the edge goes on publishing into the dead ingestor's session
        pipe.start_ingest()
        tally = await pipe.finish("ingestor SIGKILL holding a batch, restarted 3 s later")
    tally.notes.append(f"{held} readings published but not stored at the kill")
    _assert_exact(tally)
    assert held > 0, "the kill came while the ingestor held messages it had not stored"


async def _broker_down(tmp_path: Path, seconds: float) -> Tally:
    async with Pipeline(tmp_path, "brokerdown") as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        await asyncio.to_thread(pipe.mosquitto.stop)
        before = pipe.journal_count()
        await asyncio.sleep(seconds)
        polled = pipe.journal_count() - before
        await asyncio.to_thread(pipe.mosquitto.start)
        tally = await pipe.finish(f"broker down {seconds:g} s, gateway polling")
        tally.notes.append(f"{polled} readings polled while the broker was down")
        assert polled >= 0.5 * seconds / pipe.poll_interval_s * pipe.meters, "polling went on"
        assert _max_gap_s(pipe) < 2.0, "no hole in any device's series"
    return tally


async def _influxdb_down(tmp_path: Path, seconds: float) -> Tally:
    # A small Receive Maximum, so the outage produces far more messages than the ingestor may hold.
    receive_maximum = 10
    async with Pipeline(tmp_path, "influxdown", receive_maximum=receive_maximum) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        assert pipe.ingest is not None
        pid = pipe.ingest.pid
        await asyncio.sleep(2)
        rss_before = rss_kb(pid)
        await asyncio.to_thread(pipe.influxdb.stop)
        assert pipe.observer is not None
        published_before = pipe.observer.readings()
        samples = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            samples.append(rss_kb(pid))
            await asyncio.sleep(0.5)
        published = pipe.observer.readings() - published_before
        await asyncio.to_thread(pipe.influxdb.start)
        backlog = pipe.journal_count()
        while pipe.stored_rows() < backlog and loop.time() < end + 90:  # the drain, sampled too
            samples.append(rss_kb(pid))
            await asyncio.sleep(0.2)
        tally = await pipe.finish(f"InfluxDB down {seconds:g} s")
        log = pipe.ingest_log.read_text()
        assert "messages kept unacknowledged, retrying" in log
    held = max(int(n) for n in re.findall(r"pending (\d+)", log))
    growth_mb = (max(samples) - rss_before) / 1024
    tally.notes.append(
        f"{published} readings published during the outage; ingestor held at most {held} messages "
        f"(Receive Maximum {receive_maximum}); RSS {rss_before / 1024:.1f} MB before, "
        f"max {max(samples) / 1024:.1f} MB during it and the drain (+{growth_mb:.1f} MB)"
    )
    batches_during = published / pipe.meters  # about one reading per meter per batch
    assert batches_during > 3 * receive_maximum, "the outage produced more messages than the ingestor may hold"
    # the window: what the broker may send, plus the one message read before a pause (cloud/adapters/mqtt.py)
    assert held <= receive_maximum + 1, "the ingestor held no more than the broker may send it"
    assert growth_mb < 15, "the ingestor's memory stayed bounded"
    return tally


async def _link_cut(tmp_path: Path, seconds: float) -> Tally:
    async with Pipeline(tmp_path, "linkcut", via_link=True) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        assert pipe.link is not None
        pipe.link.cut()
        before = pipe.journal_count()
        await asyncio.sleep(seconds)
        polled = pipe.journal_count() - before
        pipe.link.restore()
        tally = await pipe.finish(f"gateway-broker link cut {seconds:g} s (silent, no RST)")
        tally.notes.append(f"{polled} readings polled while cut")
        assert "no PUBACK" in pipe.edge_log.read_text() or "timed out" in pipe.edge_log.read_text().lower()
        assert _max_gap_s(pipe) < 2.0, "no hole in any device's series"
    return tally


async def test_long_outages_at_once(tmp_path: Path) -> None:
    """Broker down, InfluxDB down and the gateway's link cut, each for the outage time, concurrently."""
    seconds = outage_s()
    outcomes = await asyncio.gather(
        _broker_down(tmp_path, seconds), _influxdb_down(tmp_path, seconds), _link_cut(tmp_path, seconds),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, Tally):
            print(outcome.row())
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    for outcome in outcomes:
        assert isinstance(outcome, Tally)
        _assert_exact(outcome)


async def test_gateway_clock_steps_back_and_forward(tmp_path: Path) -> None:
    """The gateway's wall clock steps back an hour (a bad NTP server), then forward again (NTP fixes it).

    Readings keep their read time as the gateway's clock gave it, so the hour-back ones are
    stored an hour in the past: that is the gateway's data as read, not a loss. What must not
    happen: polling stopping until the clock catches up, readings dropped or rejected, a
    reading overwriting another.
    """
    # Polls take a few ms of each 1 s interval, so the steps land while the bus waits for its slot.
    async with Pipeline(tmp_path, "clock", faketime=True, meters=3, poll_interval_s=1.0) as pipe:
        await pipe.wait(lambda: pipe.stored_rows() >= 20, 90, "readings flowing")
        for offset in (-3600, 0):
            pipe.step_gateway_clock(offset)
            before = pipe.journal_count()
            await asyncio.sleep(6)
            polled = pipe.journal_count() - before
            assert polled >= 0.4 * 6 / pipe.poll_interval_s * pipe.meters, (
                f"polling went on after the clock stepped to {offset:+d} s ({polled} readings)"
            )
        tally = await pipe.finish("gateway clock stepped -1 h, then +1 h (libfaketime)")
        times = sorted(t for _, t in pipe.stored())
        hour = 3600 * 10**9
        assert any(b - a > 0.9 * hour for a, b in itertools.pairwise(times)), "readings an hour back are stored"
    _assert_exact(tally)
