"""FHIR R4 vital-sign Observations to ``greenwire.vitals.v1``: validate, map, pseudonymise. Pure.

One Observation resource (a dict, as a wearable hub sends it) becomes either a
:class:`Mapped` (the vitals observations it carries, already pseudonymous) or a
:class:`Rejected` with a stable reason code, never an exception and never ``None``::

    invalid_resource     not a valid FHIR Observation (fhir.resources' models, R4B, whose
                         Observation is R4's plus R4B-only optional elements)
    no_subject           no subject reference or identifier
    no_consent           the participant is not on the gateway's consent list
    cancelled            status cancelled: nothing was measured
    status_not_forwarded status registered or unknown: not a result yet
    unsupported_code     no LOINC code of the pilot's vital signs (see greenwire.shared.vitals.VITAL_SIGNS)
    no_effective_time    no effectiveDateTime / effectiveInstant / effectivePeriod.start
    imprecise_time       the effective time is a date or a month, not an instant
    data_absent          no value (dataAbsentReason, or a panel whose components are all absent)
    unit_mismatch        a value whose UCUM code is not the code's unit (or convertible to it)
    implausible_value    outside what a body can show (a sensor artefact)

and, decided by the edge source with its memory of what it forwarded (``greenwire.edge.wearable``)::

    duplicate            an Observation already forwarded (same id or identifier), sent again
    entered_in_error     a retraction of an Observation that was never forwarded

A blood-pressure panel with one component absent forwards the other and counts
``component_absent``. What is kept of a resource is its code, value, unit, effective time,
status and the pseudonym of its subject; names, birth dates, addresses, identifiers,
device serials, notes, performers and included Patient resources are dropped here.
Rejection details name FHIR paths only, never values: a validation message can quote a
name or an identifier, and rejections are counted and logged.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from greenwire.shared.vitals import BP_PANEL, VITAL_SIGNS, VitalObservation, VitalStatus

UCUM_SYSTEM: Final = "http://unitsofmeasure.org"
LOINC_SYSTEM: Final = "http://loinc.org"
KEY_MIN_BYTES: Final = 32
_PREFERRED: Final = ("59408-5", "8867-4", "8310-5", "9279-1", "2708-6")
"""When an Observation carries several pilot codes (SpO2 lists 2708-6 and 59408-5), the first
of these wins: pulse oximetry (59408-5) is what a wearable measures."""


class RejectReason(StrEnum):
    """Why an Observation was not forwarded (stable codes: the gateway status and its tests)."""

    INVALID_RESOURCE = "invalid_resource"
    NO_SUBJECT = "no_subject"
    NO_CONSENT = "no_consent"
    CANCELLED = "cancelled"
    STATUS_NOT_FORWARDED = "status_not_forwarded"
    UNSUPPORTED_CODE = "unsupported_code"
    NO_EFFECTIVE_TIME = "no_effective_time"
    IMPRECISE_TIME = "imprecise_time"
    DATA_ABSENT = "data_absent"
    UNIT_MISMATCH = "unit_mismatch"
    IMPLAUSIBLE_VALUE = "implausible_value"
    DUPLICATE = "duplicate"
    ENTERED_IN_ERROR = "entered_in_error"
    COMPONENT_ABSENT = "component_absent"


@dataclass(frozen=True, slots=True)
class Rejected:
    """An Observation that is not forwarded, and why. ``detail`` names FHIR paths, never values."""

    reason: RejectReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Mapped:
    """What an Observation becomes: its dedup key, its status, and the vitals it carries."""

    key: str
    status: VitalStatus
    observations: tuple[VitalObservation, ...]
    absent_components: int = 0


class Pseudonymiser:
    """Keyed HMAC-SHA256 of a subject reference: ``{key_id}.{first 128 bits, hex}``.

    The key stays on the gateway. Without it a pseudonym cannot be linked back to its
    subject, not even by trying every plausible id (which a plain hash would allow).
    A new key (``key_id`` says which) gives everyone a new pseudonym: a pilot's rotation.
    """

    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) < KEY_MIN_BYTES:
            raise ValueError(f"the pseudonym key must have at least {KEY_MIN_BYTES} bytes, it has {len(key)}")
        self._key = key
        self.key_id = key_id

    def __repr__(self) -> str:
        return f"Pseudonymiser(key_id={self.key_id!r})"  # never the key

    def __call__(self, subject: str) -> str:
        digest = hmac.new(self._key, subject.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{self.key_id}.{digest[:32]}"


def normalise_subject(reference: str) -> str:
    """``Patient/x`` from ``Patient/x``, ``http://hub/fhir/Patient/x`` or ``Patient/x/_history/2``."""
    parts = [p for p in reference.split("?")[0].split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return f"{parts[-2]}/{parts[-1]}"
    return reference


def consent_key(entry: str) -> str:
    """A consent-list entry as subjects are compared: ``pat-1`` and ``Patient/pat-1`` are one."""
    entry = entry.strip()
    if "|" in entry:
        return entry  # an identifier, system|value
    return normalise_subject(entry) if "/" in entry else f"Patient/{entry}"


def subject_key(resource: dict[str, Any]) -> str | None:
    """The subject as the consent list and the pseudonym see it (reference, else identifier)."""
    subject = resource.get("subject")
    if not isinstance(subject, dict):
        return None
    reference = subject.get("reference")
    if isinstance(reference, str) and reference and not reference.startswith("#"):
        return normalise_subject(reference)
    identifier = subject.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value"):
        return f"{identifier.get('system', '')}|{identifier['value']}"
    return None


def dedup_key(resource: dict[str, Any]) -> str:
    """The Observation's identity at its hub: its id, else its first identifier, else its content."""
    if isinstance(resource.get("id"), str) and resource["id"]:
        return f"id:{resource['id']}"
    identifiers = resource.get("identifier")
    if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], dict):
        first = identifiers[0]
        if first.get("value"):
            return f"identifier:{first.get('system', '')}|{first['value']}"
    import orjson

    body = orjson.dumps({k: v for k, v in resource.items() if k != "meta"}, option=orjson.OPT_SORT_KEYS)
    return "content:" + hashlib.sha256(body).hexdigest()


