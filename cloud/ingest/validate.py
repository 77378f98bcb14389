"""Validation of one MQTT message: an explicit ``Accepted`` or ``Rejected``, never an exception.

Pure: no I/O, and the clock is a parameter. The order of checks is part of
the contract, cheapest first::

    payload_too_large      size > limits.max_payload_bytes (before any parsing)
    invalid_topic          not greenwire/v1/{site}/{gateway}/readings
    malformed_json         not JSON, truncated JSON, not UTF-8
    unknown_schema         not an object, or "schema" is absent or not greenwire.readings.v1
    non_finite_value       NaN, Infinity, 1e999 (pydantic's finite_number)
    non_numeric_value      a quantity's value is a string, boolean, null, list or object
    unknown_quantity       a "values" key outside the vocabulary
    invalid_id             gateway or device id not [a-z0-9][a-z0-9_-]{0,62}
    unexpected_field       a field the schema does not define (the batch's or a reading's)
    schema_violation       other wrong types, missing fields, bad ranges, empty lists
    future_timestamp       a reading's ts more than limits.max_future_s after ``now``
    timestamp_out_of_range a reading's ts before 1677-09-21, which InfluxDB cannot store
    gateway_mismatch       the payload's gateway is not the topic's

When pydantic reports several problems, the first one in document order
decides the reason. The codes are stable: they are the ``reason`` tag of
``ingest_rejected`` in InfluxDB and the legend of a Grafana panel.
``store_rejected`` is set by the ingestor, not here, when InfluxDB refuses
points that passed validation.

Speed: ``ReadingsBatch.model_validate_json`` parses and validates in
pydantic's Rust core in one pass; the Python work per message is a cached
topic lookup and one comparison per reading.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol

from pydantic import ValidationError

from greenwire.shared.errors import TopicError
from greenwire.shared.topics import TopicKind, parse_topic
from greenwire.shared.wire import ReadingsBatch
from greenwire.shared.yamlconfig import format_loc

EARLIEST_STORABLE: Final = datetime(1677, 9, 21, 0, 12, 44, tzinfo=UTC)
"""The first whole second InfluxDB can store (its timestamps are int64 nanoseconds)."""

_DETAIL_INPUT_CHARS: Final = 60


class RejectReason(StrEnum):
    """Why a message was not stored. The values are stable codes (InfluxDB tag, Grafana legend)."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_TOPIC = "invalid_topic"
    MALFORMED_JSON = "malformed_json"
    UNKNOWN_SCHEMA = "unknown_schema"
    SCHEMA_VIOLATION = "schema_violation"
    UNEXPECTED_FIELD = "unexpected_field"
    NON_FINITE_VALUE = "non_finite_value"
    NON_NUMERIC_VALUE = "non_numeric_value"
    UNKNOWN_QUANTITY = "unknown_quantity"
    INVALID_ID = "invalid_id"
    FUTURE_TIMESTAMP = "future_timestamp"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    GATEWAY_MISMATCH = "gateway_mismatch"
    STORE_REJECTED = "store_rejected"
    """Valid, but InfluxDB refused the points (e.g. a field-type conflict); set by the ingestor."""


class ValidationLimits(Protocol):
    """The limits validation needs (``greenwire.cloud.ingest.config.LimitsSection`` satisfies it)."""

    @property
    def max_payload_bytes(self) -> int: ...

    @property
    def max_future_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid batch and where it came from (site and gateway from the topic)."""

    site: str
    gateway: str
    batch: ReadingsBatch


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that will not be stored, with a stable reason and a one-line detail."""

    reason: RejectReason
    detail: str


Outcome = Accepted | Rejected


@functools.lru_cache(maxsize=4096)
def _readings_topic(topic: str) -> tuple[str, str] | str:
    """``(site, gateway)`` of a readings topic, or the reason it is not one (cached: few topics)."""
    try:
        parsed = parse_topic(topic)
    except TopicError as exc:
        return str(exc)
    if parsed.kind is not TopicKind.READINGS or parsed.site is None or parsed.gateway is None:
        return f"not a readings topic: {topic!r}"
    return parsed.site, parsed.gateway


def topic_ids(topic: str) -> tuple[str, str] | None:
    """``(site, gateway)`` if ``topic`` is a valid readings topic, else None (for reject tags)."""
    parsed = _readings_topic(topic)
    return parsed if isinstance(parsed, tuple) else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _DETAIL_INPUT_CHARS else text[: _DETAIL_INPUT_CHARS - 3] + "..."


