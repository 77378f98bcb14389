"""The gateway's wall clock steps (NTP, an operator, an RTC-less boot) while a bus polls a real meter."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from greenwire.edge.config import DeviceConfig, TcpBusConfig
from greenwire.edge.modbus import PolledReading, TcpBus
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually

pytestmark = pytest.mark.integration


class SteppedClock:
    """``time.time()`` plus an offset the test changes at once, as an NTP step does."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


@pytest.mark.parametrize("step_s", [-3600.0, 3600.0, -5.0])
async def test_polling_goes_on_at_its_interval_when_the_wall_clock_steps(step_s: float) -> None:
    replay = Replay(builtin_series("b2"), start=datetime(2022, 3, 1, tzinfo=UTC), speed=60)
    read: list[PolledReading] = []
    arrived: list[float] = []  # monotonic, which the step does not move

    def emit(reading: PolledReading) -> None:
        read.append(reading)
        arrived.append(time.monotonic())

    clock = SteppedClock()
    async with MeterServer(meters=[SimMeter(1, replay)]) as server:
        bus = TcpBus(
            TcpBusConfig(
                name="plant-room", host="127.0.0.1", port=server.port, timeout_s=0.3, retries=0,
                devices=(DeviceConfig(id="m1", unit=1, profile="eastron-sdm630", poll_interval_s=0.5,
                                  max_power_kw=1_000_000),),
            ),
            emit,
            wall_clock=clock,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(bus.run(stop))
        try:
            await eventually(lambda: len(read) >= 2 or task.done(), 30, "two readings before the step")
            before = len(read)
            # Step just after a reading, while the bus waits for its next slot (a poll takes a few ms).
            clock.offset_s = step_s
            stepped_at = time.monotonic()
            await eventually(lambda: len(read) >= before + 3 or task.done(), 30, "three readings after the step")
        finally:
            stop.set()
            await task
    after = read[before:]
    assert len(after) >= 3, f"polling went on after a {step_s:+g} s step"
    # At its interval (0.5 s): no wait for the old schedule (an hour, or 5 s, after a step back).
    gaps = [b - a for a, b in zip([stepped_at, *arrived[before:]], arrived[before:], strict=False)]
    assert max(gaps) < 2.5, f"a pause of {max(gaps):.1f} s after a {step_s:+g} s step (gaps {gaps})"
    shifted = [r for r in after if abs((r.ts - read[before - 1].ts).total_seconds() - step_s) < 3]
    assert shifted, "readings after the step carry the gateway's new time"
