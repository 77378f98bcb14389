"""The ingestor's commits: after a flush is in InfluxDB, tell each gateway which batches it may forget.

A ``greenwire.commit.v1`` message names stored ``seq`` ranges of one gateway, on
``greenwire/v1/{site}/{gateway}/commit`` at QoS 1. A message recorded as rejected is committed
too: sending it again would only record it again. A commit lost on the way (the broker killed
before it delivered it, say) only makes the gateway send those batches again after its resend
timeout, and the rewrite is idempotent.

Two parts, pure book and I/O shell:

- :class:`CommitBook` holds the seqs stored per ``(site, gateway)`` until they are published. A
  flush adds to it; the publisher takes everything at once, one message per gateway (more only
  past ``MAX_RANGES`` ranges), so seqs of several flushes that wait together go out as one
  message per gateway.
- :class:`CommitPublisher` publishes them on a connection of its own, a *round* at a time::

      take the book ──► publish one message per gateway, all at once ──► await every PUBACK
           ▲                                                                     │
           └──── flushes stored meanwhile wait in the book (merged) ◄────────────┘

  The ingest loop never waits for a commit: ``CommitBook.add`` and ``CommitPublisher.wake``
  return at once. A round's PUBACKs are awaited together, not one after the other, and a round
  starts only once the previous one is acknowledged, so commits to a gateway go out in the
  order their flushes were stored. A round cut by a lost connection (or refused, or not
  acknowledged within ``puback_timeout_s``) goes back into the book, merged with what came
  since, and is published again after the reconnect: a second copy of a commit changes nothing
  at the gateway.

Only seqs whose points InfluxDB has acknowledged ever enter the book, so a commit never names
a reading that is not stored; what a commit does not say (a full book, a broker that stays
away on shutdown) the gateway sends again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import msgspec

from greenwire.shared.backoff import Backoff
from greenwire.shared.commit import Stream, encode_commits
from greenwire.shared.errors import BrokerError
from greenwire.shared.topics import commit_topic
from greenwire.transport.mqtt import CONNECT_TIMEOUT_S, BrokerSettings, client, settle_disconnect

if TYPE_CHECKING:
    import aiomqtt

log = logging.getLogger(__name__)


class _Head(msgspec.Struct):
    seq: int


_HEAD: Final = msgspec.json.Decoder(_Head)

MAX_PENDING_SEQS: Final = 200_000
"""Seqs the book holds while the broker is away before it drops (and counts) new ones."""

MAX_ROUND_GATEWAYS: Final = 10_000
"""Gateways per round at most: a round's packet ids must stay distinct (paho numbers to 65,535)."""


def seq_of(payload: bytes) -> int | None:
    """The ``seq`` of a batch that was rejected (any payload with an integer ``seq``), else None."""
    try:
        seq = _HEAD.decode(payload).seq
    except (msgspec.MsgspecError, ValueError, RecursionError):
        # RecursionError: msgspec skipping an unknown field nested deeper than it recurses.
        return None
    return seq if 0 <= seq < 2**63 else None


@dataclass(frozen=True, slots=True)
class Pending:
    """One gateway's seqs taken from the book for a round."""

    site: str
    gateway: str
    seqs: frozenset[int]


