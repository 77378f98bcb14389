"""The ``mqtt`` and ``influx`` sections every cloud service's config shares.

``MqttSection`` is the broker endpoint (:class:`greenwire.shared.broker.BrokerEndpoint`) with the
cloud's account and client id; ``InfluxSection`` chooses InfluxDB's v1 (``/write``, database) or
v2 (token, org, bucket) API. Secrets come from a value, a file or an environment variable, never
two at once, and a secret file must be readable: every error names the file and line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from greenwire.shared.broker import BrokerEndpoint
from greenwire.shared.errors import ConfigError
from greenwire.shared.wire import Id
from greenwire.shared.yamlconfig import checked_url, relative_to_config

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DEFAULT_STATE_DIR = Path(".greenwire") / "ingest"
DEFAULT_CLIENT_ID = "greenwire-ingest-1"
MQTT_SESSION_EXPIRY_MAX_S = 2**32 - 1
"""MQTT 5 Session Expiry Interval is a four-byte integer; this value means "never expires"."""


def _secret_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """Resolve a secret file against the config file's directory and check it can be read."""
    if value is None:
        return None
    value = relative_to_config(value, info.context)
    if not value.is_file():
        raise ValueError(f"{value} is not a readable file")
    return value


def _env_secret(name: str | None) -> str | None:
    """The value of the environment variable ``name``; ConfigError naming it (never a value) if unset."""
    if name is None:
        return None
    value = os.environ.get(name)
    if value is None or not value.strip():
        raise ConfigError(f"the environment variable {name} (named in the config) is not set")
    return value.strip()


def _one_secret(what: str, **sources: object) -> None:
    given = [key for key, value in sources.items() if value is not None]
    if len(given) > 1:
        raise ValueError(f"give one of {', '.join(sources)} for the {what}, not {' and '.join(given)}")


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read secret: {exc.strerror}", path=str(path)) from exc


class MqttSection(BrokerEndpoint):
    """The broker the ingestor subscribes to, and how its session behaves (URL and TLS files:
    ``greenwire.shared.broker.BrokerEndpoint``)."""

    client_id: str = Field(
        default=DEFAULT_CLIENT_ID,
        pattern=r"^[A-Za-z0-9_.:-]{1,128}$",
        description="Keep it stable: the broker keeps the persistent session "
        "(and unacknowledged messages) under this id across restarts. "
        "Give each ingestor of a group its own id.",
    )
    group: Id = Field(
        default="ingest",
        description="Shared-subscription group: ingestors of one group share the messages.",
    )
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_file: Path | None = None
    password_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Read the password from this environment variable."
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(
        default=7 * 86_400,
        ge=60,
        le=MQTT_SESSION_EXPIRY_MAX_S,
        description="How long the broker keeps the session (and queues messages) while "
        "the ingestor is away.",
    )
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65_535,
        description="Unacknowledged QoS 1 messages the broker may send before waiting "
        "for acknowledgements: the ingestor's memory bound.",
    )

    @field_validator("password_file", "ca_file", "cert_file", "key_file")
    @classmethod
    def _password_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _secret_path(value, info)

    @model_validator(mode="after")
    def _one_password(self) -> Self:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        _one_secret("password", password=self.password, password_file=self.password_file,
                    password_env=self.password_env)
        if (
            self.password is not None or self.password_file is not None or self.password_env is not None
        ) and self.username is None:
            raise ValueError("a password needs a username")
        return self

    def resolved_password(self) -> str | None:
        """The password, read from ``password_file`` or ``password_env`` when one is given."""
        if self.password_file is not None:
            return _read_secret(self.password_file)
        if self.password_env is not None:
            return _env_secret(self.password_env)
        return self.password


