"""Simulated Eastron SDM630 meters on a Modbus TCP server (pymodbus), replaying recorded data.

One ``MeterServer`` is one TCP endpoint, like a meter with Ethernet or an
RS-485 gateway with several meters behind it, each on its own unit id::

    async with MeterServer(port=5020, meters=[SimMeter(1, Replay(builtin_series("b2"), start))]) as server:
        ...  # read input registers of unit 1 at 127.0.0.1:5020

Values are computed when a request arrives, so every read sees the replay's
present moment. Three transports, as meters are met in buildings:

- ``tcp`` (Modbus TCP): a request for a unit id that no meter has is answered
  with exception 0x0B, "gateway target device failed to respond", as a Modbus
  TCP to RS-485 gateway answers for a meter that is dead or not there;
- ``rtu-over-tcp`` (a transparent serial-to-Ethernet converter) and
  ``serial`` (RTU on a serial port, e.g. one end of a pseudo-terminal pair):
  a unit id that no meter has gets no answer at all, as on a real RS-485 bus.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from greenwire.simulators.sdm630 import MAP_END, MeterState, quantities, write_registers
from greenwire.simulators.series import Replay

INPUT_REGISTERS = 4

Fault = Literal["silent", "exception", "busy", "crc"]

STILL_ROOM: dict[str, float] = {"temperature_c": 21.5, "relative_humidity_pct": 45.0, "co2_ppm": 650.0}


@dataclass(frozen=True, slots=True)
class SimMeter:
    """One simulated meter: its unit id on the bus and the series it replays.

    With ``sunspec`` (a device image from ``greenwire.simulators.sunspec_device``), the unit is a SunSpec
    device with that image in its holding registers from 40000, instead of an SDM630.
    """

    device_id: int
    replay: Replay | None = None
    sunspec: tuple[int, ...] | None = None
    profile: str | None = None
    """Present the meter through this profile's register map (any shipped or custom profile)
    instead of the SDM630's: the state is encoded into each profile register, as that meter would."""
    climate: Callable[[], dict[str, float]] | None = None
    """Indoor-environment values now (``greenwire.simulators.environment.Room.values``) for sensor profiles;
    without one, a sensor reads a fixed, plausible room."""

    def values(self) -> dict[str, float]:
        """Everything the device measures now, by quantity name: the meter's state and the room's climate."""
        out = quantities(self.state()) if self.replay is not None else {}
        out.update(self.climate() if self.climate is not None else STILL_ROOM)
        return out

    def state(self) -> MeterState:
        """The meter's measurements now: power and energy from the replay, voltages and frequency
        with a small daily wobble derived from the replayed time (deterministic)."""
        assert self.replay is not None
        offset = self.replay.offset_s()
        day = 2 * math.pi * offset / 86_400
        voltages = tuple(230.0 + 3.0 * math.sin(day + k * 2.1) for k in range(3))
        return MeterState(
            power_w=self.replay.power_w(),
            import_kwh=self.replay.energy_kwh(),
            voltage_v=(voltages[0], voltages[1], voltages[2]),
            frequency_hz=50.0 + 0.05 * math.sin(day * 24),
        )


