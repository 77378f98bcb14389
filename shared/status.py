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

``greenwire.status.v2`` is v1 plus what a gateway with wearable sources reports (counts only,
never an identifier or a value)::

     "wearables": [{"source": "ward-hub", "online": true, "polls": 40, "errors": 0,
                    "received": 1200, "forwarded": 1100, "rejected": {"no_consent": 90, "duplicate": 10},
                    "last_poll": "2026-11-22T09:59:58.000Z", "throttled": 0, "search_restarts": 0}],
     "vitals_buffer": {"observations": 0, "published": 1100}

A gateway sends v2 only when it has wearable sources, so gateways without them stay readable by
ingestors that know v1 only; the ingestor accepts both (:func:`parse_status`).

``greenwire.status.v3`` is v2 plus the end-to-end commit's figures (``greenwire.commit.v1``):
when the gateway forgets a batch (``mode``: ``commit`` once the cloud has sent a commit,
``waiting`` before the first, ``puback`` with a cloud that sends none), and what waits for a
commit::

     "delivery": {"mode": "commit", "uncommitted_readings": 40, "uncommitted_batches": 2,
                  "oldest_uncommitted_age_s": 1.5, "resent_batches": 0, "committed_readings": 9000}

and, while its disk buffer refuses writes (a full disk), ``buffer_error`` (why) and
``unbuffered_dropped`` (readings polled that memory could not hold either). A gateway that knows
commits sends v3; an ingestor from before v3 records it as rejected
(``unknown_schema``) and keeps storing the readings.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from greenwire.shared.wire import FiniteFloat, Id, UtcDatetime

STATUS_SCHEMA: Final = "greenwire.status.v1"
STATUS_SCHEMA_V2: Final = "greenwire.status.v2"
STATUS_SCHEMA_V3: Final = "greenwire.status.v3"
STATUS_SCHEMAS: Final = (STATUS_SCHEMA, STATUS_SCHEMA_V2, STATUS_SCHEMA_V3)
MAX_SOURCES: Final = 100
MAX_REASONS: Final = 64
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
    max_power_kw: FiniteFloat | None = Field(
        default=None, gt=0,
        description="The device's maximum power (its profile's or its own edge setting): the cloud rejects counter "
                    "rises faster than this without a per-meter setting.")


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


class WearableSourceHealth(BaseModel):
    """One wearable source as the gateway sees it (counters since the agent started)."""

    model_config = _STRICT

    source: Id
    online: bool | None = Field(description="None until the first poll has answered or failed.")
    polls: int = Field(ge=0)
    errors: int = Field(ge=0)
    received: int = Field(ge=0, description="Observations the source served (read).")
    forwarded: int = Field(ge=0, description="Vitals observations put into the vitals buffer.")
    rejected: dict[Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,47}$")], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, max_length=MAX_REASONS, description="Observations not forwarded, by reason code.")
    last_poll: UtcDatetime | None = None
    throttled: int | None = Field(default=None, ge=0)
    search_restarts: int | None = Field(default=None, ge=0)


class VitalsBufferHealth(BaseModel):
    """The gateway's vitals buffer and its publisher."""

    model_config = _STRICT

    observations: int = Field(ge=0)
    published: int = Field(ge=0)


class StatusMessageV2(StatusMessage):
    """``greenwire.status.v2``: v1 and the wearable sources' counters."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, title=STATUS_SCHEMA_V2)

    schema_: Literal["greenwire.status.v2"] = Field(alias="schema")  # type: ignore[assignment]
    wearables: tuple[WearableSourceHealth, ...] = Field(default=(), max_length=MAX_SOURCES)
    vitals_buffer: VitalsBufferHealth | None = None


class DeliveryHealth(BaseModel):
    """The end-to-end commit as the gateway's meter-readings publisher sees it (since the agent started)."""

    model_config = _STRICT

    mode: Literal["waiting", "commit", "puback"] = Field(
        description="commit: batches are forgotten when the cloud commits them; waiting: no commit seen yet "
                    "(batches kept); puback: the cloud sends no commits, batches are forgotten on the broker's PUBACK.")
    uncommitted_readings: int = Field(ge=0, description="Readings published and not yet committed.")
    uncommitted_batches: int = Field(ge=0)
    oldest_uncommitted_age_s: FiniteFloat | None = Field(
        default=None, ge=0, description="How long the oldest uncommitted batch has waited since it was first published.")
    resent_batches: int = Field(ge=0, description="Batches published again because no commit came in time.")
    committed_readings: int = Field(ge=0)


class StatusMessageV3(StatusMessageV2):
    """``greenwire.status.v3``: v2 and the end-to-end commit's figures."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, title=STATUS_SCHEMA_V3)

    schema_: Literal["greenwire.status.v3"] = Field(alias="schema")  # type: ignore[assignment]
    delivery: DeliveryHealth | None = None
    buffer_error: str | None = Field(
        default=None, max_length=200,
        description="While the disk buffer refuses writes (a full disk): why. Polling goes on into memory.")
    unbuffered_dropped: int | None = Field(
        default=None, ge=0, description="Readings dropped from memory while the buffer could not take them.")


AnyStatus = Annotated[StatusMessage | StatusMessageV2 | StatusMessageV3, Field(discriminator="schema_")]
_ANY_STATUS: TypeAdapter[StatusMessage | StatusMessageV2 | StatusMessageV3] = TypeAdapter(AnyStatus)


def parse_status(payload: bytes | str) -> StatusMessage | StatusMessageV2 | StatusMessageV3:
    """A status message of any version (``pydantic.ValidationError`` if it is none)."""
    return _ANY_STATUS.validate_json(payload)


def status_json_schema(version: int = 3) -> dict[str, object]:
    """JSON Schema of ``greenwire.status.v1``, ``v2`` or ``v3`` (what ``shared/schemas`` holds)."""
    models: dict[int, type[StatusMessage]] = {1: StatusMessage, 2: StatusMessageV2}
    model = models.get(version, StatusMessageV3)
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$id"] = f"https://greenwire.dev/schemas/greenwire.status.v{version}.json"
    return schema
