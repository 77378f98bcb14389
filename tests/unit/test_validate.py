"""greenwire.cloud.ingest.validate: every message gets an explicit Accepted or Rejected(reason), never an exception."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwire.cloud.ingest.validate import Accepted, Rejected, RejectReason, validate_message
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.wire import format_ts

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
SITE, GATEWAY = "campus-a", "gw-01"
TOPIC = f"greenwire/v1/{SITE}/{GATEWAY}/readings"


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 1_048_576
    max_future_s: float = 300


LIMITS = Limits()


def make_batch(n: int = 5, *, seed: int = 1, gateway: str = GATEWAY) -> dict[str, Any]:
    """A valid batch of ``n`` readings with random values from the vocabulary."""
    rng = random.Random(seed)
    names = sorted(QUANTITIES)
    readings = []
    for i in range(n):
        chosen = rng.sample(names, 3)
        readings.append(
            {
                "ts": format_ts(NOW - timedelta(seconds=n - i, microseconds=rng.randrange(10**6))),
                "device": f"meter-{i}",
                "values": {name: rng.uniform(-1e6, 1e6) for name in chosen},
                "quality": "good",
            }
        )
    return {
        "schema": "greenwire.readings.v1",
        "gateway": gateway,
        "seq": rng.randrange(2**40),
        "sent_at": format_ts(NOW),
        "readings": readings,
    }


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def check(payload: bytes, topic: str = TOPIC, limits: Limits = LIMITS) -> Accepted | Rejected:
    return validate_message(topic, payload, now=NOW, limits=limits)


def rejected(payload: bytes, reason: RejectReason, topic: str = TOPIC, limits: Limits = LIMITS) -> str:
    outcome = check(payload, topic, limits)
    assert isinstance(outcome, Rejected), outcome
    assert outcome.reason is reason, outcome
    assert "\n" not in outcome.detail and outcome.detail
    return outcome.detail


def test_valid_batch_is_accepted_with_exact_values() -> None:
    doc = make_batch(7, seed=42)
    outcome = check(encode(doc))
    assert isinstance(outcome, Accepted)
    assert (outcome.site, outcome.gateway) == (SITE, GATEWAY)
    assert outcome.batch.seq == doc["seq"]
    assert len(outcome.batch.readings) == 7
    for sent, got in zip(doc["readings"], outcome.batch.readings, strict=True):
        assert got.device == sent["device"]
        assert dict(got.values) == sent["values"]  # floats survive JSON exactly
        assert format_ts(got.ts) == sent["ts"]


def test_payload_too_large_is_checked_before_anything_else() -> None:
    small = Limits(max_payload_bytes=1024)
    doc = make_batch(40)
    payload = encode(doc)
    assert len(payload) > 1024
    detail = rejected(payload, RejectReason.PAYLOAD_TOO_LARGE, limits=small)
    assert str(len(payload)) in detail and "1024" in detail
    # Even garbage on a bad topic is refused for its size first, unread.
    rejected(b"{" * 2000, RejectReason.PAYLOAD_TOO_LARGE, topic="not/a/topic", limits=small)
    # Exactly at the limit is fine.
    exact = Limits(max_payload_bytes=len(payload))
    assert isinstance(check(payload, limits=exact), Accepted)


@pytest.mark.parametrize(
    "topic",
    [
        "greenwire/v1/campus-a/gw-01/vitals",
        "greenwire/v1/campus-a/gw-01/status",
        "greenwire/v2/campus-a/gw-01/readings",
        "greenwire/v1/Campus/gw-01/readings",
        "greenwire/v1/campus-a/carbon/b2",
        "greenwire/v1/grid/se3/intensity",
        "greenwire/v1/campus-a/gw-01/readings/extra",
        "",
    ],
)
def test_invalid_topic(topic: str) -> None:
    rejected(encode(make_batch()), RejectReason.INVALID_TOPIC, topic=topic)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00garbage",
        b'{"schema": "greenwire.readings.v1", "gateway": "gw-\xff"}',
        b"[" * 100_000,
    ],
    ids=["empty", "garbage", "not-utf8", "bad-utf8-in-string", "deeply-nested"],
)
def test_malformed_json(payload: bytes) -> None:
    assert rejected(payload, RejectReason.MALFORMED_JSON).startswith("invalid JSON: ")


def test_truncated_json_at_every_cut_is_malformed() -> None:
    payload = encode(make_batch(2))
    for cut in range(1, len(payload) - 1, 7):
        outcome = check(payload[:cut])
        assert isinstance(outcome, Rejected) and outcome.reason is RejectReason.MALFORMED_JSON, cut


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"schema": "greenwire.readings.v2"}, "'greenwire.readings.v2'"),
        ({"schema": "greenwire.vitals.v1"}, "'greenwire.vitals.v1'"),
        ({"schema": 1}, "schema 1"),
        ({"schema": None}, "schema None"),
    ],
)
def test_unknown_schema(change: dict[str, Any], words: str) -> None:
    doc = make_batch() | change
    assert words in rejected(encode(doc), RejectReason.UNKNOWN_SCHEMA)


def test_missing_schema_and_non_objects_are_unknown_schema() -> None:
    doc = make_batch()
    del doc["schema"]
    assert rejected(encode(doc), RejectReason.UNKNOWN_SCHEMA) == "no schema field"
    for other in ([], [doc], "greenwire.readings.v1", 42, None):
        assert rejected(encode(other), RejectReason.UNKNOWN_SCHEMA) == "not a JSON object"


def _mutate(path: str, value: Any, *, delete: bool = False) -> bytes:
    """The default batch with one field set (or deleted) by a dotted path like readings.2.values."""
    doc = make_batch()
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if delete:
        del node[key]
    else:
        node[key] = value
    return encode(doc)


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("readings.1.values", {}, "readings[1].values"),
        ("readings.1.values", [1.0], "readings[1].values"),
        ("readings.0.ts", "2026-11-22T10:00:00", "readings[0].ts"),
        ("readings.0.ts", 1_763_805_600, "readings[0].ts"),
        ("readings.0.quality", "great", "readings[0].quality"),
        ("seq", -1, "seq"),
        ("seq", "7", "seq"),
        ("gateway", 7, "gateway"),
        ("readings", [], "readings"),
    ],
)
def test_schema_violation_names_the_field(path: str, value: Any, where: str) -> None:
    assert rejected(_mutate(path, value), RejectReason.SCHEMA_VIOLATION).startswith(where)


@pytest.mark.parametrize(
    ("path", "where"),
    [("extra", "extra: unexpected field"), ("readings.2.extra", "readings[2].extra: unexpected field")],
)
def test_unexpected_field(path: str, where: str) -> None:
    assert rejected(_mutate(path, "x"), RejectReason.UNEXPECTED_FIELD) == where


@pytest.mark.parametrize(
    ("value", "shown"), [("1.5", "'1.5'"), (True, "True"), (None, "None"), ([1.0], "[1.0]"), ({"v": 1}, "{'v': 1}")]
)
def test_non_numeric_value(value: Any, shown: str) -> None:
    detail = rejected(_mutate("readings.1.values.active_power_w", value), RejectReason.NON_NUMERIC_VALUE)
    assert detail == f"readings[1].values.active_power_w: not a number: {shown}"


def test_integer_values_are_numbers() -> None:
    outcome = check(_mutate("readings.1.values.active_power_w", 48210))
    assert isinstance(outcome, Accepted)
    assert outcome.batch.readings[1].values["active_power_w"] == 48210.0


@pytest.mark.parametrize("field", ["gateway", "sent_at", "readings", "seq"])
def test_missing_field_is_a_schema_violation(field: str) -> None:
    detail = rejected(_mutate(field, None, delete=True), RejectReason.SCHEMA_VIOLATION)
    assert detail == f"{field}: required field missing"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_values(token: str) -> None:
    doc = make_batch(5)
    doc["readings"][3]["values"] = {"active_power_w": "@@"}
    payload = encode(doc).replace(b'"@@"', token.encode())
    detail = rejected(payload, RejectReason.NON_FINITE_VALUE)
    assert detail == "readings[3].values.active_power_w: not a finite number"


def test_unknown_quantity() -> None:
    detail = rejected(
        _mutate("readings.4.values", {"power_kw": 1.0}), RejectReason.UNKNOWN_QUANTITY
    )
    assert detail == "readings[4].values: unknown quantity 'power_kw'"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("gateway", "GW-01"),
        ("gateway", "gw 01"),
        ("gateway", "-gw"),
        ("gateway", "g" * 64),
        ("readings.2.device", "Main/Incomer"),
        ("readings.2.device", ""),
    ],
)
def test_invalid_ids(path: str, value: str) -> None:
    detail = rejected(_mutate(path, value), RejectReason.INVALID_ID)
    assert detail.startswith(path.replace(".2.", "[2]."))


def test_future_timestamp_limit_is_inclusive() -> None:
    doc = make_batch(4)
    doc["readings"][2]["ts"] = format_ts(NOW + timedelta(seconds=300))
    assert isinstance(check(encode(doc)), Accepted), "exactly at the limit is accepted"
    doc["readings"][2]["ts"] = format_ts(NOW + timedelta(seconds=300, milliseconds=1))
    detail = rejected(encode(doc), RejectReason.FUTURE_TIMESTAMP)
    assert detail.startswith("readings[2].ts: ") and "300.001 s ahead" in detail
    doc["readings"][2]["ts"] = format_ts(NOW + timedelta(minutes=6))
    rejected(encode(doc), RejectReason.FUTURE_TIMESTAMP)


def test_future_limit_compares_instants_not_wall_clock_text() -> None:
    doc = make_batch(1)
    # 18:04 at +08:00 is 10:04 UTC: inside the limit, whatever the offset says.
    doc["readings"][0]["ts"] = "2026-11-22T18:04:00.000+08:00"
    assert isinstance(check(encode(doc)), Accepted)
    doc["readings"][0]["ts"] = "2026-11-22T18:05:01.000+08:00"
    rejected(encode(doc), RejectReason.FUTURE_TIMESTAMP)


@pytest.mark.parametrize(
    ("offsets", "ahead", "expected"),
    [
        # Offsets mixed in one batch, each reading checked as an instant against the same limit.
        (["Z", "+08:00", "-05:30", "Z"], None, None),
        (["Z", "+08:00", "-05:30", "Z"], 2, RejectReason.FUTURE_TIMESTAMP),
        (["+08:00", "+08:00", "Z", "+14:00"], 3, RejectReason.FUTURE_TIMESTAMP),
        (["-12:00", "Z", "-12:00", "-12:00"], 0, RejectReason.FUTURE_TIMESTAMP),
    ],
)
def test_future_limit_holds_for_every_offset_in_a_batch(
    offsets: list[str], ahead: int | None, expected: RejectReason | None
) -> None:
    doc = make_batch(len(offsets))
    for index, offset in enumerate(offsets):
        at = NOW + timedelta(seconds=301 if index == ahead else 299)
        zone = UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo
        doc["readings"][index]["ts"] = at.astimezone(zone).isoformat().replace("+00:00", "Z")
    outcome = check(encode(doc))
    if expected is None:
        assert isinstance(outcome, Accepted)
    else:
        detail = rejected(encode(doc), expected)
        assert detail.startswith(f"readings[{ahead}].ts: ") and "301.000 s ahead" in detail


def test_timestamp_before_influxdb_range_at_any_offset() -> None:
    doc = make_batch(3)
    doc["readings"][0]["ts"] = "1677-09-21T08:12:44+08:00"  # the earliest second, at +08:00: storable
    doc["readings"][1]["ts"] = "1677-09-21T00:12:44Z"
    assert isinstance(check(encode(doc)), Accepted)
    doc["readings"][2]["ts"] = "1677-09-21T08:12:43+08:00"  # one second earlier
    detail = rejected(encode(doc), RejectReason.TIMESTAMP_OUT_OF_RANGE)
    assert detail.startswith("readings[2].ts: 1677-09-21T08:12:43+08:00")


def test_timestamp_before_influxdb_range() -> None:
    detail = rejected(_mutate("readings.1.ts", "1600-01-01T00:00:00Z"), RejectReason.TIMESTAMP_OUT_OF_RANGE)
    assert detail.startswith("readings[1].ts: 1600-01-01")


def test_gateway_mismatch() -> None:
    detail = rejected(encode(make_batch(gateway="gw-02")), RejectReason.GATEWAY_MISMATCH)
    assert "'gw-02'" in detail and "'gw-01'" in detail


def test_every_validation_reason_is_reachable() -> None:
    """The crafted cases above between them produce every code except the ingestor's own."""
    small = Limits(max_payload_bytes=1024)
    doc = make_batch(2)
    cases: list[tuple[str, bytes, Limits]] = [
        (TOPIC, encode(make_batch(40)), small),
        ("greenwire/v1/x/y/vitals", encode(doc), LIMITS),
        (TOPIC, b"{", LIMITS),
        (TOPIC, encode(doc | {"schema": "x"}), LIMITS),
        (TOPIC, encode(doc | {"x": 1}), LIMITS),
        (TOPIC, encode(doc | {"seq": "1"}), LIMITS),
        (TOPIC, _mutate("readings.0.values.active_power_w", "1"), LIMITS),
        (TOPIC, encode(doc).replace(b'"good"', b'"good", "values": {"active_power_w": NaN}', 1), LIMITS),
        (TOPIC, _mutate("readings.0.values", {"kw": 1.0}), LIMITS),
        (TOPIC, _mutate("gateway", "GW"), LIMITS),
        (TOPIC, _mutate("readings.0.ts", "2099-01-01T00:00:00Z"), LIMITS),
        (TOPIC, _mutate("readings.0.ts", "0001-01-01T00:00:00Z"), LIMITS),
        (TOPIC, encode(make_batch(gateway="gw-99")), LIMITS),
    ]
    seen = set()
    for topic, payload, limits in cases:
        outcome = validate_message(topic, payload, now=NOW, limits=limits)
        assert isinstance(outcome, Rejected)
        seen.add(outcome.reason)
    assert seen == set(RejectReason) - {RejectReason.STORE_REJECTED}


