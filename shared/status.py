"""Wire format ``greenwire.status.v1``: a gateway's retained status (birth, heartbeat, last will).

Published retained at QoS 1 on ``greenwire/v1/{site}/{gateway}/status``::

    {"schema": "greenwire.status.v1", "gateway": "gw-01", "state": "online",
     "ts": "2026-11-22T10:00:00.000Z", "version": "0.1.0", "config_hash": "3f2a...",
     "devices": [{"device": "main-incomer", "bus": "plant-room", "online": true, "reads": 120,
                  "errors": 0, "poll_latency_ms": 12.5, "last_read": "2026-11-22T09:59:58.100Z"}],
     "buffer": {"readings": 0, "batches": 0, "oldest_reading_age_s": null, "dropped_readings": 0},
     "process": {"cpu_pct": 1.2, "rss_mb": 48.0, "peak_rss_mb": 52.1}}

``online`` comes at connect (birth) and every ``publish.status_interval_s`` with fresh figures;
``offline`` with ``reason`` ``shutdown`` on a clean stop, or ``lost`` as the last will the broker
publishes when the connection dies. The will is built at connect, so its ``ts`` is the time the
connection was made, not the time it was lost: the ingestor stores it at the time it arrives.
An empty retained message clears the topic (a decommissioned gateway); it is not a status.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from greenwire.shared.wire import FiniteFloat, Id, UtcDatetime

STATUS_SCHEMA: Final = "greenwire.status.v1"
MAX_DEVICES: Final = 1000

_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class DeviceHealth(BaseModel):
    """One device as the gateway's poller sees it (counters since the agent started)."""

    model_config = _STRICT

    device: Id
    bus: str = Field(min_length=1, max_length=63)
    online: bool | None = Field(description="None until the first poll has answered or failed.")
    reads: int = Field(ge=0)
    errors: int = Field(ge=0)
    poll_latency_ms: FiniteFloat | None = Field(default=None, ge=0)
    last_read: UtcDatetime | None = None


class BufferHealth(BaseModel):
    """The gateway's disk buffer."""

    model_config = _STRICT

    readings: int = Field(ge=0)
    batches: int = Field(ge=0)
    oldest_reading_age_s: FiniteFloat | None = None
    dropped_readings: int = Field(ge=0)


class ProcessHealth(BaseModel):
    """The agent process's own footprint."""

    model_config = _STRICT

    cpu_pct: FiniteFloat | None = None
    rss_mb: FiniteFloat | None = None
    peak_rss_mb: FiniteFloat | None = None


class StatusMessage(BaseModel):
    """One status message of one gateway."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, title=STATUS_SCHEMA)

    schema_: Literal["greenwire.status.v1"] = Field(alias="schema")
    gateway: Id
    state: Literal["online", "offline"]
    ts: UtcDatetime
    reason: str | None = Field(default=None, max_length=200)
    version: str | None = Field(default=None, max_length=64)
    config_hash: str | None = Field(default=None, max_length=128)
    devices: tuple[DeviceHealth, ...] = Field(default=(), max_length=MAX_DEVICES)
    buffer: BufferHealth | None = None
    process: ProcessHealth | None = None
