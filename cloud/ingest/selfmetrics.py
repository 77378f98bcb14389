"""The ingestor's own metrics in InfluxDB: how late data arrives and what the ingestor did.

Every ``interval_s`` (10 s by default) the ingestor writes::

    ingest_lag,gateway=gw-01,instance=greenwire-ingest-1,site=campus-a lag_max_s=3.2,
        lag_newest_s=1.1,messages=10i,readings=30i 1795860000000000000
    ingest_stats,instance=greenwire-ingest-1 received_messages=1200i,accepted_messages=1190i,
        readings_written=35700i,rejected_total=10i,acked_messages=1200i,
        write_retries=0i,pending_messages=0i,stale_messages=0i,flushes=130i,
        write_latency_ms=4.2 1795860000000000000

- ``ingest_lag``: over the messages received in the interval from one gateway, the lag
  of the oldest reading (``lag_max_s`` = receipt time - reading ts: a buffered backlog
  shows as hours) and of the newest reading of the freshest message (``lag_newest_s``:
  how far behind live data is). Only intervals with messages have a point.
- ``ingest_stats``: the counters since the ingestor started (``instance`` is its MQTT
  client id, unique per ingestor): a panel shows rates with ``non_negative_derivative``.

These are the ingestor's own figures, not data: when InfluxDB does not take them they
are dropped and counted (``dropped_points``), and the next interval writes fresh ones;
they never hold back readings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from greenwire.cloud.ingest.points import timestamp_ns
from greenwire.shared.errors import StoreError
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.shared.wire import ReadingsBatch

if TYPE_CHECKING:
    from greenwire.cloud.adapters.influx import Writer
    from greenwire.cloud.ingest.pipeline import IngestStats

log = logging.getLogger(__name__)

LAG_MEASUREMENT: Final = "ingest_lag"
STATS_MEASUREMENT: Final = "ingest_stats"


@dataclass(slots=True)
class _Lag:
    messages: int = 0
    readings: int = 0
    max_ns: int = 0
    newest_ns: int | None = None


class SelfMetrics:
    """Collects lag per gateway as messages arrive; turns it and the counters into points."""

    def __init__(self, instance: str, *, interval_s: float = 10.0,
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.instance = instance
        self.interval_s = interval_s
        self.dropped_points = 0
        self._clock_ns = clock_ns
        self._lag: dict[tuple[str, str], _Lag] = {}

    def observe(self, site: str, gateway: str, batch: ReadingsBatch, received_ns: int) -> None:
        """Record the lag of an accepted batch received at ``received_ns``."""
        readings = batch.readings
        oldest = min(r.ts for r in readings)
        newest = max(r.ts for r in readings)
        self.observe_span(site, gateway, len(readings), timestamp_ns(oldest), timestamp_ns(newest), received_ns)

    def observe_span(self, site: str, gateway: str, readings: int, oldest_ns: int, newest_ns: int,
                     received_ns: int) -> None:
        """Record the lag of an accepted message of ``readings`` read from ``oldest_ns`` to ``newest_ns``.

        The ingestor's codec has the readings' times as integers already; this takes them as they are.
        """
        lag = self._lag.get((site, gateway))
        if lag is None:
            lag = self._lag[(site, gateway)] = _Lag()
        lag.messages += 1
        lag.readings += readings
        lag.max_ns = max(lag.max_ns, received_ns - oldest_ns)
        fresh = received_ns - newest_ns
        lag.newest_ns = fresh if lag.newest_ns is None else min(lag.newest_ns, fresh)

    def lines(self, stats: IngestStats) -> list[str]:
        """The points of the interval that ends now; starts a new interval."""
        now = self._clock_ns()
        out = []
        for (site, gateway), lag in sorted(self._lag.items()):
            prefix = SeriesPrefix(LAG_MEASUREMENT, {"instance": self.instance, "site": site, "gateway": gateway})
            out.append(prefix.line({
                "lag_max_s": lag.max_ns / 1e9,
                "lag_newest_s": (lag.newest_ns or 0) / 1e9,
                "messages": lag.messages,
                "readings": lag.readings,
            }, now))
        self._lag.clear()
        fields: dict[str, int | float] = {
            "received_messages": stats.received_messages,
            "accepted_messages": stats.accepted_messages,
            "readings_written": stats.readings_written,
            "rejected_total": stats.rejected_total,
            "acked_messages": stats.acked_messages,
            "write_retries": stats.write_retries,
            "pending_messages": stats.pending_messages,
            "stale_messages": stats.stale_messages,
            "flushes": stats.flushes,
        }
        if stats.last_write_latency_s is not None:
            fields["write_latency_ms"] = stats.last_write_latency_s * 1000
        out.append(SeriesPrefix(STATS_MEASUREMENT, {"instance": self.instance}).line(fields, now))
        return out

    async def write_once(self, writer: Writer, stats: IngestStats) -> None:
        """Write the interval's points; on failure drop them (counted) and log once per outage."""
        lines = self.lines(stats)
        try:
            await writer.write(lines)
        except StoreError as exc:
            self.dropped_points += len(lines)
            log.log(logging.WARNING if self.dropped_points == len(lines) else logging.DEBUG,
                    "self-metrics not stored (%s); %d points dropped so far", exc, self.dropped_points)

    async def run(self, writer: Callable[[], Writer | None], stats: IngestStats, stop: asyncio.Event) -> None:
        """Every ``interval_s`` until ``stop``, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            current = writer()
            if current is not None:
                await self.write_once(current, stats)
