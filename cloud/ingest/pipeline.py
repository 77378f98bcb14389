"""The ingestor: MQTT → validate → line protocol → InfluxDB → acknowledge, as one task group.

Two tasks share one "open flush" (a list of messages in arrival order):

- ``ingest-mqtt`` (:class:`greenwire.cloud.adapters.mqtt.Consumer`) receives a message, validates
  it at once and appends it with its lines (accepted; one buffer per message, the codec's
  newline-joined lines and their count) or its reject record.
  When the open flush holds ``max_lines`` lines it waits: that, plus the
  broker's Receive Maximum, is the backpressure that keeps memory bounded
  while InfluxDB is slow or down.
- ``ingest-writer`` takes the open flush when it is full or its first message
  has waited ``max_delay_s``, and stores it::

      1. the readings' lines, one request per <= max_lines lines (the messages' buffers
         joined into the body; a message is split only if it alone holds more); if InfluxDB
         refuses a request (StoreRejected), bisect it down to the messages it
         refuses, which become rejects with reason ``store_rejected``
      2. one ``ingest_rejected`` point per reject
      3. the reject records to the JSON-lines store, fsynced
      4. PUBACK every message of the flush, in arrival order
      5. the seqs now stored go into the commit book (:mod:`greenwire.cloud.ingest.commits`),
         which publishes them as ``greenwire.commit.v1``, one message per gateway, on its own
         task: the writer does not wait for the commits' PUBACKs

  Steps 1 and 2 are idempotent, so when InfluxDB is unreachable (StoreError)
  the whole flush is retried with capped backoff, forever, and nothing is
  acknowledged or dropped. A message is acknowledged only after its points
  are stored; a crash before that means redelivery, and the rewrite
  overwrites the same series and timestamps.

On ``stop``: stop taking messages, store and acknowledge the open flush
(for at most ``drain_timeout_s`` if InfluxDB is down; whatever is left is
not acknowledged and comes back on the next start), then disconnect.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from greenwire.cloud.adapters.influx import Writer, make_writer
from greenwire.cloud.adapters.mqtt import Consumer, Delivery
from greenwire.cloud.ingest.commits import CommitBook, CommitPublisher, seq_of
from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.fastpath import Encoded, make_codec
from greenwire.cloud.ingest.fleet import StatusIngest
from greenwire.cloud.ingest.points import BuildingLookup, rejected_line
from greenwire.cloud.ingest.rejects import MAX_STORED_PAYLOAD, RejectRecord, RejectStore
from greenwire.cloud.ingest.selfmetrics import SelfMetrics
from greenwire.cloud.ingest.validate import RejectReason, topic_ids
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import StoreError, StoreRejected
from greenwire.transport.mqtt import BrokerSettings

log = logging.getLogger(__name__)

RETRY_START_S: Final = 0.5
RETRY_CAP_S: Final = 30.0
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class IngestStats:
    """Counters since start. Message counts are of committed (acknowledged) flushes."""

    received_messages: int = 0
    accepted_messages: int = 0
    readings_written: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    acked_messages: int = 0
    stale_messages: int = 0
    """Not acknowledged because their connection was lost; the broker sends them again."""
    flushes: int = 0
    write_retries: int = 0
    reject_points_refused: int = 0
    last_write_latency_s: float | None = None
    pending_messages: int = 0
    commit_messages: int = 0
    """Commit messages the broker acknowledged (at most one per gateway per flush)."""

    @property
    def rejected_total(self) -> int:
        """All rejected messages, whatever the reason."""
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One log line."""
        reasons = ", ".join(f"{r}={n}" for r, n in sorted(self.rejected.items()))
        latency = "-" if self.last_write_latency_s is None else f"{self.last_write_latency_s * 1000:.1f} ms"
        return (
            f"received {self.received_messages} msgs, accepted {self.accepted_messages}, "
            f"readings written {self.readings_written}, rejected {self.rejected_total}"
            f"{f' ({reasons})' if reasons else ''}, acked {self.acked_messages}, "
            f"pending {self.pending_messages}, write retries {self.write_retries}, "
            f"last write {latency}"
        )