class CommitBook:
    """Stored seqs per ``(site, gateway)`` of one stream, until a round of commits takes them."""

    def __init__(self, stream: Stream = "readings", *, max_seqs: int = MAX_PENDING_SEQS) -> None:
        self.stream: Stream = stream
        self.max_seqs = max_seqs
        self._pending: dict[tuple[str, str], set[int]] = {}
        self._count = 0
        self.dropped = 0
        """Seqs not committed because the book was full (their gateways send those batches again)."""

    def __len__(self) -> int:
        """Seqs waiting to be published."""
        return self._count

    def add(self, site: str, gateway: str, seq: int) -> None:
        """``seq`` of that gateway is stored (or recorded as rejected)."""
        seqs = self._pending.get((site, gateway))
        if seqs is None:
            seqs = self._pending[(site, gateway)] = set()
        elif seq in seqs:
            return
        if self._count >= self.max_seqs:
            self.dropped += 1
            if self.dropped == 1:
                log.error("commits: %d seqs wait for the broker already; further ones are not committed "
                          "(their gateways send those batches again)", self._count)
            return
        seqs.add(seq)
        self._count += 1

    def take(self, limit: int | None = None) -> list[Pending]:
        """What waits, one entry per gateway (at most ``limit`` gateways, the longest waiting first)."""
        if limit is None or limit >= len(self._pending):
            keys = list(self._pending)
        else:
            keys = list(itertools.islice(self._pending, limit))
        taken = []
        for key in keys:
            seqs = self._pending.pop(key)
            self._count -= len(seqs)
            if seqs:
                taken.append(Pending(key[0], key[1], frozenset(seqs)))
        return taken

    def put_back(self, entries: Iterable[Pending]) -> None:
        """A round that was not acknowledged: its seqs wait again, with whatever came since."""
        for entry in entries:
            for seq in entry.seqs:
                self.add(entry.site, entry.gateway, seq)

    def messages(self, entry: Pending) -> list[tuple[str, bytes]]:
        """``(topic, payload)`` of the commits of ``entry``: one, or more past ``MAX_RANGES`` ranges."""
        topic = commit_topic(entry.site, entry.gateway)
        return [(topic, payload) for payload in encode_commits(entry.gateway, self.stream, entry.seqs)]


