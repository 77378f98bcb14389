"""The MQTT consumer: QoS 1 shared subscription, persistent session, manual acknowledgement.

How delivery stays at least once:

- MQTT v5 with ``clean_start=False`` on every connect (``MQTT_CLEAN_START_FIRST_ONLY``
  would start clean on the first connect of each process and throw away
  what the broker kept for us), a Session Expiry Interval, and a stable
  client id: messages the ingestor has not acknowledged stay in its session
  and are sent again after a reconnect or a restart.
- Manual acknowledgement: paho normally sends PUBACK as soon as a message
  is handed over; here nothing is acknowledged until :meth:`Consumer.ack`,
  which the ingestor calls only after InfluxDB accepted the points.
- Receive Maximum bounds how many unacknowledged messages the broker sends
  us, which bounds the ingestor's memory while InfluxDB is down.

Each connection is a *session* number. A delivery can only be acknowledged on
the connection it arrived on (packet ids belong to a connection); deliveries
of an earlier connection are "stale": the broker resends them, so the
ingestor drops them instead of storing them twice.

Reconnects use capped exponential backoff with jitter (1 s to 30 s). The
first failure is logged at error level, repeats at debug level, and the
recovery at info level.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from greenwire.shared.aioloop import tolerate_closed_socket_registration
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import BrokerError
from greenwire.shared.topics import readings_filter, shared_filter

if TYPE_CHECKING:
    from greenwire.cloud.adapters.settings import MqttSection

log = logging.getLogger(__name__)

BACKOFF_START_S: Final = 1.0
BACKOFF_CAP_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received message, with what it takes to acknowledge it."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    session: int
    """The connection it arrived on (see :attr:`Consumer.session`)."""


Deliver = Callable[[Delivery], Awaitable[None]]
"""Called for each message in arrival order; may wait (that is the backpressure)."""




class Consumer:
    """Subscribes to every gateway's readings and hands messages to ``deliver``, one at a time."""

    def __init__(self, config: MqttSection, topic_filters: tuple[str, ...] = (), *,
                 topic_filter: str | None = None) -> None:
        self.config = config
        self._password = config.resolved_password()  # read a password_file once, at start-up
        self._tls = config.tls_context()  # certificate files too: a bad one fails here, not at each connect
        self.topic_filter = topic_filter or shared_filter(config.group, readings_filter())
        self.topic_filters = topic_filters or (self.topic_filter,)
        """Every filter subscribed (default: the group's shared subscription to all readings)."""
        self.session = 0
        """Number of the current connection (0 before the first); grows on every connect."""
        self.connected = False
        self.connects = 0
        self.last_error: str | None = None
        self._paho: Any = None
        self.window = _Window(config.receive_maximum)

    def describe(self) -> str:
        """The broker, filter and client id, for a log line."""
        scheme = "mqtts" if self.config.tls else "mqtt"
        return (
            f"{scheme}://{self.config.host}:{self.config.port} {', '.join(self.topic_filters)} "
            f"(client id {self.config.client_id})"
        )

    def is_current(self, delivery: Delivery) -> bool:
        """True if ``delivery`` can still be acknowledged (its connection is the live one)."""
        return self.connected and delivery.session == self.session

    def ack(self, deliveries: Iterable[Delivery]) -> tuple[int, int]:
        """Acknowledge deliveries, in the order given (MQTT 4.6: the order they arrived).

        Returns ``(acknowledged, stale)``; stale deliveries belong to a lost
        connection and will be sent again by the broker.
        """
        acked = stale = 0
        paho = self._paho
        mids: list[int] = []
        for delivery in deliveries:
            if paho is None or not self.is_current(delivery):
                stale += 1
                continue
            if delivery.qos == 1:
                mids.append(delivery.mid)
            else:
                paho.ack(delivery.mid, delivery.qos)  # QoS 0: nothing to send; QoS 2: PUBCOMP
            acked += 1
        if mids:
            send_pubacks(paho, mids)
        self.window.acked(acked)
        return acked, stale

    def _client(self) -> Any:
        import aiomqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.config.session_expiry_s
        properties.ReceiveMaximum = self.config.receive_maximum
        client = aiomqtt.Client(
            self.config.host,
            self.config.port,
            identifier=self.config.client_id,
            username=self.config.username,
            password=self._password,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            keepalive=self.config.keepalive_s,
            properties=properties,
            tls_context=self._tls,
            timeout=10,
        )
        # WORKAROUND: aiomqtt 2.5 has no manual-acknowledgement API yet (aiomqtt issue #345,
        # PR #346). Reach into the paho client it wraps, and do it BEFORE connecting: with a
        # persistent session the broker sends queued messages right after CONNACK, and paho
        # would acknowledge those on receipt. Acks go through paho's ack() in Consumer.ack.
        # Calling ack() from the event loop is safe: aiomqtt runs paho's socket reads and
        # writes as loop callbacks (add_reader/add_writer), so ack() only queues the PUBACK
        # and asks the loop to write it; only connect() runs in a worker thread, and no
        # delivery can be acknowledged before it returns. Remove this when aiomqtt ships
        # manual acks.
        client._client.manual_ack_set(True)
        self.window.watch(client._client)
        share_property_tables()
        return client

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> None:
        """Connect, subscribe and deliver until ``stop``; reconnect after any connection loss."""
        import aiomqtt

        tolerate_closed_socket_registration()

        failures = 0
        while not stop.is_set():
            try:
                client = self._client()
                async with client:
                    _buffer_reads(client._client)
                    await self._subscribe(client)
                    self.window.arm()
                    self.session += 1
                    self.connects += 1
                    self._paho = client._client
                    self.connected = True
                    if failures:
                        log.info("connected to the broker again after %d failed attempts: %s",
                                 failures, self.describe())
                    else:
                        log.info("subscribed: %s", self.describe())
                    failures = 0
                    await self._read_until(client, deliver, stop)
            except (aiomqtt.MqttError, BrokerError) as exc:
                failures += 1
                self.last_error = self.config.explain(exc)
                log.log(
                    logging.ERROR if failures == 1 else logging.DEBUG,
                    "broker %s:%d: %s (attempt %d; retrying with backoff)",
                    self.config.host, self.config.port, self.last_error, failures,
                )
            finally:
                self.connected = False
                self._paho = None
            if not stop.is_set() and failures:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff_delay(failures, start=BACKOFF_START_S, cap=BACKOFF_CAP_S))

    async def _subscribe(self, client: Any) -> None:
        for topic_filter in self.topic_filters:
            granted = await client.subscribe(topic_filter, qos=1)
            codes = [getattr(code, "value", code) for code in granted]
            if not codes or codes[0] != 1:
                # 0 would mean QoS 0 (no redelivery), >= 0x80 a refusal (e.g. not authorised by the ACL).
                raise BrokerError(f"the broker did not grant QoS 1 on {topic_filter}: {granted!r}")

    async def _read_until(self, client: Any, deliver: Deliver, stop: asyncio.Event) -> None:
        """Deliver messages until ``stop`` (returns) or the connection drops (raises MqttError)."""
        session = self.session

        async def read() -> None:
            # aiomqtt's iterator waits on a new task and asyncio.wait() for every message, even
            # when messages are queued already (tens of microseconds each). Take queued messages
            # straight from its queue, and wait through the iterator only when it is empty (that
            # is also where a lost connection raises). The order is the queue's either way.
            queue = getattr(client, "_queue", None)
            messages = aiter(client.messages)
            while True:
                message = queue.get_nowait() if queue is not None and not queue.empty() else await anext(messages)
                payload = message.payload
                await deliver(
                    Delivery(
                        topic=message.topic.value,
                        payload=payload if isinstance(payload, bytes) else bytes(payload),
                        mid=message.mid,
                        qos=message.qos,
                        session=session,
                    )
                )

        reader = asyncio.create_task(read(), name="mqtt-read")
        stopper = asyncio.create_task(stop.wait(), name="mqtt-stop")
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, stopper):
                task.cancel()
            await asyncio.gather(reader, stopper, return_exceptions=True)
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]


