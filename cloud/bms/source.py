"""The buildings' retained carbon signals, read from the broker and kept for the BMS servers.

:class:`Signals` holds the last good ``greenwire.carbon.v1`` signal of each configured
building (pure bookkeeping: ``receive`` a payload, ``get`` a building's signal), and counts
and keeps the reason of each rejected payload; a bad message never replaces a good signal.
An empty retained message (the topic cleared) forgets the building's signal.

:func:`follow` subscribes to the buildings' topics (``greenwire/v1/{site}/carbon/{building}``,
QoS 1; the broker sends the retained signal at once) and feeds ``Signals`` until stopped,
reconnecting with :mod:`greenwire.shared.backoff`. A clean session is right here: the
retained message is the whole state, so nothing queued while away is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from greenwire.cloud.bms.encode import CarbonSignal, Rejected, parse_signal
from greenwire.shared.aioloop import tolerate_closed_socket_registration
from greenwire.shared.backoff import Backoff
from greenwire.shared.errors import BrokerError
from greenwire.shared.topics import carbon_topic
from greenwire.transport.mqtt import BrokerSettings, client

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Signals:
    """The last good signal per (site, building), and what was rejected."""

    buildings: tuple[tuple[str, str], ...]
    signals: dict[tuple[str, str], CarbonSignal] = field(default_factory=dict)
    received: int = 0
    rejected: int = 0
    last_rejection: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def topics(self) -> dict[str, tuple[str, str]]:
        return {carbon_topic(site, building): (site, building) for site, building in self.buildings}

    def receive(self, topic: str, payload: bytes) -> CarbonSignal | Rejected | None:
        """Take one message of a building's topic; the signal, its rejection, or None (cleared)."""
        key = self.topics().get(topic)
        if key is None:
            return Rejected(f"not a configured building's topic: {topic}")
        self.received += 1
        if not payload:
            self.signals.pop(key, None)
            self.changed.set()
            return None
        parsed = parse_signal(payload)
        if isinstance(parsed, Rejected):
            self.rejected += 1
            self.last_rejection = f"{topic}: {parsed.reason}"
            log.log(logging.ERROR if self.rejected == 1 else logging.DEBUG, "carbon signal rejected: %s",
                    self.last_rejection)
            return parsed
        if (parsed.site, parsed.building) != key:
            self.rejected += 1
            self.last_rejection = f"{topic}: the payload is {parsed.site}/{parsed.building}'s"
            return Rejected(self.last_rejection)
        self.signals[key] = parsed
        self.changed.set()
        return parsed

    def get(self, site: str, building: str) -> CarbonSignal | None:
        return self.signals.get((site, building))


async def follow(signals: Signals, broker: BrokerSettings, stop: asyncio.Event,
                 *, connected: asyncio.Event | None = None) -> None:
    """Keep ``signals`` current from the broker until ``stop``; ``connected`` is set once subscribed."""
    import aiomqtt

    tolerate_closed_socket_registration()
    backoff = Backoff(start=1.0, cap=30.0)
    topics: Iterable[str] = list(signals.topics())
    while not stop.is_set():
        try:
            async with client(broker) as connection:
                await connection.subscribe([(t, 1) for t in topics])
                if backoff.failures:
                    log.info("carbon signals: connected to %s:%d again", broker.host, broker.port)
                backoff.ok()
                if connected is not None:
                    connected.set()
                stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
                try:
                    async for message in _until(connection.messages, stopper):
                        payload = message.payload
                        signals.receive(str(message.topic),
                                        bytes(payload) if isinstance(payload, bytes | bytearray)
                                        else str(payload if payload is not None else "").encode())
                finally:
                    stopper.cancel()
        except aiomqtt.MqttError as exc:
            error = BrokerError(f"carbon signals: broker {broker.host}:{broker.port}: {broker.explain(exc)}")
            log.log(logging.ERROR if backoff.failures == 0 else logging.DEBUG, "%s", error)
            delay = backoff.failed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


async def _until(messages: AsyncIterable[T], stopper: asyncio.Future[Any]) -> AsyncIterator[T]:
    """The messages of an aiomqtt iterator until ``stopper`` is done."""
    iterator = messages.__aiter__()
    while True:
        getter = asyncio.ensure_future(iterator.__anext__())
        await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await getter
            return
        try:
            yield getter.result()
        except StopAsyncIteration:
            return
