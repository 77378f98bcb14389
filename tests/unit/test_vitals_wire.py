"""The health wire contracts greenwire.vitals.v1 and greenwire.alert.v1: what they accept and refuse."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from greenwire.shared.topics import TopicKind, alerts_topic, parse_topic, vitals_topic
from greenwire.shared.vitals import (
    AlertEvent,
    VitalsBatch,
    alert_json_schema,
    vitals_json_schema,
)

SCHEMAS = Path(__file__).parents[2] / "shared" / "schemas"
PSEUDONYM = "pilot2026.3f9c1e0b7a5d42c8a1e6b0d9f2c4a871"

EXAMPLE = {
    "schema": "greenwire.vitals.v1",
    "gateway": "care-gw-01",
    "seq": 17,
    "sent_at": "2026-11-22T10:00:01.250Z",
    "observations": [
        {"ts": "2026-11-22T10:00:00.000Z", "subject": PSEUDONYM, "code": "8867-4", "value": 72.0,
         "unit": "/min", "device": "ward-hub", "status": "final"}
    ],
}


def _with(**changes: object) -> str:
    doc = json.loads(json.dumps(EXAMPLE))
    for key, value in changes.items():
        if key.startswith("o_"):
            doc["observations"][0][key[2:]] = value
        else:
            doc[key] = value
    return json.dumps(doc)


def test_example_round_trips() -> None:
    batch = VitalsBatch.model_validate_json(json.dumps(EXAMPLE))
    assert orjson.loads(batch.to_json()) == EXAMPLE


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"o_subject": "Patient/example"}, "subject"),
        ({"o_subject": "pilot2026.3F9C1E0B7A5D42C8A1E6B0D9F2C4A871"}, "subject"),
        ({"o_name": "Ada Lovelace"}, "name"),
        ({"o_birthDate": "1815-12-10"}, "birthDate"),
        ({"o_code": "39156-5"}, "code"),
        ({"o_unit": "beats/minute"}, "unit"),
        ({"o_unit": "%"}, "is not the unit of LOINC 8867-4"),
        ({"o_value": "72"}, "value"),
        ({"o_status": "cancelled"}, "status"),
        ({"o_ts": "2026-11-22T10:00:00"}, "ts"),
        ({"observations": []}, "observations"),
        ({"patient": "x"}, "patient"),
    ],
)
def test_refuses(changes: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        VitalsBatch.model_validate_json(_with(**changes))
    assert where in str(info.value)


def test_refuses_non_finite_values() -> None:
    text = _with().replace("72.0", "NaN")
    with pytest.raises(ValidationError):
        VitalsBatch.model_validate_json(text)


def test_alert_names_a_subject_or_a_device_never_both() -> None:
    base = {"schema": "greenwire.alert.v1", "site": "care-a", "gateway": "gw", "rule": "spo2_low",
            "state": "raised", "ts": "2026-11-22T10:00:00Z", "value": 90.0, "threshold": 92.0,
            "unit": "%", "source": "NEWS2"}
    assert AlertEvent.model_validate_json(json.dumps({**base, "subject": PSEUDONYM, "device": None})).subject
    with pytest.raises(ValidationError, match="either a subject"):
        AlertEvent.model_validate_json(json.dumps({**base, "subject": PSEUDONYM, "device": "co2-1"}))
    with pytest.raises(ValidationError, match="either a subject"):
        AlertEvent.model_validate_json(json.dumps({**base, "subject": None, "device": None}))


@pytest.mark.parametrize(
    ("name", "build"),
    [("greenwire.vitals.v1", vitals_json_schema), ("greenwire.alert.v1", alert_json_schema)],
)
def test_committed_schema_is_current(name: str, build: object) -> None:
    committed = json.loads((SCHEMAS / f"{name}.json").read_text())
    assert committed == build()  # type: ignore[operator]
    assert committed["title"] == name


def test_topics() -> None:
    assert vitals_topic("care-a", "gw-1") == "greenwire/v1/care-a/gw-1/vitals"
    assert alerts_topic("care-a", "gw-1") == "greenwire/v1/care-a/alerts/gw-1"  # outside the gateway's branch
    parsed = parse_topic(alerts_topic("care-a", "gw-1"))
    assert parsed.kind is TopicKind.ALERTS and (parsed.site, parsed.gateway) == ("care-a", "gw-1")
