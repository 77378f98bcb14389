"""Real data through the whole system into real InfluxDB 1.6, for the dashboard and report tests.

Two sites, three buildings, the last two days up to now:

- cambridge/b2 and cambridge/b25: the recorded 2022 electricity of two Cambridge University
  buildings (simulators/data, MIT), replayed from 28 November 2022 as grid-import counters
  read every 5 minutes; b2 has certificates and a residual mix (market-based Scope 2);
- golden/rsf: NREL's Research Support Facility, 20-22 June 2011 (tests/data/nrel-rsf-2011,
  CC BY 4.0): import, export and PV generation counters from its hourly net and PV, and a
  district-heat meter (Cambridge b2's recorded 2022 gas energy, tests/data, stands in for its
  heat) priced at EPA's district hot-water factor;

- care-home/care-main: a care home of the health pilot, the recorded 2022 electricity of
  Cambridge building b85 as its grid import;

published through MQTT as gateway backlogs (``greenwire import readings``) to a running
ingestor that tags buildings from the site model; a live edge agent polling a simulated
SDM630 (and a unit that does not answer) for its status; one malformed message; the NESO
hourly GB intensity (tests/data) shifted onto the window (``greenwire import grid``); then
``greenwire carbon backfill`` and ``greenwire carbon run --once``; and ``greenwire grid run
--once`` for London (NESO region GB-13, a loopback server answering in the API's shape with
the same record's values), for the grid data's age.

Then the care home's pilot (``tests.e2e.care_site``, as in ``test_health_pilot``): a wearable
hub (``greenwire.simulators.wearable``, 8 participants, one without consent, three hours of backlog),
two SCD30 rooms (a heatwave lounge, a crowded dining room), the care gateway's edge agent
with its ``wearables:`` section, and the health service writing the world's health database,
its kgCO2e per participant-day from the carbon site model above, while the ingestor stores the
care gateway's status (``greenwire.status.v2``, its wearable source's counters) for the Fleet.
"""

from __future__ import annotations

import asyncio
import csv
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from typer.testing import CliRunner

from greenwire.cli import app
from greenwire.cloud.health.service import HealthService
from greenwire.cloud.ingest.buildings import building_lookup
from greenwire.cloud.ingest.config import load_config
from greenwire.cloud.ingest.pipeline import Ingestor
from greenwire.cloud.sites import load_sites
from greenwire.edge.agent import EdgeAgent, broker_settings
from greenwire.edge.config import EdgeConfig
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.simulators.modbus_meter import MeterServer, SimMeter
from greenwire.simulators.series import Replay, builtin_series
from greenwire.simulators.wearable import WearableHub, WearableServer, make_participants
from tests.e2e import care_site
from tests.helpers import eventually

DATA = Path(__file__).parents[1] / "data"
STEP = timedelta(minutes=5)

SITES_YAML = """\
sites:
  - id: cambridge
    buildings:
      - id: b2
        floor_area_m2: 11500
        zone: GB
        timezone: Europe/London
        annual_budget_kgco2e: 250000
        market:
          residual_mix_g_per_kwh: 360
          residual_mix_source: "AIB European Residual Mixes 2023, GB"
          instruments:
            - {kind: certificate, kwh: 2000000, from: 2026-01-01, to: 2027-01-01, source: "REGO batch 2026-07"}
        meters:
          - {gateway: gw-hist-c, device: b2-main, role: grid_import}
          - {gateway: gw-live, device: b2-sub, role: sub_meter}
      - id: b25
        floor_area_m2: 4200
        zone: GB
        timezone: Europe/London
        annual_budget_kgco2e: 60000
        meters:
          - {gateway: gw-hist-c, device: b25-main, role: grid_import}
  - id: golden
    buildings:
      - id: rsf
        floor_area_m2: 20600
        zone: US
        timezone: America/Denver
        annual_budget_kgco2e: 400000
        meters:
          - {gateway: gw-hist-g, device: rsf-import, role: grid_import}
          - {gateway: gw-hist-g, device: rsf-export, role: grid_export}
          - {gateway: gw-hist-g, device: rsf-pv, role: pv_generation}
          - {gateway: gw-hist-g, device: rsf-heat, role: heat}
        heat_factor: us_epa_district_hot_water
  - id: care-home
    buildings:
      - id: care-main
        floor_area_m2: 3200
        use: care_home
        zone: GB
        timezone: Europe/London
        annual_budget_kgco2e: 90000
        meters:
          - {gateway: gw-hist-h, device: care-main, role: grid_import}
  - id: estate
    buildings:
      - id: b85
        floor_area_m2: 1500
        zone: GB
        timezone: Europe/London
        meters:
          - {gateway: gw-hist-e, device: b85-main, role: grid_import}
"""
ESTATE_DAYS = 35
"""Days of b85's history: enough for its day-ahead forecast and the anomaly detectors' reference."""


