"""The health database's administration: its retention policies, erasing a participant, its clients.

Every call goes through the one InfluxDB adapter (:class:`greenwire.cloud.adapters.influxql.InfluxV1`
for statements and queries, :class:`greenwire.cloud.adapters.influx.InfluxV1Writer` for the
service's writes), so an InfluxDB answer becomes a greenwire error in one place only
(``greenwire.cloud.adapters.influx``): an outage is ``StoreError``, a refused statement
``StoreRejected`` with InfluxDB's words.

- :func:`policies` and :func:`policy_statement`: the two retention policies a config asks for,
  and the InfluxQL that creates or alters one (pure).
- :func:`erasure_condition`: the ``WHERE`` clause of one participant's series (pure; refuses
  anything but a pseudonym, so a raw id is never sent to the database).
- :class:`HealthAdmin`: runs those statements (blocking; ``greenwire health erase`` and the
  service's start call :func:`ensure_database` and :func:`erase_subject`, which run it in a thread).
- :func:`query_client` and :func:`policy_writer`: the clients of the health (and energy)
  database with the configured credentials (``HealthInflux.credentials()``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from greenwire.cloud.adapters.influx import InfluxV1Writer
from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.health.config import HealthConfig, HealthInflux
from greenwire.shared.vitals import PSEUDONYM_PATTERN

RAW = "raw"
AGGREGATES = "aggregates"


@dataclass(frozen=True, slots=True)
class Policy:
    """A retention policy of the health database; ``default`` receives writes that name none."""

    name: str
    duration: str
    default: bool = False

    @property
    def shard_duration(self) -> str:
        # Short policies get hourly shards; raw data expires by day, aggregates by week.
        if self.duration.endswith("h"):
            return "1h"
        return "1d" if self.name == RAW else "7d"


def policies(influx: HealthInflux) -> tuple[Policy, Policy]:
    """``raw`` (the default, raw vitals and environment) and ``aggregates``, as configured."""
    return Policy(RAW, influx.raw_retention, default=True), Policy(AGGREGATES, influx.aggregate_retention)


def policy_statement(database: str, policy: Policy, *, exists: bool) -> str:
    """``CREATE`` the policy, or ``ALTER`` it to the configured durations if it ``exists``."""
    tail = " DEFAULT" if policy.default else ""
    if exists:
        return (f'ALTER RETENTION POLICY "{policy.name}" ON "{database}" DURATION {policy.duration} '
                f"SHARD DURATION {policy.shard_duration}{tail}")
    return (f'CREATE RETENTION POLICY "{policy.name}" ON "{database}" DURATION {policy.duration} '
            f"REPLICATION 1 SHARD DURATION {policy.shard_duration}{tail}")


def erasure_condition(pseudonym: str) -> str:
    """``WHERE "subject" = '<pseudonym>'``; ``ValueError`` for anything that is not a pseudonym."""
    if not re.fullmatch(PSEUDONYM_PATTERN, pseudonym):
        raise ValueError("not a pseudonym")
    return f"WHERE \"subject\" = '{pseudonym}'"  # the pattern admits no quote: nothing to escape


def query_client(influx: HealthInflux, database: str | None = None) -> InfluxV1:
    """The InfluxQL client of the health database (or of ``database``, e.g. the energy one)."""
    username, password = influx.credentials()
    return InfluxV1(influx.url, database or influx.database, timeout_s=influx.timeout_s,
                    username=username, password=password)


def policy_writer(influx: HealthInflux, policy: str) -> InfluxV1Writer:
    """An async line-protocol writer into one retention policy of the health database."""
    username, password = influx.credentials()
    return InfluxV1Writer(influx.url, influx.database, retention_policy=policy, timeout_s=influx.timeout_s,
                          username=username, password=password)


class HealthAdmin:
    """Administration statements on the health database (blocking calls)."""

    def __init__(self, influx: HealthInflux, client: InfluxV1 | None = None) -> None:
        self.influx = influx
        self.client = client or query_client(influx)

    def ensure_database(self) -> None:
        """Create the database and its two retention policies, or bring their durations up to date."""
        database = self.influx.database
        self.client.execute(f'CREATE DATABASE "{database}"')  # a no-op when it exists
        existing = {str(row["name"]) for row in self.client.query(f'SHOW RETENTION POLICIES ON "{database}"')}
        for policy in policies(self.influx):
            self.client.execute(policy_statement(database, policy, exists=policy.name in existing))

    def erase(self, pseudonym: str) -> int:
        """Drop every series of one participant (all measurements and policies); how many there were."""
        where = erasure_condition(pseudonym)
        series = len(self.client.query(f"SHOW SERIES {where}"))
        self.client.execute(f"DROP SERIES {where}")
        return series


async def ensure_database(config: HealthConfig) -> None:
    """:meth:`HealthAdmin.ensure_database` for ``config``, off the event loop."""
    await asyncio.to_thread(lambda: HealthAdmin(config.influx).ensure_database())


async def erase_subject(config: HealthConfig, pseudonym: str) -> int:
    """:meth:`HealthAdmin.erase` for ``config``, off the event loop; ``ValueError`` for a non-pseudonym."""
    erasure_condition(pseudonym)  # refuse before reading any credential
    return await asyncio.to_thread(lambda: HealthAdmin(config.influx).erase(pseudonym))
