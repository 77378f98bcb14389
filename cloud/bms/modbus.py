"""The carbon signal as Modbus TCP holding registers: a pymodbus server shell over ``encode``.

One pymodbus device per configured building (its ``unit``), each a block of
``points.REGISTER_COUNT`` holding registers from address 0. The words are computed when a
request arrives (:func:`greenwire.cloud.bms.encode.point_values` of the building's last
signal at that moment), so the age, the stale status and the heartbeat are always those of
now. Writes and input-register reads are refused (exception 1, illegal function); a unit id
that no building has is answered with exception 0x0B (gateway target device failed to
respond), as a Modbus gateway answers for a device that is not there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Self

from greenwire.cloud.bms.config import BuildingPoints
from greenwire.cloud.bms.encode import point_values, registers
from greenwire.cloud.bms.points import REGISTER_COUNT
from greenwire.cloud.bms.source import Signals

HOLDING_REGISTERS = 3


class ModbusSignalServer:
    """Serves ``signals`` of ``buildings`` on ``host:port`` (``port=0``: a free one, in ``.port``)."""

    def __init__(self, signals: Signals, buildings: Sequence[BuildingPoints], *, host: str = "127.0.0.1",
                 port: int = 502, clock: Callable[[], datetime], started_at: datetime,
                 stale_after: timedelta) -> None:
        self.signals = signals
        self.buildings = tuple(buildings)
        self.host = host
        self.port = port
        self.requests = 0
        self._clock = clock
        self._started_at = started_at
        self._stale_after = stale_after
        self._server: Any = None

    def heartbeat(self, now: datetime) -> int:
        """Seconds since the server started, modulo 65536."""
        return int((now - self._started_at).total_seconds()) % 65536

    def block(self, entry: BuildingPoints) -> list[int]:
        """The building's registers now."""
        now = self._clock()
        signal = self.signals.get(entry.site, entry.building)
        return registers(point_values(signal, now, self.heartbeat(now), stale_after=self._stale_after))

    def _device(self, entry: BuildingPoints) -> Any:
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        async def on_request(function_code: int, start_address: int, address: int, count: int,
                             block: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
            if function_code != HOLDING_REGISTERS or set_values is not None:
                return ExcCodes.ILLEGAL_FUNCTION
            block[0:REGISTER_COUNT] = self.block(entry)
            self.requests += 1
            return None

        return SimDevice(id=entry.unit, simdata=[SimData(0, count=REGISTER_COUNT, values=0,
                                                         datatype=DataType.REGISTERS)], action=on_request)

    def _absent(self) -> Any:
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        async def no_one(*_: object) -> ExcCodes:
            return ExcCodes.GATEWAY_NO_RESPONSE

        return SimDevice(id=0, simdata=[SimData(0, count=REGISTER_COUNT, values=0, datatype=DataType.REGISTERS)],
                         action=no_one)

    async def start(self) -> Self:
        """Start serving; returns once the port is bound."""
        from pymodbus.server import ModbusTcpServer

        server = ModbusTcpServer([*(self._device(b) for b in self.buildings), self._absent()],
                                 address=(self.host, self.port), ignore_missing_devices=True)
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
