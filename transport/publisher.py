"""MQTT publisher: drains the buffer at QoS 1; a batch is forgotten when the cloud commits it.

The publisher keeps up to ``max_inflight`` batches unacknowledged at once.
When the connection drops, batches not yet acknowledged stay in the buffer
and are sent again (same ``seq``, same readings; ``sent_at`` is the time of
each attempt) after a reconnect with capped exponential backoff and jitter.

A PUBACK only marks a batch published: it stays in the buffer until the ingestor's commit on
the gateway's commit topic covers it, and is published again if no commit comes within the
resend timeout (:mod:`greenwire.transport.commits`: the modes, the fall-back to PUBACK for a
cloud that sends no commits, the resend backoff).

The gateway's status topic carries a retained birth message on connect and a
retained last will, so a dashboard sees a gateway go offline even when it
dies without saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from greenwire.shared.aioloop import tolerate_closed_socket_registration
from greenwire.shared.backoff import Backoff, backoff_delay
from greenwire.shared.commit import Stream, parse_commit
from greenwire.shared.errors import BrokerError
from greenwire.shared.topics import commit_topic, readings_topic, status_topic
from greenwire.shared.wire import READINGS_SCHEMA, format_ts
from greenwire.transport.buffer import AsyncBuffer, StoredBatch
from greenwire.transport.commits import COMMIT_SEEN, CommitTracker, DeliveryMode
from greenwire.transport.mqtt import BrokerSettings, settle_disconnect
from greenwire.transport.mqtt import client as mqtt_client

log = logging.getLogger(__name__)

PUBACK_TIMEOUT_S = 10.0
NO_MATCHING_SUBSCRIBERS = 0x10
NOT_AUTHORIZED = 0x87

BACKOFF_START_S = 1.0
BACKOFF_CAP_S = 30.0


@dataclass(slots=True)
class PublisherStats:
    """Counters for the status message, the demo view and tests."""

    connected: bool = False
    connects: int = 0
    published_batches: int = 0
    published_readings: int = 0
    last_seq: int = 0
    last_error: str | None = None
    status_messages: int = 0
    refused_batches: int = 0
    """PUBACKs that did not deliver (no subscriber, or refused); those batches stayed buffered."""


def encode_batch(
    gateway: str, batch: StoredBatch, sent_at: datetime, *, schema: str = READINGS_SCHEMA, items: str = "readings"
) -> bytes:
    """The message of a stored batch (its items' JSON array is stored ready-made).

    ``greenwire.readings.v1`` by default; ``schema=VITALS_SCHEMA, items="observations"`` for vitals.
    """
    head = (
        f'{{"schema":"{schema}","gateway":"{gateway}","seq":{batch.seq},'
        f'"sent_at":"{format_ts(sent_at)}","{items}":'
    ).encode()
    return head + batch.readings_json + b"}"


def status_payload(gateway: str, state: str, **extra: object) -> bytes:
    """A status message (retained): ``online`` at birth, ``offline`` as will or on shutdown.

    ``greenwire.status.v3`` when it carries the end-to-end commit's figures, v2 when it carries
    wearable sources' counters, else v1 (which ingestors that know only v1 still accept).
    """
    if "delivery" in extra:
        schema = "greenwire.status.v3"
    elif "wearables" in extra or "vitals_buffer" in extra:
        schema = "greenwire.status.v2"
    else:
        schema = "greenwire.status.v1"
    return orjson.dumps(
        {"schema": schema, "gateway": gateway, "state": state,
         "ts": format_ts(datetime.now(UTC)), **extra}
    )


class Publisher:
    """Moves batches from the buffer to the broker until stopped."""

    def __init__(
        self,
        broker: BrokerSettings,
        site: str,
        gateway: str,
        buffer: AsyncBuffer,
        *,
        max_inflight: int = 16,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        health: Callable[[], Awaitable[dict[str, object]]] | None = None,
        status_interval_s: float = 60.0,
        announce: bool = True,
        topic: str | None = None,
        schema: str = READINGS_SCHEMA,
        items: str = "readings",
        resend_after_s: float = 30.0,
        commit_wait_s: float = 60.0,
    ) -> None:
        self.broker = broker
        self.site = site
        self.gateway = gateway
        self.buffer = buffer
        self.max_inflight = max_inflight
        self.stats = PublisherStats()
        self._clock = clock
        self._topic = topic or readings_topic(site, gateway)
        self._schema = schema
        self._items = items
        self._status_topic = status_topic(site, gateway)
        self._commit_topic = commit_topic(site, gateway)
        self._stream: Stream = "readings" if items == "readings" else "vitals"
        self.tracker = CommitTracker(resend_after_s=resend_after_s, commit_wait_s=commit_wait_s)
        self._commits_checked = False
        self._health = health
        self.status_interval_s = status_interval_s
        self.announce = announce
        """False for a one-off upload (history import): no birth, will, heartbeat or offline status,
        so the gateway's own retained status is left alone."""
        self._pubacks: dict[int, asyncio.Future[int]] = {}
        self._refusals = 0
        self._connection: Any = None

    def delivery(self) -> dict[str, object]:
        """The end-to-end commit's figures for the status message (``greenwire.status.v3``)."""
        age = self.tracker.oldest_uncommitted_age_s()
        return {
            "mode": self.tracker.mode.value,
            "uncommitted_readings": self.tracker.uncommitted_readings,
            "uncommitted_batches": self.tracker.uncommitted_batches,
            "oldest_uncommitted_age_s": None if age is None else round(age, 3),
            "resent_batches": self.tracker.resent_batches,
            "committed_readings": self.tracker.committed_readings,
        }

    async def _online(self) -> bytes:
        extra = await self._health() if self._health is not None else {}
        return status_payload(self.gateway, "online", **extra)

    async def _heartbeat(self, client: Any) -> None:
        """Refresh the retained status with current health figures every ``status_interval_s``."""
        while True:
            await asyncio.sleep(self.status_interval_s)
            await client.publish(self._status_topic, await self._online(), qos=1, retain=True)
            self.stats.status_messages += 1

    def _client(self) -> Any:
        import aiomqtt

        will: aiomqtt.Will | None = aiomqtt.Will(
            self._status_topic, status_payload(self.gateway, "offline", reason="lost"), qos=1, retain=True
        )
        if not self.announce:
            will = None
        client = mqtt_client(self.broker, will=will)
        # WORKAROUND: aiomqtt's publish() waits for the PUBACK but drops its reason code. The
        # code matters: 0x10 "no matching subscribers" means the broker accepted the batch and
        # threw it away (e.g. Mosquitto after a restart, before the ingestor's shared
        # subscription is back). Readings are published through paho directly (_publish_qos1)
        # and the PUBACK's reason code is read here, before aiomqtt's own handler.
        paho: Any = client._client
        inner: Any = paho.on_publish

        def on_publish(c: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
            waiter = self._pubacks.pop(mid, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(int(getattr(reason_code, "value", reason_code)))
            inner(c, userdata, mid, reason_code, properties)

        paho.on_publish = on_publish
        self._connection = client
        return client

    async def _publish_qos1(self, client: Any, payload: bytes) -> int:
        """Publish one batch at QoS 1; return the PUBACK's reason code (0 = delivered to subscribers)."""
        import aiomqtt
        import paho.mqtt.client as mqtt

        info = client._client.publish(self._topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "could not publish")
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pubacks[info.mid] = waiter
        try:
            return await asyncio.wait_for(waiter, timeout=PUBACK_TIMEOUT_S)
        except TimeoutError:
            raise aiomqtt.MqttError(f"no PUBACK within {PUBACK_TIMEOUT_S:g} s") from None
        finally:
            self._pubacks.pop(info.mid, None)

    async def run(self, stop: asyncio.Event, drain_timeout_s: float = 5.0) -> None:
        """Connect, publish, reconnect on failure; on ``stop`` drain briefly and say offline."""
        import aiomqtt

        tolerate_closed_socket_registration()
        if await self.buffer.counter(COMMIT_SEEN):
            self.tracker.mode = DeliveryMode.COMMIT
        backoff = Backoff(start=BACKOFF_START_S, cap=BACKOFF_CAP_S)
        while not stop.is_set():
            try:
                async with self._client() as client:
                    self.stats.connected = True
                    self.stats.connects += 1
                    if backoff.failures:
                        log.info("connected to broker %s:%d again", self.broker.host, self.broker.port)
                    backoff.ok()
                    self.tracker.cursor = 0  # what was in flight on the lost connection goes again
                    # Subscribed before anything is published: a commit for a batch of this
                    # connection may come within milliseconds, and the session starts clean.
                    reading = await self._subscribe_commits(client)
                    tasks = [asyncio.create_task(self._commits(client, reading), name="commit-reader")]
                    if self.announce:
                        await client.publish(self._status_topic, await self._online(), qos=1, retain=True)
                        self.stats.status_messages += 1
                        tasks.append(asyncio.create_task(self._heartbeat(client), name="status-heartbeat"))
                    try:
                        await self._drain(client, stop, tasks)
                        # Stopping: publish what is left, and give the cloud the same time to
                        # commit it (the commit reader still runs); what stays uncommitted is
                        # kept in the buffer and sent again at the next start.
                        deadline = time.monotonic() + drain_timeout_s
                        await self._drain_once(client, deadline=deadline)
                        while (self.tracker.keeps and self.tracker.uncommitted_batches
                               and time.monotonic() < deadline and not tasks[0].done()):
                            self.buffer.changed.clear()  # set by each commit, and each append
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self.buffer.changed.wait(),
                                                       timeout=max(0.0, deadline - time.monotonic()))
                            await self._drain_once(client, deadline=deadline)  # the agent's last polls
                    finally:
                        for task in tasks:
                            task.cancel()
                        for task in tasks:
                            with contextlib.suppress(asyncio.CancelledError):
                                await task
                    if self.announce:
                        await client.publish(
                            self._status_topic,
                            status_payload(self.gateway, "offline", reason="shutdown"),
                            qos=1,
                            retain=True,
                        )
                    return
            except aiomqtt.MqttError as exc:
                self.stats.connected = False
                settle_disconnect(self._connection)
                delay = backoff.failed()
                self.stats.last_error = self.broker.explain(exc)
                error = BrokerError(f"broker {self.broker.host}:{self.broker.port}: {self.stats.last_error}")
                log.log(logging.ERROR if backoff.failures == 1 else logging.DEBUG, "%s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            finally:
                self.stats.connected = False

    async def _subscribe_commits(self, client: Any) -> bool:
        """Subscribe to this gateway's commit topic; False if the broker refuses (then say so once)."""
        granted = await client.subscribe(self._commit_topic, qos=1)
        codes = [int(getattr(code, "value", code)) for code in granted]
        refused = not codes or codes[0] >= 0x80
        if refused and not self._commits_checked:
            log.warning("the broker does not let this gateway read %s (reason %s): batches are kept until "
                        "the cloud commits them only once a commit has arrived; until then they are "
                        "forgotten on the broker's PUBACK after %g s", self._commit_topic,
                        f"{codes[0]:#04x}" if codes else "none", self.tracker.commit_wait_s)
        self._commits_checked = True
        return not refused

    async def _commits(self, client: Any, subscribed: bool) -> None:
        """Forget what each commit on this gateway's commit topic covers."""
        if not subscribed:
            return
        async for message in client.messages:
            if message.topic.value != self._commit_topic:
                continue
            try:
                commit = parse_commit(bytes(message.payload))
            except ValueError as exc:
                log.warning("ignored a commit message that is not greenwire.commit.v1: %s",
                            str(exc).splitlines()[0])
                continue
            if commit.stream != self._stream or commit.gateway != self.gateway:
                continue
            if self.tracker.committed(commit.ranges):
                await self.buffer.set_counter(COMMIT_SEEN, 1)
                log.info("the cloud commits stored %s: batches are kept until committed", self._items)
            await self.buffer.forget(commit.ranges)
            self.buffer.changed.set()

    async def _drain(self, client: object, stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
        while not stop.is_set():
            for task in tasks:
                if task.done() and (task.cancelled() or task.exception() is not None):
                    task.result()  # a failed status publish or commit read means the connection failed
            sent = await self._send_window(client)
            if sent == 0:
                self.buffer.changed.clear()
                # Re-check after clearing, so an append between peek and clear is not missed.
                if not self.tracker.due() and not await self.buffer.peek(1, after_seq=self.tracker.cursor):
                    waiter = asyncio.ensure_future(self.buffer.changed.wait())
                    stopper = asyncio.ensure_future(stop.wait())
                    watched: set[asyncio.Future[Any]] = {waiter, stopper}
                    watched.update(task for task in tasks if not task.done())
                    try:
                        await asyncio.wait(watched, timeout=self.tracker.wake_in(),
                                           return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
                        stopper.cancel()

    async def _drain_once(self, client: object, deadline: float) -> None:
        while time.monotonic() < deadline and await self._send_window(client):
            pass

    async def _send_window(self, client: object) -> int:
        """Publish up to ``max_inflight`` batches concurrently; ack in the buffer each one delivered.

        A batch is deleted from the buffer only on a PUBACK with reason code 0 (or 0x10 never:
        "no matching subscribers" means nobody received it, so it stays and is sent again after
        a pause, as are batches the broker refused).
        """
        forget = self.tracker.fall_back()
        if forget:
            log.warning("no commit from the cloud %g s after the broker acknowledged %s: forgetting batches "
                        "on the broker's PUBACK (a cloud without end-to-end commit)",
                        self.tracker.commit_wait_s, self._items)
            await self.buffer.ack(forget)
        batches, resend = await self._next_window()
        if not batches:
            return 0
        sent_at = self._clock()
        results = await asyncio.gather(
            *(self._publish_qos1(client, encode_batch(self.gateway, b, sent_at, schema=self._schema, items=self._items))
              for b in batches),
            return_exceptions=True,
        )
        acked = [b for b, r in zip(batches, results, strict=True) if r == 0]
        if self.tracker.keeps:
            self.tracker.published((b.seq, b.count) for b in acked)
        else:
            await self.buffer.ack(b.seq for b in acked)
        unacked = [b.seq for b, r in zip(batches, results, strict=True) if r != 0]
        if unacked and not resend:
            self.tracker.cursor = min(self.tracker.cursor, min(unacked) - 1)
        self.stats.published_batches += len(acked)
        self.stats.published_readings += sum(b.count for b in acked)
        if acked:
            self.stats.last_seq = max(b.seq for b in acked)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        refused = [r for r in results if isinstance(r, int) and r != 0]
        if refused:
            await self._pause_after_refusal(refused[0], len(refused))
        elif self._refusals:
            log.info("the broker delivers readings again after %d refused windows", self._refusals)
            self._refusals = 0
        return len(acked)

    async def _next_window(self) -> tuple[list[StoredBatch], bool]:
        """The batches to publish now, and whether they are resends: the overdue first, else new ones."""
        due = self.tracker.due()
        if due:
            wanted = set(due[: self.max_inflight])
            candidates = await self.buffer.peek(len(wanted), after_seq=min(wanted) - 1)
            found = [b for b in candidates if b.seq in wanted]
            # Not in the buffer any more (dropped by its bound, or committed before its PUBACK came).
            last = candidates[-1].seq if len(candidates) == len(wanted) else 2**63
            self.tracker.gone(s for s in wanted - {b.seq for b in found} if s <= last)
            if found:
                self.tracker.resending([b.seq for b in found])
                return found, True
        while True:
            candidates = await self.buffer.peek(self.max_inflight, after_seq=self.tracker.cursor)
            if not candidates:
                return [], False
            self.tracker.cursor = candidates[-1].seq
            fresh = [b for b in candidates if b.seq not in self.tracker]
            if fresh:
                return fresh, False

    async def _pause_after_refusal(self, code: int, count: int) -> None:
        """Keep the batches and wait (capped backoff): nobody subscribed, or the broker said no."""
        self._refusals += 1
        self.stats.refused_batches += count
        if code == NO_MATCHING_SUBSCRIBERS:
            reason = f"no subscriber for {self._items} (is the ingestor connected?)"
        elif code == NOT_AUTHORIZED:
            reason = (
                f"not authorised to publish on {self._topic} (does the broker account "
                f"{self.broker.username or '(none)'} belong to this site and gateway? see the broker's ACL)"
            )
        else:
            reason = f"the broker refused them with reason code {code:#04x}"
        log.log(
            logging.WARNING if self._refusals == 1 else logging.DEBUG,
            "%d batches kept in the buffer: %s; retrying", count, reason,
        )
        await asyncio.sleep(backoff_delay(self._refusals, start=0.5, cap=BACKOFF_CAP_S, jitter=1.0))
