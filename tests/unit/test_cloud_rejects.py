"""greenwire.cloud.ingest.rejects: every rejected message is kept, with its reason and payload, one JSON line each."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import orjson

from greenwire.cloud.ingest.rejects import (
    MAX_STORED_PAYLOAD,
    RejectRecord,
    RejectStore,
    encode_record,
)

AT = datetime(2026, 11, 22, 23, 59, 59, 999_500, tzinfo=UTC)
TOPIC = "greenwire/v1/campus-a/gw-01/readings"


def record(payload: bytes, reason: str = "malformed_json", at: datetime = AT) -> RejectRecord:
    return RejectRecord(received_at=at, topic=TOPIC, reason=reason, detail="why", payload=payload)


def read(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_text_payload_kept_as_text() -> None:
    doc = orjson.loads(encode_record(record(b'{"schema": "x", "city": "\xe5\x8c\x97\xe4\xba\xac"}')))
    assert doc == {
        "received_at": "2026-11-22T23:59:59.999500Z",
        "topic": TOPIC,
        "reason": "malformed_json",
        "detail": "why",
        "size": 33,
        "payload": '{"schema": "x", "city": "北京"}',
        "payload_encoding": "utf-8",
        "truncated": False,
    }


def test_binary_payload_kept_as_base64() -> None:
    payload = b"\xff\xfe\x00 not utf-8"
    doc = orjson.loads(encode_record(record(payload)))
    assert doc["payload_encoding"] == "base64"
    assert base64.b64decode(str(doc["payload"])) == payload


def test_large_payload_cut_at_64_kib_on_a_character_boundary() -> None:
    payload = b"a" + "北".encode() * MAX_STORED_PAYLOAD  # a 3-byte character straddles the cut
    doc = orjson.loads(encode_record(record(payload, "payload_too_large")))
    assert doc["truncated"] is True and doc["size"] == len(payload)
    assert doc["payload_encoding"] == "utf-8"
    kept = str(doc["payload"]).encode()
    assert payload.startswith(kept) and MAX_STORED_PAYLOAD - 3 < len(kept) <= MAX_STORED_PAYLOAD


def test_store_appends_to_daily_files_and_counts_by_reason(tmp_path: Path) -> None:
    store = RejectStore(tmp_path / "state")
    next_day = datetime(2026, 11, 23, 0, 0, 0, 1, tzinfo=UTC)
    store.append([record(b"{", "malformed_json"), record(b"[]", "unknown_schema", next_day)])
    store.append([record(b"{{", "malformed_json")])
    store.append([])
    first = read(tmp_path / "state" / "rejected-20261122.jsonl")
    second = read(tmp_path / "state" / "rejected-20261123.jsonl")
    assert [(r["reason"], r["payload"]) for r in first] == [("malformed_json", "{"), ("malformed_json", "{{")]
    assert [(r["reason"], r["payload"]) for r in second] == [("unknown_schema", "[]")]
    assert dict(store.counts) == {"malformed_json": 2, "unknown_schema": 1}


def test_a_second_store_on_the_same_directory_appends(tmp_path: Path) -> None:
    RejectStore(tmp_path).append([record(b"1")])
    RejectStore(tmp_path).append([record(b"2")])
    assert [r["payload"] for r in read(tmp_path / "rejected-20261122.jsonl")] == ["1", "2"]


# -- health data: never kept in the rejects store -------------------------------------------

VITALS = (b'{"schema":"greenwire.vitals.v1","gateway":"gw-01","seq":1,"observations":'
          b'[{"subject":"p-7f3a9c","loinc":"8867-4","value":72}]}')


def test_a_vitals_payload_is_withheld_with_its_hash() -> None:
    import hashlib

    rec = RejectRecord(received_at=AT, topic=TOPIC, reason="unknown_schema",
                       detail="schema 'greenwire.vitals.v1' is not greenwire.readings.v1", payload=VITALS)
    line = encode_record(rec)
    assert b"p-7f3a9c" not in line and b"8867-4" not in line
    doc = orjson.loads(line)
    assert doc["payload"] is None and doc["payload_encoding"] == "withheld"
    assert doc["payload_sha256"] == hashlib.sha256(VITALS).hexdigest()
    assert doc["size"] == len(VITALS) and doc["reason"] == "unknown_schema"
    assert doc["detail"] == "schema '...' is not greenwire.readings.v1"


def test_an_identifier_smuggled_into_a_meter_payload_is_withheld_too() -> None:
    payload = b'{"schema":"greenwire.readings.v1","readings":[{"device":"p-7f3a9c","subject":"p-7f3a9c"}]}'
    rec = RejectRecord(received_at=AT, topic=TOPIC, reason="invalid_id",
                       detail="readings[0].device: invalid id 'p-7f3a9c'", payload=payload)
    line = encode_record(rec)
    assert b"p-7f3a9c" not in line
    assert orjson.loads(line)["detail"] == "readings[0].device: invalid id '...'"


def test_anything_on_a_vitals_topic_is_withheld(tmp_path: Path) -> None:
    store = RejectStore(tmp_path)
    store.append([RejectRecord(received_at=AT, topic="greenwire/v1/care-1/gw-01/vitals", reason="invalid_topic",
                               detail="not a readings topic", payload=b"heart rate 72 for Ms X")])
    text = next(tmp_path.glob("rejected-*.jsonl")).read_bytes()
    assert b"Ms X" not in text and b'"withheld"' in text


def test_meter_payloads_are_still_kept_whole() -> None:
    payload = b'{"schema":"greenwire.readings.v1","gateway":"gw-01","readings":[{"device":"main-incomer"}]}'
    doc = orjson.loads(encode_record(record(payload, "schema_violation")))
    assert doc["payload"] == payload.decode() and doc["payload_encoding"] == "utf-8"


def test_a_record_cut_before_it_reached_the_store_keeps_its_real_size() -> None:
    """The ingestor holds only the first bytes of a big bad message; the record says how big it was."""
    kept = b"x" * MAX_STORED_PAYLOAD
    rec = RejectRecord(received_at=AT, topic=TOPIC, reason="payload_too_large", detail="why",
                       payload=kept, size=5_000_000)
    doc = orjson.loads(encode_record(rec))
    assert doc["size"] == 5_000_000 and doc["truncated"] is True and len(doc["payload"]) == MAX_STORED_PAYLOAD
