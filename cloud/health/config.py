"""Health-service configuration: YAML in, one frozen ``HealthConfig`` out (errors name the line).

::

    mqtt:
      url: mqtt://broker.example.org:1883
      client_id: greenwire-health-1     # stable: the broker keeps the persistent session
    influx:
      url: http://127.0.0.1:8086
      database: greenwire_health        # the health data's own database
      energy_database: greenwire        # where the carbon engine reads the buildings' meters
      raw_retention: 30d
      aggregate_retention: 730d
    carbon_sites: sites.yaml            # the carbon site model: the buildings of each site
    sites:
      - {id: care-home, timezone: Europe/London}
    rules: [...]                        # optional: replaces the default alert rules

Only the ``sites`` listed here are part of the pilot: their vitals and the indoor environment
of their sensors are taken; vitals of other sites are not subscribed to (their gateways keep
them buffered), and their readings are left to the ingestor alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from greenwire.cloud.adapters.settings import (
    DEFAULT_CLIENT_ID,
    LimitsSection,
    MqttSection,
    _env_secret,
    _read_secret,
    _secret_path,
)
from greenwire.cloud.health.alerts import DEFAULT_RULES, AlertRule
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import LocatedValueError, load_model, read_config

_FROZEN = ConfigDict(frozen=True, extra="forbid")
DEFAULT_HEALTH_CLIENT_ID = "greenwire-health-1"
DEFAULT_STATE_DIR = Path(".greenwire") / "health"
DURATION = r"^[1-9][0-9]*[hdw]$"


class HealthInflux(BaseModel):
    """The health database (InfluxDB 1.x HTTP API) and its retention policies."""

    model_config = _FROZEN

    url: str = Field(pattern=r"^https?://[^/]+")
    database: str = Field(default="greenwire_health", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    energy_database: str = Field(default="greenwire", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                 description="Meter readings, for the carbon engine's building emissions.")
    raw_retention: str = Field(default="30d", pattern=DURATION, description="How long raw vitals are kept.")
    aggregate_retention: str = Field(default="730d", pattern=DURATION,
                                     description="How long hourly and daily aggregates are kept.")
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    username: str | None = Field(default=None, min_length=1,
                                 description="InfluxDB 1.x with authentication: the health service's user.")
    password_file: Path | None = Field(default=None, description="Its password, from a file (mode 0600).")
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="Its password, from this environment variable.")

    @field_validator("password_file")
    @classmethod
    def _secret_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _secret_path(value, info)

    def credentials(self) -> tuple[str | None, str | None]:
        """(username, password) for the InfluxDB clients (the password read now, never logged)."""
        password = None
        if self.password_file is not None:
            password = _read_secret(self.password_file)
        elif self.password_env is not None:
            password = _env_secret(self.password_env)
        return self.username, password

    @model_validator(mode="after")
    def _apart(self) -> Self:
        if (self.password_file is not None or self.password_env is not None) and self.username is None:
            raise ValueError("a password needs a username")
        if self.password_file is not None and self.password_env is not None:
            raise ValueError("give password_file or password_env, not both")
        if self.database == self.energy_database:
            raise ValueError("the health database must not be the energy database: health data is kept apart")
        return self


class HealthSite(BaseModel):
    """A site of the pilot (a care home, a workplace): its id as in the topics, its local time."""

    model_config = _FROZEN

    id: Id
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/London)") from None
        return value


class HealthConfig(BaseModel):
    """The whole configuration of the health service."""

    model_config = _FROZEN

    mqtt: MqttSection
    influx: HealthInflux
    sites: tuple[HealthSite, ...] = Field(min_length=1)
    carbon_sites: Path | None = Field(default=None, description="The carbon site model (buildings of each site).")
    rules: tuple[AlertRule, ...] = DEFAULT_RULES
    limits: LimitsSection = LimitsSection()
    aggregate_interval_s: float = Field(default=60.0, ge=1, le=3600)
    exposure_max_gap_s: float = Field(default=600.0, gt=0, le=86_400,
                                      description="A sensor reading counts for at most this long.")
    state_dir: Path = DEFAULT_STATE_DIR

    @model_validator(mode="before")
    @classmethod
    def _own_client_id(cls, data: Any) -> Any:
        """The health service must not share the ingestor's MQTT session: its own default client id."""
        if isinstance(data, dict) and isinstance(data.get("mqtt"), dict) and "client_id" not in data["mqtt"]:
            data = {**data, "mqtt": {**data["mqtt"], "client_id": DEFAULT_HEALTH_CLIENT_ID,
                                     "group": data["mqtt"].get("group", "health")}}
        return data

    @field_validator("carbon_sites")
    @classmethod
    def _sites_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _secret_path(value, info)  # the same check: relative to the config, and readable

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if self.mqtt.client_id == DEFAULT_CLIENT_ID:
            raise ValueError(f"client id {DEFAULT_CLIENT_ID} is the ingestor's: give the health service its own")
        seen: set[str] = set()
        for index, site in enumerate(self.sites):
            if site.id in seen:
                raise LocatedValueError(f"site '{site.id}' is listed twice", loc=("sites", index, "id"))
            seen.add(site.id)
        ids: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in ids:
                raise LocatedValueError(f"rule id '{rule.id}' is used twice", loc=("rules", index, "id"))
            ids.add(rule.id)
        return self

    def rule(self, rule_id: str) -> AlertRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @classmethod
    def for_stack(cls, mqtt_url: str, influx_url: str, energy_db: str, sites: tuple[HealthSite, ...],
                  *, carbon_sites: Path | None = None, state_dir: Path | None = None,
                  aggregate_interval_s: float = 60.0) -> HealthConfig:
        """The config on the local stack (``greenwire stack up``)."""
        return cls.model_validate({
            "mqtt": {"url": mqtt_url}, "influx": {"url": influx_url, "energy_database": energy_db},
            "sites": [s.model_dump() for s in sites], "carbon_sites": carbon_sites,
            "state_dir": state_dir or DEFAULT_STATE_DIR, "aggregate_interval_s": aggregate_interval_s,
        })


def parse_config(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> HealthConfig:
    """Validate health-service YAML; raise ``ConfigError`` naming the line on any problem."""
    return load_model(text, HealthConfig, source=source, context={"base_dir": base_dir})


def load_config(path: Path) -> HealthConfig:
    text = read_config(path)
    return parse_config(text, source=str(path), base_dir=path.parent)
