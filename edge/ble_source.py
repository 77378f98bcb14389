"""Bluetooth LE health devices as an edge source: subscribe, parse, pseudonymise, buffer.

Per device, one task::

    connect (bleak's BleakClient, or any client of the same interface) --> start_notify on the
    measurement characteristics of its services --> each notification:
        greenwire.edge.ble (parse per the Bluetooth SIG specifications)
        --> the participant bound to the device's address in the consent file, pseudonymised
        --> plausibility (the vital's physiological range) --> pending observations
    every ``flush_s``: one vitals batch in the SQLite buffer (the path FHIR observations take)

A device is bound to a participant by a consent-file line ``Patient/pat-7 ble=C4:7C:8D:6A:12:3F``;
a device without a binding is never connected, so nobody else's data is read at all. A device
that is out of range or refuses is retried with capped backoff while the other devices go on.
Logs name the device's configured id, never its address, the participant or a value.

Not tested on hardware (no Bluetooth adapter where the tests run): the parsers are tested with
byte vectors built from the specifications, and this source against a fake client with bleak's
interface (``connect``, ``disconnect``, ``is_connected``, ``start_notify``, ``stop_notify``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from greenwire.edge.ble import CHARACTERISTICS, SERVICES, Absent, BleParseError, Measurement, vitals
from greenwire.edge.fhir import Pseudonymiser, consent_key
from greenwire.shared.backoff import Backoff
from greenwire.shared.vitals import VITAL_SIGNS, VitalObservation
from greenwire.transport.buffer import AsyncBuffer

log = logging.getLogger(__name__)

ADDRESS: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
BINDING: Final = re.compile(r"\bble=([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\b")


class GattClient(Protocol):
    """What the source needs of a BLE client: bleak's ``BleakClient`` has exactly this."""

    @property
    def is_connected(self) -> bool: ...

    async def connect(self) -> Any: ...

    async def disconnect(self) -> Any: ...

    async def start_notify(self, char_specifier: str, callback: Callable[[Any, bytearray], None]) -> None: ...

    async def stop_notify(self, char_specifier: str) -> None: ...


ClientFactory = Callable[[str], GattClient]
"""A client for a device address (``bleak.BleakClient`` on a gateway, a fake in tests)."""


def bleak_client(address: str) -> GattClient:
    """bleak's client for ``address`` (the ``edge`` extra's bleak; BlueZ on a Raspberry Pi)."""
    from bleak import BleakClient

    client: GattClient = BleakClient(address, timeout=20.0)
    return client