@dataclass(frozen=True)
class World:
    db: str
    influx_url: str
    ingest_yaml: Path
    sites_yaml: Path
    start: datetime
    data_end: datetime
    now: datetime
    """When the world was ready: the "now" of the dashboards' relative ranges."""
    health_db: str
    """Where the health service wrote the care home's pilot (docs/health-schema.md)."""
    participants: int
    """Participants who consented (the hub has one more)."""
    health_alerts: dict[str, int]
    """The health service's alert events by ``rule:state``."""


def _ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _cambridge_rows(start: datetime, now: datetime, names: tuple[str, ...] = ("b2", "b25"),
                    device: str = "{}-main") -> list[str]:
    rows = []
    for name in names:
        replay = Replay(builtin_series(name), start=datetime(2022, 11, 28, tzinfo=UTC), speed=1.0, clock=lambda: 0.0)
        at = start
        while at <= now:
            rows.append(f"{_ts(at)},{device.format(name)},energy_import_kwh,{replay.energy_kwh((at - start).total_seconds())!r}")
            at += STEP
    return rows


def _estate_rows(now: datetime) -> list[str]:
    """Building b85's real hourly electricity (Cambridge, from 2022-02-01) as an hourly counter over
    the last ``ESTATE_DAYS``, with the meter silent for five hours three days ago."""
    from bench.buildings import building

    first = now.replace(minute=0) - timedelta(days=ESTATE_DAYS)
    series = building("cambridge-b85").series()
    values = series.values[series.index(datetime(2022, 2, 1, tzinfo=UTC)):]
    silent = (now.replace(minute=0) - timedelta(days=3), now.replace(minute=0) - timedelta(days=3, hours=-5))
    rows, total, at, i = [], 10_000.0, first, 0
    while at <= now:
        if not silent[0] <= at < silent[1]:
            rows.append(f"{_ts(at)},b85-main,energy_import_kwh,{total!r}")
        total += float(values[i])
        at, i = at + timedelta(hours=1), i + 1
    return rows


