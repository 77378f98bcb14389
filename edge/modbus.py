"""Modbus polling: run each device's read plan on its bus, one request at a time.

One ``ModbusBus`` per physical bus owns one pymodbus client, so requests
to devices behind the same TCP gateway never interleave. Each device keeps
its own schedule (aligned to its poll interval, like Telegraf's
``round_interval``) and its own failure state: a device that does not answer
costs the others at most its own timeout, then is backed off exponentially
(capped) until it answers again. Its first error is logged at error level,
repeats at debug level, and its recovery at info level.

Everything pymodbus raises is translated here, and only here, into
``greenwire.shared.errors.DeviceError``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from greenwire.edge.config import BusConfig, DeviceConfig, RtuOverTcpBusConfig, SerialBusConfig
from greenwire.edge.counters import CounterGuard
from greenwire.edge.plan import ReadPlan, build_plan
from greenwire.edge.profile import Profile, load_profile
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import DeviceError
from greenwire.shared.readings import PolledReading
from greenwire.shared.wire import Quality

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0
DEVICE_EXCEPTIONS = frozenset({1, 2, 3})
"""Modbus exception codes only a present device answers with (illegal function, address, value)."""


@dataclass(slots=True)
class DeviceState:
    """What the agent knows about a device right now (reported, never used to decide data)."""

    device: str
    bus: str
    online: bool | None = None
    reads: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_read: datetime | None = None
    last_values: dict[str, float] = field(default_factory=dict)
    dropped_values: int = 0
    flagged_readings: int = 0
    """Consecutive readings whose counters were flagged (reset, jump, rollover) until a good one."""
    last_latency_ms: float | None = None
    """How long the last successful poll took, all its requests together."""
    max_power_kw: float | None = None
    """The device's plausibility limit (its own setting, else its profile's), sent in the status so
    the cloud can judge its counters without a per-meter setting."""


@dataclass(slots=True)
class _Device:
    config: DeviceConfig
    plan: ReadPlan | None
    """None for a SunSpec device not yet discovered."""
    state: DeviceState
    guard: CounterGuard
    next_due: float = 0.0
    retry_at: float = 0.0


def _guard(config: DeviceConfig, profile: Profile) -> CounterGuard:
    counters = [c for r in profile.resolved() if (c := r.counter) is not None]
    return CounterGuard(
        counters,
        max_power_kw=config.max_power_kw or profile.max_power_kw,
        max_flow_m3_per_h=config.max_flow_m3_per_h,
    )


def _device(config: DeviceConfig, bus: str) -> _Device:
    """A device's plan and counter guard, built once at start-up (SunSpec: at first contact)."""
    if config.profile == "sunspec":
        return _Device(config, None, DeviceState(config.id, bus), CounterGuard([]))
    profile = load_profile(config.profile)
    state = DeviceState(config.id, bus, max_power_kw=config.max_power_kw or profile.max_power_kw)
    return _Device(config, build_plan(profile), state, _guard(config, profile))


def next_slot(now: float, interval: float) -> float:
    """The next multiple of ``interval`` strictly after ``now`` (wall-clock aligned polls)."""
    return (math.floor(now / interval) + 1) * interval


def device_backoff(failures: int, interval: float, cap: float = MAX_BACKOFF_S) -> float:
    """A failing device's retry delay: the poll interval doubled per failure, up to ``cap``, jittered."""
    return backoff_delay(failures, start=interval, cap=cap, jitter=0.8)