def share_property_tables() -> None:
    """Decode each PUBLISH's MQTT 5 properties without building paho's property tables again.

    WORKAROUND: paho-mqtt 2.x decodes every incoming PUBLISH into a new ``Properties``, whose
    constructor builds its name and type tables (two dicts of 27 entries and 27 list searches)
    and whose ``unpack`` first clears it by trying all 27 names: measured here 13.7 us per
    message against 1.7 us shared (``decode_publish`` of a 10 KB message: 23 us against 7 us),
    and 14 % of the ingestor's profile with 50-reading messages (py-spy, 2026-12-03).
    The tables are constants that paho only reads, so here the decoder's ``Properties`` (in
    ``paho.mqtt._packet`` only: nothing else changes) is a subclass that shares one copy of them
    and clears only the properties it holds. ``tests/unit/test_mqtt_properties.py`` decodes
    property blocks with both and requires the same result. Does nothing with a paho that has
    no ``_packet.Properties``.
    """
    from paho.mqtt import _packet
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    if getattr(_packet, "Properties", None) is not Properties:
        return  # shared already, or a paho laid out differently
    template = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    tables = {"types": template.types, "names": template.names, "properties": template.properties}
    names = frozenset(name.replace(" ", "") for name in template.names)

    class SharedTableProperties(Properties):
        def __init__(self, packetType: int) -> None:
            state = self.__dict__
            state["packetType"] = packetType
            state.update(tables)

        def clear(self) -> None:
            for name in [name for name in self.__dict__ if name in names]:
                delattr(self, name)

    _packet.Properties = SharedTableProperties  # type: ignore[attr-defined]


