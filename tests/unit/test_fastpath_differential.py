"""The fast path against the reference: the same outcome for every message, byte for byte.

``FastPath.encode`` (msgspec, whole-batch encoding) and ``ReferencePath.encode``
(``validate_message`` on the pydantic models, then ``PointEncoder``) are run on:

- every case of the hostile corpus (``tests/data/hostile``), and mutations of
  every small case (bytes flipped, inserted, deleted, cut, spliced, repeated);
- generated valid batches, written the many ways JSON allows (numbers as
  integers, exponents, long digit strings, -0; timestamps with ``Z``, ``z``,
  offsets, a space or ``t`` for the ``T``, 0 to 9 fraction digits; duplicate
  keys; whitespace; fields in any order; quality given or not) with values at
  the edges of the line-protocol formats (1e-4, 1e6, subnormals, the largest
  float) and times at the storable and future limits;
- generated broken batches: one field replaced by another JSON value,
  removed, or joined by an unknown one, ids with a trailing newline or
  capitals, vocabulary near-misses.

Equal means: both accept with the same lines and the same time span, or both
reject with the same reason and the same detail. A generated canonical batch
must also take the fast path itself (not be handed to the reference), or this
test would compare the reference with itself.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwire.cloud.ingest.fastpath import Encoded, FastPath, ReferencePath
from greenwire.cloud.ingest.validate import EARLIEST_STORABLE, Rejected
from greenwire.shared.lineprotocol import format_float
from greenwire.shared.quantities import QUANTITIES
from greenwire.shared.wire import Quality, format_ts
from tests.hostile import corpus

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 1_000_000_000 + 123_456_789
SITE, GATEWAY = "site-a", "gw-01"
TOPIC = f"greenwire/v1/{SITE}/{GATEWAY}/readings"
CASES = corpus()
NAMES = sorted(QUANTITIES)


class Limits:
    max_payload_bytes = 1_048_576
    max_future_s = 300.0


def _building_of(site: str, gateway: str, device: str) -> str | None:
    return "b1" if device.startswith("m") else None


FAST = FastPath(Limits(), _building_of)
"""The ingestor's codec: the compiled pass first (``_lines.c``), then msgspec, then the reference."""
MSGSPEC = FastPath(Limits(), _building_of, compiled=False)
"""The msgspec path alone, as an install without the compiled pass runs it."""
REFERENCE = ReferencePath(Limits(), _building_of)


def _same(topic: str, payload: bytes, received_ns: int = NOW_NS) -> Encoded | Rejected:
    fast = FAST.encode(topic, payload, received_ns)
    reference = REFERENCE.encode(topic, payload, received_ns)
    assert fast == reference, (payload[:300], fast, reference)
    assert MSGSPEC.encode(topic, payload, received_ns) == reference, payload[:300]
    if isinstance(fast, Encoded):
        assert isinstance(reference, Encoded)
        # One buffer per message: split at newlines it gives back one line per reading, none empty.
        lines = fast.data.decode().split("\n")
        assert lines == reference.lines and len(lines) == fast.count and all(lines), fast
    return fast


# -- the corpus -----------------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "payload"), CASES, ids=[entry["name"] for entry, _ in CASES])
def test_each_corpus_case_gets_the_same_outcome(entry: dict[str, Any], payload: bytes) -> None:
    outcome = _same(entry["topic"], payload)
    got = "accepted" if isinstance(outcome, Encoded) else outcome.reason.value
    assert got == entry["expect"], entry["why"]


def _mutations(rng: random.Random, payload: bytes, other: bytes) -> list[bytes]:
    out = []
    for _ in range(16):
        data = bytearray(payload)
        kind = rng.randrange(6)
        at = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            data[at:at] = rng.choice([b"{", b"}", b"[", b"]", b",", b'"', b"\\", b"\x00", b"NaN", b"1e999",
                                      b"-", b"\xff", b" ", b"\n", b"0", b"9", b".", b"e", b"Z", b"+01:00"])
        elif kind == 2:
            del data[at : at + rng.randrange(1, 16)]
        elif kind == 3:
            data = data[:at]
        elif kind == 4:
            data = data[:at] + other[rng.randrange(len(other) + 1) :]
        else:
            data = data[:at] + data[at : at + 40] * rng.randrange(2, 20) + data[at + 40 :]
        out.append(bytes(data))
    return out


