"""The demo's history: recorded months of the three Cambridge buildings, for the forecast and the anomaly services.

The live replay runs a recorded hour every minute, too fast for a day-ahead model or for
detectors that compare each night with the last four weeks. So the demo also stores, as its own
site ``cambridge-history`` (gateway ``gw-history``, buildings ``b2-history``, ``b25-history``,
``b85-history``), the last ``DAYS`` days of each building's recorded 2022 electricity as hourly
counter readings in real time, moved by whole weeks so that they end at the last full hour
before the demo started (weekdays stay weekdays). Into each building one known anomaly is put
with :func:`greenwire.cloud.anomalies.inject.inject` (``INJECTED``): the plant left running at
night in b2, the meter silent for some hours in b25, the counter standing still in b85.

Then, as ``greenwire carbon backfill`` does, the last ``ACTUAL_DAYS`` days are accounted, and as
``greenwire forecast run`` and ``greenwire anomalies run`` do, each building's model is
trained and its 48 h forecast stored in ``carbon_forecast``, and its findings are stored in
``anomalies`` and published, retained, on ``greenwire/v1/cambridge-history/anomalies/{building}``.
The Building dashboard shows both for the site ``cambridge-history``, and ``greenwire carbon
statement --site cambridge-history --building b2-history --period YYYY-MM`` notes the findings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SITE = "cambridge-history"
GATEWAY = "gw-history"
DAYS = 120
RECORDED_END = datetime(2023, 1, 1, tzinfo=UTC)
"""The end of the recorded year: the history is its last ``DAYS`` days, moved by whole weeks."""
INJECTED = {"b2": "out_of_hours", "b25": "stopped_reporting", "b85": "frozen_counter"}
COUNTER_START_KWH = 20_000.0
ACTUAL_DAYS = 3
"""The days of the history the carbon engine accounts (``carbon backfill``, without the year's
account): the actuals beside the forecast on the Building dashboard."""


@dataclass(frozen=True)
class HistoryResult:
    """What the demo prints of each history building: its forecast and its findings."""

    building: str
    forecast_kwh: tuple[float, float, float] | None
    """The next 24 h from today's local midnight, P10/P50/P90 kWh (None: no forecast)."""
    forecast_kgco2e: float | None
    findings: tuple[str, ...]
    """Each finding as ``kind YYYY-MM-DD``."""

    def line(self) -> str:
        if self.forecast_kwh is None:
            ahead = "no forecast"
        else:
            p10, p50, p90 = self.forecast_kwh
            ahead = (f"next 24 h {p50:,.0f} kWh (P10 {p10:,.0f}, P90 {p90:,.0f})"
                     + (f", {self.forecast_kgco2e:,.0f} kgCO2e" if self.forecast_kgco2e is not None else ""))
        found = ", ".join(self.findings) if self.findings else "none"
        return f"{self.building}: {ahead}; anomalies in {DAYS} days: {found}"


def shift_for(now: datetime) -> timedelta:
    """Whole weeks that move the recorded year's end to ``now``'s hour or up to a week after it."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return timedelta(weeks=math.ceil((end - RECORDED_END) / timedelta(weeks=1)))


def buildings() -> dict[str, Any]:
    """The history site's buildings (``Building``), one grid-import meter each, GB grid, London time."""
    from greenwire.cloud.sites import Building

    return {
        f"{b}-history": Building.model_validate({
            "id": f"{b}-history", "floor_area_m2": 1000, "zone": "GB", "timezone": "Europe/London",
            "meters": [{"gateway": GATEWAY, "device": f"{b}-main", "role": "grid_import"}]})
        for b in INJECTED
    }


def site_model() -> dict[str, Any]:
    """The history site as it goes into the demo's ``sites.yaml``."""
    return {"id": SITE, "name": "demo history (Cambridge 2022, recorded months in real time)",
            "buildings": [b.model_dump(mode="json", exclude_none=True) for b in buildings().values()]}


