"""Configuration of ``greenwire grid run``: which provider to poll for which zone, and where to send it.

A minimal config (the broker and the database default to the local stack when left out)::

    zones:
      - zone: GB
        provider: neso
      - zone: DE
        provider: electricitymaps
        interval_s: 900
    mqtt:
      url: mqtt://127.0.0.1:1883
    influx:
      url: http://127.0.0.1:8086
      database: greenwire

Per zone: ``provider`` (one of :data:`greenwire.cloud.grid.fetch.PROVIDERS`), ``base_url`` (a
mirror, an air-gapped proxy, a test server), ``interval_s`` (how often to ask), ``max_age_s``
(how long a value is held through an outage before it is reported ``expired``). Provider
``recorded`` replays a recorded CSV instead (:mod:`greenwire.cloud.grid.recorded`; for CI and
demos): ``recording`` (a NESO, Electricity Maps or ``timestamp,gco2_per_kwh`` CSV, relative to
the config file), ``replay_from`` (the recorded moment that plays when the service starts) and
``speed`` (recorded seconds per second)::

      - zone: GB
        provider: recorded
        recording: neso-gb-2022-hourly.csv
        replay_from: 2022-06-01T06:00:00Z
        speed: 60

The topic of
a zone is its name in lower case (``GB-13`` -> ``greenwire/v1/grid/gb-13/intensity``), so two
zones that differ only in case, or a zone whose lower-case name is not a valid id, are refused.
Every error names the file and line (:mod:`greenwire.shared.yamlconfig`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from greenwire.cloud.adapters.settings import InfluxSection, MqttSection
from greenwire.shared.topics import is_valid_id
from greenwire.shared.yamlconfig import LocatedValueError, checked_url, load_model, read_config

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DEFAULT_CLIENT_ID = "greenwire-grid"
"""The broker client id of ``grid run`` when the config's mqtt section names none."""

Provider = Literal["neso", "electricitymaps", "watttime", "entsoe", "china", "recorded"]


class ZoneFeed(BaseModel):
    """One zone asked of one provider."""

    model_config = _FROZEN

    zone: str = Field(min_length=1, max_length=63, description="The provider's zone, e.g. GB, GB-13, DE.")
    provider: Provider
    base_url: str | None = Field(default=None, description="Ask this server instead of the provider's.")
    interval_s: float = Field(
        default=300.0, gt=0, le=86_400, description="Seconds between two requests (NESO: half-hourly data)."
    )
    max_age_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="Through an outage the last value is held with its age, until it is this old.",
    )
    recording: Path | None = Field(default=None, description="recorded: the CSV to replay.")
    replay_from: AwareDatetime | None = Field(
        default=None, description="recorded: the recorded moment that plays when the service starts.")
    speed: float = Field(default=1.0, gt=0, le=86_400, description="recorded: recorded seconds per second.")

    @field_validator("recording")
    @classmethod
    def _recording(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        if value is None or value.is_absolute() or base is None:
            return value
        return Path(base) / value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not is_valid_id(value.lower()):
            raise ValueError(
                f"zone {value!r} in lower case is not a topic id ([a-z0-9][a-z0-9_-]{{0,62}})"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return checked_url(value, ("http", "https"), "http://host:port or https://host:port")

    @model_validator(mode="after")
    def _static(self) -> Self:
        if self.provider in ("china", "recorded") and self.base_url is not None:
            raise LocatedValueError(
                f"{self.provider} asks no server: there is no base_url to set", loc=("base_url",)
            )
        if self.provider == "recorded":
            for name in ("recording", "replay_from"):
                if getattr(self, name) is None:
                    raise LocatedValueError(f"provider recorded needs {name}", loc=("provider",))
            from greenwire.cloud.carbon.intensity import load_csv

            assert self.recording is not None
            try:  # read once here, so a bad recording is a config error with its line, not a crash later
                load_csv(self.recording, zone=self.zone)
            except (OSError, ValueError) as exc:
                raise LocatedValueError(f"cannot replay the recording: {exc}", loc=("recording",)) from None
        else:
            for name in ("recording", "replay_from", "speed"):
                if name in self.model_fields_set:
                    raise LocatedValueError(f"{name} is for provider recorded only", loc=(name,))
        return self

    @property
    def topic_zone(self) -> str:
        """The zone as topics spell it (lower case)."""
        return self.zone.lower()


class GridConfig(BaseModel):
    """The whole configuration of one ``grid run``."""

    model_config = _FROZEN

    zones: tuple[ZoneFeed, ...] = Field(min_length=1)
    mqtt: MqttSection | None = Field(
        default=None, description="Where greenwire.grid.v1 is published (default: the local stack)."
    )
    influx: InfluxSection | None = Field(
        default=None, description="Where grid_intensity is written (default: the local stack)."
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        seen: dict[str, int] = {}
        for index, feed in enumerate(self.zones):
            if feed.topic_zone in seen:
                raise LocatedValueError(
                    f"zone {feed.zone!r} is already fed by zones[{seen[feed.topic_zone]}] "
                    f"(one provider per zone: its topic is greenwire/v1/grid/{feed.topic_zone}/...)",
                    loc=("zones", index, "zone"),
                )
            seen[feed.topic_zone] = index
        return self

    def client_id(self) -> str:
        """The mqtt section's client id if the config names one, else ``greenwire-grid``."""
        if self.mqtt is not None and "client_id" in self.mqtt.model_fields_set:
            return self.mqtt.client_id
        return DEFAULT_CLIENT_ID


def parse_config(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> GridConfig:
    """Validate grid config YAML text; ``ConfigError`` naming the line on any problem."""
    return load_model(text, GridConfig, source=source, context={"base_dir": base_dir})


def load_config(path: Path) -> GridConfig:
    """Read and validate a grid config file."""
    return parse_config(read_config(path), source=str(path), base_dir=path.parent)