def test_mutated_corpus_gets_the_same_outcome() -> None:
    rng = random.Random(20)
    small = [(entry, payload) for entry, payload in CASES if len(payload) <= 4096]
    seen: set[str] = set()
    for entry, payload in small:
        other = rng.choice(small)[1]
        for mutated in _mutations(rng, payload, other):
            outcome = _same(entry["topic"], mutated)
            seen.add("accepted" if isinstance(outcome, Encoded) else outcome.reason.value)
    assert {"accepted", "malformed_json", "schema_violation", "invalid_id"} <= seen


# -- generated messages ---------------------------------------------------------------------

_ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,62}\Z")
_edge_floats = st.sampled_from([
    0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e-5, 5e-324, 2.2250738585072014e-308, 1e6, -1e6,
    999999.9999999999, -999999.9999999999, 1e16, 1e21, 1.7976931348623157e308, -1.7976931348623157e308,
    0.1, 48210.5, 183442.61, 230.00000000000003, 10.00001, 2.0**53, 2.0**63,
])
_floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False), _edge_floats,
                    st.floats(-1e7, 1e7), st.integers(-(10**6), 10**6).map(float))


@st.composite
def _number(draw: st.DrawFn) -> tuple[float, str]:
    """A finite value and one way JSON can spell it (the reference parses the text, not the value)."""
    value = draw(_floats)
    style = draw(st.sampled_from(["repr", "g17", "e", "int", "E", "dumps"]))
    if style == "int" and value.is_integer() and abs(value) < 1e30:
        return value, str(int(value))
    if style == "g17":
        return value, f"{value:.17g}".replace("inf", "1e308")
    if style == "e":
        return value, f"{value:.20e}"
    if style == "E":
        return value, repr(value).upper()
    return value, orjson.dumps(value).decode() if style == "dumps" else repr(value)


@st.composite
def _timestamp(draw: st.DrawFn, *, low: datetime, high: datetime) -> str:
    ts = draw(st.datetimes(min_value=low.replace(tzinfo=None), max_value=high.replace(tzinfo=None),
                           timezones=st.just(UTC)))
    style = draw(st.sampled_from(["canonical"] * 4 + ["offset", "offset", "digits", "t", "space", "z", "nanos"]))
    base = f"{ts.year:04d}-{ts:%m-%dT%H:%M:%S}"  # strftime's %Y has no leading zeros before 1000
    if style == "canonical":
        return base + f".{ts.microsecond // 1000:03d}Z"
    if style == "offset":
        minutes = draw(st.integers(-14 * 60, 14 * 60))
        zone = timezone(timedelta(minutes=minutes))
        try:
            local = ts.astimezone(zone)
        except OverflowError:
            return format_ts(ts)
        sign = "+" if minutes >= 0 else "-"
        offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        fraction = f".{local.microsecond:06d}" if draw(st.booleans()) else ""
        return f"{local.year:04d}-{local:%m-%dT%H:%M:%S}{fraction}{offset}"
    if style == "digits":
        digits = draw(st.integers(0, 9))
        fraction = f"{ts.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
        return base + (f".{fraction}" if digits else "") + "Z"
    if style == "nanos":
        return base + f".{ts.microsecond:06d}{draw(st.integers(0, 999)):03d}Z"
    if style == "t":
        return base.replace("T", "t") + "Z"
    if style == "space":
        return base.replace("T", " ") + "Z"
    return base + "z"


_VALID_TS = _timestamp(low=datetime(1677, 9, 21, 0, 12, 44, tzinfo=UTC),
                       high=NOW + timedelta(seconds=299))
