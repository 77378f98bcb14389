"""The live carbon service (``greenwire carbon run``): every building's results and carbon signal, kept current.

One ``asyncio.TaskGroup`` of named tasks:

- ``carbon-feed``: the live grid carbon-intensity feed (``greenwire/v1/grid/+/intensity``, schema
  ``greenwire.grid.v1``, see ``greenwire.cloud.carbon.feed``) through
  :class:`greenwire.cloud.adapters.mqtt.Consumer`: a persistent session under a stable client id,
  so values published while the service is down arrive when it is back. Each message is checked
  on arrival; a bad one is counted and reported, and it never stops the others. A message is
  acknowledged only after its value is stored (or it was rejected).
- ``carbon-update``: every ``interval_s``, store the feed's values, then update each building
  (``greenwire.cloud.carbon.live.refresh``: today's results, the month, the day's and the year's
  accounts, the live figures) in a worker thread, since the InfluxDB client blocks. A building
  whose update fails does not stop the others; a failed update is retried with capped
  exponential backoff with jitter (``greenwire.shared.backoff``) instead of waiting the interval.
- ``carbon-signal``: :class:`greenwire.transport.mqtt.MessagePublisher` publishes each building's
  retained signal on ``greenwire/v1/{site}/carbon/{building}`` (``greenwire.carbon.v1``,
  :mod:`greenwire.shared.signal`: the live figures, the zone's forecast with the building's
  emission rate, and the best 1, 2, 4 and 8 h windows of the next 24 h) at QoS 1.

``serve`` stops it on SIGTERM or SIGINT: the running update finishes, the queued signals are
published while the broker answers, then both connections close. With ``once`` it makes one
update (after the feed's retained and queued values have arrived) and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from greenwire.cloud.adapters.mqtt import Consumer, Delivery
from greenwire.cloud.carbon.facts import AccountSchedule
from greenwire.cloud.carbon.feed import feed_line
from greenwire.cloud.carbon.live import refresh
from greenwire.cloud.carbon.results import local_midnight
from greenwire.cloud.carbon.signal import signal_payload
from greenwire.shared.backoff import Backoff
from greenwire.shared.errors import StoreError
from greenwire.shared.lifecycle import install_signal_handlers
from greenwire.shared.topics import carbon_topic
from greenwire.transport.mqtt import BrokerSettings, Message, MessagePublisher

if TYPE_CHECKING:
    from greenwire.cloud.adapters.influxql import InfluxQLClient
    from greenwire.cloud.adapters.settings import MqttSection
    from greenwire.cloud.sites import Building

log = logging.getLogger(__name__)

FEED_FILTER: Final = "greenwire/v1/grid/+/intensity"
FEED_CLIENT_ID: Final = "greenwire-carbon"
"""Keep it: the broker keeps the feed's session (values sent while the service is away) under it."""
SIGNAL_CLIENT_ID: Final = "greenwire-carbon-signal"
SUBSCRIBE_WITHIN_S: Final = 10.0
"""``once``: how long the feed may take to subscribe before the run fails."""
SETTLE_S: Final = 1.0
"""``once``: the feed is taken once it has been quiet this long after subscribing (retained and
queued values arrive right after the subscription)..."""
SETTLE_MAX_S: Final = 5.0
"""...or after this long in any case."""
SHUTDOWN_GRACE_S: Final = 15.0


@dataclass(slots=True)
class CarbonStats:
    """Counters since start (for the log and tests)."""

    updates: int = 0
    failed_buildings: int = 0
    """Building updates that failed (each retried at the next update)."""
    feed_stored: int = 0
    feed_rejected: int = 0
    signals: int = 0
    """Carbon signals queued for publishing."""


