"""End to end, the proactive-health pilot, private by design.

A care site: a simulated wearable hub (FHIR R4 over HTTP, 8 participants, one without
consent, three hours of backlog then live), two SCD30 indoor sensors (a hot lounge and a
crowded dining room) and the building's SDM630 electricity meter on Modbus TCP, one edge
agent, real Mosquitto, the ingestor (energy database) and the health service (its own
database) on real InfluxDB 1.6.

The privacy test captures every message on the broker (subscribed to '#'), every point of
every database in InfluxDB, the log output of every component, and the health service's
reject records, and requires that no raw subject id, record number, name, birth date or
address of the hub's participants appears in any of them.

It runs twice: against our simulated hub (``protocol: greenwire-cursor``), and against the
independent FHIR server of ``tests/fhirserver.py`` (a standard FHIR search, new measurements
every second, and new versions of observations already read while the gateway runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenwire.cloud.health.service import HealthService
from greenwire.cloud.ingest.config import InfluxSection, IngestConfig, MqttSection
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import DeviceConfig
from greenwire.shared.vitals import PSEUDONYM_PATTERN, AlertEvent, VitalsBatch
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from greenwire.simulators.wearable import WearableHub, WearableServer, make_participants
from tests.e2e import care_site
from tests.e2e.care_site import SITE
from tests.fhirserver import FhirServerProcess
from tests.helpers import eventually
from tests.integration.test_edge_wearables import Capture

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SITES_YAML = """\
sites:
  - id: care-home
    buildings:
      - id: main
        floor_area_m2: 2400
        use: care_home
        zone: GB
        timezone: Europe/London
        meters:
          - {gateway: care-gw, device: main-meter, role: grid_import}
"""


def _secrets(people: list[Any]) -> list[str]:
    out = []
    for p in people:
        out += [p.id, p.mrn, p.given, p.family, p.name, p.birth_date.isoformat(), p.address.split(",")[0],
                f"Device/wb-{p.index:04d}"]
    return out


@dataclass
class Ward:
    """The care site's source of wearable data, whichever server it is."""

    hub_url: str
    fhir_base: str | None
    consented: tuple[str, ...]
    non_consenting: str
    secrets: list[str]
    backlog: int
    live: Callable[[], Awaitable[None]]
    """What happens on the server while the gateway runs, after the backlog is read."""
    markers: Callable[[], Awaitable[list[str]]]
    """The server's own observation ids and identifiers: they stay at the site too."""
    describe: Callable[[], str]


async def _nothing() -> None:
    return None


@contextlib.asynccontextmanager
async def _ward(kind: str, tmp_path: Path) -> AsyncIterator[Ward]:
    if kind == "simulator":
        people = make_participants(8)
        hub = WearableHub(people, start=datetime.now(UTC) - timedelta(hours=3), speed=1e6)
        async with WearableServer(hub) as hub_server:
            hub.advance()

            async def markers() -> list[str]:
                return [m for r in hub.log[::50] for m in (r["id"], r["identifier"][0]["value"])]

            yield Ward(hub_server.url, None, care_site.consent(people),
                       f"Patient/{people[care_site.NO_CONSENT].id}", _secrets(people), len(hub.log), _nothing,
                       markers, lambda: f"hub: {len(hub.log)} observations recorded ({hub.stats.resent} resent, "
                       f"{hub.stats.retracted} retracted)")
        return
    server = FhirServerProcess(tmp_path / "fhir", "--participants", "8", "--hours", "1.5", "--live-interval", "1")
    await asyncio.to_thread(server.start)
    try:
        persons = await server.control("participants", "GET")
        backlog = (await server.control("stats", "GET"))["observations"]
        stats: dict[str, Any] = {}

        async def live() -> None:
            await server.control("update", count=12)  # amended temperatures, retracted heart rates

        async def markers() -> list[str]:
            versions = await server.control("versions", "GET")
            stats.update(await server.control("stats", "GET"))
            return [m for r in versions[::50] for m in (f"Observation/{r['id']}", r["identifier"][0]["value"])]

        yield Ward(server.url, server.url,
                   tuple(f"Patient/{p['id']}" for p in persons if p["index"] != care_site.NO_CONSENT),
                   f"Patient/{persons[care_site.NO_CONSENT]['id']}",
                   [x for p in persons for x in p["secrets"]], backlog, live, markers,
                   lambda: f"fhir server: {stats.get('versions')} versions, {stats.get('observations_served')} "
                   f"served in {stats.get('pages')} pages")
    finally:
        server.stop()


