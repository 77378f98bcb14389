"""The live carbon service's lifecycle without servers: updates, failures and their retry, the feed, SIGTERM.

InfluxDB is a small real ``InfluxQLClient`` over a dict (it can be told to fail its next writes);
the service runs without MQTT except for the feed test, whose consumer is constructed but never
connected: the messages are handed to it as the consumer would. Each test runs its own event loop
with ``asyncio.run``, which also stops the worker threads the service's InfluxDB calls run in.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from greenwire.cloud.adapters.mqtt import Delivery
from greenwire.cloud.adapters.settings import MqttSection
from greenwire.cloud.carbon.service import FEED_FILTER, CarbonService, serve
from greenwire.cloud.sites import Building, MeterRef
from greenwire.shared.errors import StoreError
from greenwire.shared.intensity import IntensitySeries
from tests.helpers import eventually

NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
MINUTE = NOW.replace(second=0)
BUILDING = Building(id="b", floor_area_m2=100, zone="CN-HI", timezone="Asia/Shanghai",
                    meters=(MeterRef(gateway="gw", device="m", role="grid_import"),))
TARGETS = [("s", BUILDING)]


class MemoryInflux:
    """Counter readings of a meter drawing 40 kW for the last 90 minutes; writes recorded, or refused."""

    def __init__(self, *, failing_writes: int = 0) -> None:
        self.readings = [(MINUTE - timedelta(minutes=90 - k), 5000.0 + 40.0 * k / 60, "good") for k in range(91)]
        self.written: list[str] = []
        self.failing_writes = failing_writes

    def query(self, q: str) -> list[dict[str, object]]:
        return []

    def counter(self, gateway: str, device: str, start: datetime, end: datetime,
                field: str = "energy_import_kwh") -> list[tuple[datetime, float, str]]:
        return [r for r in self.readings if start <= r[0] < end] if field == "energy_import_kwh" else []

    def series(self, zone: str, start: datetime, end: datetime, basis: str = "direct") -> IntensitySeries | None:
        return None

    def write(self, lines: list[str]) -> None:
        if self.failing_writes:
            self.failing_writes -= 1
            raise StoreError("InfluxDB at memory: connection refused")
        self.written += lines

    def measurements(self) -> set[str]:
        return {line.split(",", 1)[0] for line in self.written}


def test_one_update_stores_results_accounts_and_the_live_figures() -> None:
    store, notes = MemoryInflux(), []
    service = CarbonService(store, TARGETS, clock=lambda: NOW, notify=notes.append)
    assert asyncio.run(service.run(asyncio.Event(), once=True)) is True
    assert store.measurements() == {"carbon", "carbon_daily", "carbon_account", "carbon_live"}
    [live] = [line for line in store.written if line.startswith("carbon_live,")]
    intensity = re.search(r"intensity_g_per_kwh=([0-9.]+)", live)
    assert intensity is not None and float(intensity[1]) == pytest.approx(364.8)  # Hainan's static factor
    assert live.endswith(f" {int(MINUTE.timestamp()) * 10**9}")  # the window ends at the last measured minute
    assert notes == [] and service.error is None and service.stats.updates == 1


def test_a_failed_update_is_reported_once_and_exits_in_once_mode() -> None:
    store, notes = MemoryInflux(failing_writes=1), []
    service = CarbonService(store, TARGETS, clock=lambda: NOW, notify=notes.append)
    assert asyncio.run(service.run(asyncio.Event(), once=True)) is False
    assert notes == ["error: InfluxDB at memory: connection refused (retrying at the next update)"]
    assert service.stats.failed_buildings == 1


def test_failed_updates_are_retried_with_backoff_and_the_recovery_is_said() -> None:
    store, notes = MemoryInflux(failing_writes=2), []

    async def main() -> bool:
        stop = asyncio.Event()
        # An hour between updates: only the backoff (capped at the interval, from 1 s) brings the retries.
        service = CarbonService(store, TARGETS, interval_s=3600, clock=lambda: NOW, notify=notes.append)
        service._backoff.start = 0.01  # a fast schedule; the cap and the jitter are the real ones
        task = asyncio.create_task(service.run(stop), name="test-carbon")
        await eventually(lambda: service.stats.updates >= 3, 10, "three updates")
        stop.set()
        return await task

    assert asyncio.run(main()) is True
    assert notes == ["error: InfluxDB at memory: connection refused (retrying at the next update)",
                     "carbon results stored again after 2 failed update(s)"]  # the second failure: debug log only
    assert "carbon_live" in store.measurements()


def _delivery(topic: str, payload: bytes, mid: int) -> Delivery:
    return Delivery(topic=topic, payload=payload, mid=mid, qos=1, session=0)


def test_feed_values_are_checked_on_arrival_and_kept_until_stored() -> None:
    store, notes = MemoryInflux(failing_writes=1), []
    feed = MqttSection(url="mqtt://127.0.0.1:9", client_id="greenwire-carbon")
    service = CarbonService(store, TARGETS, feed=feed, clock=lambda: NOW, notify=notes.append)
    assert service.consumer is not None and service.consumer.topic_filters == (FEED_FILTER,)
    good = {"schema": "greenwire.grid.v1", "zone": "CN-HI", "start": "2026-03-10T11:00:00Z", "period_s": 7200,
            "g_per_kwh": 250.0, "source": "dispatch centre forecast"}

    async def main() -> tuple[bool, bool]:
        await service._receive(_delivery("greenwire/v1/grid/cn-hi/intensity", orjson.dumps(good), 1))
        await service._receive(_delivery("greenwire/v1/grid/cn-js/intensity", orjson.dumps(good), 2))
        await service._receive(_delivery("greenwire/v1/grid/cn-js/intensity", b"", 3))  # a retained value cleared
        first = await service.update(MINUTE)  # InfluxDB refuses the feed's write
        second = await service.update(MINUTE)
        return first, second

    assert asyncio.run(main()) == (False, True)
    assert notes[0] == "grid feed message on greenwire/v1/grid/cn-js/intensity rejected: payload zone 'CN-HI' " \
                       "is not the topic's 'cn-js' (1 so far)"  # once: checked on arrival, not at each retry
    assert notes[1].startswith("error: InfluxDB at memory") and notes[2].startswith("carbon results stored again")
    grid = [line for line in store.written if line.startswith("grid_intensity,")]
    assert len(grid) == 1 and "g_per_kwh=250" in grid[0] and "period_s=7200i" in grid[0]
    assert service.stats.feed_stored == 1 and service.stats.feed_rejected == 1


def test_sigterm_stops_the_service() -> None:
    store = MemoryInflux()

    async def main() -> bool:
        service = CarbonService(store, TARGETS, interval_s=3600, clock=lambda: NOW)
        task = asyncio.create_task(serve(service), name="test-carbon")
        await eventually(lambda: service.stats.updates >= 1, 10, "the first update")
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(10):
            return await task

    assert asyncio.run(main()) is True


@pytest.mark.parametrize("interval_s", [0.5, 60.0])
def test_the_retry_never_waits_longer_than_the_interval(interval_s: float) -> None:
    service = CarbonService(MemoryInflux(), TARGETS, interval_s=interval_s)
    delays = [service._backoff.failed() for _ in range(12)]
    assert max(delays) <= max(interval_s, 1.0) and delays[0] <= min(1.0, interval_s)
