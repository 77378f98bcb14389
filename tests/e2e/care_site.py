"""A health-pilot care site for the end-to-end tests: one place for its simulators and configs.

Used by ``test_health_pilot`` (the privacy run) and ``dashboard_world`` (the panel proof):
a wearable hub's participants, two SCD30 rooms frozen at a hot, busy afternoon (a heatwave
lounge and a crowded dining room), the pilot's pseudonym key, the edge agent's config with
its ``wearables:`` section, and the health service's config with the environment rules
reacting within a second (their defaults hold 10 minutes).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from greenwire.cloud.health.alerts import DEFAULT_RULES, AlertRule
from greenwire.cloud.health.config import HealthConfig
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
from greenwire.simulators.modbus_meter import SimMeter
from greenwire.simulators.wearable import Participant

SITE, GATEWAY, TZ = "care-home", "care-gw", "Europe/London"
SENSORS = {"lounge-env": (2, "heatwave"), "dining-env": (3, "crowded")}
"""Sensor device id -> (Modbus unit, room kind)."""
NO_CONSENT = 5
"""The index of the participant who has not consented."""


def consent(people: list[Participant]) -> tuple[str, ...]:
    """Everyone but participant ``NO_CONSENT``."""
    return tuple(f"Patient/{p.id}" for p in people if p.index != NO_CONSENT)


def pilot_key(path: Path) -> Path:
    """A fresh 32-byte pseudonym key, private to its owner, as ``greenwire edge keygen`` makes it."""
    path.write_text(os.urandom(32).hex())
    os.chmod(path, 0o600)
    return path


def sensor_meters() -> list[SimMeter]:
    """The two rooms' SCD30 sensors, their clock fixed at 15:00 local today (hot and crowded)."""
    afternoon = datetime.now(ZoneInfo(TZ)).replace(hour=15, minute=0)
    return [SimMeter(unit, profile="sensirion-scd30", climate=Room(kind=kind, timezone=TZ, now=lambda: afternoon).values)
            for unit, kind in SENSORS.values()]


def sensor_devices() -> tuple[DeviceConfig, ...]:
    return tuple(DeviceConfig(id=device, unit=unit, profile="sensirion-scd30", poll_interval_s=1.0)
                 for device, (unit, _) in SENSORS.items())


def edge_config(*, broker_url: str, modbus_port: int, hub_url: str, state: Path, key: Path,
                consented: tuple[str, ...], devices: tuple[DeviceConfig, ...] = (),
                fhir_base: str | None = None) -> EdgeConfig:
    """The care gateway: ``devices`` (default: the two sensors) on Modbus TCP, and the ward's hub
    (our simulator at ``hub_url``; or, with ``fhir_base``, a standard FHIR server searched as such)."""
    source = (WearableSourceConfig(id="ward-hub", url=fhir_base, poll_interval_s=0.5, overlap_s=1.0)
              if fhir_base else
              WearableSourceConfig(id="ward-hub", url=f"{hub_url}/fhir", protocol="greenwire-cursor",
                                   poll_interval_s=0.5, page_size=500))
    return EdgeConfig(
        gateway=GATEWAY, site=SITE, mqtt=MqttConfig(url=broker_url),
        buffer=BufferConfig(path=state / "buffer.sqlite"), publish=PublishConfig(interval_s=0.3, status_interval_s=1.0),
        buses=(TcpBusConfig(name="plant", host="127.0.0.1", port=modbus_port, timeout_s=0.3, retries=0,
                            devices=devices or sensor_devices()),),
        wearables=WearablesConfig(
            key_file=key, key_id="pilot2026", consent=consented,
            buffer_path=state / "vitals.sqlite", state_path=state / "wearables.sqlite",
            sources=(source,),
        ),
    )


def fast_rules() -> tuple[AlertRule, ...]:
    """The default rules, the environment ones holding 1 s instead of 10 minutes."""
    return tuple(r.model_copy(update={"hold_s": 1.0}) if r.scope == "environment" else r for r in DEFAULT_RULES)


def health_config(*, broker_url: str, influx_url: str, health_db: str, energy_db: str, sites_yaml: Path,
                  state: Path, tag: str, **extra: Any) -> HealthConfig:
    """The health service for the care site, aggregating every second."""
    return HealthConfig.model_validate({
        "mqtt": {"url": broker_url, "client_id": f"health-{tag}", "group": f"hl{tag}", "session_expiry_s": 60},
        "influx": {"url": influx_url, "database": health_db, "energy_database": energy_db},
        "sites": [{"id": SITE, "timezone": TZ}], "carbon_sites": str(sites_yaml),
        "rules": [r.model_dump() for r in fast_rules()], "aggregate_interval_s": 1.0,
        "state_dir": str(state), **extra,
    })