def _all_points(influxdb: Any) -> str:
    """Every point of every database and retention policy, as text (tags and fields)."""
    chunks = []
    for db_row in influxdb.query("", "SHOW DATABASES"):
        db = db_row["name"]
        if db == "_internal":
            continue
        policies = [r["name"] for r in influxdb.query(db, "SHOW RETENTION POLICIES")]
        for m in influxdb.query(db, "SHOW MEASUREMENTS"):
            for rp in policies:
                for row in influxdb.query(db, f'SELECT * FROM "{rp}"."{m["name"]}"'):
                    chunks.append(repr(sorted(row.items())))
        for row in influxdb.query(db, "SHOW SERIES"):
            chunks.append(repr(row))
    return "\n".join(chunks)


@pytest.mark.parametrize("kind", ["simulator", "fhir-server"])
async def test_care_site_end_to_end_and_nothing_identifying_leaves_the_gateway(
    mosquitto: Any, influxdb: Any, influx_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    health_db = f"health_{uuid.uuid4().hex[:10]}"
    tag = uuid.uuid4().hex[:8]
    meter = SimMeter(1, replay=Replay(builtin_series("b2"), start=datetime(2022, 6, 1, 8, tzinfo=UTC), speed=3600))
    key = care_site.pilot_key(tmp_path / "pilot.key")
    (tmp_path / "sites.yaml").write_text(SITES_YAML)

    capture = Capture(mosquitto.host, mosquitto.port, "#")
    try:
        async with _ward(kind, tmp_path) as ward, MeterServer(meters=[meter, *care_site.sensor_meters()]) as modbus:
            edge = care_site.edge_config(
                broker_url=mosquitto.url, modbus_port=modbus.port, hub_url=ward.hub_url, state=tmp_path, key=key,
                consented=ward.consented, fhir_base=ward.fhir_base,
                devices=(DeviceConfig(id="main-meter", unit=1, profile="eastron-sdm630", poll_interval_s=1.0,
                                      max_power_kw=2000 * 3600), *care_site.sensor_devices()),
            )
            ingest = IngestConfig(mqtt=MqttSection(url=mosquitto.url, client_id=f"ingest-{tag}", group=f"in{tag}",
                                                   session_expiry_s=60),
                                  influx=InfluxSection(api="v1", url=influxdb.url, database=influx_db),
                                  state_dir=tmp_path / "ingest")
            health = care_site.health_config(broker_url=mosquitto.url, influx_url=influxdb.url, health_db=health_db,
                                             energy_db=influx_db, sites_yaml=tmp_path / "sites.yaml",
                                             state=tmp_path / "health", tag=tag)
            service = HealthService(health, stats_interval_s=2.0)
            ingestor = Ingestor(ingest, stats_interval_s=2.0)
            agent = EdgeAgent(edge, broker_settings(edge))
            backlog = ward.backlog
            stops = [asyncio.Event() for _ in range(3)]
            tasks = [asyncio.create_task(service.run(stops[0])), asyncio.create_task(ingestor.run(stops[1]))]
            await eventually(lambda: service.consumer.connected and ingestor.consumer.connected, 60, "subscribers")
            tasks.append(asyncio.create_task(agent.run(stops[2])))
            source = agent.wearables[0]
            try:
                await eventually(lambda: source.stats.received >= backlog, 150, "the hub's backlog at the gateway")
                await ward.live()

                def settled() -> bool:
                    day = service.latest.get(SITE, {}).get("1d")
                    return (source.stats.received >= backlog
                            and service.stats.observations_written >= source.stats.forwarded_observations - 50
                            and service.stats.alerts["indoor_co2_high:raised"] == 1
                            and service.stats.alerts["indoor_heat_index_high:raised"] == 1
                            and day is not None and day.kgco2e is not None and day.kgco2e > 0)

                await eventually(settled, 150, "the care site's data, alerts and carbon in InfluxDB")
                await asyncio.sleep(2.0)  # a little live data, and one more round of aggregates
                stops[2].set()
                await tasks[2]

                # What the gateway published is stored (and captured) before the services stop.
                def delivered() -> bool:
                    captured = sum(len(VitalsBatch.model_validate_json(p).observations)
                                   for t, p, _ in list(capture.messages) if t.endswith("/vitals"))
                    wanted = source.stats.forwarded_observations
                    return service.stats.observations_written >= wanted and captured >= wanted

                await eventually(delivered, 60, "every forwarded observation stored and captured", every_s=0.2)
                markers = await ward.markers()
            finally:
                stops[2].set()
                await tasks[2]
                for stop in stops[:2]:
                    stop.set()
                await asyncio.gather(*tasks[:2])
    finally:
        capture.close()

    stats = source.stats
    forwarded = [o for t, p, _ in capture.messages if t.endswith("/vitals")
                 for o in VitalsBatch.model_validate_json(p).observations]
    alerts = [AlertEvent.model_validate_json(p) for t, p, _ in capture.messages if "/alerts/" in t]
    print(f"\n{ward.describe()}"
          f"\nedge: {stats.polls} polls, {stats.received} received, up to {stats.max_page} per poll "
          f"(mean {stats.received / stats.polls:.0f}), {stats.forwarded_observations} vitals forwarded"
          f"\nedge rejects: {dict(sorted(stats.rejected.items()))}"
          f"\nhealth: {service.stats.summary()}"
          f"\nalerts on MQTT: {dict(Counter(f'{a.rule}:{a.state.value}' for a in alerts))}")

    # --- the data arrived, apart from energy --------------------------------------------------
    stored = influxdb.query(health_db, 'SELECT count("value") FROM "raw"."vitals"')[0]["count"]
    assert stored == len({(o.subject, o.code, o.ts) for o in forwarded}), "every forwarded observation stored once"
    assert len(forwarded) == stats.forwarded_observations
    energy_measurements = {m["name"] for m in influxdb.query(influx_db, "SHOW MEASUREMENTS")}
    assert "readings" in energy_measurements and not energy_measurements & {"vitals", "health_alerts", "environment"}
    policies = {r["name"]: r for r in influxdb.query(health_db, "SHOW RETENTION POLICIES")}
    assert policies["raw"]["duration"] == "720h0m0s" and policies["raw"]["default"]
    assert policies["aggregates"]["duration"] == "17520h0m0s"
    env = influxdb.query(health_db, 'SELECT * FROM "raw"."environment" GROUP BY "device"')
    assert {r["device"] for r in env} == {"lounge-env", "dining-env"}
    assert not any("subject" in r for r in env), "the environment belongs to the site, not to persons"

    # --- alerts: pseudonym only, the same on MQTT and in InfluxDB -----------------------------
    stored_alerts = influxdb.query(health_db, 'SELECT * FROM "raw"."health_alerts"')
    assert len(stored_alerts) == len(alerts) == sum(service.stats.alerts.values()) > 0
    raised = Counter(a.rule for a in alerts if a.state.value == "raised")
    assert raised["spo2_low"] >= 1 and raised["body_temperature_high"] >= 1
    assert raised["indoor_co2_high"] == raised["indoor_heat_index_high"] == 1, "hysteresis: raised once"
    import re

    assert all(re.fullmatch(PSEUDONYM_PATTERN, a.subject) for a in alerts if a.subject is not None)

    # --- site figures for shared screens ------------------------------------------------------
    day = influxdb.query(health_db, """SELECT * FROM "aggregates"."health_site" WHERE "resolution" = '1d'""")
    today = day[-1]
    assert today["participants"] == 7, "seven consenting participants, the eighth never forwarded"
    assert today["kgco2e"] > 0
    assert today["kgco2e_per_participant_day"] == pytest.approx(today["kgco2e"] / 7)
    assert today["heat_exposure_h"] > 0 and today["co2_exposure_h"] > 0
    assert today["alerts_raised"] >= 4
    assert influxdb.query(health_db, 'SELECT count("mean") FROM "aggregates"."vitals_1h"')[0]["count"] > 0
    # Retractions overwrite the original point's status, and the hourly statistics leave them out.
    retracted = influxdb.query(health_db, """SELECT count("value") FROM "raw"."vitals" WHERE "status" = 'entered-in-error'""")
    assert retracted and retracted[0]["count"] == len({(o.subject, o.ts) for o in forwarded
                                                       if o.status.value == "entered-in-error"}) > 0
    hourly = sum(r["count"] for r in influxdb.query(health_db, 'SELECT "count" FROM "aggregates"."vitals_1h"'))
    assert hourly == stored - retracted[0]["count"]

    # --- every example query of docs/health-schema.md answers on this data ---------------------
    doc = (Path(__file__).parents[2] / "docs" / "health-schema.md").read_text()
    queries = [block.split("```")[0].strip() for block in doc.split("```sql")[1:]]
    assert len(queries) >= 5
    for query in queries:
        q = (query.replace("$timeFilter", "time > now() - 7d").replace("$site", SITE)
             .replace("$__interval", "1m").replace("\n", " "))
        assert influxdb.query(health_db, q), f"no rows for the documented query {query!r}"

    # --- privacy: nothing identifying anywhere -------------------------------------------------
    broker = b"\n".join(t.encode() + b" " + p for t, p, _ in capture.messages).decode()
    database = _all_points(influxdb)
    logs = caplog.text
    rejects = "".join(p.read_text() for p in (tmp_path / "health").glob("*.jsonl"))
    assert len(capture.messages) > 10 and len(database) > 10_000 and len(logs) > 1000
    for secret in ward.secrets:
        for where, text in (("broker", broker), ("InfluxDB", database), ("logs", logs), ("rejects", rejects)):
            assert secret not in text, f"{secret!r} found in {where}"
    assert markers
    for marker in markers:  # the hub's own observation ids and identifiers stay at the site too
        assert marker not in broker and marker not in database
    non_consenting = edge.wearables.pseudonymiser()(ward.non_consenting)  # type: ignore[union-attr]
    assert non_consenting not in broker and non_consenting not in database
    influxdb.drop_database(health_db)
