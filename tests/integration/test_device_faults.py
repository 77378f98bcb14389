"""Meters that fail the way real ones do: silence, exception answers, corrupted frames, and coming back."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from greenwire.edge.config import DeviceConfig, SerialBusConfig, TcpBusConfig
from greenwire.edge.modbus import ModbusBus, PolledReading
from greenwire.simulators.modbus_meter import Fault, MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from tests.helpers import eventually
from tests.integration.test_edge_rtu import pty_pair  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def _devices(*units: int) -> tuple[DeviceConfig, ...]:
    return tuple(
        DeviceConfig(id=f"m{u}", unit=u, profile="eastron-sdm630", poll_interval_s=0.5, max_power_kw=1e6)
        for u in units
    )


def _meters(*units: int) -> list[SimMeter]:
    replay = Replay(builtin_series("b2"), start=datetime(2022, 5, 1, tzinfo=UTC), speed=60)
    return [SimMeter(u, replay) for u in units]


async def _fail_and_recover(bus: ModbusBus, server: MeterServer, unit: int, fault: Fault, read: list[PolledReading]) -> str:
    """Run the bus, break one meter, mend it; return the error the edge recorded."""
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    state = next(s for s in bus.states if s.device == f"m{unit}")
    try:
        await eventually(lambda: state.online is True, 30, "the meter to answer")
        server.set_fault(unit, fault)
        await eventually(lambda: state.online is False, 30, f"the edge to notice '{fault}'")
        error = state.last_error or ""
        server.set_fault(unit, None)
        await eventually(lambda: state.online is True, 30, "the meter to be back")
        before = len([r for r in read if r.device == f"m{unit}"])
        await eventually(lambda: len([r for r in read if r.device == f"m{unit}"]) > before, 30, "fresh readings")
    finally:
        stop.set()
        await task
    return error


@pytest.mark.parametrize(
    ("fault", "words"),
    [("silent", "did not answer"), ("exception", "exception code 4"), ("busy", "exception code 6"),
     ("crc", "did not answer")],
)
async def test_tcp_meter_fails_and_recovers(fault: Fault, words: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="greenwire.edge.modbus")
    read: list[PolledReading] = []
    async with MeterServer(meters=_meters(1, 2)) as server:
        bus = ModbusBus(
            TcpBusConfig(name="plant-room", host="127.0.0.1", port=server.port, timeout_s=0.2, retries=0,
                         devices=_devices(1, 2)),
            read.append,
        )
        error = await _fail_and_recover(bus, server, 1, fault, read)
    assert words in error
    ours = [r for r in caplog.records if "device m1 " in r.getMessage()]
    errors = [r for r in ours if r.levelno == logging.ERROR]
    assert len(errors) == 1, "the first failure is an error; repeats are debug"
    assert any(r.levelno == logging.INFO and "answers again" in r.getMessage() for r in ours)
    # The other meter on the same endpoint kept reporting throughout.
    assert len([r for r in read if r.device == "m2"]) >= 4


async def test_rtu_corrupted_frames_and_a_meter_that_disappears(pty_pair: tuple[str, str]) -> None:  # noqa: F811
    gateway_end, meter_end = pty_pair
    read: list[PolledReading] = []
    async with MeterServer(meters=_meters(1, 2), transport="serial", serial_port=meter_end, baudrate=38400) as server:
        bus = ModbusBus(
            SerialBusConfig(name="rs485-1", type="serial", port=gateway_end, baudrate=38400, timeout_s=0.2, retries=0,
                            devices=_devices(1, 2)),
            read.append,
        )
        crc_error = await _fail_and_recover(bus, server, 1, "crc", read)
        gone_error = await _fail_and_recover(bus, server, 2, "silent", read)
    assert "did not answer" in crc_error  # a frame with a bad CRC is discarded: as if no answer came
    assert "did not answer" in gone_error
    assert {r.device for r in read} == {"m1", "m2"}
