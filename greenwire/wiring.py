"""Where the commands' servers come from: a config file, else the local stack (``greenwire stack up``).

The composition root's one place for resolving the InfluxDB client and the broker settings that
the carbon, Grafana and import commands hand to the parts. Each function raises ``SetupError``
with a one-line reason (a config error naming its file and line, or no stack running); the
commands print it and exit 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from greenwire.shared.errors import ConfigError, GreenwireError, StackError

if TYPE_CHECKING:
    from greenwire.cloud.adapters.influxql import InfluxV1
    from greenwire.cloud.adapters.settings import InfluxSection, MqttSection
    from greenwire.cloud.bms.config import BmsConfig
    from greenwire.cloud.grid.config import GridConfig
    from greenwire.cloud.ingest.config import IngestConfig
    from greenwire.cloud.sites import SiteModel
    from greenwire.stack import StackEnv
    from greenwire.transport.mqtt import BrokerSettings

NO_STACK = "no --config and no local stack running (`greenwire stack up`)"


class SetupError(GreenwireError):
    """A command cannot be wired: a bad config, or neither a config nor a running local stack."""


def _ingest_config(config: Path) -> IngestConfig:
    from greenwire.cloud.ingest.config import load_config

    try:
        return load_config(config)
    except ConfigError as exc:
        raise SetupError(str(exc)) from exc


def _stack() -> StackEnv:
    from greenwire.stack import discover

    env = discover()
    if env is None:
        raise SetupError(NO_STACK)
    return env


def influx_client(config: Path | None) -> InfluxV1:
    """The InfluxQL client of the ingest config's ``influx`` section (with api v2 the bucket needs a
    DBRP mapping of the same name), else of the local stack's database."""
    from greenwire.cloud.adapters.influxql import InfluxV1

    if config is None:
        env = _stack()
        return InfluxV1(env.influx_url, env.influx_db)
    return influx_of(_ingest_config(config).influx)


def influx_of(influx: InfluxSection) -> InfluxV1:
    """The InfluxQL client of a config's ``influx`` section (v2: through the bucket's DBRP mapping)."""
    from greenwire.cloud.adapters.influxql import InfluxV1

    try:
        if influx.api == "v2":
            # InfluxDB 2.x/3 answer InfluxQL on /query through a DBRP mapping of the bucket.
            assert influx.bucket is not None
            return InfluxV1(influx.url, influx.bucket, token=influx.resolved_token())
        assert influx.database is not None
        return InfluxV1(influx.url, influx.database, username=influx.username, password=influx.resolved_password())
    except ConfigError as exc:
        raise SetupError(str(exc)) from exc


def cloud_broker(config: Path | None, client_id: str) -> MqttSection:
    """The ingest config's ``mqtt`` section (else the local stack's broker, with the ingestor's account
    on a ``--secure`` stack), under ``client_id``: a cloud service's own session."""
    if config is not None:
        section = _ingest_config(config).mqtt
    else:
        from greenwire.cloud.ingest.config import IngestConfig

        section = IngestConfig.from_stack(_stack()).mqtt
    return section.model_copy(update={"client_id": client_id})


def publisher_settings(section: MqttSection, client_id: str) -> BrokerSettings:
    """Settings for publishing with a cloud section's broker and account."""
    from greenwire.transport.mqtt import BrokerSettings

    try:
        password = section.resolved_password()
    except ConfigError as exc:
        raise SetupError(str(exc)) from exc
    return BrokerSettings.of(section, client_id, username=section.username, password=password,
                             keepalive_s=section.keepalive_s)


def gateway_broker(config: Path | None, client_id: str, *, site: str, gateway: str) -> BrokerSettings:
    """Where a gateway's readings are published: the ingest config's broker, else the local stack's
    (on a ``--secure`` stack with the gateway's own account, the only one that may publish them)."""
    from greenwire.transport.mqtt import BrokerSettings

    if config is not None:
        return publisher_settings(_ingest_config(config).mqtt, client_id)
    env = _stack()
    if env.secure is not None:
        from greenwire.edge.config import MqttConfig

        try:
            own = MqttConfig(**env.secure.gateway_mqtt(env.mqtt_url, site, gateway))
            password = own.resolved_password()
        except (StackError, ConfigError) as exc:
            raise SetupError(str(exc)) from exc
        return BrokerSettings.of(own, client_id, username=own.username, password=password,
                                 keepalive_s=own.keepalive_s)
    from urllib.parse import urlsplit

    parts = urlsplit(env.mqtt_url)
    return BrokerSettings(parts.hostname or "127.0.0.1", parts.port or 1883, client_id)


def grid_servers(config: GridConfig) -> tuple[InfluxV1, BrokerSettings]:
    """The database and broker of a ``grid run`` config: its own sections, else the local stack's."""
    influx = influx_of(config.influx) if config.influx is not None else influx_client(None)
    section = config.mqtt.model_copy(update={"client_id": config.client_id()}) if config.mqtt \
        else cloud_broker(None, config.client_id())
    return influx, publisher_settings(section, config.client_id())


def bms_broker(config: BmsConfig) -> BrokerSettings:
    """Where the BMS bridge reads the carbon signals: its config's mqtt section, else the local stack's
    broker (with the ingestor's account on a ``--secure`` stack, which may read them)."""
    section = config.mqtt.model_copy(update={"client_id": config.client_id()}) if config.mqtt \
        else cloud_broker(None, config.client_id())
    return publisher_settings(section, config.client_id())

def find_site_model() -> SiteModel | None:
    """The site model the carbon commands would use ($GREENWIRE_SITES, ./sites.yaml, the state
    directory's sites.yaml), or None if there is none or it does not load."""
    from greenwire.cloud.sites import load_sites
    from greenwire.shared.errors import ConfigError
    from greenwire.stack import state_dir

    named = os.environ.get("GREENWIRE_SITES")
    for candidate in ([Path(named)] if named else [Path("sites.yaml"), state_dir() / "sites.yaml"]):
        if candidate.is_file():
            try:
                return load_sites(candidate)
            except ConfigError:
                return None
    return None