class InfluxSection(BaseModel):
    """Where points are written: InfluxDB 1.x (``/write``) or the v2 write API."""

    model_config = _FROZEN

    api: Literal["v1", "v2"] = Field(
        default="v1", description="v1: InfluxDB 1.x /write; v2: InfluxDB 2.x/3 via influxdb-client."
    )
    url: str = Field(description="http://host:8086 or https://...")
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Per write request.")
    gzip: bool = Field(
        default=False,
        description="Send write requests gzip-compressed (line protocol shrinks about tenfold): "
        "for a database across a slow or metered link; costs ingestor CPU, so leave it off on a LAN.",
    )
    # v1
    database: str | None = Field(default=None, min_length=1)
    retention_policy: str | None = Field(default=None, min_length=1)
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_file: Path | None = None
    password_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Read the password from this environment variable."
    )
    # v2
    token: str | None = Field(default=None, repr=False, min_length=1)
    token_file: Path | None = None
    token_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Read the token from this environment variable."
    )
    org: str | None = Field(default=None, min_length=1)
    bucket: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checked_url(value, ("http", "https"), "http://host:port or https://host:port").rstrip("/")

    @field_validator("password_file", "token_file")
    @classmethod
    def _secret_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _secret_path(value, info)

    @model_validator(mode="after")
    def _per_api(self) -> Self:
        v1_only = {
            "database": self.database,
            "retention_policy": self.retention_policy,
            "username": self.username,
            "password": self.password,
            "password_file": self.password_file,
            "password_env": self.password_env,
        }
        v2_only = {"token": self.token, "token_file": self.token_file, "token_env": self.token_env,
                   "org": self.org, "bucket": self.bucket}
        if self.api == "v1":
            wrong = [k for k, v in v2_only.items() if v is not None]
            if wrong:
                raise ValueError(f"{', '.join(wrong)}: v2 settings, but api is v1")
            if self.database is None:
                raise ValueError("api v1 needs database")
            if self.password is not None and self.password_file is not None:
                raise ValueError("give password or password_file, not both")
            _one_secret("password", password=self.password, password_file=self.password_file,
                        password_env=self.password_env)
            if (
                self.password is not None or self.password_file is not None or self.password_env is not None
            ) and self.username is None:
                raise ValueError("a password needs a username")
        else:
            wrong = [k for k, v in v1_only.items() if v is not None]
            if wrong:
                raise ValueError(f"{', '.join(wrong)}: v1 settings, but api is v2 (use token, org, bucket)")
            if self.token is not None and self.token_file is not None:
                raise ValueError("give token or token_file, not both")
            _one_secret("token", token=self.token, token_file=self.token_file, token_env=self.token_env)
            missing = [
                name
                for name, value in (
                    ("token (or token_file)", self.token or self.token_file or self.token_env),
                    ("org", self.org),
                    ("bucket", self.bucket),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"api v2 needs {', '.join(missing)}")
        return self

    def resolved_password(self) -> str | None:
        """The v1 password, read from ``password_file`` or ``password_env`` when one is given."""
        if self.password_file is not None:
            return _read_secret(self.password_file)
        if self.password_env is not None:
            return _env_secret(self.password_env)
        return self.password

    def resolved_token(self) -> str | None:
        """The v2 token, read from ``token_file`` or ``token_env`` when one is given."""
        if self.token_file is not None:
            return _read_secret(self.token_file)
        if self.token_env is not None:
            return _env_secret(self.token_env)
        return self.token

    def describe(self) -> str:
        """Where the points go, for a log line (no secrets)."""
        if self.api == "v1":
            rp = f", retention policy {self.retention_policy}" if self.retention_policy else ""
            return f"InfluxDB v1 {self.url} database {self.database}{rp}"
        return f"InfluxDB v2 {self.url} org {self.org} bucket {self.bucket}"


class LimitsSection(BaseModel):
    """What the ingestor refuses before looking further."""

    model_config = _FROZEN

    max_payload_bytes: int = Field(default=1_048_576, ge=1024, le=256 * 1024 * 1024)
    max_future_s: float = Field(
        default=300, ge=0, description="A reading more than this far ahead of the ingestor's clock is rejected."
    )
