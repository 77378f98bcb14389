"""The health database's administration through the one adapter, against a small InfluxDB 1.x /query."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from greenwire.cloud.adapters.influx import retryable
from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.health.admin import (
    HealthAdmin,
    Policy,
    erasure_condition,
    policies,
    policy_statement,
)
from greenwire.cloud.health.config import HealthConfig, HealthInflux
from greenwire.cloud.health.service import HealthService
from greenwire.shared.errors import StoreError, StoreRejected

P = "pilot2026.0123456789abcdef0123456789abcdef"


class InfluxQL:
    """Enough of InfluxDB 1.x's ``/query`` for the admin statements: databases, policies, series."""

    def __init__(self) -> None:
        self.policies: dict[str, dict[str, str]] = {}
        self.series = [f"vitals,subject={P}", f"health_alerts,subject={P}", "vitals,subject=other.f"]
        self.statements: list[tuple[str, str]] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params["q"]
        self.statements.append((request.method, q))
        if self.status != 200:
            return httpx.Response(self.status, text="overloaded")
        if request.method == "GET" and re.match(r"^(CREATE|ALTER|DROP)", q):
            return httpx.Response(200, json={"results": [{"error": f"{q.split()[0]} requires POST"}]})
        if m := re.fullmatch(r'CREATE DATABASE "(\w+)"', q):
            self.policies.setdefault(m[1], {"autogen": "0s"})
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        if m := re.fullmatch(r'SHOW RETENTION POLICIES ON "(\w+)"', q):
            values = [[name, duration] for name, duration in self.policies[m[1]].items()]
            return httpx.Response(200, json={"results": [{"series": [{"columns": ["name", "duration"],
                                                                       "values": values}]}]})
        if m := re.match(r'(CREATE|ALTER) RETENTION POLICY "(\w+)" ON "(\w+)" DURATION (\w+)', q):
            exists = m[2] in self.policies[m[3]]
            if exists == (m[1] == "CREATE"):
                return httpx.Response(200, json={"results": [{"error": "retention policy already exists"
                                                              if exists else "retention policy not found"}]})
            self.policies[m[3]][m[2]] = m[4]
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        if m := re.fullmatch(r"(SHOW|DROP) SERIES WHERE \"subject\" = '(.+)'", q):
            hit = [s for s in self.series if s.endswith(f"subject={m[2]}")]
            if m[1] == "DROP":
                self.series = [s for s in self.series if s not in hit]
                return httpx.Response(200, json={"results": [{"statement_id": 0}]})
            return httpx.Response(200, json={"results": [{"series": [{"columns": ["key"],
                                                                       "values": [[s] for s in hit]}]}]})
        return httpx.Response(200, json={"results": [{"error": f"error parsing query: {q}"}]})


def _admin(server: InfluxQL, **influx: str) -> HealthAdmin:
    config = HealthInflux.model_validate({"url": "http://influx.test:8086", "database": "health", **influx})
    client = InfluxV1(config.url, config.database, transport=httpx.MockTransport(server))
    return HealthAdmin(config, client)


def test_a_fresh_database_gets_both_policies_and_a_changed_retention_is_altered() -> None:
    server = InfluxQL()
    _admin(server, raw_retention="14d", aggregate_retention="52w").ensure_database()
    assert server.policies["health"] == {"autogen": "0s", "raw": "14d", "aggregates": "52w"}
    assert [q.split(" ON ")[0] for method, q in server.statements if method == "POST"] == [
        'CREATE DATABASE "health"', 'CREATE RETENTION POLICY "raw"', 'CREATE RETENTION POLICY "aggregates"']
    server.statements.clear()
    _admin(server, raw_retention="30d").ensure_database()
    assert server.policies["health"] == {"autogen": "0s", "raw": "30d", "aggregates": "730d"}
    assert [q.split(" ON ")[0] for method, q in server.statements if "RETENTION POLICY" in q] == [
        'ALTER RETENTION POLICY "raw"', 'ALTER RETENTION POLICY "aggregates"']


def test_policy_statements() -> None:
    raw, aggregates = policies(HealthInflux(url="http://x:8086"))
    assert policy_statement("h", raw, exists=False) == (
        'CREATE RETENTION POLICY "raw" ON "h" DURATION 30d REPLICATION 1 SHARD DURATION 1d DEFAULT')
    assert policy_statement("h", aggregates, exists=True) == (
        'ALTER RETENTION POLICY "aggregates" ON "h" DURATION 730d SHARD DURATION 7d')
    assert Policy("raw", "48h").shard_duration == "1h"


def test_erase_counts_and_drops_one_participant_only() -> None:
    server = InfluxQL()
    assert _admin(server).erase(P) == 2
    assert server.series == ["vitals,subject=other.f"]
    assert server.statements[-1] == ("POST", f"DROP SERIES WHERE \"subject\" = '{P}'")


@pytest.mark.parametrize("raw", ["Patient/pat-1", f"{P}' OR 1=1 --", ""])
def test_erase_refuses_anything_but_a_pseudonym_before_any_request(raw: str) -> None:
    server = InfluxQL()
    with pytest.raises(ValueError):
        _admin(server).erase(raw)
    with pytest.raises(ValueError):
        erasure_condition(raw)
    assert server.statements == []


def test_errors_come_from_the_adapters_one_mapping() -> None:
    server = InfluxQL()
    server.status = 503
    with pytest.raises(StoreError) as outage:
        _admin(server).ensure_database()
    assert retryable(outage.value) and "503" in str(outage.value)
    server.status = 200
    with pytest.raises(StoreRejected) as refused:
        _admin(server).client.execute("DROP NONSENSE")
    assert not retryable(refused.value) and "error parsing query" in str(refused.value)


def test_the_alert_publisher_connects_with_the_brokers_tls_and_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from greenwire.pki import ensure_ca

    ca = ensure_ca(tmp_path / "pki").cert_file
    monkeypatch.setenv("HEALTH_MQTT_PASSWORD", "s3cret")
    config = HealthConfig.model_validate({
        "mqtt": {"url": "mqtts://broker.test:8883", "ca_file": str(ca), "client_id": "health-tls",
                 "username": "health", "password_env": "HEALTH_MQTT_PASSWORD"},
        "influx": {"url": "http://influx.test:8086"}, "sites": [{"id": "care"}], "state_dir": str(tmp_path),
    })
    broker = HealthService(config).alerts.broker
    assert (broker.host, broker.port, broker.tls, broker.ca_file) == ("broker.test", 8883, True, ca)
    assert (broker.client_id, broker.username, broker.password) == ("health-tls-alerts", "health", "s3cret")
