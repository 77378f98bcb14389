"""Hourly and daily health figures from the raw data in InfluxDB, and the carbon cost of care.

For one site and one period (a UTC hour, or a local day in the site's timezone) this reads
the raw retention policy and returns the points of the ``aggregates`` policy
(docs/health-schema.md): ``vitals_1h`` per participant and code, ``environment_1h`` per sensor,
and ``health_site`` (participants monitored, observations, alerts, exposure hours; per day
also participant-days and kgCO2e per participant-day, see ``greenwire.cloud.carbon.care``).

Queries are InfluxQL over the 1.x HTTP API; results are recomputed from the raw data every
time, so late or corrected data is taken into account and a rewrite overwrites in place.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.health.alerts import AlertRule
from greenwire.cloud.health.heat import intervals_above, union_hours
from greenwire.cloud.health.lines import ENVIRONMENT_1H, SITE, VITALS_1H, point_line
from greenwire.cloud.ingest.points import timestamp_ns
from greenwire.cloud.sites import SiteModel
from greenwire.shared.lineprotocol import FieldValue


def _ns(at: datetime) -> int:
    return timestamp_ns(at)


def _q(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 10**9, UTC) + timedelta(microseconds=(ns % 10**9) // 1000)


@dataclass(frozen=True, slots=True)
class SiteFigures:
    """One site's figures for one period (what ``health_site`` holds)."""

    site: str
    resolution: str
    start: datetime
    participants: int
    observations: int
    alerts_raised: int
    alerts_participant: int
    alerts_environment: int
    heat_exposure_h: float
    co2_exposure_h: float
    alerts_active: int | None = None
    kgco2e: float | None = None
    carbon_sources: str = ""

    @property
    def kgco2e_per_participant_day(self) -> float | None:
        if self.resolution != "1d" or self.kgco2e is None or not self.participants:
            return None
        return self.kgco2e / self.participants

    def line(self) -> str:
        fields: list[tuple[str, FieldValue]] = [
            ("participants", self.participants), ("observations", self.observations),
            ("alerts_raised", self.alerts_raised), ("alerts_participant", self.alerts_participant),
            ("alerts_environment", self.alerts_environment),
            ("heat_exposure_h", float(self.heat_exposure_h)), ("co2_exposure_h", float(self.co2_exposure_h)),
        ]
        if self.alerts_active is not None:
            fields.append(("alerts_active", self.alerts_active))
        if self.resolution == "1d":
            fields.append(("participant_days", float(self.participants)))
            if self.kgco2e is not None:
                fields.append(("kgco2e", float(self.kgco2e)))
                fields.append(("carbon_sources", self.carbon_sources or "-"))
            per_day = self.kgco2e_per_participant_day
            if per_day is not None:
                fields.append(("kgco2e_per_participant_day", float(per_day)))
        return point_line(SITE, {"site": self.site, "resolution": self.resolution}, fields, _ns(self.start))


