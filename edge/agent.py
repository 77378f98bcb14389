"""The edge agent: buses -> collector -> disk buffer -> publisher, as one structured task group.

Data flow inside a gateway::

    ModbusBus (one per bus) --PolledReading--> collector --batch--> SqliteBuffer --> Publisher --> MQTT
          per-device schedule, backoff       every publish interval       deleted after PUBACK

The collector turns readings into ``greenwire.readings.v1`` reading objects
and writes them to the buffer every ``publish.interval_s`` (at most
``max_batch_readings`` per batch), so at most one interval of readings lives
only in memory. On stop, buses stop first, the collector writes what it has,
the publisher drains briefly and says "offline"; what is not yet published
stays on disk for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from greenwire.edge import watchdog
from greenwire.edge.config import EdgeConfig
from greenwire.edge.fhir_search import wearable_source
from greenwire.edge.modbus import DeviceState, ModbusBus
from greenwire.edge.procstats import ProcessMeter
from greenwire.edge.wearable import SourceStats, WearableSource, WearableState
from greenwire.shared.errors import BufferFull, ConfigError
from greenwire.shared.readings import PolledReading, encode_readings
from greenwire.shared.topics import vitals_topic
from greenwire.shared.version import __version__
from greenwire.shared.vitals import VITALS_SCHEMA
from greenwire.shared.wire import format_ts
from greenwire.transport.buffer import AsyncBuffer, Buffer, SqliteBuffer
from greenwire.transport.mqtt import BrokerSettings
from greenwire.transport.publisher import Publisher, PublisherStats

if TYPE_CHECKING:
    from greenwire.edge.ble_source import BleSource, ClientFactory

log = logging.getLogger(__name__)

HELD_BATCHES = 20
"""Batches of readings the agent holds in memory while its buffer cannot take them (a full disk)."""


def broker_settings(config: EdgeConfig, fallback_url: str | None = None) -> BrokerSettings:
    """Broker settings from the config's ``mqtt`` section, else from ``fallback_url`` (the local stack)."""
    from urllib.parse import urlsplit

    if config.mqtt is not None:
        m = config.mqtt
        return BrokerSettings(
            m.host, m.port, config.client_id, m.keepalive_s, m.username, m.resolved_password(), m.tls,
            ca_file=m.ca_file, cert_file=m.cert_file, key_file=m.key_file,
        )
    if fallback_url is None:
        raise ConfigError(
            "no mqtt section and no local stack: add mqtt.url to the config or run `greenwire stack up`"
        )
    parts = urlsplit(fallback_url)
    return BrokerSettings(parts.hostname or "127.0.0.1", parts.port or 1883, config.client_id)




@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """A moment's view of the agent, for the demo's live table and status messages."""

    devices: tuple[DeviceState, ...]
    buffer_readings: int
    buffer_batches: int
    dropped_readings: int
    publisher: PublisherStats
    wearables: tuple[SourceStats, ...] = ()
    vitals_buffer_observations: int = 0
    vitals_publisher: PublisherStats | None = None


