"""Every shipped profile, served by a simulated meter over Modbus TCP and read back by the edge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from greenwire.edge.config import DeviceConfig, TcpBusConfig
from greenwire.edge.modbus import ModbusBus, PolledReading
from greenwire.edge.profile import list_profiles, load_profile
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("profile", list_profiles())
async def test_profile_reads_a_simulated_meter(profile: str) -> None:
    # A frozen clock: the meter's state is the same at every read, so the values can be compared exactly.
    replay = Replay(builtin_series("b85"), start=datetime(2022, 8, 1, 12, tzinfo=UTC), speed=1.0, clock=lambda: 0.0)
    meter = SimMeter(5, replay, profile=profile)
    read: list[PolledReading] = []
    async with MeterServer(meters=[meter]) as server:
        bus = ModbusBus(
            TcpBusConfig(name="bus", host="127.0.0.1", port=server.port, timeout_s=0.3, retries=0,
                         devices=(DeviceConfig(id="m", unit=5, profile=profile, poll_interval_s=0.5),)),
            read.append,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(bus.run(stop))
        await eventually(lambda: bool(read), 10, f"a reading through {profile}")
        stop.set()
        await task
    expected = meter.values()
    registers = {r.quantity: r for r in load_profile(profile).resolved()}
    values = read[0].values
    assert set(values) == set(registers), "every register of the profile gives a value"
    for quantity, value in values.items():
        register = registers[quantity]
        # Integer registers carry the value to their scale's resolution; float32 to 7 digits.
        tolerance = abs(register.scale) / 2 + 1e-9 if not register.type.startswith("float") else 0.0
        assert value == pytest.approx(expected[quantity], rel=1e-6, abs=tolerance), quantity
