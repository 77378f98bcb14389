"""The BMS bridge service (``greenwire bms modbus`` / ``greenwire bms bacnet``).

One ``asyncio.TaskGroup``: ``bms-signals`` follows the buildings' retained carbon signals on
the broker (:func:`greenwire.cloud.bms.source.follow`, reconnecting with backoff), and the
protocol server (Modbus TCP or BACnet/IP) serves what it holds; ``bms-server`` waits for the
stop. Until the first signal of a building arrives its points say "no signal"
(``status_code`` 2) rather than a number; a broker outage leaves the last signals served,
with their age growing and ``status_code`` turning to 1 (stale) after ``stale_after_s``.
SIGTERM or SIGINT stops both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from greenwire.cloud.bms.bacnet import BacnetSignalServer
from greenwire.cloud.bms.config import BmsConfig
from greenwire.cloud.bms.modbus import ModbusSignalServer
from greenwire.cloud.bms.source import Signals, follow
from greenwire.shared.lifecycle import install_signal_handlers
from greenwire.transport.mqtt import BrokerSettings

log = logging.getLogger(__name__)

Protocol = Literal["modbus", "bacnet"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BmsService:
    """Serves the configured buildings' carbon signals over ``protocol``."""

    def __init__(self, config: BmsConfig, broker: BrokerSettings, protocol: Protocol, *,
                 clock: Callable[[], datetime] = _utc_now,
                 ready: Callable[[str], None] = log.info) -> None:
        self.config = config
        self.broker = broker
        self.protocol = protocol
        self.signals = Signals(tuple((b.site, b.building) for b in config.buildings))
        self.subscribed = asyncio.Event()
        self._clock = clock
        self._ready = ready
        stale = timedelta(seconds=config.stale_after_s)
        started = clock()
        self.server: ModbusSignalServer | BacnetSignalServer
        if protocol == "modbus":
            self.server = ModbusSignalServer(self.signals, config.buildings, host=config.modbus.host,
                                             port=config.modbus.port, clock=clock, started_at=started,
                                             stale_after=stale)
        else:
            self.server = BacnetSignalServer(self.signals, config.buildings, config.bacnet, clock=clock,
                                             started_at=started, stale_after=stale)

    def where(self) -> str:
        """Where the server listens, for the start-up line."""
        if isinstance(self.server, ModbusSignalServer):
            return f"Modbus TCP on {self.server.host}:{self.server.port}"
        section = self.server.section
        return f"BACnet/IP on {section.address} port {section.port} (device {section.device_instance})"

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop``."""
        async with self.server, asyncio.TaskGroup() as group:
            group.create_task(follow(self.signals, self.broker, stop, connected=self.subscribed),
                              name="bms-signals")
            self._ready(f"serving {len(self.config.buildings)} building(s) {self.where()}; carbon signals from "
                        f"{self.broker.host}:{self.broker.port}")
            group.create_task(stop.wait(), name="bms-server")


async def serve(service: BmsService) -> None:
    """Run ``service`` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    install_signal_handlers(stop)
    await service.run(stop)
