"""The health service: MQTT -> validate -> InfluxDB (health database) -> alerts -> acknowledge.

It subscribes, as its own shared-subscription group (``health``), to the vitals and the
readings of the pilot's sites only (``greenwire/v1/{site}/+/vitals`` and ``.../readings``, the
latter for their indoor-environment sensors; a gateway of another site finds no subscriber
and keeps its vitals buffered), with the
ingestor's at-least-once machinery (``greenwire.cloud.adapters.mqtt.Consumer``: persistent session, manual
acknowledgement). For each message, in arrival order:

1. validate (``greenwire.cloud.health.intake`` for vitals, ``greenwire.cloud.ingest.validate`` for readings; readings
   without temperature, humidity or CO2 are acknowledged and left to the ingestor);
2. evaluate the alert rules on its samples, in time order (``greenwire.cloud.health.alerts``);
3. write its points and its alert events to the ``raw`` retention policy in one request,
   retried with capped backoff while InfluxDB is unreachable (nothing is acknowledged meanwhile);
4. queue the alert events for ``greenwire/v1/{site}/alerts/{gateway}``
   (``greenwire.transport.mqtt.MessagePublisher``: QoS 1 on its own connection with the broker's
   account and TLS, a bounded queue, reconnects with backoff; a full queue is counted and logged);
5. acknowledge the message.

At start the database and its retention policies are created or brought up to date
(``greenwire.cloud.health.admin``, which also erases a participant), and the alerts raised
and not cleared before are restored from the stored events.

Every ``aggregate_interval_s`` the current and previous hour, today, and every period that
late data touched are recomputed from the raw data into the ``aggregates`` policy
(``greenwire.cloud.health.aggregate``). Rejected vitals messages are counted and recorded without their
payload (only its size and SHA-256): a payload that fails validation may hold what must
never be stored. Logs carry counts and reason codes, never a pseudonym or a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

from greenwire.cloud.adapters.influx import InfluxV1Writer, retryable
from greenwire.cloud.adapters.mqtt import Consumer, Delivery
from greenwire.cloud.health.admin import (
    AGGREGATES,
    RAW,
    ensure_database,
    policy_writer,
    query_client,
)
from greenwire.cloud.health.aggregate import Aggregator, SiteFigures
from greenwire.cloud.health.alerts import AlertEngine, Sample
from greenwire.cloud.health.config import HealthConfig
from greenwire.cloud.health.intake import AcceptedVitals, validate_vitals, vitals_topic_ids
from greenwire.cloud.health.lines import (
    alert_line,
    environment_line,
    environment_values,
    rejected_line,
    vitals_lines,
)
from greenwire.cloud.ingest.commits import CommitBook, CommitPublisher, seq_of
from greenwire.cloud.ingest.validate import Accepted, Rejected, RejectReason, validate_message
from greenwire.shared.backoff import backoff_delay
from greenwire.shared.errors import BrokerError, StoreError
from greenwire.shared.topics import alerts_topic, readings_filter, shared_filter, vitals_filter
from greenwire.shared.vitals import AlertEvent, AlertState, VitalStatus
from greenwire.transport.mqtt import BrokerSettings, Message, MessagePublisher

log = logging.getLogger(__name__)

ALERT_QUEUE_MAX: Final = 10_000


@dataclass(slots=True)
class HealthStats:
    """Counters since start (for the log, the demo and tests). No identifiers."""

    received: int = 0
    vitals_messages: int = 0
    observations_written: int = 0
    environment_points: int = 0
    readings_ignored: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    """Events by ``rule:state``."""
    alerts_published: int = 0
    alerts_dropped: int = 0
    """Alert events stored in InfluxDB but not published: the publisher's queue was full."""
    write_retries: int = 0
    aggregations: int = 0
    aggregate_errors: int = 0
    acked: int = 0

    def summary(self) -> str:
        rejects = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items()))
        alerts = ", ".join(f"{k}={v}" for k, v in sorted(self.alerts.items()))
        return (f"received {self.received}, vitals {self.vitals_messages} msgs / {self.observations_written} obs, "
                f"environment {self.environment_points}, rejected {sum(self.rejected.values())}"
                f"{f' ({rejects})' if rejects else ''}, alerts {sum(self.alerts.values())}"
                f"{f' ({alerts})' if alerts else ''}, published {self.alerts_published}"
                f"{f' (dropped {self.alerts_dropped})' if self.alerts_dropped else ''}, acked {self.acked}")