_PUBACK: Final = struct.Struct("!BBH")
_PUBACK_TYPE: Final = 0x40


def send_pubacks(paho: Any, mids: list[int]) -> None:
    """Queue the PUBACKs of ``mids`` (QoS 1, in this order) on a paho client, as one write.

    Part of the manual-ack workaround (see ``Consumer._client``). paho's ``ack()`` queues one
    4-byte packet per message, and writes each with its own ``send()``: at a few thousand
    messages a second that is a system call and a dozen Python calls per message. MQTT lets
    control packets follow each other in one TCP write, so the flush's PUBACKs are packed
    here, byte for byte as paho packs them (type 0x40, remaining length 2, the packet id: a
    v5 PUBACK without reason code means success), and queued as one buffer through paho's
    own output queue, which keeps them in order behind anything already queued. A paho
    without that queue gets one ``ack()`` per message.
    """
    queue = getattr(paho, "_packet_queue", None)
    if queue is None:
        for mid in mids:
            paho.ack(mid, 1)
        return
    packet = b"".join([_PUBACK.pack(_PUBACK_TYPE, 2, mid) for mid in mids])
    queue(_PUBACK_TYPE, packet, 0, 0)


_READ_SIZE: Final = 256 * 1024
"""Bytes asked of each ``recv()``: a backlog of 100-reading messages (about 20 KB each) comes in
a dozen messages per call (64 KiB: three; measured 10 % less CPU to receive a backlog)."""


class _BufferedReads:
    """A paho client's socket whose reads are served from 256 KiB ``recv()`` calls.

    WORKAROUND: paho reads every packet with three or four ``recv()`` calls (the type
    byte, the remaining length byte by byte, then the rest), and aiomqtt's reader
    callback reads one packet per readable event: at a few thousand messages a second
    that is a few system calls and one event-loop round per message. Here one large
    ``recv()`` fills a buffer that serves paho's small ones, and ``pending()`` (which
    aiomqtt's callback asks of TLS sockets, to keep reading what the socket holds
    already decrypted) counts the buffer, so one readable event reads every packet
    received. Everything else goes to the socket itself.
    """

    __slots__ = ("_buffer", "_pos", "_sock", "held")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._pos = 0
        self.held = False
        """Set while :class:`_Window` holds reading: ``pending()`` then says 0, so nothing more is read."""

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._buffer):
            data: bytes = self._sock.recv(max(size, _READ_SIZE))  # BlockingIOError passes through
            if len(data) <= size:
                return data
            self._buffer, self._pos = data, 0
        start = self._pos
        self._pos = min(start + size, len(self._buffer))
        return self._buffer[start : self._pos]

    def pending(self) -> int:
        if self.held:
            return 0
        return self.buffered() + (self._sock.pending() if hasattr(self._sock, "pending") else 0)

    def buffered(self) -> int:
        """Bytes received and not yet read by paho."""
        return len(self._buffer) - self._pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _buffer_reads(paho: Any) -> None:
    """Wrap a connected paho client's socket in :class:`_BufferedReads` (once per connection)."""
    sock = getattr(paho, "_sock", None)
    if sock is not None and not isinstance(sock, _BufferedReads):
        paho._sock = _BufferedReads(sock)


