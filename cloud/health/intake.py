"""Validation of one vitals message: ``Accepted`` or ``Rejected``, quoting no values. Pure.

The reasons are the ingestor's stable codes (``greenwire.cloud.ingest.validate.RejectReason``), checked in the
same order: payload_too_large, invalid_topic, malformed_json, unknown_schema,
non_finite_value, non_numeric_value, invalid_id, unexpected_field, schema_violation,
future_timestamp, timestamp_out_of_range, gateway_mismatch. Unlike meter readings, a detail
names the field path and the kind of problem only: a vitals payload that fails validation
may carry what should never have left a gateway (a raw subject id in ``subject``), so no
input is ever quoted, logged or kept.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

from greenwire.cloud.ingest.validate import (
    EARLIEST_STORABLE,
    Rejected,
    RejectReason,
    ValidationLimits,
)
from greenwire.shared.topics import TopicKind, site_gateway
from greenwire.shared.vitals import VitalsBatch
from greenwire.shared.yamlconfig import format_loc


@dataclass(frozen=True, slots=True)
class AcceptedVitals:
    """A valid vitals batch and where it came from."""

    site: str
    gateway: str
    batch: VitalsBatch


@functools.lru_cache(maxsize=4096)
def vitals_topic_ids(topic: str) -> tuple[str, str] | None:
    """``(site, gateway)`` of a vitals topic, else None."""
    return site_gateway(topic, TopicKind.VITALS)


def _classify(exc: ValidationError) -> Rejected:
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return Rejected(RejectReason.MALFORMED_JSON, "invalid JSON")
        if error["loc"] == () and error["type"] in ("model_type", "model_attributes_type"):
            return Rejected(RejectReason.UNKNOWN_SCHEMA, "not a JSON object")
        if error["loc"] == ("schema",):
            return Rejected(RejectReason.UNKNOWN_SCHEMA, "schema is not greenwire.vitals.v1")
    causes = [e for e in errors if not (e["type"] == "too_short" and e["loc"] == ("observations",))] or errors
    error = causes[0]
    loc, kind = error["loc"], error["type"]
    where = format_loc(loc) or "batch"
    reason = {
        "finite_number": RejectReason.NON_FINITE_VALUE,
        "float_type": RejectReason.NON_NUMERIC_VALUE,
        "extra_forbidden": RejectReason.UNEXPECTED_FIELD,
    }.get(kind, RejectReason.SCHEMA_VIOLATION)
    if kind == "string_pattern_mismatch" and loc and loc[-1] in ("gateway", "device"):
        reason = RejectReason.INVALID_ID
    return Rejected(reason, f"{where}: {kind}")


def validate_vitals(topic: str, payload: bytes, *, now: datetime, limits: ValidationLimits) -> AcceptedVitals | Rejected:
    """Validate one message received on a vitals topic at ``now``; never raises."""
    if len(payload) > limits.max_payload_bytes:
        return Rejected(RejectReason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes")
    ids = vitals_topic_ids(topic)
    if ids is None:
        return Rejected(RejectReason.INVALID_TOPIC, "not greenwire/v1/{site}/{gateway}/vitals")
    try:
        batch = VitalsBatch.model_validate_json(payload)
    except ValidationError as exc:
        return _classify(exc)
    latest = now + timedelta(seconds=limits.max_future_s)
    for index, obs in enumerate(batch.observations):
        if obs.ts > latest:
            return Rejected(RejectReason.FUTURE_TIMESTAMP, f"observations[{index}].ts is ahead of the clock")
        if obs.ts < EARLIEST_STORABLE:
            return Rejected(RejectReason.TIMESTAMP_OUT_OF_RANGE, f"observations[{index}].ts")
    if batch.gateway != ids[1]:
        return Rejected(RejectReason.GATEWAY_MISMATCH, "payload gateway is not the topic's")
    return AcceptedVitals(ids[0], ids[1], batch)