_ANY_TS = _timestamp(low=datetime(1, 1, 2, tzinfo=UTC), high=datetime(9999, 12, 30, tzinfo=UTC))
_EDGE_TS = st.sampled_from([
    format_ts(EARLIEST_STORABLE), format_ts(EARLIEST_STORABLE - timedelta(microseconds=1)),
    format_ts(NOW + timedelta(seconds=300)), format_ts(NOW + timedelta(seconds=300, microseconds=124)),
    format_ts(NOW + timedelta(seconds=300, microseconds=123)), format_ts(NOW + timedelta(seconds=301)),
    "1677-09-21T00:12:43.999999Z", "1970-01-01T00:00:00Z", "2026-11-22T10:05:00.1234569Z",
])


def _member(key: str, text: str) -> str:
    return f'"{key}":{text}'


@st.composite
def _reading(draw: st.DrawFn, ts: st.SearchStrategy[str]) -> tuple[str, dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=8))
    numbers = [draw(_number()) for _ in names]
    values = "{" + ",".join(_member(n, text) for n, (_, text) in zip(names, numbers, strict=True)) + "}"
    members = {"ts": f'"{draw(ts)}"', "device": f'"{draw(_ids)}"', "values": values}
    if draw(st.booleans()):
        members["quality"] = f'"{draw(st.sampled_from([q.value for q in Quality]))}"'
    order = draw(st.permutations(list(members)))
    space = draw(st.sampled_from(["", " ", "\n", "\t"]))
    text = "{" + f",{space}".join(_member(k, members[k]) for k in order) + "}"
    return text, members


def _batch(readings: list[str], *, gateway: str = GATEWAY, seq: str = "7", extra: str = "") -> bytes:
    body = (f'{{"schema":"greenwire.readings.v1","gateway":"{gateway}","seq":{seq},'
            f'"sent_at":"{format_ts(NOW)}","readings":[{",".join(readings)}]{extra}}}')
    return body.encode()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(readings=st.lists(_reading(_VALID_TS), min_size=1, max_size=12))
def test_generated_batches_get_the_same_outcome(readings: list[tuple[str, dict[str, Any]]]) -> None:
    _same(TOPIC, _batch([text for text, _ in readings]))


@settings(max_examples=80, deadline=None)
@given(readings=st.lists(_reading(st.one_of(_VALID_TS, _EDGE_TS)), min_size=1, max_size=3))
def test_times_at_the_limits_get_the_same_outcome(readings: list[tuple[str, dict[str, Any]]]) -> None:
    _same(TOPIC, _batch([text for text, _ in readings]))


