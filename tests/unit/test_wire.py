"""The wire contract greenwire.readings.v1: what it accepts, what it refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from greenwire.shared.quantities import COUNTERS, QUANTITIES, Kind
from greenwire.shared.wire import Quality, ReadingsBatch, batch_json_schema, format_ts

SCHEMA_FILE = Path(__file__).parents[2] / "shared" / "schemas" / "greenwire.readings.v1.json"

BRIEF_EXAMPLE = {
    "schema": "greenwire.readings.v1",
    "gateway": "gw-01",
    "seq": 1042,
    "sent_at": "2026-11-22T10:00:01.250Z",
    "readings": [
        {
            "ts": "2026-11-22T10:00:00.812Z",
            "device": "main-incomer",
            "values": {"active_power_w": 48210.5, "energy_import_kwh": 183442.61},
            "quality": "good",
        }
    ],
}


def _with(**changes: object) -> bytes:
    doc = json.loads(json.dumps(BRIEF_EXAMPLE))
    reading = doc["readings"][0]
    for key, value in changes.items():
        if key.startswith("r_"):
            reading[key[2:]] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


def test_brief_example_round_trips_exactly() -> None:
    batch = ReadingsBatch.model_validate_json(json.dumps(BRIEF_EXAMPLE))
    assert orjson.loads(batch.to_json()) == BRIEF_EXAMPLE
    assert batch.readings[0].ts == datetime(2026, 11, 22, 10, 0, 0, 812000, tzinfo=UTC)


def test_offsets_are_normalised_to_utc() -> None:
    batch = ReadingsBatch.model_validate_json(_with(r_ts="2026-11-22T18:00:00.812+08:00"))
    assert batch.readings[0].ts == datetime(2026, 11, 22, 10, 0, 0, 812000, tzinfo=UTC)


def test_models_are_frozen() -> None:
    batch = ReadingsBatch.model_validate_json(json.dumps(BRIEF_EXAMPLE))
    with pytest.raises(ValidationError):
        batch.seq = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (_with(schema="greenwire.readings.v2"), "schema"),
        (_with(extra_field=1), "extra_field"),
        (_with(r_extra=1), "readings.0.extra"),
        (_with(gateway="GW 01"), "gateway"),
        (_with(r_device="Main/Incomer"), "readings.0.device"),
        (_with(seq=-1), "seq"),
        (_with(seq="7"), "seq"),
        (_with(r_ts="2026-11-22T10:00:00"), "readings.0.ts"),
        (_with(r_ts=1700000000), "readings.0.ts"),
        (_with(r_values={"active_power_w": "1.5"}), "readings.0.values.active_power_w"),
        (_with(r_values={"active_power_w": True}), "readings.0.values.active_power_w"),
        (_with(r_values={"active_power_w": None}), "readings.0.values.active_power_w"),
        (_with(r_values={}), "readings.0.values"),
        (_with(r_values={"power_kw": 1.0}), "readings.0.values.power_kw.[key]"),
        (_with(r_quality="great"), "readings.0.quality"),
        (_with(readings=[]), "readings"),
        (b'{"schema":"greenwire.readings.v1","gateway":"g","seq":1,"sent_at":"2026-11-22T10:00:01Z",'
         b'"readings":[{"ts":"2026-11-22T10:00:00Z","device":"d","values":{"active_power_w":NaN}}]}',
         "readings.0.values.active_power_w"),
        (b'{"schema":"greenwire.readings.v1","gateway":"g","seq":1,"sent_at":"2026-11-22T10:00:01Z",'
         b'"readings":[{"ts":"2026-11-22T10:00:00Z","device":"d","values":{"active_power_w":1e999}}]}',
         "readings.0.values.active_power_w"),
    ],
)
def test_refused(payload: bytes, where: str) -> None:
    with pytest.raises(ValidationError) as info:
        ReadingsBatch.model_validate_json(payload)
    locations = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    assert where in locations


def test_integers_are_numbers() -> None:
    batch = ReadingsBatch.model_validate_json(_with(r_values={"energy_import_kwh": 183442}))
    assert batch.readings[0].values["energy_import_kwh"] == 183442.0


def test_every_quantity_name_ends_in_its_unit() -> None:
    suffix = {"W": "_w", "var": "_var", "VA": "_va", "V": "_v", "A": "_a", "Hz": "_hz", "kWh": "_kwh",
              "kvarh": "_kvarh", "m3": "_m3", "degC": "_c", "%": "_pct", "ppm": "_ppm", "ppb": "_ppb",
              "ug/m3": "_ug_per_m3", "lx": "_lx", "m3/h": "_m3_per_h", "t": "_t", "pcs": "_pcs", "1": ""}
    for q in QUANTITIES.values():
        assert q.name.endswith(suffix[q.unit]), q.name
    assert "energy_import_kwh" in COUNTERS and QUANTITIES["active_power_w"].kind is Kind.INSTANT


def test_checked_in_json_schema_is_current() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == batch_json_schema(), (
        "shared/schemas is stale: run `greenwire schema --write`"
    )


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1980, 1, 1), max_value=datetime(2200, 1, 1)))
def test_timestamps_survive_the_wire(ts: datetime) -> None:
    text = format_ts(ts)
    assert text.endswith("Z")
    batch = ReadingsBatch.model_validate_json(_with(r_ts=text))
    assert batch.readings[0].ts == ts


def test_quality_flags() -> None:
    for quality in Quality:
        batch = ReadingsBatch.model_validate_json(_with(r_quality=quality.value))
        assert batch.readings[0].quality is quality


def test_format_ts_converts_to_utc() -> None:
    cst = timezone(timedelta(hours=8))
    assert format_ts(datetime(2026, 1, 1, 8, 0, tzinfo=cst)) == "2026-01-01T00:00:00.000Z"