class MeterServer:
    """A Modbus TCP server presenting ``meters`` (SDM630 register map) on ``host:port``.

    ``port=0`` picks a free port; ``.port`` tells which once started.
    """

    def __init__(
        self,
        *,
        meters: list[SimMeter],
        host: str = "127.0.0.1",
        port: int = 0,
        transport: Literal["tcp", "rtu-over-tcp", "serial"] = "tcp",
        serial_port: str | None = None,
        baudrate: int = 9600,
    ) -> None:
        if (transport == "serial") != (serial_port is not None):
            raise ValueError("serial_port is needed for, and only for, transport='serial'")
        ids = [m.device_id for m in meters]
        if not meters or len(set(ids)) != len(ids) or not all(1 <= i <= 247 for i in ids):
            raise ValueError(f"meters need distinct unit ids in 1..247, got {ids}")
        self.meters = meters
        self.host = host
        self.port = port
        self.transport = transport
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.reads = 0
        self._server: Any = None
        self._faults: dict[int, Fault] = {}

    def set_fault(self, unit: int, fault: Fault | None) -> None:
        """Make one meter misbehave from now on (None: behave again).

        - ``silent``: no answer at all, as a meter that lost power or its wiring;
        - ``exception``: answers exception 0x04 (server device failure);
        - ``busy``: answers exception 0x06 (server device busy);
        - ``crc``: answers with a corrupted frame (RTU: a bad CRC; TCP: a mangled body).
        """
        if unit not in self._units:
            raise ValueError(f"no meter with unit id {unit}")
        if fault is None:
            self._faults.pop(unit, None)
        else:
            self._faults[unit] = fault

    def _device(self, meter: SimMeter) -> Any:
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        if meter.sunspec is not None:
            return SimDevice(
                id=meter.device_id,
                simdata=[SimData(40000, values=list(meter.sunspec), datatype=DataType.REGISTERS)],
            )
        if meter.profile is not None:
            return self._profile_device(meter)

        async def on_request(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            fault = self._faults.get(meter.device_id)
            if fault == "exception":
                return ExcCodes.DEVICE_FAILURE
            if fault == "busy":
                return ExcCodes.DEVICE_BUSY
            if function_code != INPUT_REGISTERS or set_values is not None:
                return ExcCodes.ILLEGAL_FUNCTION  # the map is input registers; settings are not simulated
            assert meter.replay is not None
            write_registers(meter.state(), registers)
            self.reads += 1
            return None

        return SimDevice(
            id=meter.device_id,
            simdata=[SimData(0, count=MAP_END, values=0, datatype=DataType.REGISTERS)],
            action=on_request,
        )

    def _profile_device(self, meter: SimMeter) -> Any:
        """A meter presented through a profile: each register holds the state encoded as the profile decodes it."""
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        from greenwire.edge.codec import encode
        from greenwire.edge.profile import load_profile

        assert meter.profile is not None
        registers = load_profile(meter.profile).resolved()
        start = min(r.address for r in registers)
        end = max(r.end for r in registers)
        functions = {3 if r.function == "holding" else 4 for r in registers}

        async def on_request(function_code: int, start_address: int, address: int, count: int,
                             block: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
            fault = self._faults.get(meter.device_id)
            if fault in ("exception", "busy"):
                return ExcCodes.DEVICE_FAILURE if fault == "exception" else ExcCodes.DEVICE_BUSY
            if function_code not in functions or set_values is not None:
                return ExcCodes.ILLEGAL_FUNCTION
            values = meter.values()
            for register in registers:
                value = values.get(register.quantity)
                if value is None:
                    continue
                raw = (value - register.offset) / register.scale
                words = encode(raw if register.type.startswith("float") else round(raw), register.type, register.order)
                block[register.address - start_address : register.end - start_address] = words
            self.reads += 1
            return None

        return SimDevice(
            id=meter.device_id,
            simdata=[SimData(start, count=end - start, values=0, datatype=DataType.REGISTERS)],
            action=on_request,
        )

    def _absent(self) -> Any:
        """Unit id 0 stands for every id no meter has: the gateway reports that no one answered."""
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator import DataType, SimData, SimDevice

        async def no_one_answers(*_: object) -> ExcCodes:
            return ExcCodes.GATEWAY_NO_RESPONSE

        return SimDevice(
            id=0, simdata=[SimData(0, count=MAP_END, values=0, datatype=DataType.REGISTERS)], action=no_one_answers
        )

    async def start(self) -> Self:
        """Start serving; returns once the port is bound (or the serial port is open)."""
        from pymodbus import FramerType
        from pymodbus.server import ModbusSerialServer, ModbusTcpServer

        devices = [self._device(m) for m in self.meters]
        server: Any
        if self.transport == "tcp":
            server = ModbusTcpServer(
                [*devices, self._absent()], address=(self.host, self.port), ignore_missing_devices=True,
                trace_packet=self._tcp_faults,
            )
        elif self.transport == "rtu-over-tcp":
            server = ModbusTcpServer(
                [*devices, self._absent()], address=(self.host, self.port), framer=FramerType.RTU,
                trace_packet=self._silent_for_absent,
            )
        else:
            server = ModbusSerialServer(
                [*devices, self._absent()], framer=FramerType.RTU, port=self.serial_port or "", baudrate=self.baudrate,
                trace_packet=self._silent_for_absent,
            )
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    def _silent_for_absent(self, sending: bool, frame: bytes) -> bytes:
        """On an RTU bus nobody answers for a unit id no meter has: drop such answers unsent.

        (The catch-all device answers an unknown id with an exception; an RTU frame starts
        with the unit id, so that answer is recognised here and never sent.) Faults set with
        ``set_fault`` are applied here too.
        """
        if not sending or not frame:
            return frame
        unit = frame[0]
        if unit not in self._units or self._faults.get(unit) == "silent":
            return b""
        if self._faults.get(unit) == "crc":
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])
        return frame

    def _tcp_faults(self, sending: bool, frame: bytes) -> bytes:
        """Faults on Modbus TCP: the unit id is byte 6 of the MBAP header."""
        if not sending or len(frame) < 8:
            return frame
        fault = self._faults.get(frame[6])
        if fault == "silent":
            return b""
        if fault == "crc":  # TCP has no CRC: a length field that lies is the closest thing
            return frame[:4] + (len(frame) + 10).to_bytes(2, "big") + frame[6:]
        return frame

    @property
    def _units(self) -> set[int]:
        return {m.device_id for m in self.meters}

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.stop()
