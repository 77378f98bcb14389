"""Hostile input to the ingestor's decode and validation path: a corpus, mutations of it, properties.

The corpus (``tests/data/hostile/``, see its README) names the outcome of every
case. Mutations (bytes flipped, inserted, deleted, cut; two cases spliced) of
every case must still give an explicit outcome, never an exception, and any
accepted batch must become exactly one line-protocol point per reading with
the values unchanged.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwire.cloud.ingest.points import PointEncoder, timestamp_ns
from greenwire.cloud.ingest.validate import (
    EARLIEST_STORABLE,
    Accepted,
    Rejected,
    RejectReason,
    validate_message,
)
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.wire import MAX_VALUES_PER_READING, format_ts
from tests.hostile import corpus

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOPIC = "greenwire/v1/hostile/gw-01/readings"
CASES = corpus()


class Limits:
    max_payload_bytes = 1_048_576
    max_future_s = 300.0


def _outcome(topic: str, payload: bytes) -> Accepted | Rejected:
    outcome = validate_message(topic, payload, now=NOW, limits=Limits())
    assert isinstance(outcome, Accepted | Rejected)
    if isinstance(outcome, Rejected):
        assert outcome.reason in RejectReason and outcome.reason is not RejectReason.STORE_REJECTED
        assert outcome.detail and "\n" not in outcome.detail and len(outcome.detail) <= 300
    else:
        _check_lines(outcome)
    return outcome


def _parse_line(line: str) -> tuple[dict[str, str], dict[str, str], int]:
    """Our own lines only: ids need no escaping, the one string field is quality."""
    head, fields, ts = line.rsplit(" ", 2)
    measurement, *tags = head.split(",")
    assert measurement == "readings"
    return dict(t.split("=", 1) for t in tags), dict(f.split("=", 1) for f in fields.split(",")), int(ts)


def _check_lines(outcome: Accepted) -> None:
    lines = PointEncoder().lines(outcome.site, outcome.gateway, outcome.batch)
    assert len(lines) == len(outcome.batch.readings)
    for line, reading in zip(lines, outcome.batch.readings, strict=True):
        tags, fields, ts = _parse_line(line)
        assert tags == {"device": reading.device, "gateway": outcome.gateway, "site": outcome.site}
        assert ts == timestamp_ns(reading.ts)
        assert fields.pop("quality") == f'"{reading.quality.value}"'
        assert {k: float(v) for k, v in fields.items()} == reading.values


def test_the_corpus_covers_every_validation_reason() -> None:
    reasons = {entry["expect"] for entry, _ in CASES}
    assert reasons == {r.value for r in RejectReason} - {"store_rejected"} | {"accepted"}
    assert len(CASES) >= 60


@pytest.mark.parametrize(("entry", "payload"), CASES, ids=[entry["name"] for entry, _ in CASES])
def test_each_corpus_case_gets_its_outcome(entry: dict[str, Any], payload: bytes) -> None:
    assert len(payload) == entry["bytes"]
    outcome = validate_message(entry["topic"], payload, now=datetime.now(UTC), limits=Limits())
    got = "accepted" if isinstance(outcome, Accepted) else outcome.reason.value
    assert got == entry["expect"], (entry["why"], outcome)


def _mutations(rng: random.Random, payload: bytes, other: bytes) -> list[bytes]:
    out = []
    for _ in range(12):
        data = bytearray(payload)
        kind = rng.randrange(6)
        at = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[at:at] = rng.choice([b"{", b"}", b"[", b"]", b",", b'"', b"\\", b"\x00", b"NaN", b"1e999", b"-", b"\xff"])
        elif kind == 2:
            del data[at : at + rng.randrange(1, 16)]
        elif kind == 3:
            data = data[:at]
        elif kind == 4:
            data = data[:at] + other[rng.randrange(len(other) + 1) :]
        else:
            data = data[:at] + data[at:at + 40] * rng.randrange(2, 50) + data[at + 40 :]
        out.append(bytes(data))
    return out


def test_mutated_corpus_never_raises_and_accepted_means_exact_points() -> None:
    rng = random.Random(20261122)
    small = [(entry, payload) for entry, payload in CASES if len(payload) <= 4096]
    seen: set[str] = set()
    for entry, payload in small:
        other = rng.choice(small)[1]
        for mutated in _mutations(rng, payload, other):
            outcome = _outcome(entry["topic"], mutated)
            seen.add("accepted" if isinstance(outcome, Accepted) else outcome.reason.value)
    # The mutations reach far beyond "malformed JSON": most reasons come out of them.
    assert {"accepted", "malformed_json", "schema_violation", "invalid_id"} <= seen
    assert len(seen) >= 8


# -- properties ----------------------------------------------------------------------------

_ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z")
_floats = st.floats(allow_nan=False, allow_infinity=False)
_instants = st.datetimes(
    min_value=datetime(1678, 1, 1), max_value=datetime(2026, 11, 22, 10, 4), timezones=st.just(UTC)
)
_reading = st.fixed_dictionaries(
    {
        "ts": _instants,
        "device": _ids,
        "values": st.dictionaries(st.sampled_from(sorted(QUANTITIES)), _floats, min_size=1,
                                  max_size=min(8, MAX_VALUES_PER_READING)),
        "quality": st.sampled_from(["good", "estimated", "counter_rollover", "counter_reset", "counter_jump", "bad"]),
    }
)


def _doc(gateway: str, readings: list[dict[str, Any]], seq: int) -> bytes:
    return orjson.dumps({
        "schema": "greenwire.readings.v1", "gateway": gateway, "seq": seq, "sent_at": format_ts(NOW),
        "readings": [{**r, "ts": format_ts(r["ts"])} for r in readings],
    })


@settings(max_examples=200, deadline=None)
@given(site=_ids, gateway=_ids, readings=st.lists(_reading, min_size=1, max_size=20),
       seq=st.integers(0, 2**63 - 1))
def test_any_valid_batch_is_accepted_and_stored_exactly(
    site: str, gateway: str, readings: list[dict[str, Any]], seq: int
) -> None:
    outcome = _outcome(f"greenwire/v1/{site}/{gateway}/readings", _doc(gateway, readings, seq))
    assert isinstance(outcome, Accepted), outcome
    assert [r.values for r in outcome.batch.readings] == [r["values"] for r in readings]


@settings(max_examples=200, deadline=None)
@given(readings=st.lists(_reading, min_size=1, max_size=5), data=st.data())
def test_one_bad_reading_rejects_the_message_with_its_reason(readings: list[dict[str, Any]], data: Any) -> None:
    """A message is stored whole or not at all: one bad reading anywhere decides the reason."""
    index = data.draw(st.integers(0, len(readings) - 1))
    fault = data.draw(st.sampled_from(["nan", "string", "quantity", "device", "future", "past", "extra"]))
    bad = dict(readings[index])
    expected = {
        "nan": RejectReason.NON_FINITE_VALUE, "string": RejectReason.NON_NUMERIC_VALUE,
        "quantity": RejectReason.UNKNOWN_QUANTITY, "device": RejectReason.INVALID_ID,
        "future": RejectReason.FUTURE_TIMESTAMP, "past": RejectReason.TIMESTAMP_OUT_OF_RANGE,
        "extra": RejectReason.UNEXPECTED_FIELD,
    }[fault]
    name = next(iter(bad["values"]))
    if fault == "nan":
        bad["values"] = {**bad["values"], name: float("nan")}
    elif fault == "string":
        bad["values"] = {**bad["values"], name: "1.0"}
    elif fault == "quantity":
        bad["values"] = {**bad["values"], "not_a_quantity": 1.0}
    elif fault == "device":
        bad["device"] = "Bad Device"
    elif fault == "future":
        bad["ts"] = NOW + timedelta(seconds=data.draw(st.floats(301, 1e9)))
    elif fault == "past":
        bad["ts"] = EARLIEST_STORABLE - timedelta(days=data.draw(st.integers(1, 10**5)))
    else:
        bad["subject"] = "p-1"
    # Only the first bad reading counts: make the others clean of the time faults.
    readings = [*readings[:index], bad, *readings[index + 1 :]]
    payload = _doc("gw-01", readings, 1)
    if fault == "nan":
        # orjson writes NaN as null; only the value's null (a device may be called "null")
        payload = payload.replace(f'"{name}":null'.encode(), f'"{name}":NaN'.encode(), 1)
    outcome = _outcome(TOPIC, payload)
    assert isinstance(outcome, Rejected)
    assert outcome.reason is expected, (fault, outcome)