@dataclass(frozen=True, slots=True)
class _Stored:
    """A flush that is stored: its messages (those of a lost connection left out) and those of
    them InfluxDB refused (recorded as rejected)."""

    items: list[_Item]
    refused: list[_Item]


@dataclass(slots=True, eq=False)
class _Item:
    """One message on its way: its lines if accepted, else why it is rejected."""

    delivery: Delivery
    received_ns: int
    data: bytes
    """Its lines, UTF-8, joined by newlines (empty for a reject)."""
    readings: int
    """How many lines ``data`` holds."""
    reason: str | None = None
    detail: str = ""
    size: int = 0
    """The payload's size as received (a rejected item keeps only its first bytes)."""
    seq: int | None = None
    """The batch's seq, for the commit to its gateway (None if the payload has none)."""
    ids: tuple[str, str] | None = None
    """``(site, gateway)`` of its topic, for the commit and the reject point (None if not a readings topic)."""

    @property
    def weight(self) -> int:
        """Its share of a flush's ``max_lines`` (a reject counts as one)."""
        return self.readings or 1


def _chunks(items: Sequence[_Item], max_lines: int) -> Iterator[list[_Item]]:
    """Consecutive groups of items with at most ``max_lines`` lines (a bigger item alone)."""
    group: list[_Item] = []
    size = 0
    for item in items:
        if group and size + item.readings > max_lines:
            yield group
            group, size = [], 0
        group.append(item)
        size += item.readings
    if group:
        yield group


YIELD_EVERY_S: Final = 0.001
"""While a flush is being stored, validation gives the event loop a turn this often."""

SHUTDOWN_GRACE_S: Final = 10.0
"""How long the ingestor's other parts may take to stop once its last write is done."""


