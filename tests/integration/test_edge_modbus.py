"""Modbus polling against real pymodbus servers: values, schedule, and failure containment."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from datetime import UTC, datetime

import pytest

from greenwire.edge.config import DeviceConfig, TcpBusConfig
from greenwire.edge.modbus import PolledReading, TcpBus

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bus(name: str, port: int, units: dict[str, int], *, interval: float = 1.0) -> TcpBusConfig:
    return TcpBusConfig(
        name=name,
        host="127.0.0.1",
        port=port,
        timeout_s=0.3,
        retries=0,
        devices=tuple(
            DeviceConfig(id=device, unit=unit, profile="eastron-sdm630", poll_interval_s=interval)
            for device, unit in units.items()
        ),
    )


async def _run_for(buses: list[TcpBus], seconds: float) -> None:
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        for bus in buses:
            group.create_task(bus.run(stop), name=f"bus-{bus.config.name}")
        await asyncio.sleep(seconds)
        stop.set()


async def test_live_meters_keep_their_schedule_beside_a_dead_unit_and_a_dead_endpoint(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from greenwire.simulators.modbus_meter import MeterServer, SimMeter
    from greenwire.simulators.series import Replay, builtin_series

    replay = Replay(builtin_series("b2"), start=datetime(2022, 3, 1, tzinfo=UTC), speed=3600)
    read: list[PolledReading] = []
    caplog.set_level(logging.DEBUG, logger="greenwire.edge.modbus")
    async with MeterServer(host="127.0.0.1", port=0, meters=[SimMeter(device_id=1, replay=replay)]) as server:
        live = TcpBus(_bus("plant-room", server.port, {"incomer": 1, "ghost": 9}), read.append)
        dead = TcpBus(_bus("roof", _free_port(), {"pv": 1}), read.append)
        await _run_for([live, dead], 4.6)

    incomer = [r for r in read if r.device == "incomer"]
    assert {r.device for r in read} == {"incomer"}
    # Polls are aligned to whole seconds: 4 or 5 in 4.6 s, each within the dead unit's timeout of its slot.
    assert len(incomer) >= 4
    for reading in incomer:
        assert reading.ts.tzinfo is UTC
        assert (reading.ts.timestamp() % 1.0) < 0.3 + 0.2
    gaps = [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(incomer)]
    assert all(0.5 < gap < 1.5 for gap in gaps), gaps

    values = incomer[-1].values
    assert len(values) == 23
    assert 200 < values["voltage_l1_v"] < 260
    assert 49 < values["frequency_hz"] < 51
    counters = [r.values["energy_import_kwh"] for r in incomer]
    assert counters == sorted(counters) and counters[-1] > counters[0], "the counter accumulates"
    # Replayed at an hour per second, b2's ~700 kWh an hour is far beyond what a direct-connected
    # SDM630 (72 kW, the profile's maximum) can measure: every reading after the first is flagged.
    assert [r.quality.value for r in incomer] == ["good"] + ["counter_jump"] * (len(incomer) - 1)

    states = {s.device: s for bus in (live, dead) for s in bus.states}
    assert states["incomer"].online is True and states["incomer"].errors == 0
    assert states["ghost"].online is False and states["ghost"].errors >= 1
    assert "exception code 11" in (states["ghost"].last_error or "")  # the gateway: no one answered
    assert states["pv"].online is False and "cannot connect" in (states["pv"].last_error or "")
    # The first failure of each dead device is an error; repeats are debug until it recovers.
    for device in ("ghost", "pv"):
        records = [r for r in caplog.records if f"device {device} " in r.getMessage()]
        assert records[0].levelno == logging.ERROR
        assert all(r.levelno == logging.DEBUG for r in records[1:])
    # Backoff: the dead unit was not retried every second.
    assert states["ghost"].errors < len(incomer)


async def test_decoded_values_follow_the_replayed_series() -> None:
    from greenwire.simulators.modbus_meter import MeterServer, SimMeter
    from greenwire.simulators.series import Replay, builtin_series

    replay = Replay(builtin_series("b25"), start=datetime(2022, 7, 4, 9, tzinfo=UTC), speed=60)
    read: list[PolledReading] = []
    async with MeterServer(host="127.0.0.1", port=0, meters=[SimMeter(device_id=3, replay=replay)]) as server:
        bus = TcpBus(_bus("plant-room", server.port, {"chiller": 3}), read.append)
        await _run_for([bus], 2.5)
    assert read
    for reading in read:
        at = reading.ts.timestamp()
        # Read within 0.3 s of its timestamp; at speed 60 that is 18 series-seconds.
        power = reading.values["active_power_w"]
        expected = [replay.power_w(at + dt) for dt in (0.0, 0.3)]
        assert min(expected) - 1 <= power <= max(expected) + 1
        energy = reading.values["energy_import_kwh"]
        window = [replay.energy_kwh(at), replay.energy_kwh(at + 0.3)]
        assert window[0] * (1 - 1e-6) - 1e-3 <= energy <= window[1] * (1 + 1e-6) + 1e-3
        phases = sum(reading.values[f"active_power_l{n}_w"] for n in (1, 2, 3))
        assert phases == pytest.approx(power, rel=1e-5, abs=1e-2)