class EdgeAgent:
    """One gateway's agent. ``await agent.run(stop)`` until ``stop`` is set."""

    def __init__(
        self,
        config: EdgeConfig,
        broker: BrokerSettings,
        *,
        buffer: Buffer | None = None,
        vitals_buffer: Buffer | None = None,
        on_reading: Callable[[PolledReading], None] | None = None,
        ble_client: ClientFactory | None = None,
    ) -> None:
        """``ble_client`` makes the BLE client of a device address (bleak's by default; a fake in tests)."""
        self.config = config
        self._buffer = AsyncBuffer(
            buffer or SqliteBuffer(config.buffer_path, max_readings=config.buffer.max_readings)
        )
        self._pending: list[PolledReading] = []
        self.buffer_error: str | None = None
        """Why the buffer refused the last write (a full disk), while it does."""
        self.unbuffered_dropped = 0
        """Readings dropped from memory while the buffer could not take them (never on disk)."""
        self._on_reading = on_reading
        self.buses = [ModbusBus(bus, self._collect) for bus in config.buses]
        self.publisher = Publisher(
            broker,
            config.site,
            config.gateway,
            self._buffer,
            max_inflight=config.publish.max_inflight,
            health=self.health,
            status_interval_s=config.publish.status_interval_s,
            resend_after_s=config.publish.resend_after_s,
            commit_wait_s=config.publish.commit_wait_s,
        )
        self._process = ProcessMeter()
        # Health data has its own buffer file, state, and MQTT connection: never mixed with meter readings.
        self.wearables: list[WearableSource] = []
        self.ble: BleSource | None = None
        self.vitals_publisher: Publisher | None = None
        self._vitals_buffer: AsyncBuffer | None = None
        self._wearable_state: WearableState | None = None
        if config.wearables is not None:
            w = config.wearables
            self._vitals_buffer = AsyncBuffer(
                vitals_buffer or SqliteBuffer(config.vitals_buffer_path, max_readings=w.max_observations)
            )
            self._wearable_state = WearableState(config.wearable_state_path)
            pseudonymise = w.pseudonymiser()
            self.wearables = [
                wearable_source(source, w, self._vitals_buffer, self._wearable_state, pseudonymise=pseudonymise)
                for source in w.sources
            ]
            if w.ble:
                from greenwire.edge.ble_source import BleDevice, BleSource, bleak_client

                self.ble = BleSource([BleDevice(d.id, d.address.upper(), d.services) for d in w.ble],
                                     "\n".join(w.consent_lines()), pseudonymise, self._vitals_buffer,
                                     client_factory=ble_client or bleak_client)
            self.vitals_publisher = Publisher(
                dataclasses.replace(broker, client_id=f"{broker.client_id}-vitals"),
                config.site,
                config.gateway,
                self._vitals_buffer,
                max_inflight=config.publish.max_inflight,
                announce=False,
                topic=vitals_topic(config.site, config.gateway),
                schema=VITALS_SCHEMA,
                items="observations",
                resend_after_s=config.publish.resend_after_s,
                commit_wait_s=config.publish.commit_wait_s,
            )

    async def health(self) -> dict[str, object]:
        """What the retained status reports: the agent, its devices, its buffer, its process."""
        snap = self.snapshot()
        oldest_ms = await self._buffer.oldest_ts_ms()
        now_ms = time.time() * 1000
        return {
            "version": __version__,
            "config_hash": self.config.config_hash,
            "devices": [
                {
                    "device": d.device,
                    "bus": d.bus,
                    "online": d.online,
                    "reads": d.reads,
                    "errors": d.errors,
                    "poll_latency_ms": d.last_latency_ms,
                    "last_read": format_ts(d.last_read) if d.last_read else None,
                    **({"max_power_kw": d.max_power_kw} if d.max_power_kw is not None else {}),
                }
                for d in snap.devices
            ],
            "buffer": {
                "readings": snap.buffer_readings,
                "batches": snap.buffer_batches,
                "oldest_reading_age_s": None if oldest_ms is None else round((now_ms - oldest_ms) / 1000, 3),
                "dropped_readings": snap.dropped_readings,
            },
            "process": self._process.sample(),
            **self._wearables_health(snap),
            "delivery": self.publisher.delivery(),
            **({"buffer_error": self.buffer_error[:200]} if self.buffer_error else {}),
            **({"unbuffered_dropped": self.unbuffered_dropped} if self.unbuffered_dropped else {}),
        }

    def _wearables_health(self, snap: AgentSnapshot) -> dict[str, object]:
        """Counts only: the status message is not a place for identifiers or values."""
        if not self.wearables:
            return {}
        return {
            "wearables": [
                {
                    "source": w.source,
                    "online": w.online,
                    "polls": w.polls,
                    "errors": w.errors,
                    "received": w.received,
                    "forwarded": w.forwarded_observations,
                    "rejected": dict(sorted(w.rejected.items())),
                    "last_poll": format_ts(w.last_poll) if w.last_poll else None,
                    "throttled": w.throttled,
                    "search_restarts": w.search_restarts,
                }
                for w in snap.wearables
            ],
            "vitals_buffer": {
                "observations": snap.vitals_buffer_observations,
                "published": snap.vitals_publisher.published_readings if snap.vitals_publisher else 0,
            },
        }

    def _collect(self, reading: PolledReading) -> None:
        self._pending.append(reading)
        if self._on_reading is not None:
            self._on_reading(reading)

    def snapshot(self) -> AgentSnapshot:
        buf = self._buffer.buffer
        return AgentSnapshot(
            devices=tuple(s for bus in self.buses for s in bus.states),
            buffer_readings=buf.depth_readings,
            buffer_batches=buf.depth_batches,
            dropped_readings=buf.dropped_readings,
            publisher=self.publisher.stats,
            wearables=tuple(w.stats for w in self.wearables),
            vitals_buffer_observations=self._vitals_buffer.buffer.depth_readings if self._vitals_buffer else 0,
            vitals_publisher=self.vitals_publisher.stats if self.vitals_publisher else None,
        )

    async def _flush(self) -> None:
        """Write the readings polled since the last flush to the buffer, a batch at a time.

        A full disk (SQLite's "database or disk is full") does not stop the agent: the readings
        stay in memory and go to the buffer as soon as there is room (the cloud's commits free
        pages the buffer reuses), and polling goes on. Only what exceeds ``HELD_BATCHES`` batches
        in memory is dropped, newest kept, counted in ``unbuffered_dropped``: those readings were
        never on disk. What the buffer has stored is never touched. The status says so
        (``buffer_error``) while it lasts.
        """
        limit = self.config.publish.max_batch_readings
        while self._pending:
            chunk = self._pending[:limit]
            first_ms = int(min(r.ts for r in chunk).timestamp() * 1000)
            try:
                await self._buffer.append(encode_readings(chunk), len(chunk), first_ms)
            except BufferFull as exc:
                self._buffer_full(exc)
                return
            self._pending = self._pending[limit:]
            if self.buffer_error is not None:
                log.info("the buffer takes readings again after %s; %d readings were dropped while it could not",
                         self.buffer_error, self.unbuffered_dropped)
                self.buffer_error = None

    def _buffer_full(self, exc: BufferFull) -> None:
        """The buffer refused a write (disk full): hold the readings, bounded, and say so."""
        first = self.buffer_error is None
        self.buffer_error = str(exc)
        held = HELD_BATCHES * self.config.publish.max_batch_readings
        if len(self._pending) > held:
            self.unbuffered_dropped += len(self._pending) - held
            self._pending = self._pending[-held:]
        log.log(logging.ERROR if first else logging.DEBUG,
                "cannot write the buffer %s: %s; polling goes on, %d readings held in memory (at most %d)",
                self.config.buffer_path, exc, len(self._pending), held)

    async def _collector(self, stop: asyncio.Event) -> None:
        interval = self.config.publish.interval_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            await self._flush()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop``; then stop polling, persist what was read, drain, disconnect."""
        polling_stopped = asyncio.Event()
        publisher_stop = asyncio.Event()
        log.info(
            "gateway %s (site %s): %d devices on %d buses, buffer %s",
            self.config.gateway, self.config.site,
            sum(len(b.devices) for b in self.buses), len(self.buses), self.config.buffer_path,
        )
        if self.wearables:
            log.info("%d wearable hubs, vitals buffer %s, pseudonym key %s",
                     len(self.wearables), self.config.vitals_buffer_path, self.config.wearables.key_id
                     if self.config.wearables else "-")
        try:
            async with asyncio.TaskGroup() as group:
                for bus in self.buses:
                    group.create_task(bus.run(polling_stopped), name=f"bus-{bus.config.name}")
                group.create_task(self._collector(polling_stopped), name="collector")
                for source in self.wearables:
                    group.create_task(source.run(polling_stopped), name=f"wearable-{source.config.id}")
                if self.ble is not None:
                    group.create_task(self.ble.run(polling_stopped), name="ble")
                group.create_task(self.publisher.run(publisher_stop), name="publisher")
                group.create_task(watchdog.run(publisher_stop), name="sd-notify")
                if self.vitals_publisher is not None:
                    group.create_task(self.vitals_publisher.run(publisher_stop), name="vitals-publisher")
                await stop.wait()
                polling_stopped.set()
                # Let the buses and the collector finish (the collector writes its last batch).
                await asyncio.sleep(0)
                await self._flush()
                publisher_stop.set()
        finally:
            await self._flush()
            await self._buffer.close()
            if self._vitals_buffer is not None:
                await self._vitals_buffer.close()
            if self._wearable_state is not None:
                self._wearable_state.close()