class Ingestor:
    """MQTT to InfluxDB for every gateway of the fleet. ``await Ingestor(config).run(stop)``."""

    def __init__(
        self,
        config: IngestConfig,
        *,
        building_of: BuildingLookup | None = None,
        writer: Writer | None = None,
        drain_timeout_s: float = 10.0,
        stats_interval_s: float = 10.0,
    ) -> None:
        self.config = config
        self.stats = IngestStats()
        self.consumer = Consumer(config.mqtt)
        self.rejects = RejectStore(config.state_dir)
        self.status = StatusIngest(config, self.rejects, building_of=building_of)
        self.selfmetrics = SelfMetrics(config.mqtt.client_id, interval_s=stats_interval_s)
        self.commits = CommitBook("readings")
        mqtt = config.mqtt
        self.commit_publisher = CommitPublisher(
            BrokerSettings.of(mqtt, f"{mqtt.client_id}-commit", username=mqtt.username,
                              password=mqtt.resolved_password(), keepalive_s=mqtt.keepalive_s),
            self.commits)
        """The commits to gateways, at QoS 1 on a connection of their own (the consumer's account)."""
        self._codec = make_codec(config.validation, config.limits, building_of)
        self._writer = writer
        self._owns_writer = writer is None
        self._drain_timeout_s = drain_timeout_s
        self._stats_interval_s = stats_interval_s
        self._max_lines = config.batch.max_lines
        self._max_delay_s = config.batch.max_delay_s
        self._max_in_flight = config.batch.max_in_flight
        # The open flush and the events that coordinate the two tasks (one event loop, no locks).
        self._open: list[_Item] = []
        self._open_weight = 0
        self._open_deadline = 0.0
        self._has_work = asyncio.Event()
        self._full = asyncio.Event()
        self._room = asyncio.Event()
        self._stored = asyncio.Event()
        self._rejects_lock = asyncio.Lock()
        self._closing = asyncio.Event()
        self._abandon = asyncio.Event()
        self._disconnect = asyncio.Event()
        self._last_ns = 0
        self._storing = False
        self._yield_at = 0.0

    # -- receiving -------------------------------------------------------------------------

    def _receipt_ns(self) -> int:
        """Wall-clock receipt time, strictly increasing so reject points never collide."""
        now = time.time_ns()
        self._last_ns = now if now > self._last_ns else self._last_ns + 1
        return self._last_ns

    async def _deliver(self, delivery: Delivery) -> None:
        """Validate a message and add it to the open flush (waits while the open flush is full)."""
        if self._storing:
            # Messages already queued in the client are handed over without yielding to the
            # event loop, so validating them back to back would hold up the write in flight:
            # its request body goes out, and its answer comes in, only when the loop runs.
            # Yield every YIELD_EVERY_S so that validation and the write overlap (once per
            # message cost an event-loop round, a select() call, per message).
            now = time.monotonic()
            if now >= self._yield_at:
                await asyncio.sleep(0)
                self._yield_at = now + YIELD_EVERY_S
        while self._open_weight >= self._max_lines or self._closing.is_set():
            if self._closing.is_set():
                # Shutting down: leave this message unacknowledged; the broker keeps it.
                await self._disconnect.wait()
                return
            self._room.clear()
            await self._room.wait()
        received_ns = self._receipt_ns()
        outcome = self._codec.encode(delivery.topic, delivery.payload, received_ns)
        if isinstance(outcome, Encoded):
            item = _Item(delivery, received_ns, outcome.data, outcome.count, size=len(delivery.payload),
                         seq=outcome.seq, ids=(outcome.site, outcome.gateway))
            self.selfmetrics.observe_span(outcome.site, outcome.gateway, outcome.count, outcome.oldest_ns,
                                          outcome.newest_ns, received_ns)
        else:
            size = len(delivery.payload)
            seq = seq_of(delivery.payload)
            if size > MAX_STORED_PAYLOAD:
                # Hold no more of a bad message than the reject store keeps: a stream of big
                # bad messages while InfluxDB is down must not be held whole.
                delivery = dataclasses.replace(delivery, payload=delivery.payload[:MAX_STORED_PAYLOAD])
            item = _Item(delivery, received_ns, b"", 0, outcome.reason.value, outcome.detail, size, seq,
                         topic_ids(delivery.topic))
        self.stats.received_messages += 1
        if not self._open:
            self._open_deadline = asyncio.get_running_loop().time() + self._max_delay_s
            self._has_work.set()
        self._open.append(item)
        self._open_weight += item.weight
        self.stats.pending_messages += 1
        if self._open_weight >= self._max_lines:
            self._full.set()

    # -- storing ---------------------------------------------------------------------------

    async def _writer_loop(self) -> None:
        """Take the open flush when it is full, old enough, or on shutdown, and store it; up to
        ``batch.max_in_flight`` flushes are written at once, and each is acknowledged only when it
        and every flush before it are stored (PUBACKs go in the order the messages came, as MQTT
        requires, and a gateway's commits name only what is stored)."""
        loop = asyncio.get_running_loop()
        flushes: deque[asyncio.Task[_Stored | None]] = deque()
        try:
            while True:
                self._stored.clear()
                self._has_work.clear()
                self._full.clear()
                while flushes and flushes[0].done():
                    stored = flushes.popleft().result()
                    if stored is not None:
                        self._acknowledge(stored)
                self._storing = bool(flushes)
                closing = self._closing.is_set()
                if not self._open and not flushes and closing:
                    return
                room = len(flushes) < self._max_in_flight
                delay = self._open_deadline - loop.time()
                if self._open and room and (closing or self._open_weight >= self._max_lines or delay <= 0):
                    items, self._open, self._open_weight = self._open, [], 0
                    self._room.set()
                    task = asyncio.create_task(self._store_retrying(items), name="ingest-flush")
                    task.add_done_callback(lambda _: self._stored.set())
                    flushes.append(task)
                    self._storing = True
                    continue
                # Wait for a flush to be stored, the open one to fill or age, the first message
                # of a new one, or shutdown.
                events = [self._stored] if closing else [self._stored, self._closing]
                if room:
                    events.append(self._full if self._open else self._has_work)
                await _wait_any(*events, limit_s=delay if self._open and room else None)
        finally:
            for task in flushes:
                task.cancel()
            self._storing = False

    async def _store_retrying(self, items: list[_Item]) -> _Stored | None:
        """Store a flush, retrying with backoff while InfluxDB (or the reject store) fails; None
        if the ingestor is abandoning its work, or nothing of the flush is left to store."""
        failures = 0
        writer = self._writer
        assert writer is not None
        while True:
            # A message of a lost connection cannot be acknowledged, and the broker should send
            # it again. Its readings are still written once (writes are idempotent): a broker
            # that crashed restarts from its last autosave and may never send them again. If
            # that write fails they are dropped, so reconnects during an InfluxDB outage do not
            # pile up copies. Its reject is dropped at once: the redelivery records it, and
            # recording both would count twice.
            live = [item for item in items
                    if self.consumer.is_current(item.delivery) or (item.reason is None and not failures)]
            if len(live) < len(items):
                self.stats.stale_messages += len(items) - len(live)
                self.stats.pending_messages -= len(items) - len(live)
                items = live
            if not items:
                return None
            try:
                started = time.perf_counter()
                refused = await self._store(writer, items)
                self.stats.last_write_latency_s = time.perf_counter() - started
                break
            except StoreError as exc:
                failures += 1
                self.stats.write_retries += 1
                log.log(
                    logging.ERROR if failures == 1 else logging.DEBUG,
                    "%s; %d messages kept unacknowledged, retrying (attempt %d)",
                    exc, len(items), failures,
                )
            except OSError as exc:
                failures += 1
                self.stats.write_retries += 1
                log.log(
                    logging.ERROR if failures == 1 else logging.DEBUG,
                    "cannot write rejected messages to %s: %s; retrying (attempt %d)",
                    self.rejects.state_dir, exc, failures,
                )
            if self._abandon.is_set():
                log.warning("shutting down with %d messages not stored; the broker will send them again",
                            len(items))
                self.stats.pending_messages -= len(items)
                return None
            await _wait_any(self._abandon, limit_s=backoff_delay(failures, start=RETRY_START_S, cap=RETRY_CAP_S))
        if failures:
            log.info("InfluxDB accepted the flush after %d failed attempts", failures)
        return _Stored(items, refused)

    def _acknowledge(self, stored: _Stored) -> None:
        """PUBACKs, commits and counts of a stored flush (called in the order flushes were taken)."""
        items, refused = stored.items, stored.refused
        acked, stale = self.consumer.ack(item.delivery for item in items)
        self._commit(items)
        self.stats.flushes += 1
        self.stats.acked_messages += acked
        self.stats.stale_messages += stale
        self.stats.pending_messages -= len(items)
        refused_ids = {id(item) for item in refused}
        for item in items:
            if id(item) in refused_ids:
                continue
            if item.reason is None:
                self.stats.accepted_messages += 1
                self.stats.readings_written += item.readings
            else:
                self.stats.rejected[item.reason] += 1
        if refused:
            self.stats.rejected[RejectReason.STORE_REJECTED.value] += len(refused)

    def _commit(self, items: list[_Item]) -> None:
        """Tell each gateway of the flush which of its batches are stored (or recorded as rejected)."""
        if not self.config.commits:
            return
        add = self.commits.add
        for item in items:
            if item.seq is not None and item.ids is not None:
                add(item.ids[0], item.ids[1], item.seq)
        self.commit_publisher.wake()
        self.stats.commit_messages = self.commit_publisher.messages

    async def _store(self, writer: Writer, items: list[_Item]) -> list[_Item]:
        """Steps 1-3 of a flush; returns the accepted messages InfluxDB refused."""
        refused: list[tuple[_Item, str]] = []
        for group in _chunks([i for i in items if i.reason is None], self._max_lines):
            refused += await self._write_bisecting(writer, group)
        rejects = [(i, i.reason, i.detail) for i in items if i.reason is not None]
        rejects += [(i, RejectReason.STORE_REJECTED.value, message) for i, message in refused]
        if rejects:
            lines = []
            for item, reason, _ in rejects:
                ids = item.ids
                lines.append(
                    rejected_line(
                        reason,
                        size=item.size,
                        received_ns=item.received_ns,
                        site=ids[0] if ids else None,
                        gateway=ids[1] if ids else None,
                    )
                )
            try:
                await writer.write(lines)
            except StoreRejected as exc:
                # Our own self-metric refused (e.g. "bytes" already stored with another type):
                # the records still go to the JSON-lines store below, so nothing is lost.
                self.stats.reject_points_refused += len(lines)
                log.error("InfluxDB refused the ingest_rejected points: %s", exc)
            records = [
                RejectRecord(
                    received_at=_EPOCH + timedelta(microseconds=item.received_ns // 1000),
                    topic=item.delivery.topic,
                    reason=reason,
                    detail=detail,
                    payload=item.delivery.payload,
                    size=item.size,
                )
                for item, reason, detail in rejects
            ]
            async with self._rejects_lock:  # two flushes in flight: one writer of the files at a time
                await asyncio.to_thread(self.rejects.append, records)
        return [item for item, _ in refused]

    async def _write_bisecting(self, writer: Writer, items: list[_Item]) -> list[tuple[_Item, str]]:
        """Write the items' lines; if refused, find the refused messages by halving.

        The items come from :func:`_chunks`: together at most ``max_lines`` lines, one request
        body of their buffers, or one item with more, split into bodies of ``max_lines`` lines.
        """
        if len(items) == 1 and items[0].readings > self._max_lines:
            lines = items[0].data.split(b"\n")
            step = self._max_lines
            requests = [b"\n".join(lines[start : start + step]) for start in range(0, len(lines), step)]
        else:
            requests = [b"\n".join([item.data for item in items])]
        try:
            for request in requests:
                await writer.write(request)
        except StoreRejected as exc:
            if len(items) == 1:
                log.warning("InfluxDB refused message %s: %s", items[0].delivery.topic, exc)
                return [(items[0], str(exc))]
            middle = len(items) // 2
            return await self._write_bisecting(writer, items[:middle]) + await self._write_bisecting(
                writer, items[middle:]
            )
        return []

    # -- lifecycle -------------------------------------------------------------------------

    async def _report_loop(self) -> None:
        while not self._disconnect.is_set():
            await _wait_any(self._disconnect, limit_s=self._stats_interval_s)
            log.info("ingest: %s", self.stats.summary())

    async def run(self, stop: asyncio.Event) -> None:
        """Ingest until ``stop`` is set, then store and acknowledge what was taken, and disconnect."""
        if self._writer is None:
            self._writer = make_writer(self.config.influx)
        log.info("ingesting %s into %s, validating with %s", self.consumer.describe(),
                 self.config.influx.describe(), self._codec.describe())
        try:
            async with asyncio.TaskGroup() as group:
                others = {
                    group.create_task(self.consumer.run(self._deliver, self._disconnect), name="ingest-mqtt"),
                    group.create_task(self._report_loop(), name="ingest-stats"),
                    group.create_task(self.commit_publisher.run(self._disconnect), name="ingest-commits"),
                    group.create_task(self.status.run(lambda: self._writer, self._disconnect), name="ingest-status"),
                    group.create_task(self.selfmetrics.run(lambda: self._writer, self.stats, self._disconnect),
                                      name="ingest-selfmetrics"),
                }
                writer_task = group.create_task(self._writer_loop(), name="ingest-writer")
                await stop.wait()
                self._closing.set()
                done, _ = await asyncio.wait({writer_task}, timeout=self._drain_timeout_s)
                if not done:
                    self._abandon.set()
                    await writer_task
                self._disconnect.set()
                # Everything taken is stored and acknowledged by now; what is still unacknowledged
                # comes again from the broker. A part that does not finish in time (a broker that
                # never answers the DISCONNECT, say) is cancelled rather than holding the exit.
                _, stuck = await asyncio.wait(others, timeout=SHUTDOWN_GRACE_S)
                for task in stuck:
                    log.warning("%s did not stop within %g s after the last write; cancelled", task.get_name(),
                                SHUTDOWN_GRACE_S)
                    task.cancel()
        finally:
            self._disconnect.set()
            self.stats.commit_messages = self.commit_publisher.messages
            log.info("ingest stopped: %s", self.stats.summary())
            if self._owns_writer and self._writer is not None:
                await self._writer.close()
                self._writer = None


async def _wait_any(*events: asyncio.Event, limit_s: float | None = None) -> None:
    """Return when any of ``events`` is set, or after ``limit_s`` seconds."""
    if any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