def clean_float(value: float) -> float:
    """Drop binary float artefacts: ``36.900000000000006`` and ``66.89999999999999`` to 36.9 and 66.9.

    Twelve significant digits are far beyond any vital-sign sensor's resolution and well
    inside a double's, so a real measurement is never changed.
    """
    return float(f"{value:.12g}")


def _validate(resource: dict[str, Any]) -> Rejected | None:
    from fhir.resources.R4B.observation import Observation
    from pydantic import ValidationError

    try:
        Observation.model_validate(resource)
    except (ValidationError, ValueError, TypeError) as exc:
        paths: list[str] = []
        if isinstance(exc, ValidationError):
            paths = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:3]
        return Rejected(RejectReason.INVALID_RESOURCE, ", ".join(paths))
    return None


def _loinc_codes(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    return [str(c["code"]) for c in concept.get("coding") or []
            if isinstance(c, dict) and c.get("system") == LOINC_SYSTEM and isinstance(c.get("code"), str)]


def _effective(resource: dict[str, Any]) -> datetime | Rejected:
    text = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if text is None and isinstance(resource.get("effectivePeriod"), dict):
        text = resource["effectivePeriod"].get("start")
    if not isinstance(text, str):
        return Rejected(RejectReason.NO_EFFECTIVE_TIME)
    if "T" not in text:
        return Rejected(RejectReason.IMPRECISE_TIME, "effective[x] is a date")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return Rejected(RejectReason.IMPRECISE_TIME, "effective[x]")
    if at.tzinfo is None:
        return Rejected(RejectReason.IMPRECISE_TIME, "effective[x] has no offset")
    return at.astimezone(UTC)


def _value(code: str, quantity: Any) -> float | Rejected:
    """The quantity in the code's UCUM unit, cleaned, or why not."""
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return Rejected(RejectReason.DATA_ABSENT)
    sign = VITAL_SIGNS[code]
    unit = quantity.get("code")
    raw = quantity.get("value")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return Rejected(RejectReason.INVALID_RESOURCE, "valueQuantity.value")
    value = float(raw)
    if quantity.get("system", UCUM_SYSTEM) != UCUM_SYSTEM:
        return Rejected(RejectReason.UNIT_MISMATCH, "valueQuantity.system")
    if unit != sign.unit:
        if sign.unit == "Cel" and unit == "[degF]":
            value = (value - 32.0) * 5.0 / 9.0
        elif sign.unit == "/min" and unit in ("{beats}/min", "{breaths}/min"):
            pass  # annotations in braces do not change a UCUM unit
        else:
            return Rejected(RejectReason.UNIT_MISMATCH, "valueQuantity.code")
    if not math.isfinite(value):
        return Rejected(RejectReason.IMPLAUSIBLE_VALUE)
    value = clean_float(value)
    if not sign.low <= value <= sign.high:
        return Rejected(RejectReason.IMPLAUSIBLE_VALUE)
    return value


def map_observation(
    resource: dict[str, Any],
    *,
    pseudonymise: Pseudonymiser,
    consented: frozenset[str],
    device: str,
    validate: bool = True,
) -> Mapped | Rejected:
    """One Observation resource to the vitals it carries, pseudonymous, or a ``Rejected``.

    ``consented`` holds :func:`consent_key` forms; the consent check comes before anything
    else is looked at, so a non-consenting participant's data is never mapped at all.
    """
    if resource.get("resourceType") != "Observation":
        return Rejected(RejectReason.INVALID_RESOURCE, "resourceType")
    subject = subject_key(resource)
    if subject is None:
        return Rejected(RejectReason.NO_SUBJECT)
    if subject not in consented:
        return Rejected(RejectReason.NO_CONSENT)
    if validate:
        invalid = _validate(resource)
        if invalid is not None:
            return invalid
    status = resource.get("status")
    if status == "cancelled":
        return Rejected(RejectReason.CANCELLED)
    try:
        vital_status = VitalStatus(str(status))
    except ValueError:
        return Rejected(RejectReason.STATUS_NOT_FORWARDED)
    codes = _loinc_codes(resource.get("code"))
    at = _effective(resource)
    if BP_PANEL in codes:
        if isinstance(at, Rejected):
            return at
        return _panel(resource, at, vital_status, pseudonymise(subject), device)
    chosen: str | None = next((c for c in _PREFERRED if c in codes), None)
    chosen = chosen or next((c for c in codes if c in VITAL_SIGNS), None)
    if chosen is None:
        return Rejected(RejectReason.UNSUPPORTED_CODE)
    if isinstance(at, Rejected):
        return at
    value = _value(chosen, resource.get("valueQuantity"))
    if isinstance(value, Rejected):
        return value
    observation = VitalObservation(ts=at, subject=pseudonymise(subject), code=chosen,
                                   value=value, unit=VITAL_SIGNS[chosen].unit,
                                   device=device, status=vital_status)
    return Mapped(dedup_key(resource), vital_status, (observation,))


def _panel(resource: dict[str, Any], at: datetime, status: VitalStatus, pseudonym: str, device: str) -> Mapped | Rejected:
    """A blood-pressure panel: one observation per present component (8480-6, 8462-4)."""
    out: list[VitalObservation] = []
    absent = 0
    first_problem: Rejected | None = None
    for component in resource.get("component") or []:
        codes = [c for c in _loinc_codes(component.get("code")) if c in ("8480-6", "8462-4")]
        if not codes:
            continue
        value = _value(codes[0], component.get("valueQuantity"))
        if isinstance(value, Rejected):
            if value.reason is RejectReason.DATA_ABSENT:
                absent += 1
            else:
                first_problem = first_problem or value
            continue
        out.append(VitalObservation(ts=at, subject=pseudonym, code=codes[0],
                                    value=value, unit="mm[Hg]", device=device, status=status))
    if not out:
        return first_problem or Rejected(RejectReason.DATA_ABSENT, "component")
    return Mapped(dedup_key(resource), status, tuple(out), absent_components=absent)
