"""Writes the hostile-payload corpus: ``payloads/*`` and ``MANIFEST.json``.

Run from the repository root to regenerate (the output is committed and
deterministic): ``.venv/bin/python tests/data/hostile/build.py``. Each entry
is one MQTT message: the file is the payload, the manifest gives the topic
(default ``greenwire/v1/hostile/gw-01/readings``), the outcome the ingestor
must reach (a reject reason, or ``accepted``) and why the case is there.
Timestamps are absolute (2024, or 2999 for "future") so the outcomes do not
depend on the day the tests run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
TOPIC = "greenwire/v1/hostile/gw-01/readings"


def reading(i: int = 0, **over: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "ts": f"2024-03-01T12:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "device": "m1",
        "values": {"active_power_w": 1000.0 + i, "energy_import_kwh": 5000.0 + i / 100},
        "quality": "good",
    }
    r.update(over)
    return r


def batch(*readings: dict[str, Any], seq: int = 1, **over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "schema": "greenwire.readings.v1", "gateway": "gw-01", "seq": seq,
        "sent_at": "2024-03-01T12:00:01.000Z", "readings": list(readings) or [reading()],
    }
    b.update(over)
    return b


def js(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), allow_nan=True).encode()


def cases() -> list[tuple[str, bytes, str, str, str | None]]:
    """(name, payload, expected outcome, why, topic or None)."""
    good = js(batch(reading(1), seq=7))
    deep = b'{"schema":"greenwire.readings.v1","gateway":"gw-01","seq":1,"sent_at":"2024-03-01T12:00:01Z","readings":' + b"[" * 20000 + b"]" * 20000 + b"}"
    huge_values = {f"x{i}_w": float(i) for i in range(50000)}
    tiny_readings = [{"ts": "2024-03-01T12:00:00Z", "device": "m", "values": {"power_factor": 1}}] * 10_001
    out: list[tuple[str, bytes, str, str, str | None]] = [
        # truncated and broken JSON
        ("truncated-half", good[: len(good) // 2], "malformed_json", "cut in the middle (a dropped TCP segment)", None),
        ("truncated-last-byte", good[:-1], "malformed_json", "the closing brace missing", None),
        ("empty", b"", "malformed_json", "an empty payload", None),
        ("not-utf8", b"\xff\xfe\x00{", "malformed_json", "bytes that are not UTF-8", None),
        ("utf8-bom", b"\xef\xbb\xbf" + good, "malformed_json", "a byte-order mark before the JSON", None),
        ("lone-surrogate", good.replace(b'"m1"', b'"\\ud800"'), "malformed_json", "a lone UTF-16 surrogate escape", None),
        ("trailing-garbage", good + b"garbage", "malformed_json", "JSON followed by something else", None),
        ("two-documents", good + good, "malformed_json", "two batches in one message", None),
        ("single-quotes", good.replace(b'"', b"'"), "malformed_json", "Python repr, not JSON", None),
        ("deep-nesting", deep, "malformed_json", "20,000 nested arrays (a parser stack attack)", None),
        # not our schema
        ("json-array", b"[1,2,3]", "unknown_schema", "a JSON array, not an object", None),
        ("json-null", b"null", "unknown_schema", "JSON null", None),
        ("json-string", b'"greenwire.readings.v1"', "unknown_schema", "a JSON string", None),
        ("schema-v2", js(batch(schema="greenwire.readings.v2")), "unknown_schema", "a schema version we do not speak", None),
        ("no-schema", js({k: v for k, v in batch().items() if k != "schema"}), "unknown_schema", "the schema field missing", None),
        ("vitals-on-readings-topic", js({"schema": "greenwire.vitals.v1", "gateway": "gw-01", "seq": 1,
                                         "sent_at": "2024-03-01T12:00:01Z",
                                         "observations": [{"subject": "p-7f3a9c", "loinc": "8867-4", "value": 72, "unit": "/min"}]}),
         "unknown_schema", "a health batch on a meter topic: rejected, and its payload never kept", None),
        # wrong types
        ("value-string", js(batch(reading(values={"active_power_w": "1000"}))), "non_numeric_value", "a number as a string", None),
        ("value-bool", js(batch(reading(values={"active_power_w": True}))), "non_numeric_value", "a boolean value", None),
        ("value-null", js(batch(reading(values={"active_power_w": None}))), "non_numeric_value", "a null value", None),
        ("value-object", js(batch(reading(values={"active_power_w": {"v": 1}}))), "non_numeric_value", "an object as a value", None),
        ("seq-string", js(batch(seq="7")), "schema_violation", "seq as a string", None),  # type: ignore[arg-type]
        ("seq-negative", js(batch(seq=-1)), "schema_violation", "a negative seq", None),
        ("seq-too-big", js(batch(seq=2**63)), "schema_violation", "a seq beyond int64", None),
        ("readings-object", js(batch(readings={"0": reading()})), "schema_violation", "readings as an object", None),
        ("readings-empty", js(batch(readings=[])), "schema_violation", "no readings at all", None),
        ("ts-epoch-int", js(batch(reading(ts=1709294400))), "schema_violation", "ts as a Unix number", None),
        ("ts-naive", js(batch(reading(ts="2024-03-01T12:00:00"))), "schema_violation", "ts without a time zone", None),
        ("ts-leap-second", js(batch(reading(ts="2016-12-31T23:59:60Z"))), "schema_violation", "a leap second", None),
        ("quality-unknown", js(batch(reading(quality="excellent"))), "schema_violation", "a quality outside the vocabulary", None),
        ("values-empty", js(batch(reading(values={}))), "schema_violation", "a reading with no values", None),
        ("extra-field", js(batch(colour="green")), "unexpected_field", "a field the schema does not define", None),
        ("extra-reading-field", js(batch(reading(subject="p-7f3a9c"))), "unexpected_field", "an identifier smuggled into a reading", None),
        # numbers
        ("nan", js(batch(reading(values={"active_power_w": float("nan")}))), "non_finite_value", "NaN", None),
        ("infinity", js(batch(reading(values={"active_power_w": float("inf")}))), "non_finite_value", "Infinity", None),
        ("minus-infinity", js(batch(reading(values={"active_power_w": float("-inf")}))), "non_finite_value", "-Infinity", None),
        ("overflow-1e999", good.replace(b"1001.0", b"1e999"), "non_finite_value", "a literal that overflows float64", None),
        ("overflow-400-digit-int", good.replace(b"1001.0", b"1" + b"0" * 400), "non_finite_value", "a 400-digit integer", None),
        ("absurd-max-float", js(batch(reading(values={"active_power_w": 1.7976931348623157e308}), seq=11)), "accepted",
         "the largest float64: finite, so stored as read (no plausibility range in v1)", None),
        ("absurd-negative-voltage", js(batch(reading(2, values={"voltage_l1_v": -1e20}), seq=12)), "accepted",
         "absurd but finite: stored as read; the edge flags counter jumps, not voltages", None),
        ("absurd-subnormal", js(batch(reading(3, values={"active_power_w": 5e-324}), seq=13)), "accepted",
         "the smallest float64 survives line protocol exactly", None),
        # quantities and ids
        ("unknown-quantity", js(batch(reading(values={"watts": 1.0}))), "unknown_quantity", "a quantity outside the vocabulary", None),
        ("device-uppercase", js(batch(reading(device="Main Incomer"))), "invalid_id", "an id with capitals and a space", None),
        ("device-nul", js(batch(reading(device="m\u0000"))), "invalid_id", "a NUL byte in an id", None),
        ("device-line-protocol", js(batch(reading(device="m1,site=other"))), "invalid_id", "line-protocol injection in a tag", None),
        ("device-too-long", js(batch(reading(device="m" * 64))), "invalid_id", "an id of 64 characters", None),
        ("gateway-mismatch", js(batch(gateway="gw-02")), "gateway_mismatch", "the payload claims another gateway than its topic", None),
        ("gateway-mismatch-duplicate-key", good[:-1] + b',"gateway":"gw-02"}', "gateway_mismatch",
         "a second gateway key (the last one wins, as in most parsers)", None),
        ("unknown-device", js(batch(reading(4, device="never-configured"), seq=14)), "accepted",
         "the ingestor has no device registry: a new device is stored (no building tag)", None),
        # timestamps
        ("ts-far-future", js(batch(reading(ts="2999-01-01T00:00:00Z"))), "future_timestamp", "a gateway clock a millennium ahead", None),
        ("ts-year-9999", js(batch(reading(ts="9999-12-31T23:59:59.999Z"))), "future_timestamp", "the last representable instant", None),
        ("ts-before-1677", js(batch(reading(ts="1600-01-01T00:00:00Z"))), "timestamp_out_of_range", "before InfluxDB's int64 nanoseconds", None),
        ("ts-1970", js(batch(reading(ts="1970-01-01T00:00:00Z"), seq=15)), "accepted",
         "a gateway without RTC that never got NTP: stored at 1970 as read (nothing lost, visible in Grafana)", None),
        ("ts-offset-plus14", js(batch(reading(ts="2024-03-02T02:00:05+14:00"), seq=16)), "accepted",
         "an offset of +14:00 is the same instant as 2024-03-01T12:00:05Z", None),
        ("ts-nanoseconds", js(batch(reading(6, ts="2024-03-01T12:00:06.123456789Z"), seq=17)), "accepted",
         "nanosecond digits: kept to the microsecond", None),
        # duplicates and sizes
        ("duplicate-seq-a", js(batch(reading(20), seq=100)), "accepted", "seq 100, first time", None),
        ("duplicate-seq-b", js(batch(reading(20), seq=100)), "accepted", "seq 100 again, same readings (a redelivery): stored once", None),
        ("duplicate-seq-other-readings", js(batch(reading(21), seq=100)), "accepted",
         "seq 100 reused with other readings (a gateway whose buffer was wiped): both stored, seq is not a key", None),
        ("duplicate-value-key", good.replace(b'"energy_import_kwh"', b'"active_power_w"'), "accepted",
         "a duplicate key inside values: the last value wins", None),
        ("huge-values-map", js(batch(reading(values=huge_values))), "unknown_quantity",
         "50,000 made-up quantities in one reading (900 KB)", None),
        ("huge-readings-array", js(batch(*tiny_readings)), "schema_violation",
         "10,001 readings in one batch, one more than MAX_READINGS_PER_BATCH (700 KB)", None),
        ("oversized", js(batch(reading(), pad="x" * 1_100_000)), "payload_too_large",
         "over the 1 MB payload limit", None),
        # topics
        ("topic-site-invalid", good, "invalid_topic", "a site id with capitals and a space", "greenwire/v1/Campus A/gw-01/readings"),
        ("topic-gateway-too-long", good, "invalid_topic", "a 70-character gateway id", f"greenwire/v1/hostile/{'g' * 70}/readings"),
    ]
    return out


STORED_LIMIT = 64 * 1024
"""Bigger payloads are not committed: ``load()`` builds them again from ``cases()``."""


def main() -> None:
    payloads = HERE / "payloads"
    payloads.mkdir(exist_ok=True)
    for old in payloads.iterdir():
        old.unlink()
    manifest = []
    for index, (name, payload, expect, why, topic) in enumerate(cases(), start=1):
        file = f"{index:02d}-{name}.bin"
        if len(payload) <= STORED_LIMIT:
            (payloads / file).write_bytes(payload)
        manifest.append({"name": name, "file": file if len(payload) <= STORED_LIMIT else None,
                         "bytes": len(payload), "topic": topic or TOPIC, "expect": expect, "why": why})
    (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")


def load() -> list[tuple[dict[str, Any], bytes]]:
    """Every case with its payload: from ``payloads/`` where committed, else built again."""
    built = {name: payload for name, payload, *_ in cases()}
    out = []
    for entry in json.loads((HERE / "MANIFEST.json").read_text()):
        payload = (HERE / "payloads" / entry["file"]).read_bytes() if entry["file"] else built[entry["name"]]
        out.append((entry, payload))
    return out


if __name__ == "__main__":
    main()