def _classify(exc: ValidationError) -> Rejected:
    """Map pydantic's errors to one reason and a one-line detail naming the field path."""
    errors = exc.errors(include_url=False, include_context=True)
    for error in errors:
        loc = error["loc"]
        if error["type"] == "json_invalid":
            message = str((error.get("ctx") or {}).get("error", error["msg"]))
            return Rejected(RejectReason.MALFORMED_JSON, f"invalid JSON: {message}")
        if loc == () and error["type"] in ("model_type", "model_attributes_type"):
            return Rejected(RejectReason.UNKNOWN_SCHEMA, "not a JSON object")
        if loc == ("schema",):
            if error["type"] == "missing":
                return Rejected(RejectReason.UNKNOWN_SCHEMA, "no schema field")
            return Rejected(
                RejectReason.UNKNOWN_SCHEMA,
                f"schema {_short(error['input'])} is not greenwire.readings.v1",
            )
    # tuple validation adds "readings: too short" after an invalid item; the item's own error is the cause.
    causes = [
        e for e in errors if not (e["type"] == "too_short" and e["loc"] == ("readings",))
    ] or errors
    error = causes[0]
    loc, kind = error["loc"], error["type"]
    if kind == "finite_number":
        return Rejected(RejectReason.NON_FINITE_VALUE, f"{format_loc(loc)}: not a finite number")
    if kind == "float_type" and len(loc) >= 2 and loc[-2] == "values":
        return Rejected(
            RejectReason.NON_NUMERIC_VALUE, f"{format_loc(loc)}: not a number: {_short(error['input'])}"
        )
    if kind == "literal_error" and len(loc) >= 2 and loc[-1] == "[key]" and "values" in loc:
        return Rejected(
            RejectReason.UNKNOWN_QUANTITY,
            f"{format_loc(loc[:-2])}: unknown quantity {_short(error['input'])}",
        )
    if kind == "string_pattern_mismatch" and loc and loc[-1] in ("gateway", "device"):
        return Rejected(RejectReason.INVALID_ID, f"{format_loc(loc)}: invalid id {_short(error['input'])}")
    if kind == "extra_forbidden":
        return Rejected(RejectReason.UNEXPECTED_FIELD, f"{format_loc(loc)}: unexpected field")
    if kind == "missing":
        return Rejected(RejectReason.SCHEMA_VIOLATION, f"{format_loc(loc)}: required field missing")
    where = format_loc(loc) or "batch"
    message = error["msg"][:1].lower() + error["msg"][1:]
    return Rejected(RejectReason.SCHEMA_VIOLATION, f"{where}: {message}"[:200])


def validate_message(topic: str, payload: bytes, *, now: datetime, limits: ValidationLimits) -> Outcome:
    """Validate one message received on ``topic`` at ``now`` (timezone-aware).

    Returns ``Accepted`` with the parsed batch, or ``Rejected`` with the first
    reason in the order documented in this module. Never raises for any
    topic or payload.
    """
    if len(payload) > limits.max_payload_bytes:
        return Rejected(
            RejectReason.PAYLOAD_TOO_LARGE,
            f"payload of {len(payload)} bytes is over the limit of {limits.max_payload_bytes}",
        )
    ids = _readings_topic(topic)
    if isinstance(ids, str):
        return Rejected(RejectReason.INVALID_TOPIC, ids)
    try:
        batch = ReadingsBatch.model_validate_json(payload)
    except ValidationError as exc:
        return _classify(exc)
    latest_allowed = now + timedelta(seconds=limits.max_future_s)
    # Comparing datetimes with different tzinfo objects asks both for their offsets every
    # time (about 0.6 us); with the same fixed-offset tzinfo it compares the fields (0.07 us).
    # pydantic gives every reading of one offset the same tzinfo object, so the limits are
    # expressed in that tzinfo once; the instants compared are the same.
    zone = None
    latest, earliest = latest_allowed, EARLIEST_STORABLE
    for index, reading in enumerate(batch.readings):
        ts = reading.ts
        if ts.tzinfo is not zone:
            zone = ts.tzinfo
            fixed = zone is not None and zone.utcoffset(None) is not None
            latest = latest_allowed.astimezone(zone) if fixed else latest_allowed
            earliest = EARLIEST_STORABLE.astimezone(zone) if fixed else EARLIEST_STORABLE
        if ts > latest:
            ahead = (ts - now).total_seconds()
            return Rejected(
                RejectReason.FUTURE_TIMESTAMP,
                f"readings[{index}].ts: {ts.isoformat()} is {ahead:.3f} s ahead of the "
                f"ingestor's clock (limit {limits.max_future_s:g} s)",
            )
        if ts < earliest:
            return Rejected(
                RejectReason.TIMESTAMP_OUT_OF_RANGE,
                f"readings[{index}].ts: {ts.isoformat()} is before {EARLIEST_STORABLE.date()}, "
                "outside what InfluxDB can store",
            )
    site, gateway = ids
    if batch.gateway != gateway:
        return Rejected(
            RejectReason.GATEWAY_MISMATCH,
            f"gateway: payload says {batch.gateway!r}, topic says {gateway!r}",
        )
    return Accepted(site, gateway, batch)
