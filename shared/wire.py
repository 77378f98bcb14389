"""Wire format ``greenwire.readings.v1``: what a gateway publishes, what the cloud accepts.

A batch is one MQTT message on ``greenwire/v1/{site}/{gateway}/readings``::

    {"schema": "greenwire.readings.v1", "gateway": "gw-01", "seq": 1042,
     "sent_at": "2026-11-22T10:00:01.250Z",
     "readings": [{"ts": "2026-11-22T10:00:00.812Z", "device": "main-incomer",
                   "values": {"active_power_w": 48210.5, "energy_import_kwh": 183442.61},
                   "quality": "good"}]}

- ``seq`` increases per gateway and survives restarts (the edge keeps it on disk).
- ``ts`` is when the meter was read, UTC, RFC 3339; never the time of sending or ingest.
- ``values`` holds finite numbers named from :mod:`greenwire.shared.quantities`.

The models are frozen and strict: unknown fields, strings where numbers
belong, booleans, NaN and infinities, naive timestamps and unknown
quantities are all rejected. Checks that need a clock ("not more than five
minutes in the future") or the topic ("the payload's gateway is the topic's")
are the ingestor's, in ``greenwire.cloud.ingest.validate``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Final, Literal

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.topics import ID_PATTERN

READINGS_SCHEMA: Final = "greenwire.readings.v1"
MAX_READINGS_PER_BATCH: Final = 10_000
MAX_VALUES_PER_READING: Final = 256


def format_ts(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, milliseconds, or microseconds when they are set."""
    value = value.astimezone(UTC)
    if value.microsecond % 1000:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


Id = Annotated[str, StringConstraints(pattern=f"^{ID_PATTERN}$")]
"""A site, gateway, device, building or zone id."""

UtcDatetime = Annotated[
    AwareDatetime,
    PlainSerializer(format_ts, return_type=str, when_used="json"),
]
"""A timezone-aware timestamp, written as RFC 3339 in UTC with ``Z``.

An offset on input (``+08:00``) is kept on the value, which compares and
converts exactly; it is not normalised here because a Python call per
timestamp would halve validation speed.
"""

if TYPE_CHECKING:
    QuantityName = str
else:
    QuantityName = Literal[tuple(QUANTITIES)]
"""A name from the quantity vocabulary, checked by pydantic's core, not by Python code."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Quality(StrEnum):
    """How far a reading can be trusted.

    ``good`` is a plain read. The counter flags are set at the edge when an
    energy counter goes backwards or jumps; the value is still the meter's
    own, passed on so that nothing is hidden, but flagged so that the carbon
    engine does not turn it into a spike.
    """

    GOOD = "good"
    ESTIMATED = "estimated"
    COUNTER_ROLLOVER = "counter_rollover"
    COUNTER_RESET = "counter_reset"
    COUNTER_JUMP = "counter_jump"
    BAD = "bad"


_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class Reading(BaseModel):
    """The values of one device read at one moment."""

    model_config = _STRICT

    ts: UtcDatetime = Field(description="When the device was read (UTC, RFC 3339).")
    device: Id = Field(description="Device id, unique within its gateway.")
    values: dict[QuantityName, FiniteFloat] = Field(
        min_length=1,
        max_length=MAX_VALUES_PER_READING,
        fail_fast=True,
        description="Quantity name (from the vocabulary, ending in its unit) to value.",
    )
    quality: Quality = Quality.GOOD


class ReadingsBatch(BaseModel):
    """One MQTT message of meter readings from one gateway."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        title="greenwire.readings.v1",
        json_schema_extra={
            "$id": "https://greenwire.dev/schemas/greenwire.readings.v1.json",
            "description": "A batch of meter readings published by one gateway on "
            "greenwire/v1/{site}/{gateway}/readings.",
        },
    )

    schema_: Literal["greenwire.readings.v1"] = Field(alias="schema")
    gateway: Id
    seq: int = Field(ge=0, lt=2**63, description="Per-gateway sequence, survives restarts.")
    sent_at: UtcDatetime
    readings: tuple[Reading, ...] = Field(
        min_length=1, max_length=MAX_READINGS_PER_BATCH, fail_fast=True
    )

    def to_json(self) -> bytes:
        """The batch as compact JSON bytes, as published."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


def batch_json_schema() -> dict[str, object]:
    """JSON Schema of ``greenwire.readings.v1`` (what ``shared/schemas`` holds)."""
    return ReadingsBatch.model_json_schema(by_alias=True, mode="validation")
