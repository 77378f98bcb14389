"""An hour in which a participant's only observations were retracted aggregates without them.

InfluxDB 1.x answers ``GROUP BY subject, code`` for a group whose points the status filter
removed with nulls and a count of 0; the hourly aggregation must neither crash on it nor count
that participant as monitored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.health.aggregate import Aggregator
from greenwire.cloud.health.alerts import DEFAULT_RULES
from greenwire.servers import InfluxDB1

pytestmark = pytest.mark.integration

HOUR = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_retracted_only_participant_is_not_monitored(influxdb: InfluxDB1, influx_db: str) -> None:
    influxdb.query(influx_db, f'CREATE RETENTION POLICY "raw" ON "{influx_db}" DURATION 30d REPLICATION 1 DEFAULT')
    influxdb.query(influx_db, f'CREATE RETENTION POLICY "aggregates" ON "{influx_db}" DURATION 730d REPLICATION 1')
    ns = int((HOUR + timedelta(minutes=5)).timestamp()) * 10**9
    tags = "site=care,gateway=gw,device=hub,code=8867-4"
    influxdb.write(influx_db, [
        f'vitals,{tags},subject=k1.{"a" * 32} value=72,unit="/min",status="final" {ns}',
        f'vitals,{tags},subject=k1.{"a" * 32} value=74,unit="/min",status="final" {ns + 60 * 10**9}',
        f'vitals,{tags},subject=k1.{"b" * 32} value=190,unit="/min",status="entered-in-error" {ns}',
    ])
    aggregator = Aggregator(InfluxV1(influxdb.url, influx_db), rules=DEFAULT_RULES, max_gap=timedelta(minutes=10),
                            clock=lambda: HOUR + timedelta(hours=2))
    lines = aggregator.hour("care", HOUR)
    hourly = [line for line in lines if line.startswith("vitals_1h,")]
    assert len(hourly) == 1 and f"subject=k1.{'a' * 32}" in hourly[0] and "mean=73" in hourly[0]
    site = next(line for line in lines if line.startswith("health_site,"))
    assert "participants=1i" in site
