"""A SunSpec meter discovered over real Modbus TCP, beside an SDM630 on the same endpoint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from greenwire.edge.config import DeviceConfig, TcpBusConfig
from greenwire.edge.modbus import ModbusBus, PolledReading
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from greenwire.simulators.sunspec_device import device_image
from tests.helpers import eventually

pytestmark = pytest.mark.integration


async def test_sunspec_meter_is_discovered_and_read(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="greenwire.edge.modbus")
    image = device_image([
        (1, {"Mn": "Acme", "Md": "M-203", "SN": "0042"}),
        (203, {"W": -2500, "W_SF": 0, "Hz": 5002, "Hz_SF": -2, "TotWhImp": 123456, "TotWhExp": 789,
               "TotWh_SF": 0, "PhVphA": 231, "PhVphB": 230, "PhVphC": 229, "V_SF": 0}),
    ])
    replay = Replay(builtin_series("b2"), start=datetime(2022, 7, 1, tzinfo=UTC), speed=60)
    read: list[PolledReading] = []
    async with MeterServer(meters=[SimMeter(1, replay), SimMeter(7, sunspec=tuple(image))]) as server:
        bus = ModbusBus(
            TcpBusConfig(name="plant-room", host="127.0.0.1", port=server.port, timeout_s=0.3, retries=0, devices=(
                DeviceConfig(id="main", unit=1, profile="eastron-sdm630", poll_interval_s=0.5, max_power_kw=1e6),
                DeviceConfig(id="pv-meter", unit=7, profile="sunspec", poll_interval_s=0.5),
            )),
            read.append,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(bus.run(stop))
        await eventually(lambda: len([r for r in read if r.device == "pv-meter"]) >= 2, 10, "SunSpec readings")
        stop.set()
        await task
    pv = [r for r in read if r.device == "pv-meter"][-1]
    assert pv.values == {
        "active_power_w": -2500.0, "frequency_hz": pytest.approx(50.02), "energy_import_kwh": pytest.approx(123.456),
        "energy_export_kwh": pytest.approx(0.789), "voltage_l1_v": 231.0, "voltage_l2_v": 230.0, "voltage_l3_v": 229.0,
    }
    assert any(r.device == "main" for r in read)
    assert any("SunSpec Acme M-203 (serial 0042), models [1, 203] at 40000" in r.getMessage() for r in caplog.records)
