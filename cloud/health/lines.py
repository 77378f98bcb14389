"""Health data as line protocol, in the layout of docs/health-schema.md. Pure.

Raw retention policy: ``vitals``, ``environment``, ``health_alerts``, ``health_rejected``.
Aggregates: ``vitals_1h``, ``environment_1h``, ``health_site`` (see ``greenwire.cloud.health.aggregate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from greenwire.cloud.health.heat import heat_index_c
from greenwire.cloud.ingest.points import timestamp_ns
from greenwire.shared.lineprotocol import FieldValue, SeriesPrefix
from greenwire.shared.vitals import AlertEvent, VitalsBatch
from greenwire.shared.wire import Reading

VITALS: Final = "vitals"
ENVIRONMENT: Final = "environment"
ALERTS: Final = "health_alerts"
REJECTED: Final = "health_rejected"
VITALS_1H: Final = "vitals_1h"
ENVIRONMENT_1H: Final = "environment_1h"
SITE: Final = "health_site"

ENVIRONMENT_QUANTITIES: Final = ("temperature_c", "relative_humidity_pct", "co2_ppm")


def vitals_lines(site: str, gateway: str, batch: VitalsBatch) -> list[str]:
    """One point per observation: tags site, gateway, device, subject, code; fields value, unit, status."""
    return [
        SeriesPrefix(VITALS, {"site": site, "gateway": gateway, "device": o.device, "subject": o.subject,
                              "code": o.code}).line({"value": o.value, "unit": o.unit, "status": o.status.value},
                                                    timestamp_ns(o.ts))
        for o in batch.observations
    ]


def environment_values(reading: Reading) -> dict[str, float]:
    """The indoor-environment values of a reading, with the heat index when it can be computed."""
    values: dict[str, float] = {q: reading.values[q] for q in ENVIRONMENT_QUANTITIES if q in reading.values}
    if "temperature_c" in values and "relative_humidity_pct" in values:
        values["heat_index_c"] = round(heat_index_c(values["temperature_c"], values["relative_humidity_pct"]), 3)
    return values


def environment_line(site: str, gateway: str, reading: Reading, values: dict[str, float]) -> str:
    """One point per sensor reading (the site and the sensor, never a person)."""
    fields: dict[str, FieldValue] = dict(values)
    return SeriesPrefix(ENVIRONMENT, {"site": site, "gateway": gateway, "device": reading.device}).line(
        fields, timestamp_ns(reading.ts))


def alert_line(event: AlertEvent) -> str:
    """One point per alert event."""
    tags = {"site": event.site, "gateway": event.gateway, "rule": event.rule, "state": event.state.value,
            "scope": "participant" if event.subject is not None else "environment"}
    if event.subject is not None:
        tags["subject"] = event.subject
    if event.device is not None:
        tags["device"] = event.device
    fields: dict[str, FieldValue] = {"value": event.value, "threshold": event.threshold, "unit": event.unit}
    return SeriesPrefix(ALERTS, tags).line(fields, timestamp_ns(event.ts))


def rejected_line(reason: str, *, size: int, received_ns: int, site: str | None, gateway: str | None) -> str:
    tags = {"reason": reason}
    if site:
        tags["site"] = site
    if gateway:
        tags["gateway"] = gateway
    return SeriesPrefix(REJECTED, tags).line({"bytes": size}, received_ns)


def point_line(measurement: str, tags: dict[str, str], fields: Iterable[tuple[str, FieldValue]], ts_ns: int) -> str:
    return SeriesPrefix(measurement, tags).line(list(fields), ts_ns)
