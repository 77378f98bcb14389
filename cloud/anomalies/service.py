"""One building's anomaly findings from the readings in InfluxDB (``greenwire anomalies run``).

Every electricity and gas meter of the building is examined on its own over the last
``WINDOW_DAYS`` (the detectors need four weeks of reference before what they judge), and the
sub-meters against the building's grid import where it has sub-meters. Each finding's kgCO2e
is its energy at the factor in force for the meter's role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from greenwire.cloud.adapters.influxql import InfluxQLClient
from greenwire.cloud.anomalies.detect import detect, detect_submeters
from greenwire.cloud.anomalies.findings import Finding
from greenwire.cloud.anomalies.store import lines as finding_lines
from greenwire.cloud.forecast.features import calendar_for, country_of
from greenwire.cloud.forecast.series import HourlySeries, floor_hour
from greenwire.cloud.forecast.store import intensity, meter_series
from greenwire.cloud.sites import Building
from greenwire.transport.mqtt import BrokerSettings, Message, MessagePublisher

WINDOW_DAYS = 90


@dataclass(frozen=True)
class BuildingFindings:
    findings: list[Finding]
    lines: list[str]
    g_per_kwh: dict[str, float]
    window: tuple[datetime, datetime]


def building_findings(influx: InfluxQLClient, site: str, building: Building, now: datetime,
                      window_days: int = WINDOW_DAYS) -> BuildingFindings:
    """Every finding in the building's meters over the last ``window_days`` to the last full hour."""
    end = floor_hour(now)
    start = end - timedelta(days=window_days)
    country = country_of(building.zone)
    found: list[Finding] = []
    out_lines: list[str] = []
    factors: dict[str, float] = {}
    mains: dict[str, HourlySeries] = {}
    for role in ("grid_import", "gas"):
        meters = meter_series(influx, building, role, start, end)
        if not meters:
            continue
        g = float(np.nanmean(intensity(influx, building, role, start, 1)[0]))
        factors[role] = g if np.isfinite(g) else 0.0
        for device, series in meters.items():
            cal = calendar_for(series, building.timezone, country, extra_hours=0)
            mine = detect(series, cal, meter=device)
            found += mine
            out_lines += finding_lines(site, building.id, mine, factors[role])
        if role == "grid_import":
            mains = meters
    subs = meter_series(influx, building, "sub_meter", start, end)
    if subs and mains:
        first = next(iter(mains.values()))
        main = HourlySeries(first.start, np.sum(np.stack([m.values for m in mains.values()]), axis=0))
        mine = detect_submeters(main, list(subs.values()), calendar_for(main, building.timezone, country, 0),
                                meter="sub-meters")
        found += mine
        out_lines += finding_lines(site, building.id, mine, factors.get("grid_import", 0.0))
    return BuildingFindings(sorted(found, key=lambda f: f.start), out_lines, factors, (start, end))


def publish(settings: BrokerSettings, messages: Sequence[Message]) -> MessagePublisher:
    """Publish ``messages`` (each building's retained findings) and return the drained publisher:
    ``published`` of them went out, ``last_error`` says why the others did not."""
    import asyncio

    publisher = MessagePublisher(settings, name="anomalies")
    for m in messages:
        publisher.put(m)

    async def drain() -> None:
        stop = asyncio.Event()
        stop.set()
        await publisher.run(stop, give_up_after_stop=2)

    asyncio.run(drain())
    return publisher