@dataclass(slots=True)
class _Round:
    """The commits of one round in flight: which gateway each unacknowledged packet id is for."""

    entries: list[Pending]
    waiting: dict[int, int] = field(default_factory=dict)
    """packet id -> index in ``entries``."""
    refused: set[int] = field(default_factory=set)
    """Indexes of entries the broker refused (a PUBACK with a failure reason code)."""
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by every PUBACK of the round."""


class CommitPublisher:
    """Publishes the book's commits at QoS 1, a round at a time, until stopped; reconnects with backoff.

    Its own connection, not the consumer's: the consumer's socket reads are held to the Receive
    Maximum (``greenwire.cloud.adapters.mqtt._Window``), and publishing there would interfere
    with that. On ``stop`` what is in the book is published while the broker answers.
    """

    def __init__(self, broker: BrokerSettings, book: CommitBook, *, puback_timeout_s: float = CONNECT_TIMEOUT_S,
                 backoff: Backoff | None = None) -> None:
        self.broker = broker
        self.book = book
        self.puback_timeout_s = puback_timeout_s
        self.messages = 0
        """Commit messages the broker acknowledged."""
        self.rounds = 0
        self.retried_rounds = 0
        """Rounds put back into the book (connection lost, refused, or no PUBACK in time)."""
        self.connected = False
        self.last_error: str | None = None
        self._backoff = backoff or Backoff(start=1.0, cap=30.0)
        self._wake = asyncio.Event()
        self._round: _Round | None = None

    def wake(self) -> None:
        """The book has new seqs: publish them once the round in flight (if any) is acknowledged."""
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, give_up_after_stop: int = 3) -> None:
        """Connect and publish rounds until ``stop`` is set and the book is empty (or the broker stays away)."""
        import aiomqtt

        from greenwire.shared.aioloop import tolerate_closed_socket_registration

        tolerate_closed_socket_registration()
        while not stop.is_set() or len(self.book):
            session = client(self.broker)
            self._watch_pubacks(session._client)
            try:
                async with session as connection:
                    self.connected = True
                    if self._backoff.failures:
                        log.info("commits: connected to broker %s:%d again", self.broker.host, self.broker.port)
                    self._backoff.ok()
                    await self._publish_rounds(connection, stop)
                    return
            except (aiomqtt.MqttError, BrokerError) as exc:
                self.connected = False
                delay = self._backoff.failed()
                self.last_error = self.broker.explain(exc)
                log.log(logging.ERROR if self._backoff.failures == 1 else logging.DEBUG,
                        "commits: broker %s:%d: %s (%d seqs waiting)", self.broker.host, self.broker.port,
                        self.last_error, len(self.book))
                if stop.is_set() and self._backoff.failures > give_up_after_stop:
                    log.warning("commits: stopping with %d seqs not committed; their gateways send them again",
                                len(self.book))
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            finally:
                self.connected = False
                settle_disconnect(session)

    async def _publish_rounds(self, connection: aiomqtt.Client, stop: asyncio.Event) -> None:
        from aiomqtt import MqttError

        # aiomqtt's future of an unexpected disconnection (it raises only from its message
        # iterator, which a publisher does not read): watched here so that a broker gone while
        # nothing is to be committed is seen at once, not at the next round.
        disconnected = getattr(connection, "_disconnected", None)
        if not isinstance(disconnected, asyncio.Future):
            disconnected = None
        while True:
            if disconnected is not None and disconnected.done():
                raise MqttError("lost the connection")
            if not len(self.book):
                if stop.is_set():
                    return
                self._wake.clear()
                await _wait_any(self._wake, stop, also=disconnected)
                continue
            entries = self.book.take(MAX_ROUND_GATEWAYS)
            try:
                await self._publish_round(connection._client, entries, disconnected)
            except BaseException:
                self.retried_rounds += 1
                self.book.put_back(entries)
                raise

    async def _publish_round(self, paho: Any, entries: list[Pending],
                             disconnected: asyncio.Future[Any] | None) -> None:
        from aiomqtt import MqttCodeError, MqttError
        from paho.mqtt.client import MQTT_ERR_SUCCESS

        current = self._round = _Round(entries)
        try:
            for index, entry in enumerate(entries):
                for topic, payload in self.book.messages(entry):
                    # paho's publish, not aiomqtt's: that one waits for this PUBACK (a task and a
                    # wait_for per message) before the next is sent. paho keeps its own window of
                    # messages in flight and sends the rest as PUBACKs come in.
                    info = paho.publish(topic, payload, 1)
                    if info.rc != MQTT_ERR_SUCCESS:
                        raise MqttCodeError(info.rc, "could not publish a commit")
                    if not info.is_published():
                        current.waiting[info.mid] = index
            while current.waiting:
                # The timeout is for the broker's silence, not for the whole round: a round of
                # thousands of gateways goes out a window of paho's max_inflight_messages at a time.
                current.progress.clear()
                try:
                    await asyncio.wait_for(_wait_any(current.progress, also=disconnected), self.puback_timeout_s)
                except TimeoutError:
                    raise MqttError(f"no PUBACK for {len(current.waiting)} commits within "
                                    f"{self.puback_timeout_s:g} s") from None
                if current.waiting and disconnected is not None and disconnected.done():
                    raise MqttError("lost the connection with commits in flight")
            if current.refused:
                # A broker that refuses our commits (its ACL, say) refuses them again: count it,
                # and keep them out of the book, or they would go round forever. Their gateways
                # send those batches again, which are rewritten and committed again.
                log.error("commits: the broker refused %d commit messages (check the ingestor's ACL for "
                          "greenwire/v1/+/+/commit)", len(current.refused))
            self.rounds += 1
        finally:
            self._round = None

    def _watch_pubacks(self, paho: Any) -> None:
        """Count a round's PUBACKs (paho's on_publish, wrapped before connecting)."""
        inner = paho.on_publish

        def on_publish(client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
            inner(client, userdata, mid, reason_code, properties)
            current = self._round
            if current is None:
                return
            index = current.waiting.pop(mid, None)
            if index is None:
                return
            if getattr(reason_code, "is_failure", False):
                current.refused.add(index)
            else:
                self.messages += 1
            current.progress.set()

        paho.on_publish = on_publish


async def _wait_any(*events: asyncio.Event, also: asyncio.Future[Any] | None = None) -> None:
    """Return when any of ``events`` is set, or ``also`` is done (it is not cancelled)."""
    if any(event.is_set() for event in events) or (also is not None and also.done()):
        return
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait([*waiters, also] if also is not None else waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
