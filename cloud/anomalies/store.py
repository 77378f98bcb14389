"""Findings into InfluxDB (measurement ``anomalies``) and onto MQTT, and read back for people.

One point per finding, time = its start: tags ``site``, ``building``, ``kind``, ``meter``; fields
``end`` (RFC 3339) and ``end_ms`` (epoch milliseconds: the end of the Building dashboard's
annotation region), ``hours``, ``kwh``, ``kgco2e``, ``confidence``, ``detail``. Running the
detectors again over the same hours rewrites the same points. The MQTT message
(``greenwire.anomalies.v1``, retained on ``greenwire/v1/{site}/anomalies/{building}``) lists the
building's findings of the window just examined.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from greenwire.cloud.adapters.influxql import InfluxQLClient, _ns, _quote
from greenwire.cloud.anomalies.findings import Finding
from greenwire.cloud.carbon.fetch import FINDINGS_MEASUREMENT
from greenwire.shared.lineprotocol import SeriesPrefix

MEASUREMENT = FINDINGS_MEASUREMENT
SCHEMA = "greenwire.anomalies.v1"


def lines(site: str, building: str, findings: Sequence[Finding], g_per_kwh: float) -> list[str]:
    """The ``anomalies`` points of ``findings``, each priced at ``g_per_kwh`` (the factor in force)."""
    out = []
    for f in findings:
        prefix = SeriesPrefix(MEASUREMENT, {"site": site, "building": building, "kind": f.kind,
                                            "meter": f.meter or "building"})
        fields: dict[str, float | str] = {
            "end": f.end.isoformat(), "end_ms": int(f.end.timestamp() * 1000), "hours": (f.end - f.start) / timedelta(hours=1), "kwh": float(f.kwh),
            "kgco2e": float(f.kwh) * g_per_kwh / 1000, "confidence": float(f.confidence), "detail": f.detail}
        out.append(prefix.line(fields, _ns(f.start)))
    return out


def message(site: str, building: str, findings: Sequence[Finding], g_per_kwh: float,
            window: tuple[datetime, datetime], at: datetime) -> bytes:
    """The retained MQTT message of a building's findings in ``window``."""
    body: dict[str, Any] = {
        "schema": SCHEMA, "site": site, "building": building, "at": at.isoformat(),
        "from": window[0].isoformat(), "to": window[1].isoformat(),
        "findings": [f.as_dict() | {"kgco2e": round(f.kwh * g_per_kwh / 1000, 3)} for f in findings],
    }
    return orjson.dumps(body)


def stored(influx: InfluxQLClient, site: str, building: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The stored findings of a building starting in [start, end), oldest first."""
    return influx.query(f'SELECT * FROM "{MEASUREMENT}" WHERE "site" = {_quote(site)} '
                        f'AND "building" = {_quote(building)} AND time >= {_ns(start)} AND time < {_ns(end)} '
                        "ORDER BY time")