class HealthService:
    """The pilot's cloud side. ``await HealthService(config).run(stop)``."""

    def __init__(self, config: HealthConfig, *, drain_timeout_s: float = 10.0, stats_interval_s: float = 30.0) -> None:
        self.config = config
        self.stats = HealthStats()
        self.sites = {s.id: s for s in config.sites}
        filters = tuple(shared_filter(config.mqtt.group, f(site)) for site in self.sites
                        for f in (vitals_filter, readings_filter))
        self.consumer = Consumer(config.mqtt, topic_filters=filters)
        self.engine = AlertEngine(rules=config.rules)
        self.commits = CommitBook("vitals")
        """Stored vitals batches, told to their gateways (``greenwire.commit.v1``, stream ``vitals``)."""
        mqtt = config.mqtt
        self.alerts = MessagePublisher(
            BrokerSettings.of(mqtt, f"{mqtt.client_id}-alerts", username=mqtt.username,
                              password=mqtt.resolved_password(), keepalive_s=mqtt.keepalive_s),
            name="health alerts", queue_size=ALERT_QUEUE_MAX)
        """Alert events at QoS 1 on their own connection (the broker's TLS and account apply); each
        is stored in InfluxDB before it is queued, so a full queue loses only the MQTT copy, counted."""
        self.commit_publisher = CommitPublisher(
            BrokerSettings.of(mqtt, f"{mqtt.client_id}-commit", username=mqtt.username,
                              password=mqtt.resolved_password(), keepalive_s=mqtt.keepalive_s),
            self.commits)
        self.latest: dict[str, dict[str, SiteFigures]] = defaultdict(dict)
        """Per site, the last figures written for the current hour ("1h") and day ("1d")."""
        self._dirty: dict[str, set[datetime]] = defaultdict(set)
        self.raised_by_site: Counter[str] = Counter()
        self._drain_timeout_s = drain_timeout_s
        self._stats_interval_s = stats_interval_s
        self._stopping = asyncio.Event()
        self._raw: InfluxV1Writer | None = None
        self._aggregates: InfluxV1Writer | None = None
        self._last_ns = 0
        carbon_sites = None
        if config.carbon_sites is not None:
            from greenwire.cloud.sites import load_sites

            carbon_sites = load_sites(config.carbon_sites)
        influx = config.influx
        self.aggregator = Aggregator(
            query_client(influx), rules=config.rules, max_gap=timedelta(seconds=config.exposure_max_gap_s),
            energy=query_client(influx, influx.energy_database), carbon_sites=carbon_sites,
        )

    # -- one message --------------------------------------------------------------------------

    def _receipt_ns(self) -> int:
        now = time.time_ns()
        self._last_ns = now if now > self._last_ns else self._last_ns + 1
        return self._last_ns

    def _mark(self, site: str, ts: datetime) -> None:
        self._dirty[site].add(ts.replace(minute=0, second=0, microsecond=0).astimezone(UTC))

    def _vitals(self, accepted: AcceptedVitals) -> tuple[list[str], list[AlertEvent]]:
        lines = vitals_lines(accepted.site, accepted.gateway, accepted.batch)
        events: list[AlertEvent] = []
        for obs in sorted(accepted.batch.observations, key=lambda o: o.ts):
            self._mark(accepted.site, obs.ts)
            if obs.status is VitalStatus.ENTERED_IN_ERROR:
                continue  # a retraction: never evaluated
            for rule in self.engine.rules_for_code(obs.code):
                event = self.engine.evaluate(rule, Sample(accepted.site, accepted.gateway, obs.subject, obs.ts, obs.value))
                if event is not None:
                    events.append(event)
        self.stats.vitals_messages += 1
        return lines, events

    def _environment(self, accepted: Accepted) -> tuple[list[str], list[AlertEvent]]:
        lines: list[str] = []
        events: list[AlertEvent] = []
        for reading in sorted(accepted.batch.readings, key=lambda r: r.ts):
            values = environment_values(reading)
            if not values:
                continue
            lines.append(environment_line(accepted.site, accepted.gateway, reading, values))
            self._mark(accepted.site, reading.ts)
            for quantity, value in values.items():
                for rule in self.engine.rules_for_quantity(quantity):
                    event = self.engine.evaluate(rule, Sample(accepted.site, accepted.gateway, reading.device,
                                                              reading.ts, value))
                    if event is not None:
                        events.append(event)
        return lines, events

    def _reject(self, delivery: Delivery, rejected: Rejected, received_ns: int) -> str:
        ids = vitals_topic_ids(delivery.topic)
        self.stats.rejected[rejected.reason.value] += 1
        record = {
            "received_at": datetime.fromtimestamp(received_ns / 1e9, UTC).isoformat(),
            "topic": delivery.topic, "reason": rejected.reason.value, "detail": rejected.detail,
            "bytes": len(delivery.payload), "sha256": hashlib.sha256(delivery.payload).hexdigest(),
        }
        path = self.config.state_dir / f"health-rejected-{datetime.now(UTC):%Y%m%d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            handle.write(orjson.dumps(record) + b"\n")
        return rejected_line(rejected.reason.value, size=len(delivery.payload), received_ns=received_ns,
                             site=ids[0] if ids else None, gateway=ids[1] if ids else None)

    async def _deliver(self, delivery: Delivery) -> None:
        self.stats.received += 1
        received_ns = self._receipt_ns()
        now = datetime.fromtimestamp(received_ns / 1e9, UTC)
        lines: list[str] = []
        events: list[AlertEvent] = []
        seq: int | None = None
        if delivery.topic.endswith("/vitals"):
            outcome = validate_vitals(delivery.topic, delivery.payload, now=now, limits=self.config.limits)
            if isinstance(outcome, AcceptedVitals):
                lines, events = self._vitals(outcome)
                count = len(outcome.batch.observations)
                seq = outcome.batch.seq
            else:
                lines = [await asyncio.to_thread(self._reject, delivery, outcome, received_ns)]
                count = 0
                seq = seq_of(delivery.payload)
        else:
            readings = validate_message(delivery.topic, delivery.payload, now=now, limits=self.config.limits)
            count = 0
            if isinstance(readings, Accepted) and readings.site in self.sites:
                lines, events = self._environment(readings)
            if not lines:
                self.stats.readings_ignored += 1  # no indoor-environment values, or the ingestor's reject
        lines += [alert_line(e) for e in events]
        if lines and not await self._write_raw(lines):
            return  # stopping with InfluxDB down: not acknowledged, the broker sends it again
        if delivery.topic.endswith("/vitals"):
            self.stats.observations_written += count
        else:
            self.stats.environment_points += sum(1 for line in lines if line.startswith("environment,"))
        for event in events:
            self.stats.alerts[f"{event.rule}:{event.state.value}"] += 1
            if event.state is AlertState.RAISED:
                self.raised_by_site[event.site] += 1
            self.alerts.put(Message(alerts_topic(event.site, event.gateway), event.to_json()))
        acked, _ = self.consumer.ack([delivery])
        self.stats.acked += acked
        ids = vitals_topic_ids(delivery.topic) if seq is not None else None
        if ids is not None and seq is not None:
            self.commits.add(ids[0], ids[1], seq)
            self.commit_publisher.wake()

    async def _write_raw(self, lines: list[str]) -> bool:
        """Write to the raw policy, retrying while InfluxDB is unreachable; False if stopping first."""
        assert self._raw is not None
        failures = 0
        while True:
            try:
                await self._raw.write(lines)
                if failures:
                    log.info("InfluxDB accepted health points after %d failed attempts", failures)
                return True
            except StoreError as exc:
                if not retryable(exc):
                    # Valid data InfluxDB will not take (e.g. older than the raw retention): counted, not retried.
                    self.stats.rejected[RejectReason.STORE_REJECTED.value] += 1
                    log.warning("InfluxDB refused health points: %s", str(exc).split(":")[0])
                    return True
                failures += 1
                self.stats.write_retries += 1
                log.log(logging.ERROR if failures == 1 else logging.DEBUG, "%s; retrying", exc)
            if self._stopping.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff_delay(failures, start=0.5))

    # -- aggregates -----------------------------------------------------------------------------

    async def aggregate_once(self, now: datetime | None = None) -> int:
        """Recompute the current and previous hour, today, and periods late data touched; lines written."""
        assert self._aggregates is not None
        now = now or datetime.now(UTC)
        written = 0
        for site_id, site in self.sites.items():
            current = now.replace(minute=0, second=0, microsecond=0)
            dirty, self._dirty[site_id] = self._dirty[site_id], set()
            hours = sorted({current - timedelta(hours=1), current} | {h for h in dirty if h <= current})
            tz = ZoneInfo(site.timezone)
            days = sorted({h.astimezone(tz).date() for h in hours})
            try:
                lines: list[str] = []
                for hour in hours:
                    active = self.engine.active(site_id) if hour == current else None
                    lines += await asyncio.to_thread(self.aggregator.hour, site_id, hour, active=active)
                for day in days:
                    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
                    end = (datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(days=1)).astimezone(UTC)
                    is_today = start <= now < end
                    figures, day_lines = await asyncio.to_thread(
                        self.aggregator.day, site_id, start, end, now=now,
                        active=self.engine.active(site_id) if is_today else None)
                    lines += day_lines
                    if is_today:
                        self.latest[site_id]["1d"] = figures
                await self._aggregates.write(lines)
                written += len(lines)
                self.stats.aggregations += 1
            except StoreError as exc:
                self._dirty[site_id] |= dirty  # try these periods again next round
                self.stats.aggregate_errors += 1
                log.error("health aggregates of site %s: %s", site_id, exc)
        return written

    async def _aggregate_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.config.aggregate_interval_s)
            try:
                await self.aggregate_once()
            except (StoreError, BrokerError) as exc:
                log.error("health aggregates: %s", exc)
            except (TypeError, ValueError, KeyError) as exc:
                # An answer of a shape the aggregation did not expect: the raw data are stored
                # and the next pass recomputes the period, so vitals keep flowing meanwhile.
                log.error("health aggregates skipped this pass: unexpected InfluxDB answer (%s: %s)",
                          type(exc).__name__, exc)

    async def _report_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._stats_interval_s)
            self._count_alerts()
            log.info("health: %s", self.stats.summary())

    def _count_alerts(self) -> None:
        self.stats.alerts_published = self.alerts.published
        self.stats.alerts_dropped = self.alerts.dropped

    def restore_alerts(self) -> int:
        """Alerts raised and not cleared before this start, from ``raw.health_alerts``; how many."""
        rows = self.aggregator.health.query(
            'SELECT last("value") AS "value", "state" FROM "raw"."health_alerts" '
            'GROUP BY "rule", "site", "gateway", "subject", "device"'
        )
        restored = 0
        for row in rows:
            key = row.get("subject") or row.get("device")
            if row.get("state") != AlertState.RAISED.value or not key or row.get("site") not in self.sites:
                continue
            at = datetime.fromtimestamp(int(row["time"]) // 10**9, UTC) + timedelta(
                microseconds=(int(row["time"]) % 10**9) // 1000)
            restored += self.engine.restore(str(row["rule"]), str(row["site"]), str(row["gateway"]), str(key), at)
        return restored

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop``; then finish the message in hand, aggregate once more, and disconnect."""
        influx = self.config.influx
        await ensure_database(self.config)
        restored = await asyncio.to_thread(self.restore_alerts)
        if restored:
            log.info("%d alerts raised before this start are still active", restored)
        self._raw = policy_writer(influx, RAW)
        self._aggregates = policy_writer(influx, AGGREGATES)
        disconnect = asyncio.Event()
        alerts_stop = asyncio.Event()
        log.info("health service: %s into %s (raw %s, aggregates %s)", self.consumer.describe(), influx.database,
                 influx.raw_retention, influx.aggregate_retention)
        try:
            async with asyncio.TaskGroup() as group:
                consumer = group.create_task(self.consumer.run(self._deliver, disconnect), name="health-mqtt")
                group.create_task(self.alerts.run(alerts_stop), name="health-alerts")
                group.create_task(self.commit_publisher.run(alerts_stop), name="health-commits")
                aggregates = group.create_task(self._aggregate_loop(), name="health-aggregates")
                group.create_task(self._report_loop(), name="health-stats")
                await stop.wait()
                self._stopping.set()
                disconnect.set()
                await asyncio.wait({consumer}, timeout=self._drain_timeout_s)
                await aggregates
                with contextlib.suppress(StoreError):
                    await self.aggregate_once()
                alerts_stop.set()
        finally:
            self._stopping.set()
            disconnect.set()
            alerts_stop.set()
            self._count_alerts()
            log.info("health service stopped: %s", self.stats.summary())
            for writer in (self._raw, self._aggregates):
                if writer is not None:
                    await writer.close()


def health_snapshot(service: HealthService, site: str) -> dict[str, Any]:
    """What the demo shows for a site: participants, alerts, kgCO2e per participant-day (no identifiers)."""
    day = service.latest.get(site, {}).get("1d")
    raised = service.raised_by_site[site]
    return {
        "participants": day.participants if day else None,
        "observations": day.observations if day else None,
        "alerts_raised": raised,
        "alerts_active": service.engine.active(site),
        "kgco2e": day.kgco2e if day else None,
        "kgco2e_per_participant_day": day.kgco2e_per_participant_day if day else None,
        "heat_exposure_h": day.heat_exposure_h if day else None,
        "co2_exposure_h": day.co2_exposure_h if day else None,
    }