def readings_lines(name: str, now: datetime) -> list[str]:
    """The counter readings of one building's history, with its anomaly in (line protocol)."""
    import numpy as np

    from greenwire.cloud.anomalies.inject import inject
    from greenwire.cloud.forecast.features import calendar_for
    from greenwire.cloud.forecast.series import HourlySeries
    from greenwire.shared.lineprotocol import SeriesPrefix
    from greenwire.simulators.series import builtin_series

    recorded = builtin_series(name)
    hours = DAYS * 24
    shift = shift_for(now)
    first = now.replace(minute=0, second=0, microsecond=0) - shift - timedelta(hours=hours)  # recorded time
    offset = round((first - recorded.start) / timedelta(hours=1))
    kwh = np.array(recorded.kwh[offset:offset + hours], dtype=float)
    moved = HourlySeries(first + shift, kwh)
    cal = calendar_for(moved, "Europe/London", "GB", extra_hours=0)
    injected, _ = inject(moved, cal, INJECTED[name], count=1, seed=7)  # type: ignore[arg-type]
    prefix = SeriesPrefix("readings", {"site": SITE, "gateway": GATEWAY, "device": f"{name}-main"})
    # The counter reads the recorded year's energy so far: a run an hour later writes the same values.
    counter = COUNTER_START_KWH + float(sum(recorded.kwh[:offset]))
    out: list[str] = []
    for i, (used, seen) in enumerate(zip(kwh, injected.values, strict=True)):
        if math.isfinite(seen):  # a silent meter sends nothing, but its counter runs on
            fields: dict[str, float | str] = {"energy_import_kwh": counter, "quality": "good"}
            out.append(prefix.line(fields, int(moved.at(i).timestamp()) * 10**9))
        counter += float(seen) if math.isfinite(seen) else float(used)
    return out


def seed(influx: Any, now: datetime, publisher_settings: Any = None) -> list[HistoryResult]:
    """Store the history, then each building's forecast and findings (and publish the findings)."""
    import numpy as np

    from greenwire.cloud.anomalies.service import building_findings, publish
    from greenwire.cloud.anomalies.store import message
    from greenwire.cloud.carbon.backfill import backfill_building, plan
    from greenwire.cloud.forecast.model import NotEnoughHistory
    from greenwire.cloud.forecast.service import forecast_role
    from greenwire.shared.topics import anomalies_topic
    from greenwire.transport.mqtt import Message

    for name in INJECTED:
        influx.write(readings_lines(name, now))
    results, messages = [], []
    for building in buildings().values():
        # The last ACTUAL_DAYS as the carbon engine stores them: the actuals beside the forecast.
        backfill_building(influx, plan(SITE, building, now - timedelta(days=ACTUAL_DAYS), now, now), account=False)
        try:
            ahead = forecast_role(influx, SITE, building, "grid_import", now)
        except NotEnoughHistory:
            ahead = None
        if ahead is not None:
            influx.write(ahead.lines)
        found = building_findings(influx, SITE, building, now, window_days=DAYS - 1)
        influx.write(found.lines)
        g = found.g_per_kwh.get("grid_import", 0.0)
        messages.append(Message(anomalies_topic(SITE, building.id),
                                message(SITE, building.id, found.findings, g, found.window, now), retain=True))
        bands: tuple[float, float, float] | None = None
        kg = None
        if ahead is not None:
            p10, p50, p90 = (float(x) for x in ahead.bands[:24].sum(axis=0))
            bands = (p10, p50, p90)
            kg = float(np.nansum(ahead.bands[:24, 1] * ahead.g_per_kwh[:24]) / 1000)
        results.append(HistoryResult(building.id, bands, kg, tuple(
            f"{f.kind} {f.start.astimezone(UTC):%Y-%m-%d}" for f in found.findings)))
    if publisher_settings is not None:
        publish(publisher_settings, messages)
    return results