class _Window:
    """Holds the broker to our Receive Maximum by not reading the socket while it is exceeded.

    WORKAROUND: Mosquitto 2.0.11 (Debian 12) honours Receive Maximum until messages queue
    for us; then each PUBACK releases up to a whole window of queued messages (measured:
    acknowledging 100 of a 5,000-message backlog brought the other 4,900 at once; upstream
    eclipse-mosquitto#2301). After an InfluxDB outage the first acknowledged flush would
    pull the whole backlog into memory. So arrivals are counted (paho's on_message,
    wrapped before connecting) and when more than ``receive_maximum`` messages of this
    connection are unacknowledged, which only a broker breaking the window can cause, the
    socket's reader is taken off the event loop until acknowledgements make room; TCP flow
    control then keeps the rest at the broker. A full window that the broker respects (an
    InfluxDB outage) pauses nothing, so keepalives go on. Nothing is paused before the
    subscription is acknowledged (``arm``): the SUBACK has to be read. A pause longer than
    the keepalive ends the connection (paho misses the PINGRESP) and the broker resends,
    within the window, after the reconnect.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.paused = 0
        """How many times reading was paused."""
        self.high_water = 0
        """The most messages of one connection that were unacknowledged at once."""
        self._outstanding = 0
        self._armed = False
        self._paho: Any = None
        self._reader: tuple[int, Any, tuple[Any, ...]] | None = None

    def watch(self, paho: Any) -> None:
        """Count the arrivals of a new connection's client (call before it connects)."""
        self._paho, self._outstanding, self._reader, self._armed = paho, 0, None, False
        inner = paho.on_message

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            inner(client, userdata, message)
            if paho is self._paho:
                self._outstanding += 1
                self.high_water = max(self.high_water, self._outstanding)
                self._check()

        paho.on_message = on_message

    def arm(self) -> None:
        """The subscription is acknowledged: from now on, hold the broker to the window."""
        self._armed = True
        self._check()

    def _check(self) -> None:
        if self._armed and self._outstanding > self.size and self._reader is None:
            self._pause()

    def acked(self, count: int) -> None:
        self._outstanding = max(0, self._outstanding - count)
        if self._reader is not None and self._outstanding < self.size:
            fd, callback, args = self._reader
            self._reader = None
            loop = asyncio.get_running_loop()
            with contextlib.suppress(OSError, ValueError):
                loop.add_reader(fd, callback, *args)
            sock = self._paho.socket() if self._paho is not None else None
            if isinstance(sock, _BufferedReads):
                sock.held = False
                if sock.buffered():
                    # Already received: the socket will not become readable for these bytes.
                    loop.call_soon(callback, *args)

    def _pause(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self._paho.socket() if self._paho is not None else None
        selector = getattr(loop, "_selector", None)  # selector event loops only (the default)
        if sock is None or selector is None:
            return
        fd = sock.fileno()
        try:
            handle = selector.get_key(fd).data[0]
        except (KeyError, ValueError, IndexError):
            return
        if handle is None or handle._callback is None:
            return
        reader = (fd, handle._callback, tuple(handle._args or ()))  # remove_reader cancels the handle
        if loop.remove_reader(fd):
            self._reader = reader
            self.paused += 1
            if isinstance(sock, _BufferedReads):
                sock.held = True


async def probe(config: MqttSection, *, timeout_s: float = 10.0) -> None:
    """Connect to the broker and disconnect; raise ``BrokerError`` with the reason if that fails.

    Uses a clean, throw-away session under ``{client_id}-check`` and subscribes to
    nothing: taking over the ingestor's own id would disconnect a running
    ingestor, and joining its shared-subscription group would take a share of
    the stream into a session that is then thrown away.
    """
    import aiomqtt

    client = aiomqtt.Client(
        config.host,
        config.port,
        identifier=f"{config.client_id}-check"[:128],
        username=config.username,
        password=config.resolved_password(),
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=True,
        keepalive=config.keepalive_s,
        tls_context=config.tls_context(),
        timeout=timeout_s,
    )
    try:
        async with client:
            pass
    except aiomqtt.MqttError as exc:
        raise BrokerError(f"broker {config.host}:{config.port}: {config.explain(exc)}") from exc