@dataclass(frozen=True, slots=True)
class _FeedValue:
    delivery: Delivery
    line: str | None
    """The ``grid_intensity`` line; None for a rejected or cleared message (acknowledged, not stored)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CarbonService:
    """Keeps every building's results and live carbon signal current. ``await serve(CarbonService(...))``.

    ``feed`` is the broker section the grid feed is read with (its ``client_id`` names the
    persistent session), ``signal`` the broker the carbon signal is published to; either may be
    None (no feed, no signal). ``notify`` gets the lines a person running the command should see
    (rejected feed messages, a failing update and its recovery).
    """

    def __init__(self, influx: InfluxQLClient, targets: Sequence[tuple[str, Building]], *,
                 interval_s: float = 60.0, feed: MqttSection | None = None, signal: BrokerSettings | None = None,
                 notify: Callable[[str], None] = log.warning, clock: Callable[[], datetime] = _utc_now) -> None:
        self.influx = influx
        self.targets = tuple(targets)
        self.interval_s = interval_s
        self.consumer = Consumer(feed, topic_filter=FEED_FILTER) if feed is not None else None
        self.publisher = MessagePublisher(signal, name="carbon signal") if signal is not None else None
        self.accounts = AccountSchedule()
        self.stats = CarbonStats()
        self.error: str | None = None
        """Why the last update (or, with ``once``, the feed's subscription) failed; None when it did not."""
        self._notify = notify
        self._clock = clock
        self._feed: list[_FeedValue] = []
        self._failing = 0
        """Consecutive failed updates."""
        self._arrived = asyncio.Event()
        self._backoff = Backoff(start=min(1.0, interval_s), cap=max(interval_s, 1.0))

    # -- the feed -------------------------------------------------------------------------------

    async def _receive(self, delivery: Delivery) -> None:
        """Check a feed message on arrival; it is stored (and acknowledged) by the next update."""
        line: str | None = None
        if delivery.payload:  # an empty retained message clears the topic: nothing to store
            line, why = feed_line(delivery.topic, delivery.payload)
            if line is None:
                self.stats.feed_rejected += 1
                self._notify(f"grid feed message on {delivery.topic} rejected: {why} "
                             f"({self.stats.feed_rejected} so far)")
        self._feed.append(_FeedValue(delivery, line))
        self._arrived.set()

    async def _store_feed(self) -> None:
        """Store the feed's values, then acknowledge them in arrival order; kept for the next update
        if InfluxDB fails (unacknowledged, so the broker keeps them too)."""
        if not self._feed or self.consumer is None:
            return
        taken, self._feed = self._feed, []
        lines = [value.line for value in taken if value.line is not None]
        try:
            if lines:
                await asyncio.to_thread(self.influx.write, lines)
        except StoreError:
            self._feed[:0] = taken
            raise
        self.stats.feed_stored += len(lines)
        self.consumer.ack([value.delivery for value in taken])

    async def _settle(self, stop: asyncio.Event) -> bool:
        """``once``: wait for the feed's subscription and its first values; False if it never subscribes."""
        assert self.consumer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SUBSCRIBE_WITHIN_S
        while not self.consumer.connected:
            if stop.is_set() or loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        settled_by = loop.time() + SETTLE_MAX_S
        while loop.time() < settled_by:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=SETTLE_S)
            except TimeoutError:
                break
        return True

    # -- the update -----------------------------------------------------------------------------

    async def update(self, now: datetime) -> bool:
        """Store the feed's values, then update every building at ``now``; True if all was stored."""
        failures: list[StoreError] = []
        try:
            await self._store_feed()
        except StoreError as exc:
            failures.append(exc)
        for site, building in self.targets:
            try:
                result = await asyncio.to_thread(refresh, self.influx, site, building, now, self.accounts)
            except StoreError as exc:
                self.stats.failed_buildings += 1
                failures.append(exc)
                continue
            if self.publisher is not None and result.live is not None and result.grid_g_per_kwh is not None:
                today = local_midnight(now, building.timezone)
                budget = building.budget_between(today, today + timedelta(days=1))
                payload = signal_payload(site, building, result.live, result.today_kgco2e, result.grid_g_per_kwh,
                                         budget, result.outlook)
                self.publisher.put(Message(carbon_topic(site, building.id), payload, retain=True))
                self.stats.signals += 1
        self.stats.updates += 1
        if failures:
            self._failed(failures)
            return False
        if self._failing:
            self._notify(f"carbon results stored again after {self._failing} failed update(s)")
        self.error, self._failing = None, 0
        self._backoff.ok()
        return True

    def _failed(self, failures: list[StoreError]) -> None:
        self._failing += 1
        more = f" ({len(failures)} failures in this update)" if len(failures) > 1 else ""
        self.error = f"{failures[0]}{more}"
        if self._failing == 1:  # repeats go to the debug log until an update succeeds again
            self._notify(f"error: {self.error} (retrying at the next update)")
        else:
            log.debug("carbon update failed again: %s", self.error)

    async def _update_loop(self, stop: asyncio.Event, once: bool) -> bool:
        if once and self.consumer is not None and not await self._settle(stop):
            self.error = (f"cannot reach the broker {self.consumer.config.host}:{self.consumer.config.port} "
                          f"for the grid feed and the carbon signal: {self.consumer.last_error or 'no answer'}")
            self._notify(f"error: {self.error}")
            return False
        while True:
            ok = await self.update(self._clock().replace(second=0, microsecond=0))
            if once or stop.is_set():
                return ok
            delay = self.interval_s if ok else min(self.interval_s, self._backoff.failed())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return ok

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> bool:
        """Update until ``stop`` (or once), then publish what is queued and disconnect.

        True when the last update stored everything (``error`` says why not).
        """
        log.info("carbon service: %d building(s) every %g s; grid feed %s; carbon signal %s", len(self.targets),
                 self.interval_s, self.consumer.describe() if self.consumer else "off",
                 f"{self.publisher.broker.host}:{self.publisher.broker.port}" if self.publisher else "off")
        disconnect = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            others = set()
            if self.consumer is not None:
                others.add(group.create_task(self.consumer.run(self._receive, disconnect), name="carbon-feed"))
            if self.publisher is not None:
                others.add(group.create_task(self.publisher.run(disconnect), name="carbon-signal"))
            updater = group.create_task(self._update_loop(stop, once), name="carbon-update")
            try:
                ok = await updater
            finally:
                disconnect.set()
                if others:
                    _, stuck = await asyncio.wait(others, timeout=SHUTDOWN_GRACE_S)
                    for task in stuck:
                        log.warning("%s did not stop within %g s; cancelled", task.get_name(), SHUTDOWN_GRACE_S)
                        task.cancel()
        if self.publisher is not None and self.publisher.dropped:
            log.warning("carbon signal: %d messages were not published (queue full)", self.publisher.dropped)
        return ok


async def serve(service: CarbonService, *, once: bool = False) -> bool:
    """Run ``service`` until SIGTERM or SIGINT (or one update with ``once``); see ``CarbonService.run``."""
    stop = asyncio.Event()
    install_signal_handlers(stop)
    return await service.run(stop, once=once)
