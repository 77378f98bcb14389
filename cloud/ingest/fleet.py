"""The gateway-status consumer: every gateway's retained status into ``gateway_status``/``gateway_device``.

It runs beside the readings pipeline, on a connection of its own (client id
``{client_id}-status``, persistent session, a plain QoS 1 subscription to
``greenwire/v1/+/+/status``), so that:

- every ingestor sees every gateway's status, retained ones included (a shared
  subscription is never sent retained messages); writes are idempotent (series and
  ``ts``), so several ingestors storing the same status store it once;
- status traffic never mixes with the readings' flushes, acknowledgement order or counters.

Each message is validated (:func:`greenwire.cloud.ingest.status.status_points`), written, then
acknowledged. InfluxDB down: retried with capped backoff, unacknowledged, so the
broker keeps it. Invalid, or refused by InfluxDB: an ``ingest_rejected`` point and a
record in the rejected-message store, then acknowledged (nothing is silently dropped).
An empty message (a retained status being cleared) is acknowledged and not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from greenwire.cloud.adapters.mqtt import Consumer, Delivery
from greenwire.cloud.ingest.points import BuildingLookup, rejected_line
from greenwire.cloud.ingest.rejects import RejectRecord, RejectStore
from greenwire.cloud.ingest.status import StatusAccepted, status_ids, status_points
from greenwire.cloud.ingest.validate import RejectReason
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import StoreError, StoreRejected
from greenwire.shared.topics import status_filter

if TYPE_CHECKING:
    from greenwire.cloud.adapters.influx import Writer
    from greenwire.cloud.ingest.config import IngestConfig

log = logging.getLogger(__name__)


class StatusIngest:
    """Stores gateway status messages. ``await StatusIngest(...).run(writer, stop)``."""

    def __init__(self, config: IngestConfig, rejects: RejectStore, *, building_of: BuildingLookup | None = None) -> None:
        mqtt = config.mqtt.model_copy(update={"client_id": f"{config.mqtt.client_id}-status"[:128]})
        self.consumer = Consumer(mqtt, topic_filter=status_filter())
        self.rejects = rejects
        self.max_future_s = config.limits.max_future_s
        self.building_of = building_of
        self.stored = 0
        self.rejected = 0
        self._writer: Callable[[], Writer | None] = lambda: None
        self._stop = asyncio.Event()

    async def _deliver(self, delivery: Delivery) -> None:
        if not delivery.payload:
            # An empty retained message clears the topic (a gateway taken out of service): nothing to store.
            self.consumer.ack([delivery])
            return
        received = datetime.now(UTC)
        outcome = status_points(delivery.topic, delivery.payload, received=received,
                                max_future_s=self.max_future_s, building_of=self.building_of)
        failures = 0
        while True:
            writer = self._writer()
            if writer is None or self._stop.is_set():
                return  # not acknowledged: the broker sends it again
            try:
                if isinstance(outcome, StatusAccepted):
                    try:
                        await writer.write(outcome.lines)
                        self.stored += 1
                    except StoreRejected as exc:
                        await self._reject(writer, delivery, received, RejectReason.STORE_REJECTED.value, str(exc))
                else:
                    await self._reject(writer, delivery, received, outcome.reason.value, outcome.detail)
                break
            except (StoreError, OSError) as exc:
                failures += 1
                log.log(logging.ERROR if failures == 1 else logging.DEBUG,
                        "gateway status not stored: %s; retrying (attempt %d)", exc, failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff_delay(failures))
        self.consumer.ack([delivery])

    async def _reject(self, writer: Writer, delivery: Delivery, received: datetime, reason: str, detail: str) -> None:
        ids = status_ids(delivery.topic)
        line = rejected_line(reason, size=len(delivery.payload), received_ns=time.time_ns(),
                             site=ids[0] if ids else None, gateway=ids[1] if ids else None)
        with contextlib.suppress(StoreRejected):
            await writer.write([line])
        record = RejectRecord(received_at=received, topic=delivery.topic, reason=reason, detail=detail,
                              payload=delivery.payload)
        await asyncio.to_thread(self.rejects.append, [record])
        self.rejected += 1
        log.warning("gateway status on %s rejected: %s: %s", delivery.topic, reason, detail)

    async def run(self, writer: Callable[[], Writer | None], stop: asyncio.Event) -> None:
        """Consume until ``stop``."""
        self._writer = writer
        self._stop = stop
        await self.consumer.run(self._deliver, stop)
