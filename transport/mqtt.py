"""The one way greenwire connects to and publishes on an MQTT broker.

- :class:`BrokerSettings`: where and how to connect (resolved once from a config or the local stack).
- :func:`client`: the aiomqtt client every publisher uses (MQTT 5, TLS context, account, will).
- :class:`MessagePublisher`: a bounded queue of messages published at QoS 1, reconnecting with
  :mod:`greenwire.shared.backoff` while the service keeps working; used by the cloud services
  (the carbon signal, health alerts). The edge's store-and-forward drain
  (:class:`greenwire.transport.publisher.Publisher`) connects through the same :func:`client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from greenwire.shared.aioloop import tolerate_closed_socket_registration
from greenwire.shared.backoff import Backoff
from greenwire.shared.errors import BrokerError
from greenwire.shared.tls import client_context
from greenwire.shared.tls import explain as explain_tls

if TYPE_CHECKING:
    import aiomqtt

    from greenwire.shared.broker import BrokerEndpoint

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where and how to connect; resolved from the config (or the local stack) at start-up."""

    host: str
    port: int
    client_id: str
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    """With ``tls``: the CA the broker's certificate must chain to (else the system's)."""
    cert_file: Path | None = None
    """With ``tls``: a client certificate (and ``key_file``) for brokers that require one."""
    key_file: Path | None = None

    @classmethod
    def of(cls, endpoint: BrokerEndpoint, client_id: str, *, username: str | None = None,
           password: str | None = None, keepalive_s: int = 30) -> BrokerSettings:
        """Settings for a config's broker endpoint (its URL and TLS files) and an account."""
        return cls(endpoint.host, endpoint.port, client_id, keepalive_s, username, password, endpoint.tls,
                   ca_file=endpoint.ca_file, cert_file=endpoint.cert_file, key_file=endpoint.key_file)

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context of ``mqtts://`` (hostname verified against ``ca_file``), else None."""
        return client_context(self.ca_file, self.cert_file, self.key_file) if self.tls else None

    def explain(self, error: BaseException) -> str:
        """Why connecting failed, in words (TLS certificate problems named)."""
        return explain_tls(error, self.host, self.ca_file) if self.tls else str(error)


def client(broker: BrokerSettings, *, will: aiomqtt.Will | None = None, client_id: str | None = None) -> aiomqtt.Client:
    """An MQTT 5 client for ``broker``: its account, TLS context and keepalive, and ``will`` if given."""
    import aiomqtt

    return aiomqtt.Client(
        broker.host,
        broker.port,
        identifier=(client_id or broker.client_id)[:128],
        username=broker.username,
        password=broker.password,
        keepalive=broker.keepalive_s,
        protocol=aiomqtt.ProtocolVersion.V5,
        will=will,
        tls_context=broker.tls_context(),
        timeout=CONNECT_TIMEOUT_S,
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One message to publish at QoS 1."""

    topic: str
    payload: bytes
    retain: bool = False


def settle_disconnect(client: object) -> None:
    """Take the error of an unexpected disconnection off an aiomqtt client we are done with.

    WORKAROUND: aiomqtt 2.5 sets it on a future that only ``client.messages`` reads; a
    publisher never reads messages, so every broker crash ended in asyncio's
    "Future exception was never retrieved" at error level in the gateway's log.
    """
    future = getattr(client, "_disconnected", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


class MessagePublisher:
    """Publishes queued messages at QoS 1 until stopped; a broker outage is retried with backoff.

    ``put`` never blocks the service: when the bounded queue is full the message is counted in
    ``dropped`` and logged (its content is stored elsewhere first: InfluxDB for alerts and
    carbon figures). On ``stop`` what is queued is published while the broker answers.
    """

    def __init__(self, broker: BrokerSettings, *, name: str, queue_size: int = 10_000,
                 backoff: Backoff | None = None) -> None:
        self.broker = broker
        self.name = name
        self.queue: asyncio.Queue[Message] = asyncio.Queue(queue_size)
        self.published = 0
        self.dropped = 0
        self.connected = False
        self.last_error: str | None = None
        self._backoff = backoff or Backoff(start=1.0, cap=30.0)

    def put(self, message: Message) -> None:
        """Queue ``message``; counted in ``dropped`` if the queue is full."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("%s: queue full, a message for %s was not published", self.name, message.topic)

    async def run(self, stop: asyncio.Event, *, give_up_after_stop: int = 3) -> None:
        """Connect and publish until ``stop`` and the queue is empty (or the broker stays away)."""
        import aiomqtt

        tolerate_closed_socket_registration()
        pending: Message | None = None
        while not stop.is_set() or pending is not None or not self.queue.empty():
            session = client(self.broker)
            try:
                async with session as connection:
                    self.connected = True
                    if self._backoff.failures:
                        log.info("%s: connected to broker %s:%d again", self.name, self.broker.host, self.broker.port)
                    self._backoff.ok()
                    while True:
                        if pending is None:
                            pending = await self._next(stop)
                            if pending is None:
                                return
                        await connection.publish(pending.topic, pending.payload, qos=1, retain=pending.retain)
                        self.published += 1
                        pending = None
            except aiomqtt.MqttError as exc:
                self.connected = False
                delay = self._backoff.failed()
                self.last_error = self.broker.explain(exc)
                error = BrokerError(f"{self.name}: broker {self.broker.host}:{self.broker.port}: {self.last_error}")
                log.log(logging.ERROR if self._backoff.failures == 1 else logging.DEBUG, "%s", error)
                if stop.is_set() and self._backoff.failures > give_up_after_stop:
                    log.warning("%s: stopping with %d messages not published", self.name,
                                self.queue.qsize() + (pending is not None))
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            finally:
                self.connected = False
                settle_disconnect(session)

    async def _next(self, stop: asyncio.Event) -> Message | None:
        """The next queued message, or None once ``stop`` is set and nothing is queued."""
        while True:
            if not self.queue.empty():
                # Queued already (a burst of alerts, a service's figures at once):
                # no task pair and wait() per message.
                return self.queue.get_nowait()
            if stop.is_set():
                return None
            getter: asyncio.Task[Message] = asyncio.create_task(self.queue.get())
            stopper: asyncio.Task[bool] = asyncio.create_task(stop.wait())
            await asyncio.wait((getter, stopper), return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter.done():
                return getter.result()
            getter.cancel()

