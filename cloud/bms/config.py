"""Configuration of ``greenwire bms modbus`` and ``greenwire bms bacnet``: which buildings, where.

::

    buildings:                     # each building's signal: a Modbus unit id, a BACnet number range
      - {site: campus-a, building: b2, unit: 1}
      - {site: campus-a, building: b25, unit: 2}
    stale_after_s: 300             # a signal older than this is reported stale (status_code 1)
    mqtt:                          # where the retained carbon signals are read (default: the local stack)
      url: mqtt://127.0.0.1:1883
    modbus:
      host: 0.0.0.0                # default 127.0.0.1: open it to the BMS network on purpose
      port: 502
    bacnet:
      address: 192.168.10.5/24     # the interface's address and prefix (broadcasts: Who-Is)
      port: 47808
      device_instance: 3990
      device_name: greenwire carbon signal

A building's Modbus unit id is ``unit``; its BACnet objects are numbered ``unit x 1000 + point``
(:mod:`greenwire.cloud.bms.points`). Units and buildings must be distinct; every error names
the file and line.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from greenwire.cloud.adapters.settings import MqttSection
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import LocatedValueError, load_model, read_config

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DEFAULT_CLIENT_ID = "greenwire-bms"


class BuildingPoints(BaseModel):
    """One building served to the BMS."""

    model_config = _FROZEN

    site: Id
    building: Id
    unit: int = Field(ge=1, le=247, description="Modbus unit id; BACnet objects unit*1000 + point.")


class ModbusSection(BaseModel):
    model_config = _FROZEN

    host: str = Field(default="127.0.0.1", description="Address to listen on.")
    port: int = Field(default=502, ge=0, le=65_535, description="0: a free port (printed at start).")


class BacnetSection(BaseModel):
    model_config = _FROZEN

    address: str = Field(default="127.0.0.1/32", description="The interface's address/prefix.")
    port: int = Field(default=47808, ge=1, le=65_535)
    device_instance: int = Field(default=3990, ge=0, le=4_194_302)
    device_name: str = Field(default="greenwire carbon signal", min_length=1, max_length=64)
    vendor_identifier: int = Field(default=999, ge=0, le=65_535,
                                   description="ASHRAE vendor id; 999 is the one for testing.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.IPv4Interface(value)
        except ValueError as exc:
            raise ValueError(f"expected an IPv4 address with its prefix, e.g. 192.168.10.5/24: {exc}") from None
        return value


class BmsConfig(BaseModel):
    """The whole configuration of the BMS bridges."""

    model_config = _FROZEN

    buildings: tuple[BuildingPoints, ...] = Field(min_length=1)
    stale_after_s: float = Field(default=300.0, gt=0, le=86_400)
    mqtt: MqttSection | None = None
    modbus: ModbusSection = ModbusSection()
    bacnet: BacnetSection = BacnetSection()

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        units: dict[int, int] = {}
        names: dict[tuple[str, str], int] = {}
        for index, entry in enumerate(self.buildings):
            if entry.unit in units:
                raise LocatedValueError(f"unit {entry.unit} is already buildings[{units[entry.unit]}]'s",
                                        loc=("buildings", index, "unit"))
            key = (entry.site, entry.building)
            if key in names:
                raise LocatedValueError(f"{entry.site}/{entry.building} is already buildings[{names[key]}]",
                                        loc=("buildings", index, "building"))
            units[entry.unit], names[key] = index, index
        return self

    def client_id(self) -> str:
        """The mqtt section's client id if the config names one, else ``greenwire-bms``."""
        if self.mqtt is not None and "client_id" in self.mqtt.model_fields_set:
            return self.mqtt.client_id
        return DEFAULT_CLIENT_ID


def parse_config(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> BmsConfig:
    """Validate BMS config YAML text; ``ConfigError`` naming the line on any problem."""
    return load_model(text, BmsConfig, source=source, context={"base_dir": base_dir})


def load_config(path: Path) -> BmsConfig:
    """Read and validate a BMS config file."""
    return parse_config(read_config(path), source=str(path), base_dir=path.parent)
