"""A recorded provider: a past intensity record answered as a live provider would, on the clock.

For the demo and CI, which replay a recorded meter year: the grid intensity of the same
hours is replayed with it (the repository ships NESO's 2022 GB hourly record, as processed in
the Cambridge archive; NESO Carbon Intensity API data, CC BY 4.0), through the same
:class:`~greenwire.cloud.grid.fetch.Connector` interface as the network providers, so
``grid run``'s hold policy, messages and stored points are the real ones.

The record's moment ``replay_from`` plays at wall time ``started_at`` and the record runs
``speed`` times faster than the clock (a recorded hour lasts ``3600 / speed`` s), as the
meter simulators' :class:`~greenwire.simulators.series.Replay` does. At ``now``, ``fetch``
answers like NESO's national endpoint: ``actual`` points for the recorded periods that have
started (the last ``history`` of them, in recorded time) and, as the ``forecast``, the record
of the next ``ahead``. That forecast is perfect (it is what happened), which no real forecast
is: say so where its windows are shown. Past the end of the record it answers ``NoData``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from greenwire.cloud.grid.errors import NoData
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries
from greenwire.shared.intensity import IntensitySeries as Record

if TYPE_CHECKING:
    from greenwire.cloud.grid.config import ZoneFeed

PROVIDER = "recorded"


class RecordedConnector:
    """Answers from ``record`` (a stored series, e.g. ``load_csv`` of a NESO CSV) mapped onto the clock."""

    provider = PROVIDER

    def __init__(self, record: Record, *, replay_from: datetime, started_at: datetime, speed: float = 1.0,
                 history: timedelta = timedelta(hours=24), ahead: timedelta = timedelta(hours=48)) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.record = record
        self.replay_from = replay_from
        self.started_at = started_at
        self.speed = speed
        self.history = history
        self.ahead = ahead

    async def __aenter__(self) -> RecordedConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def wall(self, recorded: datetime) -> datetime:
        """The wall time at which the recorded moment ``recorded`` plays."""
        return self.started_at + (recorded - self.replay_from) / self.speed

    def recorded(self, wall: datetime) -> datetime:
        """The recorded moment that plays at wall time ``wall``."""
        return self.replay_from + (wall - self.started_at) * self.speed

    async def fetch(self, zone: str, *, now: datetime) -> IntensitySeries:
        at = self.recorded(now)
        if not self.record.starts[0] <= at < self.record.end:
            raise NoData(PROVIDER, f"the record of {self.record.zone} covers {self.record.starts[0]:%Y-%m-%d} "
                                   f"to {self.record.end:%Y-%m-%d}, not {at:%Y-%m-%d %H:%M}")
        points = []
        for start, value, period in zip(self.record.starts, self.record.values, self.record.periods, strict=True):
            if start + period <= at - self.history or start >= at + self.ahead:
                continue
            status: Literal["actual", "forecast"] = "actual" if start <= at else "forecast"
            points.append(IntensityPoint(self.wall(start), self.wall(start + period), value, status))
        return IntensitySeries.build(
            zone=zone, provider=PROVIDER, source=f"{self.record.source}, replayed x{self.speed:g}",
            kind=self.record.kind, basis=self.record.basis, points=points, fetched_at=now)


def from_feed(feed: ZoneFeed, started_at: datetime) -> RecordedConnector:
    """The connector of a ``provider: recorded`` zone of the grid config, its replay starting at ``started_at``.

    A recording that cannot be read is a ``ConfigError`` naming the file.
    """
    from greenwire.cloud.carbon.intensity import load_csv
    from greenwire.shared.errors import ConfigError

    assert feed.recording is not None and feed.replay_from is not None  # the config's validator says so
    try:
        record = load_csv(feed.recording, zone=feed.zone)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"zone {feed.zone}: cannot replay {feed.recording}: {exc}") from None
    return RecordedConnector(record, replay_from=feed.replay_from, started_at=started_at, speed=feed.speed)