def bindings(consent_text: str) -> dict[str, str]:
    """Device address (upper case) -> the participant's consent key, from ``ble=`` on consent lines.

    Two participants bound to one device is a config error: a reading could not say whose it is.
    """
    found: dict[str, str] = {}
    for number, raw in enumerate(consent_text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        match = BINDING.search(line)
        if not line or match is None:
            continue
        address = match.group(1).upper()
        subject = consent_key(BINDING.sub("", line).strip())
        if address in found and found[address] != subject:
            raise ValueError(f"consent line {number}: device {address} is already bound to another participant")
        found[address] = subject
    return found


@dataclass(frozen=True, slots=True)
class BleDevice:
    """A configured device: the gateway's id for it, its address and the services it offers."""

    id: str
    address: str
    services: tuple[str, ...] = tuple(SERVICES)

    def __post_init__(self) -> None:
        if not ADDRESS.match(self.address):
            raise ValueError(f"device {self.id}: {self.address!r} is not a Bluetooth address (AA:BB:CC:DD:EE:FF)")
        unknown = set(self.services) - set(SERVICES)
        if unknown:
            raise ValueError(f"device {self.id}: unknown services {sorted(unknown)} (known: {', '.join(SERVICES)})")


@dataclass(slots=True)
class BleStats:
    """Counters of one device, for the status message and tests (no identifiers, no values)."""

    connected: bool = False
    connects: int = 0
    notifications: int = 0
    forwarded: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None


class BleSource:
    """The gateway's BLE health devices: one task a device, batches into the vitals buffer."""

    def __init__(self, devices: list[BleDevice], consent_text: str, pseudonymise: Pseudonymiser,
                 buffer: AsyncBuffer, *, client_factory: ClientFactory = bleak_client, flush_s: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), retry_start_s: float = 2.0) -> None:
        self._bound = bindings(consent_text)
        self.devices = [d for d in devices if d.address.upper() in self._bound]
        self.unbound = [d.id for d in devices if d.address.upper() not in self._bound]
        self._pseudonymise = pseudonymise
        self._buffer = buffer
        self._factory = client_factory
        self._flush_s = flush_s
        self._clock = clock
        self._retry_start_s = retry_start_s
        self._pending: list[VitalObservation] = []
        self.stats = {d.id: BleStats() for d in self.devices}
        if self.unbound:
            log.warning("%d BLE device(s) bound to no consenting participant are not connected: %s",
                        len(self.unbound), ", ".join(self.unbound))

    def _notified(self, device: BleDevice, parse: Callable[[bytes], Measurement], _sender: object,
                  data: bytearray) -> None:
        self.receive(device, parse, bytes(data))

    def receive(self, device: BleDevice, parse: Callable[[bytes], Measurement], data: bytes) -> None:
        """One notification of ``device``: parsed, mapped and kept for the next batch."""
        stats = self.stats[device.id]
        stats.notifications += 1
        try:
            measurement = parse(bytes(data))
        except BleParseError:
            stats.rejected["malformed"] += 1
            return
        if getattr(measurement, "contact", None) is False:
            stats.rejected["no_skin_contact"] += 1
            return
        subject = self._pseudonymise(self._bound[device.address.upper()])
        received = self._clock()
        for code, value, at in vitals(measurement):
            if isinstance(value, Absent):
                stats.rejected["data_absent"] += 1
                continue
            sign = VITAL_SIGNS[code]
            if not sign.low <= value <= sign.high:
                stats.rejected["implausible"] += 1
                continue
            when = at if at is not None and at <= received else received
            self._pending.append(VitalObservation(ts=when, subject=subject, code=code, value=value,
                                                  unit=sign.unit, device=device.id))
            stats.forwarded += 1

    async def flush(self) -> int:
        """Write what is pending as one vitals batch; returns how many observations."""
        from greenwire.edge.wearable import encode_observations

        pending, self._pending = self._pending, []
        if not pending:
            return 0
        first_ms = int(min(o.ts for o in pending).timestamp() * 1000)
        await self._buffer.append(encode_observations(pending), len(pending), first_ms)
        return len(pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Every device's task and the flusher, until ``stop``; what is pending is flushed at the end."""
        try:
            async with asyncio.TaskGroup() as group:
                for device in self.devices:
                    group.create_task(self._device(device, stop), name=f"ble-{device.id}")
                group.create_task(self._flusher(stop), name="ble-flush")
        finally:
            await self.flush()

    async def _flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._flush_s)
            await self.flush()

    async def _device(self, device: BleDevice, stop: asyncio.Event) -> None:
        stats = self.stats[device.id]
        backoff = Backoff(start=self._retry_start_s, cap=120.0)
        wanted = [c for c in CHARACTERISTICS if c.service in {SERVICES[s] for s in device.services}]
        while not stop.is_set():
            client = self._factory(device.address)
            try:
                await client.connect()
                stats.connected, stats.connects = True, stats.connects + 1
                for characteristic in wanted:
                    parse: Any = characteristic.parse
                    await client.start_notify(characteristic.uuid, functools.partial(self._notified, device, parse))
                if backoff.failures:
                    log.info("BLE device %s connected again", device.id)
                backoff.ok()
                while client.is_connected and not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                if stop.is_set():
                    return
                raise ConnectionError("the device disconnected")
            except Exception as exc:
                # Contained per device (a wearable out of range must not stop the others);
                # the reason is kept and the device retried with backoff.
                stats.connected = False
                stats.last_error = type(exc).__name__
                delay = backoff.failed()
                log.log(logging.WARNING if backoff.failures == 1 else logging.DEBUG,
                        "BLE device %s: %s; retrying in %.0f s", device.id, type(exc).__name__, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            finally:
                stats.connected = False
                with contextlib.suppress(Exception):
                    await client.disconnect()
