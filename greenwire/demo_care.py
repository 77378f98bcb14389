"""The demo's care site: the proactive-health pilot running beside the buildings.

Site ``care-home`` with gateway ``care-gw``: a simulated wearable hub (12 participants, FHIR
R4 over HTTP, heart rate from a real wearable's series, two hours of backlog then live; one
participant has not consented), two SCD30 indoor sensors (a lounge replaying a hot afternoon,
a crowded dining room) and the building's SDM630 meter (replaying Cambridge building b85's
2022 electricity) on Modbus TCP; one edge agent (pseudonymising at the gateway with a key made
in the demo's state directory) and the health service writing the ``greenwire_health``
database. The view shows participants monitored today, alerts, and kgCO2e per participant-day.

The environment rules hold 20 s here instead of 10 minutes, so that a short demo shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.table import Table
from rich.text import Text

SITE = "care-home"
GATEWAY = "care-gw"
TIMEZONE = "Europe/London"
PARTICIPANTS = 12

SITES_YAML = """\
sites:
  - id: care-home
    name: Demo care home
    buildings:
      - id: care-main
        floor_area_m2: 3200
        use: care_home
        zone: GB
        timezone: Europe/London
        meters:
          - {gateway: care-gw, device: care-main, role: grid_import}
"""


class CareSite:
    """Starts the care site's simulators, edge agent and health service; ``view()`` for the live table."""

    def __init__(self, env: Any, state: Path, speed: float) -> None:
        self.env = env
        self.state = state
        self.speed = speed
        self._stops: list[asyncio.Event] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._servers: list[Any] = []
        self.agent: Any = None
        self.service: Any = None

    async def __aenter__(self) -> CareSite:
        from greenwire.cloud.health.alerts import DEFAULT_RULES
        from greenwire.cloud.health.config import HealthConfig
        from greenwire.cloud.health.service import HealthService
        from greenwire.edge.agent import EdgeAgent, broker_settings
        from greenwire.edge.config import (
            BufferConfig,
            DeviceConfig,
            EdgeConfig,
            MqttConfig,
            PublishConfig,
            TcpBusConfig,
            WearablesConfig,
            WearableSourceConfig,
        )
        from greenwire.simulators.environment import Room
        from greenwire.simulators.modbus_meter import MeterServer, SimMeter
        from greenwire.simulators.series import Replay, builtin_series
        from greenwire.simulators.wearable import WearableHub, WearableServer, make_participants

        self.state.mkdir(parents=True, exist_ok=True)
        key = self.state / "care-pseudonym.key"
        if not key.exists():
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(os.urandom(32).hex() + "\n")
        sites = self.state / "care-sites.yaml"
        sites.write_text(SITES_YAML)
        people = make_participants(PARTICIPANTS)
        hub = WearableHub(people, start=datetime.now(UTC) - timedelta(hours=2), speed=1e6)
        started = datetime.now(UTC)
        local = datetime.now(ZoneInfo(TIMEZONE)).replace(hour=14, minute=30, second=0)

        def afternoon() -> datetime:
            return local + (datetime.now(UTC) - started) * self.speed

        hub_server = await WearableServer(hub).start()
        self._servers.append(hub_server)
        modbus = await MeterServer(meters=[
            SimMeter(1, replay=Replay(builtin_series("b85"), start=datetime(2022, 6, 1, 8, tzinfo=UTC),
                                      speed=self.speed)),
            SimMeter(2, profile="sensirion-scd30", climate=Room(kind="heatwave", timezone=TIMEZONE,
                                                                now=afternoon).values),
            SimMeter(3, profile="sensirion-scd30", climate=Room(kind="crowded", timezone=TIMEZONE,
                                                                now=afternoon).values),
        ]).start()
        self._servers.append(modbus)
        edge = EdgeConfig(
            gateway=GATEWAY, site=SITE, mqtt=MqttConfig(url=self.env.mqtt_url),
            buffer=BufferConfig(path=self.state / f"{GATEWAY}.sqlite"),
            publish=PublishConfig(interval_s=1.0, status_interval_s=5.0),  # the Fleet dashboard, live
            buses=(TcpBusConfig(name="care-plant", host="127.0.0.1", port=modbus.port, timeout_s=0.5, devices=(
                DeviceConfig(id="care-main", unit=1, profile="eastron-sdm630", poll_interval_s=2.0,
                             max_power_kw=2000 * self.speed),
                DeviceConfig(id="lounge-env", unit=2, profile="sensirion-scd30", poll_interval_s=2.0),
                DeviceConfig(id="dining-env", unit=3, profile="sensirion-scd30", poll_interval_s=2.0),
            )),),
            wearables=WearablesConfig(
                key_file=key, key_id="demo", consent=tuple(f"Patient/{p.id}" for p in people[:-1]),
                buffer_path=self.state / f"{GATEWAY}-vitals.sqlite",
                state_path=self.state / f"{GATEWAY}-wearables.sqlite",
                sources=(WearableSourceConfig(id="ward-hub", url=f"{hub_server.url}/fhir",
                                          protocol="greenwire-cursor", poll_interval_s=2.0),),
            ),
        )
        rules = [r.model_copy(update={"hold_s": 20.0}) if r.scope == "environment" else r for r in DEFAULT_RULES]
        health = HealthConfig.model_validate({
            "mqtt": {"url": self.env.mqtt_url}, "sites": [{"id": SITE, "timezone": TIMEZONE}],
            "influx": {"url": self.env.influx_url, "energy_database": self.env.influx_db},
            "carbon_sites": str(sites), "rules": [r.model_dump() for r in rules],
            "aggregate_interval_s": 3.0, "state_dir": str(self.state / "health"),
        })
        self.service = HealthService(health)
        self.agent = EdgeAgent(edge, broker_settings(edge))
        self._stops = [asyncio.Event(), asyncio.Event()]
        self._tasks = [asyncio.create_task(self.service.run(self._stops[0]), name="health"),
                       asyncio.create_task(self.agent.run(self._stops[1]), name="care-edge")]
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if len(self._stops) == 2:
            self._stops[1].set()
            with contextlib.suppress(Exception):
                await self._tasks[1]
            await asyncio.sleep(1.0)
            self._stops[0].set()
            with contextlib.suppress(Exception):
                await self._tasks[0]
        for server in reversed(self._servers):
            await server.stop()

    def figures(self) -> dict[str, Any]:
        from greenwire.cloud.health.service import health_snapshot

        snap = health_snapshot(self.service, SITE)
        source = self.agent.wearables[0].stats
        snap |= {"forwarded": source.forwarded_observations, "received": source.received,
                 "rejected": dict(sorted(source.rejected.items()))}
        return snap

    def view(self, width: int = 120) -> Group:
        f = self.figures()
        headers = ("participants today", "vitals forwarded", "alerts raised", "alerts active",
                   "kgCO2e today", "kgCO2e / participant-day", "heat h", "CO2 h")
        cells = (
            _cell(f["participants"], "{}"), str(f["forwarded"]), str(f["alerts_raised"]), str(f["alerts_active"]),
            _cell(f["kgco2e"], "{:,.1f}"), _cell(f["kgco2e_per_participant_day"], "{:,.2f}"),
            _cell(f["heat_exposure_h"], "{:.2f}"), _cell(f["co2_exposure_h"], "{:.2f}"),
        )
        title = f"care site {SITE} (gateway {GATEWAY}): proactive-health pilot, pseudonymised at the edge"
        if width >= 120:
            table = Table(title=title)
            for column in headers:
                table.add_column(column, justify="right")
            table.add_row(*cells)
        else:  # narrow: one figure a line rather than eight squeezed columns
            table = Table(title=f"care site {SITE}: health pilot", show_header=False)
            table.add_column("figure")
            table.add_column("value", justify="right")
            for header, cell in zip(headers, cells, strict=True):
                table.add_row(header, cell)
        rejects = ", ".join(f"{k} {v}" for k, v in f["rejected"].items()) or "none"
        return Group(table, Text(f"wearable observations received {f['received']}, not forwarded: {rejects}"))

    def line(self) -> str:
        f = self.figures()
        return (f"  care: participants {f['participants']}, forwarded {f['forwarded']}, alerts {f['alerts_raised']}"
                f" ({f['alerts_active']} active), kgCO2e/participant-day {_cell(f['kgco2e_per_participant_day'], '{:.2f}')}")


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)
