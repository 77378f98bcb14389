"""The carbon signal as BACnet/IP objects: a bacpypes3 device shell over ``encode``.

One BACnet device (``bacnet.device_instance``) answering Who-Is, ReadProperty and
ReadPropertyMultiple. For each configured building and each point of
:mod:`greenwire.cloud.bms.points`: an analog-value (numbers, in engineering units: the
scale of the Modbus map does not apply) or a multi-state-value (codes; BACnet states count
from 1, so code ``c`` is state ``c + 1``), instance ``unit x 1000 + point``, named
``{site}.{building}.{name}``. Every second (and when a signal arrives) the present values
are set from :func:`greenwire.cloud.bms.encode.point_values`; a value that is not available
is NaN with ``reliability`` ``no-sensor`` and the fault flag set, never a made-up number.
The objects are read-only (not commandable).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Self

from greenwire.cloud.bms.config import BacnetSection, BuildingPoints
from greenwire.cloud.bms.encode import point_values
from greenwire.cloud.bms.points import POINTS, Point
from greenwire.cloud.bms.source import Signals

REFRESH_S = 1.0


def instance(entry: BuildingPoints, point: Point) -> int:
    """The object instance of a building's point."""
    return entry.unit * 1000 + point.instance


def object_name(entry: BuildingPoints, point: Point) -> str:
    return f"{entry.site}.{entry.building}.{point.name}"


class BacnetSignalServer:
    """Serves ``signals`` of ``buildings`` as BACnet/IP objects at ``section.address:port``."""

    def __init__(self, signals: Signals, buildings: Sequence[BuildingPoints], section: BacnetSection, *,
                 clock: Callable[[], datetime], started_at: datetime, stale_after: timedelta) -> None:
        self.signals = signals
        self.buildings = tuple(buildings)
        self.section = section
        self.updates = 0
        self._clock = clock
        self._started_at = started_at
        self._stale_after = stale_after
        self._app: Any = None
        self._objects: dict[tuple[int, str], Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def _build(self) -> Any:
        from bacpypes3.ipv4.app import NormalApplication
        from bacpypes3.local.analog import AnalogValueObject
        from bacpypes3.local.device import DeviceObject
        from bacpypes3.local.multistate import MultiStateValueObject
        from bacpypes3.pdu import IPv4Address

        device = DeviceObject(
            objectIdentifier=("device", self.section.device_instance),
            objectName=self.section.device_name,
            vendorIdentifier=self.section.vendor_identifier,
            description="greenwire: each building's carbon signal (docs/bms.md)",
        )
        app = NormalApplication(device, IPv4Address(f"{self.section.address}:{self.section.port}"))
        for entry in self.buildings:
            for point in POINTS:
                common = {
                    "objectName": object_name(entry, point),
                    "description": f"{point.description}" + (f" ({point.unit})" if point.unit else ""),
                    "statusFlags": [0, 0, 0, 0],
                    "reliability": "noSensor",
                    "outOfService": False,
                }
                if point.states:
                    obj = MultiStateValueObject(
                        objectIdentifier=("multi-state-value", instance(entry, point)),
                        presentValue=1, numberOfStates=len(point.states), stateText=list(point.states),
                        **common,
                    )
                else:
                    obj = AnalogValueObject(
                        objectIdentifier=("analog-value", instance(entry, point)),
                        presentValue=math.nan, units=point.bacnet_unit, covIncrement=point.scale, **common,
                    )
                app.add_object(obj)
                self._objects[(entry.unit, point.name)] = obj
        return app

    def refresh(self) -> None:
        """Set every object's present value from the buildings' signals now."""
        now = self._clock()
        heartbeat = int((now - self._started_at).total_seconds()) % 65536
        for entry in self.buildings:
            values = point_values(self.signals.get(entry.site, entry.building), now, heartbeat,
                                  stale_after=self._stale_after)
            for point in POINTS:
                obj = self._objects[(entry.unit, point.name)]
                value = values[point.name]
                available = value is not None and math.isfinite(value)
                if point.states:
                    if available:
                        obj.presentValue = int(value) + 1  # type: ignore[arg-type]
                else:
                    obj.presentValue = float(value) if available else math.nan  # type: ignore[arg-type]
                obj.reliability = "noFaultDetected" if available else "noSensor"
                obj.statusFlags = [0, 0 if available else 1, 0, 0]
        self.updates += 1

    async def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self.signals.changed.clear()
            changed = asyncio.ensure_future(self.signals.changed.wait())
            stopped = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({changed, stopped}, timeout=REFRESH_S, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            stopped.cancel()

    async def start(self) -> Self:
        """Bind the UDP port and start refreshing the objects."""
        self._app = self._build()
        self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name="bms-bacnet-refresh")
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._app is not None:
            self._app.close()
            self._app = None
            await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