@settings(max_examples=80, deadline=None)
@given(readings=st.lists(_reading(_ANY_TS), min_size=1, max_size=4), received_s=st.integers(-10**10, 10**10))
def test_any_time_and_any_clock_get_the_same_outcome(
    readings: list[tuple[str, dict[str, Any]]], received_s: int
) -> None:
    _same(TOPIC, _batch([text for text, _ in readings]), received_s * 1_000_000_000 + 999)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["good", "active_power_w", "gw-01", "2026-11-22T10:00:00Z", "gw-01\n"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@SETTINGS
@given(readings=st.lists(_reading(_VALID_TS), min_size=1, max_size=4), data=st.data())
def test_broken_batches_get_the_same_outcome(readings: list[tuple[str, dict[str, Any]]], data: Any) -> None:
    texts = [text for text, _ in readings]
    fault = data.draw(st.sampled_from(["replace", "remove", "extra", "id", "top", "duplicate", "quantity"]))
    index = data.draw(st.integers(0, len(readings) - 1))
    members = dict(readings[index][1])
    value = json.dumps(data.draw(_JSON))  # the standard library's: integers of any size
    key = data.draw(st.sampled_from(["ts", "device", "values", "quality"]))
    if fault == "replace":
        members[key] = value
    elif fault == "remove":
        members.pop(key, None)
    elif fault == "extra":
        members[data.draw(st.sampled_from(["subject", "Ts", "ts ", "seq"]))] = value
    elif fault == "id":
        bad = data.draw(st.sampled_from(["m1\\n", "M1", "m 1", "", "-m", "m" * 64, "m1\\u0000", "\\u006d1"]))
        members["device"] = f'"{bad}"'
    elif fault == "quantity":
        name = data.draw(st.sampled_from(["Active_power_w", "active_power_w ", "active_power", "\\u0061ctive_power_w"]))
        members["values"] = "{" + _member(name, "1.5") + "}"
    texts[index] = "{" + ",".join(_member(k, v) for k, v in members.items()) + "}"
    if fault == "top":
        name = data.draw(st.sampled_from(["schema", "gateway", "seq", "sent_at", "readings", "extra"]))
        payload = orjson.loads(_batch(texts))
        payload[name] = json.loads(value)
        _same(TOPIC, json.dumps(payload).encode())
    elif fault == "duplicate":
        # A key given twice: the reference keeps the last value.
        _same(TOPIC, _batch(texts, extra=f',"{data.draw(st.sampled_from(["gateway", "seq", "readings"]))}":{value}'))
    else:
        _same(TOPIC, _batch(texts))


@settings(max_examples=80, deadline=None)
@given(readings=st.lists(_reading(_VALID_TS), min_size=1, max_size=3),
       gateway=st.sampled_from(["gw-01", "gw-02", "gw-01\n", "GW-01"]), seq=st.sampled_from(
           ["0", "-0", "-1", "9223372036854775807", "9223372036854775808", "1.0", "1e3", '"7"', "true", "null"]))
def test_batch_fields_get_the_same_outcome(readings: list[tuple[str, dict[str, Any]]], gateway: str, seq: str) -> None:
    _same(TOPIC, _batch([text for text, _ in readings], gateway=gateway.replace("\n", "\\n"), seq=seq))


@settings(max_examples=50, deadline=None)
@given(readings=st.lists(st.fixed_dictionaries({
    "ts": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 11, 22), timezones=st.just(UTC)),
    "device": _ids,
    "values": st.dictionaries(st.sampled_from(NAMES), st.floats(-999_999, 999_999), min_size=1, max_size=8),
}), min_size=1, max_size=20))
def test_canonical_batches_take_the_fast_path(readings: list[dict[str, Any]]) -> None:
    compiled, msgspec_only = FastPath(Limits(), _building_of), FastPath(Limits(), _building_of, compiled=False)
    payload = _batch([orjson.dumps({**r, "ts": format_ts(r["ts"])}).decode() for r in readings])
    expected = REFERENCE.encode(TOPIC, payload, NOW_NS)
    assert compiled.encode(TOPIC, payload, NOW_NS) == expected == msgspec_only.encode(TOPIC, payload, NOW_NS)
    # each pass did the work itself: the compiled one, and msgspec without handing over
    assert (compiled.compiled, compiled.handed_over) == (1, 0)
    assert (msgspec_only.compiled, msgspec_only.handed_over) == (0, 0)


# -- the compiled pass on its own ground ----------------------------------------------------


