"""The simulated meter over real Modbus TCP, read with pymodbus' own client."""

from __future__ import annotations

import asyncio
import struct
import time
from datetime import UTC, datetime

import pytest
from pymodbus.client import AsyncModbusTcpClient

from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series

pytestmark = pytest.mark.integration


def _float(words: list[int], address: int) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", words[address], words[address + 1]))[0])


async def test_two_endpoints_each_with_their_meters() -> None:
    start = datetime(2022, 3, 14, 12, tzinfo=UTC)
    b2 = Replay(builtin_series("b2"), start=start, speed=3600)
    b85 = Replay(builtin_series("b85"), start=start, speed=3600)
    async with (
        MeterServer(meters=[SimMeter(1, b2), SimMeter(2, b85)]) as one,
        MeterServer(meters=[SimMeter(1, b85)]) as two,
    ):
        assert one.port != two.port
        client = AsyncModbusTcpClient("127.0.0.1", port=one.port, timeout=1, retries=0)
        await client.connect()
        try:
            before = time.time()
            first = (await client.read_input_registers(0, count=80, device_id=1)).registers
            after = time.time()
            await asyncio.sleep(0.3)  # 0.3 s at x3600: 18 replayed minutes
            second = (await client.read_input_registers(0, count=80, device_id=1)).registers
            other = (await client.read_input_registers(0, count=80, device_id=2)).registers
            missing = await client.read_input_registers(0, count=2, device_id=7)
            beyond = await client.read_input_registers(382, count=2, device_id=1)
        finally:
            client.close()
    assert 225 < _float(first, 0) < 235
    # The power read is the recorded hour's average at the moment of the read.
    assert _float(first, 52) in {b2.power_w(before), b2.power_w(after)}
    assert b2.energy_kwh(before) - 0.5 <= _float(first, 72) <= b2.energy_kwh(after) + 0.5  # float32 at ~1e6 kWh
    assert _float(second, 72) > _float(first, 72), "the import counter accumulates"
    assert _float(other, 52) != _float(second, 52), "each unit replays its own building"
    assert missing.isError() and missing.exception_code == 0x0B
    assert beyond.isError() and beyond.exception_code == 0x02
