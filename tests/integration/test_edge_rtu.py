"""Modbus RTU for real: an RS-485 bus through a pseudo-terminal pair (socat), and RTU over TCP.

The simulated meters sit on one end of the pair as a pymodbus RTU server; the
edge's bus polls the other end, with a dead unit on the same bus as live ones.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire.edge.config import DeviceConfig, RtuOverTcpBusConfig, SerialBusConfig
from greenwire.edge.modbus import ModbusBus, PolledReading
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series

pytestmark = pytest.mark.integration


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals: what one end writes, the other reads, like an RS-485 pair."""
    socat = shutil.which("socat")
    assert socat, "socat is not installed: run `make install`"
    gateway, meters = str(tmp_path / "ttyGW"), str(tmp_path / "ttyMETERS")
    process = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={gateway}", f"pty,raw,echo=0,link={meters}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while not (os.path.exists(gateway) and os.path.exists(meters)):
        assert time.monotonic() < deadline and process.poll() is None, "socat did not create the pty pair"
        time.sleep(0.02)
    yield gateway, meters
    process.terminate()
    process.wait(5)


def _devices(units: dict[str, int]) -> tuple[DeviceConfig, ...]:
    return tuple(
        DeviceConfig(id=name, unit=unit, profile="eastron-sdm630", poll_interval_s=1.0, max_power_kw=10_000)
        for name, unit in units.items()
    )


async def _run_for(bus: ModbusBus, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task


async def test_rs485_bus_with_a_dead_unit_between_live_ones(pty_pair: tuple[str, str]) -> None:
    gateway_end, meter_end = pty_pair
    start = datetime(2022, 9, 1, tzinfo=UTC)
    meters = [
        SimMeter(1, Replay(builtin_series("b25"), start=start, speed=60)),
        SimMeter(3, Replay(builtin_series("b85"), start=start, speed=60)),
    ]
    read: list[PolledReading] = []
    config = SerialBusConfig(
        name="rs485-1", type="serial", port=gateway_end, baudrate=9600, timeout_s=0.25, retries=0,
        frame_gap_s=0.005, devices=_devices({"chiller": 1, "ghost": 2, "lighting": 3}),
    )
    async with MeterServer(meters=meters, transport="serial", serial_port=meter_end):
        bus = ModbusBus(config, read.append)
        await _run_for(bus, 4.6)

    by_device = {name: [r for r in read if r.device == name] for name in ("chiller", "ghost", "lighting")}
    assert by_device["ghost"] == []
    for name in ("chiller", "lighting"):
        readings = by_device[name]
        assert len(readings) >= 4, name
        # The dead unit costs the others at most its own timeout (0.25 s) within each cycle.
        assert all((r.ts.timestamp() % 1.0) < 0.25 + 0.2 for r in readings), name
        gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(readings)]
        assert all(0.5 < gap < 1.5 for gap in gaps), (name, gaps)
        assert 220 < readings[-1].values["voltage_l1_v"] < 240
    assert by_device["chiller"][-1].values["active_power_w"] != by_device["lighting"][-1].values["active_power_w"]
    states = {s.device: s for s in bus.states}
    assert states["ghost"].online is False and "did not answer" in (states["ghost"].last_error or "")
    assert states["ghost"].errors < len(by_device["chiller"]), "the dead unit is backed off"
    assert states["chiller"].online and states["lighting"].online


async def test_rtu_over_tcp_converter() -> None:
    replay = Replay(builtin_series("b2"), start=datetime(2022, 9, 1, tzinfo=UTC), speed=60)
    read: list[PolledReading] = []
    async with MeterServer(meters=[SimMeter(4, replay)], transport="rtu-over-tcp") as server:
        config = RtuOverTcpBusConfig(
            name="converter", type="rtu-over-tcp", host="127.0.0.1", port=server.port, timeout_s=0.25,
            retries=0, devices=_devices({"main": 4, "absent": 9}),
        )
        bus = ModbusBus(config, read.append)
        await _run_for(bus, 2.6)
    assert {r.device for r in read} == {"main"} and len(read) >= 2
    at = read[-1].ts.timestamp()
    assert read[-1].values["active_power_w"] in {replay.power_w(at), replay.power_w(at + 0.25)}
    states = {s.device: s for s in bus.states}
    assert states["absent"].online is False and "did not answer" in (states["absent"].last_error or "")


async def test_a_dead_unit_costs_the_others_only_its_own_timeout(pty_pair: tuple[str, str]) -> None:
    gateway_end, meter_end = pty_pair
    replay = Replay(builtin_series("b2"), start=datetime(2022, 9, 1, tzinfo=UTC), speed=60)
    read: list[PolledReading] = []
    devices = (
        DeviceConfig(id="ghost", unit=2, profile="eastron-sdm630", poll_interval_s=1.0, timeout_s=0.1),
        DeviceConfig(id="live", unit=1, profile="eastron-sdm630", poll_interval_s=1.0, max_power_kw=10_000),
    )
    config = SerialBusConfig(name="rs485-1", type="serial", port=gateway_end, baudrate=38400, timeout_s=0.4,
                             retries=0, devices=devices)
    async with MeterServer(meters=[SimMeter(1, replay)], transport="serial", serial_port=meter_end, baudrate=38400):
        bus = ModbusBus(config, read.append)
        await _run_for(bus, 3.6)
    # The bus timeout is 0.4 s, but the dead unit has its own 0.1 s: each live read follows its
    # slot by at most that (plus the read itself), never by the bus timeout.
    assert len(read) >= 3
    assert all((r.ts.timestamp() % 1.0) < 0.1 + 0.15 for r in read), [r.ts.timestamp() % 1.0 for r in read]