class ModbusBus:
    """Polls the devices of one bus (Modbus TCP, RTU over TCP, or RTU on a serial port)."""

    def __init__(
        self,
        config: BusConfig,
        emit: Callable[[PolledReading], None],
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._emit = emit
        self._wall = wall_clock
        self._lock = asyncio.Lock()
        self._client: Any = None
        self.devices = [_device(d, config.name) for d in config.devices]

    @property
    def states(self) -> list[DeviceState]:
        return [d.state for d in self.devices]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every device on its schedule until ``stop`` is set."""
        now = self._wall()
        for device in self.devices:
            device.next_due = next_slot(now, device.config.poll_interval_s)
        try:
            while not stop.is_set():
                self._rebase_after_clock_step(self._wall())
                due = min(max(d.next_due, d.retry_at) for d in self.devices)
                delay = due - self._wall()
                if delay > 0:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                        return
                    except TimeoutError:
                        pass
                now = self._wall()
                for device in sorted(self.devices, key=lambda d: d.next_due):
                    if stop.is_set():
                        return
                    if max(device.next_due, device.retry_at) <= now:
                        await self._poll(device)
                        device.next_due = next_slot(self._wall(), device.config.poll_interval_s)
        finally:
            await self._close()

    def _rebase_after_clock_step(self, now: float) -> None:
        """Reschedule from ``now`` if the wall clock stepped back (NTP, an operator, a boot without RTC).

        Polls are aligned to the wall clock, so a step back of an hour would leave every
        due time an hour ahead and the bus silent until the clock caught up. No due time
        is legitimately more than one poll interval (or one capped backoff) ahead.
        """
        for device in self.devices:
            interval = device.config.poll_interval_s
            if device.next_due - now > interval:
                device.next_due = next_slot(now, interval)
            if device.retry_at - now > MAX_BACKOFF_S:
                device.retry_at = now + device_backoff(device.state.consecutive_failures, interval)

    async def _poll(self, device: _Device) -> None:
        state = device.state
        started = time.perf_counter()
        try:
            async with self._lock:
                ts, values = await self._read(device)
        except DeviceError as exc:
            state.errors += 1
            state.consecutive_failures += 1
            state.last_error = str(exc)
            level = logging.ERROR if state.online is not False else logging.DEBUG
            log.log(level, "device %s on bus %s: %s", state.device, self.config.name, exc)
            state.online = False
            device.retry_at = self._wall() + device_backoff(
                state.consecutive_failures, device.config.poll_interval_s
            )
            return
        if state.online is False:
            log.info(
                "device %s on bus %s answers again after %d failures",
                state.device, self.config.name, state.consecutive_failures,
            )
        state.online = True
        state.last_latency_ms = round((time.perf_counter() - started) * 1000, 3)
        state.consecutive_failures = 0
        device.retry_at = 0.0
        finite = {k: v for k, v in values.items() if math.isfinite(v)}
        state.dropped_values += len(values) - len(finite)
        if not finite:
            return
        quality = device.guard.check(ts, finite)
        if quality is not Quality.GOOD:
            # The first flag of a run is a warning with its figures; repeats are counted (and at
            # debug level) until the counters agree again, as device errors are.
            state.flagged_readings += 1
            level = logging.WARNING if state.flagged_readings == 1 else logging.DEBUG
            log.log(level, "device %s on bus %s: %s (%s)", state.device, self.config.name, quality.value,
                    device.guard.detail)
        elif state.flagged_readings:
            log.info("device %s on bus %s: counters consistent again after %d flagged readings",
                     state.device, self.config.name, state.flagged_readings)
            state.flagged_readings = 0
        state.reads += 1
        state.last_read = ts
        state.last_values = finite
        self._emit(PolledReading(state.device, ts, finite, quality))

    async def read_once(self, device_id: str) -> PolledReading:
        """Read one device once, outside the schedule (``greenwire edge probe``); raises DeviceError."""
        device = next((d for d in self.devices if d.config.id == device_id), None)
        if device is None:
            raise DeviceError(f"no device {device_id!r} on bus {self.config.name}")
        try:
            async with self._lock:
                ts, values = await self._read(device)
        finally:
            await self._close()
        return PolledReading(device_id, ts, values)

    async def try_unit(self, unit: int, function: str, address: int, count: int) -> list[int] | None:
        """One read of ``unit``: its registers, or None if it does not answer or refuses.

        For ``greenwire edge scan``; keeps the connection open between calls.
        """
        from pymodbus.exceptions import ModbusException

        async with self._lock:
            client = await self._connect()
            read = client.read_input_registers if function == "input" else client.read_holding_registers
            try:
                async with asyncio.timeout(self.config.timeout_s * (1 + self.config.retries) + 0.5):
                    response = await read(address, count=count, device_id=unit)
            except (TimeoutError, ModbusException, OSError):
                await self._close()
                return None
            if response.isError():
                return None
            return list(response.registers)

    async def answers(self, unit: int) -> bool:
        """Whether ``unit`` answers at all: one read of holding register 0, once, for a bus scan.

        A device without that register still answers, with exception 1, 2 or 3 (illegal function,
        address or value), so one request per unit id tells a device from silence. Exception 4
        (what a server answers for a unit id it does not have) and the gateway exceptions 0x0A
        and 0x0B (no path, no answer from the target) mean nobody is there, as a timeout does.
        """
        from pymodbus.exceptions import ModbusException

        async with self._lock:
            try:
                client = await self._connect()
                async with asyncio.timeout(self.config.timeout_s * (1 + self.config.retries) + 0.5):
                    response = await client.read_holding_registers(0, count=1, device_id=unit)
            except (TimeoutError, ModbusException, OSError):
                await self._close()
                return False
            return not response.isError() or getattr(response, "exception_code", 0) in DEVICE_EXCEPTIONS

    async def close(self) -> None:
        """Close the connection (``run`` closes it itself when it ends)."""
        await self._close()

    def _new_client(self) -> Any:
        """A pymodbus client for this bus; reconnects are ours (per-device backoff), not pymodbus'."""
        from pymodbus import FramerType
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

        c = self.config
        common: dict[str, Any] = {
            "timeout": c.timeout_s,
            "retries": c.retries,
            "reconnect_delay": 0,
            "name": f"bus-{c.name}",
        }
        if isinstance(c, SerialBusConfig):
            return AsyncModbusSerialClient(
                c.port, framer=FramerType.RTU, baudrate=c.baudrate, parity=c.parity,
                stopbits=c.stopbits, bytesize=c.bytesize, **common,
            )
        framer = FramerType.RTU if isinstance(c, RtuOverTcpBusConfig) else FramerType.SOCKET
        return AsyncModbusTcpClient(c.host, port=c.port, framer=framer, **common)

    async def _connect(self) -> Any:
        if self._client is not None and getattr(self._client, "connected", False):
            return self._client
        await self._close()
        client = self._new_client()
        try:
            connected = await client.connect()
        except OSError as exc:
            client.close()
            raise DeviceError(f"cannot connect to {self.config.endpoint}: {exc}") from exc
        if not connected:
            client.close()
            raise DeviceError(f"cannot connect to {self.config.endpoint}")
        self._client = client
        return client

    async def _read(self, device: _Device) -> tuple[datetime, dict[str, float]]:
        from pymodbus.exceptions import ModbusException, ModbusIOException

        client = await self._connect()
        unit = device.config.unit
        if device.plan is None:
            await self._discover(client, device)
        assert device.plan is not None
        # A device with its own (shorter) timeout is cut off at exactly that, so it never holds the
        # bus longer; otherwise pymodbus times out first and the 0.5 s is only a safety net.
        own = device.config.timeout_s
        timeout = (own or self.config.timeout_s) * (1 + self.config.retries) + (0.0 if own else 0.5)
        responses: list[Sequence[int]] = []
        ts: datetime | None = None
        try:
            for request in device.plan.requests:
                if ts is None:
                    # The reading's time is when the device was asked, to the millisecond.
                    now = self._wall()
                    ts = datetime.fromtimestamp(math.floor(now * 1000) / 1000, UTC)
                read = (
                    client.read_input_registers
                    if request.function == "input"
                    else client.read_holding_registers
                )
                # Each request has the device's whole timeout: a dead device fails on its first.
                async with asyncio.timeout(timeout):
                    response = await read(request.address, count=request.count, device_id=unit)
                if self.config.frame_gap_s:
                    await asyncio.sleep(self.config.frame_gap_s)
                if response.isError():
                    code = getattr(response, "exception_code", "?")
                    raise DeviceError(
                        f"unit {unit} answered exception code {code} to "
                        f"{request.function} registers {request.address}+{request.count}"
                    )
                responses.append(response.registers)
        except TimeoutError as exc:
            await self._close()
            raise DeviceError(f"unit {unit} did not answer within {timeout:g} s") from exc
        except ModbusIOException as exc:
            await self._close()
            tries = 1 + self.config.retries
            raise DeviceError(
                f"unit {unit} did not answer within {self.config.timeout_s:g} s "
                f"({tries} {'try' if tries == 1 else 'tries'})"
            ) from exc
        except ModbusException as exc:
            await self._close()
            raise DeviceError(f"unit {unit}: {exc}") from exc
        except OSError as exc:
            await self._close()
            raise DeviceError(f"unit {unit}: connection failed: {exc}") from exc
        assert ts is not None
        return ts, device.plan.decode(responses)

    async def _discover(self, client: Any, device: _Device) -> None:
        """Walk a SunSpec device's model chain and build its plan (once; again after a failure)."""
        from pymodbus.exceptions import ModbusException

        from greenwire.edge.sunspec import SunSpecError, build_profile, discover

        unit = device.config.unit

        async def read(address: int, count: int) -> list[int] | None:
            try:
                async with asyncio.timeout(self.config.timeout_s * (1 + self.config.retries) + 0.5):
                    response = await client.read_holding_registers(address, count=count, device_id=unit)
            except (TimeoutError, ModbusException) as exc:
                await self._close()
                raise DeviceError(f"unit {unit} did not answer SunSpec discovery at {address}") from exc
            return None if response.isError() else list(response.registers)

        try:
            found = await discover(read)
            profile = build_profile(found, name=f"sunspec-{device.config.id}")
        except SunSpecError as exc:
            raise DeviceError(f"unit {unit}: {exc}") from exc
        device.plan = build_plan(profile)
        device.guard = _guard(device.config, profile)
        log.info(
            "device %s: SunSpec %s %s (serial %s), models %s at %d: %d values in %d requests",
            device.config.id, found.manufacturer or "?", found.model or "?", found.serial or "?",
            [m.id for m in found.models], found.base, len(device.plan.slots), len(device.plan.requests),
        )

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


TcpBus = ModbusBus
"""The name of ``ModbusBus`` from when only TCP buses existed."""
