"""FHIR R4 Observations to greenwire.vitals.v1 on the specification's own examples, and pseudonyms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from greenwire.edge.fhir import (
    Mapped,
    Pseudonymiser,
    Rejected,
    RejectReason,
    clean_float,
    consent_key,
    dedup_key,
    map_observation,
    normalise_subject,
)

EXAMPLES = Path(__file__).parents[1] / "data" / "fhir-r4-vital-signs"
KEY = bytes(range(32))
PSEUDO = Pseudonymiser(KEY, "pilot2026")
CONSENTED = frozenset({"Patient/example", "Patient/f201"})
INSTANT = "2026-11-02T09:30:10+01:00"


def _example(name: str, **changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads((EXAMPLES / f"observation-example-{name}.json").read_text())
    resource.update(changes)
    return resource


def _map(resource: dict[str, Any], consented: frozenset[str] = CONSENTED) -> Mapped | Rejected:
    return map_observation(resource, pseudonymise=PSEUDO, consented=consented, device="ward-hub")


@pytest.mark.parametrize(
    ("name", "code", "value", "unit"),
    [
        ("heart-rate", "8867-4", 44.0, "/min"),
        ("respiratory-rate", "9279-1", 26.0, "/min"),
        ("body-temperature", "8310-5", 36.5, "Cel"),
        ("satO2", "59408-5", 95.0, "%"),
    ],
)
def test_examples_map_to_one_observation(name: str, code: str, value: float, unit: str) -> None:
    mapped = _map(_example(name, effectiveDateTime=INSTANT))
    assert isinstance(mapped, Mapped)
    (obs,) = mapped.observations
    assert (obs.code, obs.value, obs.unit, obs.device, obs.status.value) == (code, value, unit, "ward-hub", "final")
    assert obs.ts.isoformat() == "2026-11-02T08:30:10+00:00"
    assert obs.subject == PSEUDO("Patient/example")


def test_the_examples_dates_are_not_instants() -> None:
    # The specification's examples are dated "1999-07-02": a day is not when a vital was taken.
    assert _map(_example("heart-rate")) == Rejected(RejectReason.IMPRECISE_TIME, "effective[x] is a date")


def test_blood_pressure_panel_becomes_its_two_components() -> None:
    mapped = _map(_example("bloodpressure", effectiveDateTime=INSTANT))
    assert isinstance(mapped, Mapped)
    assert [(o.code, o.value, o.unit) for o in mapped.observations] == [("8480-6", 107.0, "mm[Hg]"),
                                                                         ("8462-4", 60.0, "mm[Hg]")]
    assert mapped.absent_components == 0


def test_absent_diastolic_forwards_the_systolic_and_counts_the_gap() -> None:
    mapped = _map(_example("bloodpressure-dar", effectiveDateTime=INSTANT))
    assert isinstance(mapped, Mapped)
    assert [(o.code, o.value) for o in mapped.observations] == [("8480-6", 107.0)]
    assert mapped.absent_components == 1


def test_cancelled_entered_in_error_and_other_codes() -> None:
    assert _map(_example("bloodpressure-cancel", effectiveDateTime=INSTANT)).reason is RejectReason.CANCELLED  # type: ignore[union-attr]
    # f202 is entered-in-error, with only `issued`: mapped as a retraction needs an effective time.
    assert _map(_example("f202-temperature")).reason is RejectReason.NO_EFFECTIVE_TIME  # type: ignore[union-attr]
    retraction = _map(_example("f202-temperature", effectiveDateTime=INSTANT))
    assert isinstance(retraction, Mapped) and retraction.status.value == "entered-in-error"
    for name in ("bmi", "body-height", "sample-data", "vitals-panel", ""):
        resource = _example(name.rstrip("-") if name else "", effectiveDateTime=INSTANT) if name else \
            json.loads((EXAMPLES / "observation-example.json").read_text()) | {"effectiveDateTime": INSTANT}
        resource["subject"] = {"reference": "Patient/example"}
        assert _map(resource).reason is RejectReason.UNSUPPORTED_CODE, name  # type: ignore[union-attr]


def test_consent_comes_first() -> None:
    resource = _example("heart-rate", effectiveDateTime=INSTANT)
    assert _map(resource, frozenset({"Patient/someone-else"})) == Rejected(RejectReason.NO_CONSENT)
    resource["subject"] = {"display": "no reference"}
    assert _map(resource) == Rejected(RejectReason.NO_SUBJECT)


def test_invalid_resource_detail_names_paths_not_values() -> None:
    resource = _example("heart-rate", effectiveDateTime=INSTANT)
    resource["subject"]["display"] = {"secret": "Ada Lovelace"}
    rejected = _map(resource)
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.INVALID_RESOURCE
    assert "subject.display" in rejected.detail and "Ada" not in rejected.detail


def test_units_artefacts_and_plausibility() -> None:
    fahrenheit = _example("body-temperature", effectiveDateTime=INSTANT)
    fahrenheit["valueQuantity"] = {"value": 100.4, "unit": "degF", "system": "http://unitsofmeasure.org",
                                   "code": "[degF]"}
    assert _map(fahrenheit).observations[0].value == 38.0  # type: ignore[union-attr]
    wrong = _example("heart-rate", effectiveDateTime=INSTANT)
    wrong["valueQuantity"]["code"] = "%"
    assert _map(wrong).reason is RejectReason.UNIT_MISMATCH  # type: ignore[union-attr]
    wrong["valueQuantity"] = {"value": 0, "system": "http://unitsofmeasure.org", "code": "/min"}
    assert _map(wrong).reason is RejectReason.IMPLAUSIBLE_VALUE  # type: ignore[union-attr]
    artefact = _example("body-temperature", effectiveDateTime=INSTANT)
    artefact["valueQuantity"]["value"] = 36.7 + 0.2
    assert repr(36.7 + 0.2) == "36.900000000000006"
    assert _map(artefact).observations[0].value == 36.9  # type: ignore[union-attr]
    assert clean_float(66.89999999999999) == 66.9 and clean_float(72.25) == 72.25


def test_pseudonyms_are_keyed_stable_and_rotate() -> None:
    a = PSEUDO("Patient/pat-1")
    assert a == PSEUDO("Patient/pat-1") and a != PSEUDO("Patient/pat-2")
    assert a.startswith("pilot2026.") and len(a.split(".")[1]) == 32 and "pat-1" not in a
    rotated = Pseudonymiser(bytes(range(1, 33)), "pilot2027")
    assert rotated("Patient/pat-1").split(".")[1] != a.split(".")[1]
    assert "key" not in repr(PSEUDO).replace("key_id", "")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Pseudonymiser(b"short", "x")


def test_subject_forms_and_dedup_keys() -> None:
    assert normalise_subject("http://hub.local/fhir/Patient/p1/_history/3") == "Patient/p1"
    assert consent_key("p1") == consent_key("Patient/p1") == "Patient/p1"
    resource = _example("satO2")
    assert dedup_key(resource) == "id:satO2"
    del resource["id"]
    assert dedup_key(resource) == "identifier:http://goodcare.org/observation/id|o1223435-10"
    del resource["identifier"]
    assert dedup_key(resource).startswith("content:") and dedup_key(resource) == dedup_key(dict(resource))