def _rsf_rows(start: datetime, now: datetime) -> list[str]:
    with (DATA / "nrel-rsf-2011" / "rsf-2011-06-20-to-22.csv").open(newline="", encoding="utf-8") as handle:
        hours = [(float(r["Building Net (kW)"]), -float(r["PV (kW)"])) for r in csv.DictReader(handle)]
    # Per hour of the window (cycling through the 72 recorded hours): kWh imported, exported, generated.
    counters = [0.0, 0.0, 0.0]
    rows = []
    at = start
    while at <= now:
        for device, value in zip(("rsf-import", "rsf-export", "rsf-pv"), counters, strict=True):
            quantity = {"rsf-import": "energy_import_kwh", "rsf-export": "energy_export_kwh",
                        "rsf-pv": "energy_generated_kwh"}[device]
            rows.append(f"{_ts(at)},{device},{quantity},{value!r}")
        net, pv = hours[int((at - start).total_seconds() // 3600) % len(hours)]
        share = STEP / timedelta(hours=1)  # the hour's energy spread evenly over its 5-minute steps
        counters[0] += max(net, 0.0) * share
        counters[1] += max(-net, 0.0) * share
        counters[2] += pv * share
        at += STEP
    return rows


def _heat_rows(start: datetime, now: datetime) -> list[str]:
    from greenwire.simulators.series import load_series

    gas = load_series(DATA / "cambridge-b2-gas-2022.csv", name="b2-gas")
    replay = Replay(gas, start=datetime(2022, 11, 28, tzinfo=UTC), speed=1.0, clock=lambda: 0.0)
    rows = []
    at = start
    while at <= now:
        rows.append(f"{_ts(at)},rsf-heat,heat_energy_kwh,{replay.energy_kwh((at - start).total_seconds())!r}")
        at += STEP
    return rows


def _grid_csv(path: Path, start: datetime, now: datetime) -> None:
    with (DATA / "neso-gb-2022-hourly.csv").open(encoding="utf-8") as handle:
        lines = handle.read().splitlines()[1:]
    first = (datetime(2022, 11, 28, tzinfo=UTC) - datetime(2022, 1, 1, tzinfo=UTC)).days * 24
    out = ["timestamp,gco2_per_kwh"]
    at, i = start - timedelta(hours=2), first
    while at <= now + timedelta(hours=2):
        out.append(f"{_ts(at)},{float(lines[i].split(',')[1]) * 1000!r}")
        at += timedelta(hours=1)
        i += 1
    path.write_text("\n".join(out) + "\n")


def _publish_malformed(broker: Mosquitto) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bad-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    client.publish("greenwire/v1/cambridge/gw-live/readings", b'{"schema": "greenwire.readings.v1", "gateway"',
                   qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


async def _run_live_agent(broker: Mosquitto, tmp: Path) -> None:
    replay = Replay(builtin_series("b2"), start=datetime(2022, 11, 30, tzinfo=UTC), speed=60)
    async with MeterServer(meters=[SimMeter(1, replay)]) as server:
        edge = EdgeConfig.model_validate({
            "gateway": "gw-live", "site": "cambridge", "mqtt": {"url": broker.url},
            "buffer": {"path": str(tmp / "live.sqlite")},
            "publish": {"status_interval_s": 1, "interval_s": 0.5},
            "buses": [{"name": "plant", "host": "127.0.0.1", "port": server.port, "timeout_s": 0.2, "devices": [
                {"id": "b2-sub", "unit": 1, "profile": "eastron-sdm630", "poll_interval_s": 0.5},
                {"id": "b2-chiller", "unit": 7, "profile": "eastron-sdm630", "poll_interval_s": 0.5},
            ]}],
        })
        agent = EdgeAgent(edge, broker_settings(edge))
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await asyncio.sleep(3.5)
            # However slowly it started: both devices polled, and a heartbeat sent since with their state.
            states = {s.device: s for bus in agent.buses for s in bus.states}
            await eventually(lambda: (states["b2-chiller"].errors >= 1 and states["b2-sub"].reads >= 1) or task.done(),
                             60, "the live gateway's devices polled")
            sent = agent.publisher.stats.status_messages
            await eventually(lambda: agent.publisher.stats.status_messages > sent or task.done(), 60,
                             "a heartbeat with the devices' state")
        finally:
            stop.set()
            await task


def _grid_run(broker: Mosquitto, influxdb: InfluxDB1, db: str, tmp: Path, now: datetime) -> None:
    """``greenwire grid run --once`` for GB-13 against a loopback NESO: grid_status and forecasts."""
    from tests.grid.replay import ReplayServer, Reply, Request

    with (DATA / "neso-gb-2022-hourly.csv").open(encoding="utf-8") as handle:
        values = [float(line.split(",")[1]) * 1000 for line in handle.read().splitlines()[1:]]
    first = now.replace(minute=30 if now.minute >= 30 else 0)
    entries = [{"from": (first + timedelta(minutes=30 * k)).strftime("%Y-%m-%dT%H:%MZ"),
                "to": (first + timedelta(minutes=30 * (k + 1))).strftime("%Y-%m-%dT%H:%MZ"),
                "intensity": {"forecast": round(values[7800 + k // 2]), "index": "moderate"}, "generationmix": []}
               for k in range(96)]

    def neso(request: Request) -> Reply:
        if request.path.startswith("/regional/"):
            data = entries if "fw48h" in request.path else entries[:1]
            return Reply(body={"data": [{"regionid": 13, "dnoregion": "UKPN London", "shortname": "London",
                                         "data": data}]})
        return Reply(404, {"error": {"code": "404 Not Found", "message": request.path}})

    with ReplayServer(neso) as server:
        config = tmp / "grid.yaml"
        config.write_text(f"zones:\n  - {{zone: GB-13, provider: neso, base_url: '{server.url}'}}\n"
                          f"mqtt: {{url: '{broker.url}', client_id: 'grid-{db}'}}\n"
                          f"influx: {{url: '{influxdb.url}', database: {db}}}\n")
        result = CliRunner().invoke(app, ["grid", "run", "--config", str(config), "--once"])
        assert result.exit_code == 0, result.output


def build_world(broker: Mosquitto, influxdb: InfluxDB1, tmp: Path) -> World:
    """Everything above; returns where it is."""
    db = f"dash_{uuid.uuid4().hex[:10]}"
    influxdb.create_database(db)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(days=2)).replace(hour=0, minute=0)
    sites_yaml = tmp / "sites.yaml"
    sites_yaml.write_text(SITES_YAML)
    ingest_yaml = tmp / "ingest.yaml"
    ingest_yaml.write_text(
        f"mqtt: {{url: '{broker.url}', client_id: 'ingest-{db}', group: 'g{db}'}}\n"
        f"influx: {{api: v1, url: '{influxdb.url}', database: {db}}}\n"
        f"batch: {{max_delay_s: 0.1}}\nstate_dir: '{tmp / 'ingest'}'\n"
    )
    files = {"cambridge": ("gw-hist-c", _cambridge_rows(start, now)), "golden": ("gw-hist-g", _rsf_rows(start, now) + _heat_rows(start, now)),
             "care-home": ("gw-hist-h", _cambridge_rows(start, now, ("b85",), "care-main")),
             "estate": ("gw-hist-e", _estate_rows(now))}

    async def ingest() -> None:
        ingestor = Ingestor(load_config(ingest_yaml), building_of=building_lookup(load_sites(sites_yaml)),
                            stats_interval_s=0.5)
        stop = asyncio.Event()
        task = asyncio.create_task(ingestor.run(stop))
        try:
            await eventually(lambda: ingestor.consumer.connected and ingestor.status.consumer.connected, 30,
                             "the ingestor to subscribe")
            await asyncio.sleep(0.2)
            total = 0
            for site, (gateway, rows) in files.items():
                path = tmp / f"{site}.csv"
                path.write_text("timestamp,device,quantity,value\n" + "\n".join(rows) + "\n")
                done = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "greenwire", "import", "readings", str(path), "--site", site,
                     "--gateway", gateway, "--config", str(ingest_yaml)],
                    capture_output=True, text=True, timeout=180,
                )
                assert done.returncode == 0, done.stderr
                total += len(rows)
            await _run_live_agent(broker, tmp)
            await asyncio.to_thread(_publish_malformed, broker)
            await eventually(lambda: ingestor.stats.readings_written >= total and ingestor.stats.rejected_total >= 1
                             and ingestor.status.stored >= 3, 120, "the history, the status and the reject stored")
            await asyncio.sleep(1.2)  # two more self-metrics intervals
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(ingest())
    runner = CliRunner()
    grid = tmp / "grid.csv"
    _grid_csv(grid, start, now)
    for args in (
        ["import", "grid", str(grid), "--zone", "GB"],
        ["carbon", "backfill", "--sites", str(sites_yaml), "--from", start.date().isoformat(),
         "--to", (now + timedelta(days=1)).date().isoformat()],
        ["carbon", "run", "--sites", str(sites_yaml), "--once", "--no-publish"],
        ["forecast", "run", "--sites", str(sites_yaml), "--building", "b85"],
        ["anomalies", "run", "--sites", str(sites_yaml), "--site", "estate"],
    ):
        result = runner.invoke(app, [*args, "--config", str(ingest_yaml)])
        assert result.exit_code == 0, (args, result.output)
    _grid_run(broker, influxdb, db, tmp, now)
    health_db = f"{db}_health"
    care = tmp / "care"
    care.mkdir()
    key = care_site.pilot_key(care / "pilot.key")
    participants, alerts = asyncio.run(_run_care_home(broker, influxdb, db, health_db, sites_yaml, care, key,
                                                      ingest_yaml))
    return World(db, influxdb.url, ingest_yaml, sites_yaml, start, now, datetime.now(UTC), health_db=health_db,
                 participants=participants, health_alerts=alerts)


async def _run_care_home(broker: Mosquitto, influxdb: InfluxDB1, energy_db: str, health_db: str, sites_yaml: Path,
                         state: Path, key: Path, ingest_yaml: Path) -> tuple[int, dict[str, int]]:
    """The pilot at the care home until its backlog, alerts and carbon are in the health database, and
    the care gateway's status (with its wearable source's counters) in the energy database's fleet data."""
    people = make_participants(8)
    consented = care_site.consent(people)
    hub = WearableHub(people, start=datetime.now(UTC) - timedelta(hours=3), speed=1e6)
    health = care_site.health_config(broker_url=broker.url, influx_url=influxdb.url, health_db=health_db,
                                     energy_db=energy_db, sites_yaml=sites_yaml, state=state / "health",
                                     tag=health_db[-10:])
    service = HealthService(health, stats_interval_s=5.0)
    ingestor = Ingestor(load_config(ingest_yaml), building_of=building_lookup(load_sites(sites_yaml)))
    async with WearableServer(hub) as hub_server, MeterServer(meters=care_site.sensor_meters()) as modbus:
        edge = care_site.edge_config(broker_url=broker.url, modbus_port=modbus.port, hub_url=hub_server.url,
                                     state=state, key=key, consented=consented)
        agent = EdgeAgent(edge, broker_settings(edge))
        hub.advance()
        backlog = len(hub.log)
        stops = [asyncio.Event(), asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(service.run(stops[0])), asyncio.create_task(ingestor.run(stops[2]))]
        try:
            await eventually(lambda: service.consumer.connected and ingestor.status.consumer.connected, 60,
                             "the health service and the ingestor to subscribe")
            tasks.append(asyncio.create_task(agent.run(stops[1])))
            source = agent.wearables[0]
            stored_before = ingestor.status.stored

            def settled() -> bool:
                day = service.latest.get(care_site.SITE, {}).get("1d")
                return (source.stats.received >= backlog
                        and service.stats.observations_written >= source.stats.forwarded_observations - 50
                        and service.stats.alerts["indoor_co2_high:raised"] == 1
                        and service.stats.alerts["indoor_heat_index_high:raised"] == 1
                        and day is not None and day.kgco2e is not None and day.kgco2e > 0)

            await eventually(settled, 120, "the care home's vitals, alerts and carbon in the health database")
            stored = ingestor.status.stored
            await eventually(lambda: ingestor.status.stored >= max(stored, stored_before) + 2, 30,
                             "the care gateway's status with its wearable counts")
        finally:
            stops[1].set()
            if len(tasks) > 2:
                await tasks[2]
            await eventually(lambda: service.stats.observations_written >= source.stats.forwarded_observations, 60,
                             "the last vitals stored")
            stops[0].set()  # the service aggregates once more as it stops
            stops[2].set()
            await asyncio.gather(*tasks[:2])
    return len(consented), dict(service.stats.alerts)