class Aggregator:
    """Computes a site's aggregates for a period from the health database (and the energy one)."""

    def __init__(
        self,
        health: InfluxV1,
        *,
        rules: tuple[AlertRule, ...],
        max_gap: timedelta,
        energy: InfluxV1 | None = None,
        carbon_sites: SiteModel | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clock = clock
        """Now: exposure is never counted past it (a last reading holds for at most ``max_gap``)."""
        self.health = health
        self.energy = energy
        self.carbon_sites = carbon_sites
        self.max_gap = max_gap
        heat = next((r for r in rules if r.scope == "environment" and r.quantity == "heat_index_c"), None)
        co2 = next((r for r in rules if r.scope == "environment" and r.quantity == "co2_ppm"), None)
        self.heat_threshold = heat.threshold if heat else 32.0
        self.co2_threshold = co2.threshold if co2 else 1200.0

    # -- queries ----------------------------------------------------------------------------

    def _vitals(self, site: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = self.health.query(
            'SELECT mean("value") AS "mean", min("value") AS "min", max("value") AS "max", count("value") AS "count" '
            f'FROM "raw"."vitals" WHERE "site" = {_q(site)} AND "status" <> \'entered-in-error\' '
            f'AND time >= {_ns(start)} AND time < {_ns(end)} GROUP BY "subject", "code"'
        )
        # InfluxDB answers a group whose points the status filter removed (all retracted) with
        # nulls and a count of 0: that subject was not monitored by that code in the period.
        return [r for r in rows if r.get("count") and r.get("mean") is not None]

    def _alerts(self, site: str, start: datetime, end: datetime) -> dict[str, int]:
        rows = self.health.query(
            f'SELECT count("value") AS "n" FROM "raw"."health_alerts" WHERE "site" = {_q(site)} '
            f"AND \"state\" = 'raised' AND time >= {_ns(start)} AND time < {_ns(end)} GROUP BY \"scope\""
        )
        return {str(r.get("scope")): int(r["n"]) for r in rows}

    def _environment(self, site: str, start: datetime, end: datetime) -> dict[str, list[dict[str, Any]]]:
        rows = self.health.query(
            'SELECT "temperature_c", "relative_humidity_pct", "co2_ppm", "heat_index_c" FROM "raw"."environment" '
            f'WHERE "site" = {_q(site)} AND time >= {_ns(start - self.max_gap)} AND time < {_ns(end)} '
            'GROUP BY "device" ORDER BY time'
        )
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            out[str(row["device"])].append(row)
        return out

    # -- figures ----------------------------------------------------------------------------

    def _exposure(self, env: dict[str, list[dict[str, Any]]], start: datetime, end: datetime) -> tuple[
            float, float, dict[str, tuple[float, float]]]:
        heat_spans: list[tuple[datetime, datetime]] = []
        co2_spans: list[tuple[datetime, datetime]] = []
        per_device: dict[str, tuple[float, float]] = {}
        end = max(start, min(end, self.clock()))  # the hour under way counts only up to now
        for device, rows in env.items():
            heat = [(_time(r["time"]), float(r["heat_index_c"])) for r in rows if r.get("heat_index_c") is not None]
            co2 = [(_time(r["time"]), float(r["co2_ppm"])) for r in rows if r.get("co2_ppm") is not None]
            h = intervals_above(heat, self.heat_threshold, max_gap=self.max_gap)
            c = intervals_above(co2, self.co2_threshold, max_gap=self.max_gap)
            heat_spans += h
            co2_spans += c
            per_device[device] = (union_hours(h, start, end), union_hours(c, start, end))
        return union_hours(heat_spans, start, end), union_hours(co2_spans, start, end), per_device

    def _site(self, site: str, resolution: str, start: datetime, end: datetime,
              vitals: list[dict[str, Any]], env: dict[str, list[dict[str, Any]]],
              active: int | None) -> SiteFigures:
        alerts = self._alerts(site, start, end)
        heat_h, co2_h, _ = self._exposure(env, start, end)
        return SiteFigures(
            site=site, resolution=resolution, start=start,
            participants=len({r["subject"] for r in vitals}),
            observations=sum(int(r["count"]) for r in vitals),
            alerts_raised=sum(alerts.values()),
            alerts_participant=alerts.get("participant", 0),
            alerts_environment=alerts.get("environment", 0),
            heat_exposure_h=heat_h, co2_exposure_h=co2_h, alerts_active=active,
        )

    def hour(self, site: str, start: datetime, *, active: int | None = None) -> list[str]:
        """``vitals_1h``, ``environment_1h`` and ``health_site`` (1h) lines of the UTC hour from ``start``."""
        end = start + timedelta(hours=1)
        vitals = self._vitals(site, start, end)
        env = self._environment(site, start, end)
        lines = [
            point_line(VITALS_1H, {"site": site, "subject": str(r["subject"]), "code": str(r["code"])},
                       [("mean", float(r["mean"])), ("min", float(r["min"])), ("max", float(r["max"])),
                        ("count", int(r["count"]))], _ns(start))
            for r in vitals
        ]
        _, _, per_device = self._exposure(env, start, end)
        for device, rows in env.items():
            inside = [r for r in rows if start <= _time(r["time"]) < end]
            fields: list[tuple[str, FieldValue]] = []
            for quantity, stats in (("temperature_c", ("mean", "max")), ("relative_humidity_pct", ("mean",)),
                                    ("co2_ppm", ("mean", "max")), ("heat_index_c", ("max",))):
                values = [float(r[quantity]) for r in inside if r.get(quantity) is not None]
                if not values:
                    continue
                if "mean" in stats:
                    fields.append((f"{quantity}_mean", sum(values) / len(values)))
                if "max" in stats:
                    fields.append((f"{quantity}_max", max(values)))
            heat_h, co2_h = per_device[device]
            fields += [("heat_exposure_h", heat_h), ("co2_exposure_h", co2_h)]
            lines.append(point_line(ENVIRONMENT_1H, {"site": site, "device": device}, fields, _ns(start)))
        lines.append(self._site(site, "1h", start, end, vitals, env, active).line())
        return lines

    def day(self, site: str, start: datetime, end: datetime, *, now: datetime,
            active: int | None = None) -> tuple[SiteFigures, list[str]]:
        """The ``health_site`` (1d) figures of the local day [start, end), carbon included."""
        vitals = self._vitals(site, start, end)
        env = self._environment(site, start, end)
        figures = self._site(site, "1d", start, end, vitals, env, active)
        from greenwire.cloud.carbon.care import site_day_emissions

        if self.energy is not None and self.carbon_sites is not None:
            emissions = site_day_emissions(self.energy, self.carbon_sites, site, start, min(end, now))
            if emissions is not None:
                figures = dataclasses.replace(figures, kgco2e=emissions.kgco2e, carbon_sources=emissions.sources)
        return figures, [figures.line()]
