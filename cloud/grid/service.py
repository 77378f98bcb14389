"""The live grid service (``greenwire grid run``): every configured zone polled, stored and published.

One ``asyncio.TaskGroup`` of named tasks:

- ``grid-{zone}`` per zone: ask the zone's provider (``Connector.fetch``: now and its
  forecast), fold the answer or the failure into the zone's
  :class:`~greenwire.cloud.grid.hold.HoldState`, then store and publish what
  :func:`greenwire.cloud.grid.messages.zone_update` says (the value for now, or the last
  one held with its age through an outage; never an invented one). A good answer waits
  ``interval_s`` for the next; a failure is retried with capped exponential backoff with
  jitter (:mod:`greenwire.shared.backoff`, capped at the interval), or after the
  provider's ``Retry-After`` when it sent one. A zone's failure never stops the others;
  the first failure is logged at error level, repeats at debug level, and the recovery
  at info level.
- ``grid-publish``: :class:`greenwire.transport.mqtt.MessagePublisher` publishes the
  ``greenwire.grid.v1`` and retained ``greenwire.grid-forecast.v1`` messages at QoS 1.

InfluxDB writes (blocking client) run in a worker thread; a failed write is kept and
written with the next poll's lines, so a database outage delays points but loses none
while the service runs. :func:`serve` stops the service on SIGTERM or SIGINT: the zone
tasks finish their poll, then what is queued is published and the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from greenwire.cloud.grid.errors import GridError, RateLimited
from greenwire.cloud.grid.fetch import Connector, connector_for
from greenwire.cloud.grid.hold import HoldState, on_failure, on_success
from greenwire.cloud.grid.messages import ZoneUpdate, zone_update
from greenwire.shared.backoff import Backoff
from greenwire.shared.errors import StoreError
from greenwire.shared.lifecycle import install_signal_handlers
from greenwire.transport.mqtt import BrokerSettings, Message, MessagePublisher

if TYPE_CHECKING:
    from greenwire.cloud.adapters.influxql import InfluxQLClient
    from greenwire.cloud.grid.config import ZoneFeed

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S: Final = 15.0
MAX_PENDING_LINES: Final = 200_000
"""Lines kept for InfluxDB through a database outage; older ones are dropped (and counted)."""

ConnectorFactory = Callable[["ZoneFeed"], Connector]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def default_connector(feed: ZoneFeed) -> Connector:
    """The connector of the feed's provider, with its base URL and the environment's credentials
    (``recorded``: its recording, replayed from now)."""
    if feed.provider == "recorded":
        from greenwire.cloud.grid.recorded import from_feed

        return from_feed(feed, _utc_now())
    return connector_for(feed.provider, base_url=feed.base_url)


@dataclass(slots=True)
class ZoneStats:
    """Counters of one zone since start (for the log and tests)."""

    polls: int = 0
    failures: int = 0
    published: int = 0
    last: ZoneUpdate | None = None


@dataclass(slots=True)
class GridStats:
    zones: dict[str, ZoneStats] = field(default_factory=dict)
    lines_written: int = 0
    lines_dropped: int = 0
    store_errors: int = 0


class GridService:
    """Polls each zone's provider, stores ``grid_intensity`` and publishes the grid feed.

    ``influx`` (None: nothing stored) gets the lines, ``broker`` (None: nothing published) the
    messages. ``connector`` builds each zone's connector (tests point it at a replay server),
    ``clock`` gives the time used for "now" in every poll, ``notify`` the lines a person running
    the command should see (a zone failing and recovering).
    """

    def __init__(
        self,
        zones: Sequence[ZoneFeed],
        *,
        influx: InfluxQLClient | None = None,
        broker: BrokerSettings | None = None,
        connector: ConnectorFactory = default_connector,
        clock: Callable[[], datetime] = _utc_now,
        notify: Callable[[str], None] = log.warning,
    ) -> None:
        self.zones = tuple(zones)
        self.influx = influx
        self.publisher = MessagePublisher(broker, name="grid feed") if broker is not None else None
        self.states: dict[str, HoldState] = {z.zone: HoldState() for z in self.zones}
        self.stats = GridStats({z.zone: ZoneStats() for z in self.zones})
        self._connector = connector
        self._clock = clock
        self._notify = notify
        self._pending: list[str] = []
        self._write_lock = asyncio.Lock()

    # -- one poll -------------------------------------------------------------------------------

    async def poll(self, feed: ZoneFeed, connector: Connector) -> tuple[ZoneUpdate, GridError | None]:
        """Ask the provider once, update the held state, store and publish; the update and the
        provider's error (None if it answered)."""
        now = self._clock()
        stats = self.stats.zones[feed.zone]
        stats.polls += 1
        error: GridError | None = None
        state = self.states[feed.zone]
        try:
            series = await connector.fetch(feed.zone, now=now)
        except GridError as exc:
            error = exc
            stats.failures += 1
            if state.failures == 0:
                self._notify(f"error: grid {feed.zone}: {exc} (holding the last value)")
            else:
                log.debug("grid %s failed again: %s", feed.zone, exc)
            state = on_failure(state, str(exc), now)
        else:
            if state.failures:
                self._notify(f"grid {feed.zone}: {feed.provider} answers again after {state.failures} "
                             "failed request(s)")
            state = on_success(state, series)
        self.states[feed.zone] = state
        update = zone_update(feed.zone, feed.provider, state, now, max_age_s=feed.max_age_s)
        stats.last = update
        await self._store(update.lines)
        if self.publisher is not None:
            if update.intensity is not None:
                self.publisher.put(Message(update.intensity_topic, update.intensity, retain=True))
                stats.published += 1
            self.publisher.put(Message(update.forecast_topic, update.forecast, retain=True))
        return update, error

    async def _store(self, lines: tuple[str, ...]) -> None:
        """Write this poll's lines and any kept from a failed write; keep them if InfluxDB fails."""
        if self.influx is None:
            return
        async with self._write_lock:
            batch = [*self._pending, *lines]
            try:
                await asyncio.to_thread(self.influx.write, batch)
            except StoreError as exc:
                self.stats.store_errors += 1
                if self.stats.store_errors == 1 or not self._pending:
                    self._notify(f"error: grid points not stored: {exc} (kept for the next poll)")
                overflow = max(0, len(batch) - MAX_PENDING_LINES)
                self.stats.lines_dropped += overflow
                self._pending = batch[overflow:]
                return
            if self._pending:
                self._notify(f"grid points stored again ({len(self._pending)} kept through the outage)")
            self._pending = []
            self.stats.lines_written += len(batch)

    # -- the loops ------------------------------------------------------------------------------

    async def _zone_loop(self, feed: ZoneFeed, stop: asyncio.Event, once: bool) -> None:
        backoff = Backoff(start=min(5.0, feed.interval_s), cap=feed.interval_s)
        async with self._connector(feed) as connector:
            while not stop.is_set():
                _, error = await self.poll(feed, connector)
                if once:
                    return
                if error is None:
                    backoff.ok()
                    delay = feed.interval_s
                else:
                    delay = backoff.failed()
                    if isinstance(error, RateLimited) and error.retry_after_s is not None:
                        delay = max(delay, error.retry_after_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> bool:
        """Poll until ``stop`` (or once per zone), then publish what is queued and disconnect.

        True when every zone's provider answered its last request.
        """
        log.info("grid service: %s; feed %s; database %s",
                 ", ".join(f"{z.zone} from {z.provider} every {z.interval_s:g} s" for z in self.zones),
                 f"{self.publisher.broker.host}:{self.publisher.broker.port}" if self.publisher else "off",
                 getattr(self.influx, "target", "off") if self.influx is not None else "off")
        disconnect = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            sender = (group.create_task(self.publisher.run(disconnect), name="grid-publish")
                      if self.publisher is not None else None)
            pollers = [group.create_task(self._zone_loop(z, stop, once), name=f"grid-{z.zone}")
                       for z in self.zones]
            try:
                await asyncio.gather(*pollers)
            finally:
                disconnect.set()
                if sender is not None:
                    _, stuck = await asyncio.wait({sender}, timeout=SHUTDOWN_GRACE_S)
                    for task in stuck:
                        log.warning("%s did not stop within %g s; cancelled", task.get_name(),
                                    SHUTDOWN_GRACE_S)
                        task.cancel()
        return all(state.failures == 0 for state in self.states.values())

    def summary(self) -> dict[str, Any]:
        """Per zone: the status under the hold policy, the value, its age, failures (for ``--once``)."""
        out: dict[str, Any] = {}
        for zone, stats in self.stats.zones.items():
            shown = stats.last.reading if stats.last is not None else None
            out[zone] = {
                "status": shown.status if shown else "none",
                "g_per_kwh": shown.point.g_per_kwh if shown and shown.point else None,
                "age_s": shown.age.total_seconds() if shown and shown.age is not None else None,
                "failures": self.states[zone].failures,
                "last_error": self.states[zone].last_error,
            }
        return out


async def serve(service: GridService, *, once: bool = False) -> bool:
    """Run ``service`` until SIGTERM or SIGINT (or one poll per zone with ``once``)."""
    stop = asyncio.Event()
    install_signal_handlers(stop)
    return await service.run(stop, once=once)
