"""Ingestor configuration: YAML in, one frozen, cross-checked ``IngestConfig`` out.

A minimal config (InfluxDB 1.x)::

    mqtt:
      url: mqtt://127.0.0.1:1883
    influx:
      api: v1
      url: http://127.0.0.1:8086
      database: greenwire

and for InfluxDB 2.x/3 (v2 write API)::

    influx:
      api: v2
      url: https://influx.example.org
      token_file: /etc/greenwire/influx-token
      org: county
      bucket: greenwire

Everything is checked at start-up and every error names the file and line:
URLs and ports, ids, that a v1 target names its database and a v2 target its
token, org and bucket, that secrets come from a value or a file but not both,
and that secret files can be read. ``cloud/ingest/ingest.example.yaml`` documents
every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from greenwire.cloud.adapters.settings import InfluxSection, LimitsSection, MqttSection
from greenwire.shared.yamlconfig import load_model, read_config

_FROZEN = ConfigDict(frozen=True, extra="forbid")

DEFAULT_STATE_DIR = Path(".greenwire") / "ingest"


class BatchSection(BaseModel):
    """How messages are grouped into InfluxDB writes."""

    model_config = _FROZEN

    max_lines: int = Field(
        default=5000, ge=1, le=1_000_000, description="Lines per InfluxDB request; a full flush is written at once."
    )
    max_delay_s: float = Field(
        default=0.1,
        gt=0,
        le=60,
        description="A message waits at most this long before its flush starts. Under load, "
        "flushes fill to max_lines sooner; this bounds the latency of a quiet stream.",
    )
    max_in_flight: int = Field(
        default=2,
        ge=1,
        le=8,
        description="Flushes written to InfluxDB at once. Each is acknowledged only when it and "
        "every earlier one are stored, so a second write overlaps the first's round trip without "
        "changing what is acknowledged; the ingestor holds up to max_in_flight + 1 flushes.",
    )


class SecureStackLike(Protocol):
    """What a ``--secure`` local stack tells a service: its broker URL, CA and account files."""

    @property
    def internal_url(self) -> str: ...

    @property
    def ca_file(self) -> Path: ...

    def service_password_file(self, account: str) -> Path: ...


class StackLike(Protocol):
    """Where a local stack's broker and database are (``greenwire.stack.StackEnv`` is one)."""

    @property
    def mqtt_url(self) -> str: ...

    @property
    def influx_url(self) -> str: ...

    @property
    def influx_db(self) -> str: ...

    @property
    def secure(self) -> SecureStackLike | None: ...


class IngestConfig(BaseModel):
    """The whole configuration of one ingestor."""

    model_config = _FROZEN

    mqtt: MqttSection
    influx: InfluxSection
    batch: BatchSection = BatchSection()
    limits: LimitsSection = LimitsSection()
    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR, description="Rejected messages are kept here as JSON lines."
    )
    validation: Literal["fast", "reference"] = Field(
        default="fast",
        description="fast: msgspec decodes and the batch is encoded at once (greenwire.cloud.ingest."
        "fastpath); reference: the pydantic models and the value-by-value encoder. Same outcome for "
        "every message (a differential test checks it); reference is the slower contract itself.",
    )

    commits: bool = Field(
        default=True,
        description="After each flush, tell every gateway in it which of its batches are stored "
        "(greenwire.commit.v1 on greenwire/v1/{site}/{gateway}/commit): its buffer keeps them until then. "
        "false makes gateways fall back to forgetting on the broker's PUBACK (for comparison; "
        "a broker crash then loses what it had acknowledged).",
    )

    @classmethod
    def from_stack(cls, env: StackLike, *, state_dir: Path | None = None) -> IngestConfig:
        """The config for the local stack (``greenwire stack up``): its broker and database.

        ``state_dir`` should be the stack's own (``greenwire.stack.state_dir() / "ingest"``),
        so that rejected messages land next to the stack's state and not in the current directory.
        """
        mqtt = MqttSection(url=env.mqtt_url)
        if env.secure is not None:  # greenwire stack up --secure: the ingestor's account and the local CA
            mqtt = MqttSection(
                url=env.secure.internal_url, username="ingest",
                password_file=env.secure.service_password_file("ingest"),
                ca_file=env.secure.ca_file,
            )
        return cls(
            mqtt=mqtt,
            influx=InfluxSection(api="v1", url=env.influx_url, database=env.influx_db),
            state_dir=state_dir if state_dir is not None else DEFAULT_STATE_DIR,
        )

    def summary(self) -> dict[str, object]:
        """What this config means, without secrets (``greenwire ingest check --json``)."""
        return {
            "mqtt": {
                "url": self.mqtt.url,
                "client_id": self.mqtt.client_id,
                "group": self.mqtt.group,
                "username": self.mqtt.username,
                "session_expiry_s": self.mqtt.session_expiry_s,
                "receive_maximum": self.mqtt.receive_maximum,
            },
            "influx": {
                "api": self.influx.api,
                "url": self.influx.url,
                "target": self.influx.describe(),
            },
            "batch": self.batch.model_dump(),
            "limits": self.limits.model_dump(),
            "state_dir": str(self.state_dir),
            "validation": self.validation,
            "commits": self.commits,
        }


def parse_config(text: str, *, source: str = "<config>", base_dir: Path | None = None) -> IngestConfig:
    """Validate ingestor config YAML text; raise ``ConfigError`` naming the line on any problem.

    Relative secret files (``password_file``, ``token_file``) are resolved against ``base_dir``.
    """
    return load_model(text, IngestConfig, source=source, context={"base_dir": base_dir})


def load_config(path: Path) -> IngestConfig:
    """Read and validate an ingestor config file."""
    text = read_config(path)
    return parse_config(text, source=str(path), base_dir=path.parent)