@st.composite
def _compiled_reading(draw: st.DrawFn) -> str:
    """A reading the compiled pass must take itself: distinct names, any finite number spelt any
    way within 40 characters, ts with 0 to 6 fraction digits and Z, any quality or none."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True))
    numbers = [text for _, text in (draw(_number()) for _ in names)]
    numbers = [text if len(text) <= 40 else repr(float(text)) for text in numbers]
    ts = draw(st.datetimes(min_value=datetime(1677, 9, 21, 0, 12, 44), max_value=datetime(2026, 11, 22, 10, 5),
                           timezones=st.just(UTC)))
    places = draw(st.integers(0, 6))
    fraction = f".{ts.microsecond:06d}"[: places + 1] if places else ""
    members = {"ts": f'"{ts.year:04d}-{ts:%m-%dT%H:%M:%S}{fraction}Z"', "device": f'"{draw(_ids)}"',
               "values": "{" + ",".join(_member(n, t) for n, t in zip(names, numbers, strict=True)) + "}"}
    if draw(st.booleans()):
        members["quality"] = f'"{draw(st.sampled_from([q.value for q in Quality]))}"'
    order = draw(st.permutations(list(members)))
    return "{" + ", ".join(_member(k, members[k]) for k in order) + "}"


@SETTINGS
@given(readings=st.lists(_compiled_reading(), min_size=1, max_size=12))
def test_the_compiled_pass_writes_what_the_reference_writes(readings: list[str]) -> None:
    before = FAST.compiled
    outcome = _same(TOPIC, _batch(readings))
    assert isinstance(outcome, Encoded)
    assert FAST.compiled == before + 1, "the compiled pass refused a message it must take"


@pytest.mark.parametrize("change", [
    ('"seq":7', '"seq":7,"seq":8'),  # a duplicate key of the batch
    ('"device":', '"device":"m1","device":'),  # ... of a reading
    ('"values":{', '"values":{"voltage_l1_v":1,"voltage_l1_v":2,'),  # ... of the values (the last wins)
    ('"gw-01"', '"gw-\\u0030\\u0031"'),  # an escape (valid JSON, and the same id)
    ('"m1"', '"m\u00e9"'),  # not ASCII: an invalid id
    ('"m1"', '"M1"'),  # an invalid id
    ('"ts":"2026-11-22T09:00:00Z"', '"ts":"2026-11-22T09:00:60Z"'),  # a leap second
    ('"ts":"2026-11-22T09:00:00Z"', '"ts":"2026-02-29T09:00:00Z"'),  # no such day
    ('"ts":"2026-11-22T09:00:00Z"', '"ts":"2026-11-22T09:00:00.1234567Z"'),  # 7 fraction digits
    ('"ts":"2026-11-22T09:00:00Z"', '"ts":"2026-11-22T10:05:01Z"'),  # past the future limit
    ('1.5}', '1.5e999}'),
    ('1.5}', '00.5}'),
    ('1.5}', '1.}'),
    ('1.5}', '1.5000000000000000000000000000000000000000001}'),  # over 40 characters
    ('}]', '}],"extra":1'),
    ('"quality":"good"', '"quality":"Good"'),
])
def test_the_compiled_pass_refuses_what_it_does_not_know_and_the_outcome_stands(change: tuple[str, str]) -> None:
    template = _batch(['{"ts":"2026-11-22T09:00:00Z","device":"m1","values":{"active_power_w":1.5},'
                       '"quality":"good"}'])
    payload = template.replace(change[0].encode(), change[1].encode(), 1)
    assert payload != template, change
    before = FAST.compiled
    _same(TOPIC, payload)
    assert FAST.compiled == before, f"the compiled pass took {payload!r}"


def _neighbours(x: float, steps: int) -> list[float]:
    out = [x]
    for direction in (0.0, math.inf):
        y = x
        for _ in range(steps):
            y = math.nextafter(y, direction)
            out.append(y)
    return out


def test_the_compiled_pass_writes_long_decimals_as_format_float() -> None:
    # The decimals the edge's float arithmetic gives (16-19 significant digits) take the compiled
    # pass's exact integer arithmetic: around every power of ten and of two in the plain range,
    # at 1e-4 and 1e6 where the layout changes, and at random, in every length repr, %.17g and
    # longer spellings give them.
    rnd = random.Random(20261204)
    values = [v for base in [10.0 ** k for k in range(-4, 7)] + [2.0 ** k for k in range(-14, 20)] + [1 / 3, 2 / 3]
              for v in _neighbours(base, 3)]
    values += [rnd.randint(1, 10**6) * rnd.choice([0.1, 0.01, 0.001, 1.1, 3.3]) for _ in range(300)]
    values += [10 ** rnd.uniform(-4.3, 6.3) for _ in range(300)]
    texts = sorted({t for v in values for sign in (1, -1)
                    for t in (repr(sign * v), f"{sign * v:.16g}", f"{sign * v:.17g}", f"{sign * v:.19g}")
                    if "e" not in t and len(t) <= 40})
    fast = FastPath(Limits(), _building_of)
    for start in range(0, len(texts), 100):
        chunk = texts[start:start + 100]
        payload = _batch([f'{{"ts":"2026-11-22T09:00:00Z","device":"m1","values":{{"active_power_w":{t}}}}}'
                          for t in chunk])
        outcome = fast.encode(TOPIC, payload, NOW_NS)
        assert isinstance(outcome, Encoded)
        written = [line.split(" ")[1].split(",")[0].removeprefix("active_power_w=") for line in outcome.lines]
        assert written == [format_float(float(t)) for t in chunk]
    assert fast.compiled == len(range(0, len(texts), 100)) and fast.handed_over == 0
    assert len(texts) > 2000
