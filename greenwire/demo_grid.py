"""The demo's grid: NESO's 2022 GB hourly intensity, replayed in step with the meters' 2022 replay.

``greenwire grid run``'s own service (:class:`~greenwire.cloud.grid.service.GridService`) polls
the recorded provider (:mod:`greenwire.cloud.grid.recorded`) every few seconds and writes
``grid_intensity`` (actuals, and the forecast tagged ``status=forecast``) to the stack's
InfluxDB, where the carbon engine takes each minute's intensity and the signal its forecast.
Both replays start at ``REPLAY_START`` on the same wall-clock minute, so at the demo's speed
(60: a recorded hour a wall minute) each minute the engine accounts is one recorded hour.

The forecast is the record itself, so it is perfect; the view says so. Windows are searched
in wall time over a horizon and durations shrunk by the speed (24 recorded hours ahead; 1, 2,
4 and 8 recorded hours long) and shown on the recorded clock.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from greenwire.cloud.carbon.windows import DURATIONS, HORIZON, BestWindow, NoWindow

ZONE = "GB"
POLL_S = 5.0


def minute_start(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class DemoGrid:
    """The recorded GB grid of the demo, on the clock from ``anchor`` (a wall-clock minute)."""

    def __init__(self, env: Any, replay_from: datetime, speed: float, anchor: datetime) -> None:
        from greenwire.cloud.carbon.intensity import load_csv
        from greenwire.cloud.grid.recorded import RecordedConnector
        from greenwire.simulators.series import GB_INTENSITY_2022

        self.env = env
        self.speed = speed
        self.connector = RecordedConnector(load_csv(GB_INTENSITY_2022, zone=ZONE), replay_from=replay_from,
                                           started_at=anchor, speed=speed)
        self.durations = tuple(d / speed for d in DURATIONS)
        self.horizon = HORIZON / speed
        self.service: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll the recorded provider and store what it says until ``stop``."""
        from greenwire.cloud.adapters.influxql import InfluxV1
        from greenwire.cloud.grid.config import ZoneFeed
        from greenwire.cloud.grid.service import GridService
        from greenwire.simulators.series import GB_INTENSITY_2022

        feed = ZoneFeed(zone=ZONE, provider="recorded", recording=GB_INTENSITY_2022,
                        replay_from=self.connector.replay_from, speed=self.speed, interval_s=POLL_S,
                        max_age_s=3600 / self.speed)
        self.service = GridService([feed], influx=InfluxV1(self.env.influx_url, self.env.influx_db),
                                   connector=lambda _feed: self.connector, notify=lambda _line: None)
        await self.service.run(stop)

    def now(self) -> tuple[datetime, float] | None:
        """The grid service's value now: (its period's start on the recorded clock, g/kWh); None before
        the first poll."""
        last = self.service.stats.zones[ZONE].last if self.service is not None else None
        point = last.reading.point if last is not None else None
        return None if point is None else (self.connector.recorded(point.start), point.g_per_kwh)

    def window_cell(self, window: BestWindow | NoWindow | None) -> str:
        """``HH:MM gCO2e/kWh`` of a best window on the recorded clock, ``-`` when none fits."""
        if not isinstance(window, BestWindow):
            return "-"
        return f"{self.connector.recorded(window.start):%H:%M} {window.mean_g_per_kwh:.0f}"

    def line(self, windows: tuple[BestWindow | NoWindow, ...]) -> str | None:
        """The grid's line under the table: the hour replayed and its intensity, the best windows."""
        now = self.now()
        if now is None:
            return None
        best = ", ".join(f"{int(d.total_seconds() // 3600)} h {self.window_cell(w)}"
                         for d, w in zip(DURATIONS, windows, strict=False))
        return (f"grid {ZONE} (NESO 2022 replayed) {now[0]:%d %b %H:%M} {now[1]:.0f} g/kWh; best windows "
                f"in the next 24 h (start, g/kWh; the forecast is the record): {best or 'none yet'}")
