"""Wire formats of the health pilot: ``greenwire.vitals.v1`` and ``greenwire.alert.v1``.

A vitals batch is one MQTT message on ``greenwire/v1/{site}/{gateway}/vitals``::

    {"schema": "greenwire.vitals.v1", "gateway": "care-gw-01", "seq": 17,
     "sent_at": "2026-11-22T10:00:01.250Z",
     "observations": [{"ts": "2026-11-22T10:00:00.000Z",
                       "subject": "pilot2026.3f9c1e0b7a5d42c8a1e6b0d9f2c4a871",
                       "code": "8867-4", "value": 72.0, "unit": "/min",
                       "device": "ward-hub", "status": "final"}]}

- ``subject`` is a pseudonym made at the gateway: ``{key_id}.{32 hex digits}``,
  the first 128 bits of HMAC-SHA256(key, subject reference) under the pilot's
  key ``key_id``. The key never leaves the gateway; a new key (a new pilot, or
  a rotation) gives every participant a new pseudonym. Nothing else about the
  person travels: no name, birth date, address, identifier or free text.
- ``code`` is a LOINC code of the vital-signs profiles (:data:`VITAL_SIGNS`);
  a blood-pressure panel travels as its two components (8480-6, 8462-4).
- ``value`` is a finite number in the code's UCUM unit (``unit`` must be that
  unit: conversions happen at the edge).
- ``device`` is the gateway's id of the wearable hub the observation came from
  (a configured id, never the wearable's serial number).
- ``status`` is FHIR's: ``final``, ``amended``, ``corrected``, ``preliminary``,
  or ``entered-in-error`` for a retraction of an observation sent before
  (same subject, code and time: the cloud overwrites and excludes it).
- ``ts`` is the observation's effective time (UTC, RFC 3339).

An alert event, published by the cloud on ``greenwire/v1/{site}/alerts/{gateway}``
(the gateway the triggering data came from), carries the pseudonym only::

    {"schema": "greenwire.alert.v1", "site": "care-home-a", "gateway": "care-gw-01",
     "rule": "spo2_low", "state": "raised", "ts": "2026-11-22T10:00:00.000Z",
     "subject": "pilot2026.3f9c...", "device": null, "value": 90.0, "threshold": 92.0,
     "unit": "%", "source": "RCP NEWS2 (2017) ..."}

Site rules (indoor heat index, CO2) have ``subject`` null and name the sensor ``device``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from greenwire.shared.wire import FiniteFloat, Id, UtcDatetime

VITALS_SCHEMA: Final = "greenwire.vitals.v1"
ALERT_SCHEMA: Final = "greenwire.alert.v1"
MAX_OBSERVATIONS_PER_BATCH: Final = 10_000

PSEUDONYM_PATTERN: Final = r"[a-z0-9][a-z0-9-]{0,15}\.[0-9a-f]{32}"
"""``{key_id}.{hex}``: the key generation, then 128 bits of HMAC-SHA256."""

Pseudonym = Annotated[str, StringConstraints(pattern=f"^{PSEUDONYM_PATTERN}$")]


@dataclass(frozen=True, slots=True)
class VitalSign:
    """A LOINC code the pilot carries: its name, UCUM unit, and the range a real body can show.

    The range is physiological plausibility (a wearable artefact outside it is rejected
    at the edge), not a clinical alarm range.
    """

    code: str
    name: str
    unit: str
    low: float
    high: float


VITAL_SIGNS: Final[dict[str, VitalSign]] = {
    v.code: v
    for v in (
        VitalSign("8867-4", "heart_rate", "/min", 20, 300),
        VitalSign("59408-5", "spo2", "%", 50, 100),
        VitalSign("2708-6", "spo2_arterial", "%", 50, 100),
        VitalSign("8310-5", "body_temperature", "Cel", 25, 45),
        VitalSign("9279-1", "respiratory_rate", "/min", 2, 80),
        VitalSign("8480-6", "systolic_bp", "mm[Hg]", 40, 300),
        VitalSign("8462-4", "diastolic_bp", "mm[Hg]", 20, 200),
    )
}
"""Heart rate, oxygen saturation (pulse oximetry 59408-5, arterial 2708-6), body temperature,
respiratory rate, and the two components of the blood-pressure panel 85354-9 (FHIR R4
vital-signs profiles, hl7.org/fhir/R4/observation-vitalsigns.html)."""

BP_PANEL: Final = "85354-9"

VitalCode = Literal["8867-4", "59408-5", "2708-6", "8310-5", "9279-1", "8480-6", "8462-4"]
UcumUnit = Literal["/min", "%", "Cel", "mm[Hg]"]


class VitalStatus(StrEnum):
    """FHIR Observation.status values that travel (``cancelled`` and others stay at the edge)."""

    FINAL = "final"
    AMENDED = "amended"
    CORRECTED = "corrected"
    PRELIMINARY = "preliminary"
    ENTERED_IN_ERROR = "entered-in-error"


_STRICT = ConfigDict(frozen=True, extra="forbid", strict=True)


class VitalObservation(BaseModel):
    """One measured value of one participant (pseudonymous) at one moment."""

    model_config = _STRICT

    ts: UtcDatetime = Field(description="Effective time of the observation (UTC, RFC 3339).")
    subject: Pseudonym = Field(description="Keyed-HMAC pseudonym made at the gateway.")
    code: VitalCode = Field(description="LOINC code.")
    value: FiniteFloat
    unit: UcumUnit = Field(description="UCUM unit; must be the code's unit.")
    device: Id = Field(description="The wearable hub's id in the gateway config.")
    status: VitalStatus = VitalStatus.FINAL

    @model_validator(mode="after")
    def _unit_of_code(self) -> Self:
        expected = VITAL_SIGNS[self.code].unit
        if self.unit != expected:
            raise ValueError(
                f"unit {self.unit!r} is not the unit of LOINC {self.code} ({expected!r})"
            )
        return self


class VitalsBatch(BaseModel):
    """One MQTT message of vital-sign observations from one gateway."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        title="greenwire.vitals.v1",
        json_schema_extra={
            "$id": "https://greenwire.dev/schemas/greenwire.vitals.v1.json",
            "description": "A batch of pseudonymous vital-sign observations published by one "
            "gateway on greenwire/v1/{site}/{gateway}/vitals.",
        },
    )

    schema_: Literal["greenwire.vitals.v1"] = Field(alias="schema")
    gateway: Id
    seq: int = Field(ge=0, lt=2**63, description="Per-gateway sequence of vitals batches.")
    sent_at: UtcDatetime
    observations: tuple[VitalObservation, ...] = Field(
        min_length=1, max_length=MAX_OBSERVATIONS_PER_BATCH
    )

    def to_json(self) -> bytes:
        """The batch as compact JSON bytes, as published."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


class AlertState(StrEnum):
    """An alert starts (``raised``) and ends (``cleared``); nothing is sent in between."""

    RAISED = "raised"
    CLEARED = "cleared"


class AlertEvent(BaseModel):
    """A proactive alert, raised or cleared, as published and stored by the cloud."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        title="greenwire.alert.v1",
        json_schema_extra={
            "$id": "https://greenwire.dev/schemas/greenwire.alert.v1.json",
            "description": "A proactive-health alert event on greenwire/v1/{site}/alerts/{gateway}.",
        },
    )

    schema_: Literal["greenwire.alert.v1"] = Field(alias="schema")
    site: Id
    gateway: Id
    rule: Id
    state: AlertState
    ts: UtcDatetime = Field(
        description="Time of the observation or reading that changed the state."
    )
    subject: Pseudonym | None = Field(
        description="Participant rules: the pseudonym; site rules: null."
    )
    device: Id | None = Field(description="Site rules: the sensor; participant rules: null.")
    value: FiniteFloat
    threshold: FiniteFloat
    unit: str = Field(max_length=16)
    source: str = Field(max_length=300, description="Where the threshold comes from.")

    @model_validator(mode="after")
    def _one_scope(self) -> Self:
        if (self.subject is None) == (self.device is None):
            raise ValueError(
                "an alert names either a subject (participant rule) or a device (site rule)"
            )
        return self

    def to_json(self) -> bytes:
        """The event as compact JSON bytes, as published."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


def vitals_json_schema() -> dict[str, object]:
    """JSON Schema of ``greenwire.vitals.v1`` (what ``shared/schemas`` holds)."""
    return VitalsBatch.model_json_schema(by_alias=True, mode="validation")


def alert_json_schema() -> dict[str, object]:
    """JSON Schema of ``greenwire.alert.v1`` (what ``shared/schemas`` holds)."""
    return AlertEvent.model_json_schema(by_alias=True, mode="validation")