def test_outcomes_are_frozen_values() -> None:
    outcome = check(b"{")
    with pytest.raises(AttributeError):
        outcome.reason = RejectReason.INVALID_ID  # type: ignore[misc]
    assert outcome == Rejected(outcome.reason, outcome.detail)
    assert str(RejectReason.NON_FINITE_VALUE) == "non_finite_value"


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=2048), topic=st.text(max_size=80))
def test_arbitrary_bytes_never_raise(payload: bytes, topic: str) -> None:
    outcome = validate_message(topic, payload, now=NOW, limits=LIMITS)
    assert isinstance(outcome, Accepted | Rejected)
    if isinstance(outcome, Rejected):
        assert outcome.reason in RejectReason and "\n" not in outcome.detail


_json = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    overrides=st.dictionaries(
        st.sampled_from(["schema", "gateway", "seq", "sent_at", "readings", "extra"]), _json, max_size=3
    ),
    reading=st.dictionaries(st.sampled_from(["ts", "device", "values", "quality", "x"]), _json, max_size=3),
)
def test_near_valid_documents_never_raise(overrides: dict[str, Any], reading: dict[str, Any]) -> None:
    doc = make_batch(2)
    doc.update(overrides)
    if isinstance(doc.get("readings"), list) and doc["readings"] and isinstance(doc["readings"][0], dict):
        doc["readings"][0].update(reading)
    payload = json.dumps(doc, allow_nan=True).encode()
    outcome = validate_message(TOPIC, payload, now=NOW, limits=LIMITS)
    assert isinstance(outcome, Accepted | Rejected)
    if not overrides and not reading:
        assert isinstance(outcome, Accepted)
