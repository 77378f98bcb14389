"""greenwire.cloud.ingest.fastpath: the published contract in its types, its caches, its hand-overs.

The differential test (``test_fastpath_differential.py``) compares outcomes; this
one checks that the fast decoder's constraints are the published schema's, read
from ``shared/schemas`` (which ``test_wire.py`` keeps equal to the pydantic
models, the one source of truth), and the parts of the codec that outcomes do
not show: bounded caches, what is handed to the reference, the PUBACK batching.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec.inspect as mi
import paho.mqtt.client as mqtt

from greenwire.cloud.adapters.mqtt import send_pubacks
from greenwire.cloud.ingest.config import IngestConfig
from greenwire.cloud.ingest.fastpath import (
    ID_RE,
    Encoded,
    FastPath,
    ReferencePath,
    Timestamp,
    WireBatch,
    make_codec,
)
from greenwire.shared.quantities import QUANTITIES

SCHEMA = json.loads((Path(__file__).parents[2] / "shared" / "schemas" / "greenwire.readings.v1.json").read_text())
TOPIC = "greenwire/v1/site-a/gw-01/readings"
NOW_NS = 1_795_341_600_000_000_000  # 2026-11-22T10:00:00Z


class Limits:
    max_payload_bytes = 1_048_576
    max_future_s = 300.0


def _fields(struct: Any) -> dict[str, Any]:
    return {f.encode_name: f for f in struct.fields}


def test_fast_decoder_holds_the_published_contract() -> None:
    batch = mi.type_info(WireBatch)
    assert isinstance(batch, mi.StructType) and batch.forbid_unknown_fields
    fields = _fields(batch)
    assert SCHEMA["additionalProperties"] is False
    assert set(SCHEMA["required"]) == {name for name, f in fields.items() if f.required} == set(SCHEMA["properties"])
    props = SCHEMA["properties"]
    assert fields["schema"].type.values == (props["schema"]["const"],)
    seq = fields["seq"].type
    assert (seq.ge, seq.le + 1) == (props["seq"]["minimum"], props["seq"]["exclusiveMaximum"])
    readings = fields["readings"].type
    assert (readings.min_length, readings.max_length) == (props["readings"]["minItems"], props["readings"]["maxItems"])
    assert fields["sent_at"].type == mi.DateTimeType(tz=True) == mi.type_info(Timestamp)
    assert props["sent_at"]["format"] == "date-time"
    # Ids are matched in Python (fullmatch, as pydantic's ^...$), the gateway through the topic's.
    for where in (props["gateway"], SCHEMA["$defs"]["Reading"]["properties"]["device"]):
        assert where["pattern"] == f"^{ID_RE.pattern}$"

    reading = readings.item_type
    assert reading.forbid_unknown_fields
    published = SCHEMA["$defs"]["Reading"]
    rfields = _fields(reading)
    assert published["additionalProperties"] is False
    assert set(published["required"]) == {name for name, f in rfields.items() if f.required}
    assert set(published["properties"]) == set(rfields)
    values = rfields["values"].type
    pvalues = published["properties"]["values"]
    assert (values.min_length, values.max_length) == (pvalues["minProperties"], pvalues["maxProperties"])
    assert set(values.key_type.values) == set(pvalues["propertyNames"]["enum"]) == set(QUANTITIES)
    assert isinstance(values.value_type, mi.FloatType) and pvalues["additionalProperties"] == {"type": "number"}
    quality = rfields["quality"]
    assert set(quality.type.values) == set(SCHEMA["$defs"]["Quality"]["enum"])
    assert quality.default == published["properties"]["quality"]["default"]
    # ts is read as text, then converted at once with the same type as sent_at.
    assert published["properties"]["ts"]["format"] == "date-time"


def _payload(devices: list[str], ts: str = "2026-11-22T09:59:59.812Z", value: str = "48210.5") -> bytes:
    readings = ",".join(f'{{"ts":"{ts}","device":"{d}","values":{{"active_power_w":{value}}}}}' for d in devices)
    return (f'{{"schema":"greenwire.readings.v1","gateway":"gw-01","seq":1,"sent_at":"{ts}",'
            f'"readings":[{readings}]}}').encode()


def test_caches_are_bounded() -> None:
    fast = FastPath(Limits(), max_series=10)
    for start in range(0, 300, 30):
        devices = [f"m{i}" for i in range(start, start + 30)]
        outcome = fast.encode(TOPIC, _payload(devices), NOW_NS)
        assert isinstance(outcome, Encoded) and len(outcome.lines) == 30
    assert sum(len(p) for p in (*fast._prefixes.values(), *fast._line_prefixes.values())) <= 30
    assert fast.handed_over == 0


def test_the_building_tag_and_the_reference_agree() -> None:
    def building_of(site: str, gateway: str, device: str) -> str | None:
        return "b 2" if device == "m1" else None

    payload = _payload(["m1", "m2", "m1"])
    fast, reference = FastPath(Limits(), building_of), ReferencePath(Limits(), building_of)
    outcome = fast.encode(TOPIC, payload, NOW_NS)
    assert outcome == reference.encode(TOPIC, payload, NOW_NS)
    assert isinstance(outcome, Encoded)
    assert outcome.lines[0].startswith(r"readings,building=b\ 2,device=m1,gateway=gw-01,site=site-a ")


def test_what_is_handed_to_the_reference() -> None:
    fast = FastPath(Limits())
    # Nanosecond digits: msgspec would round them, the reference truncates (and is the contract).
    outcome = fast.encode(TOPIC, _payload(["m1"], ts="2026-11-22T09:59:59.8129999Z"), NOW_NS)
    assert isinstance(outcome, Encoded) and outcome.lines[0].endswith(" 1795341599812999000")
    assert fast.handed_over == 1
    # A big value takes the second decoder and value-by-value formatting, not the reference.
    outcome = fast.encode(TOPIC, _payload(["m1"], value="1234567.5"), NOW_NS)
    assert isinstance(outcome, Encoded) and "active_power_w=1.2345675e+06," in outcome.lines[0]
    assert fast.handed_over == 1
    # Every reject is the reference's.
    assert not isinstance(fast.encode(TOPIC, _payload(["M1"]), NOW_NS), Encoded)
    assert fast.handed_over == 2


def test_the_compiled_pass_is_built_and_taken_first() -> None:
    # `make install` builds it (setup.py; scripts/install-system-deps.sh brings gcc and the headers).
    fast = FastPath(Limits())
    assert fast.describe().startswith("the compiled pass"), "cloud/ingest/_lines.c was not built: make install"
    outcome = fast.encode(TOPIC, _payload(["m1", "m2"]), NOW_NS)
    assert isinstance(outcome, Encoded) and outcome.count == 2
    assert (fast.compiled, fast.handed_over) == (1, 0)
    # without it, msgspec does the work and the outcome is the same
    msgspec_only = FastPath(Limits(), compiled=False)
    assert msgspec_only.encode(TOPIC, _payload(["m1", "m2"]), NOW_NS) == outcome
    assert msgspec_only.compiled == 0 and "turned off" in msgspec_only.describe()


def test_the_ingestor_takes_the_fast_path_by_default() -> None:
    config = IngestConfig.model_validate({"mqtt": {"url": "mqtt://127.0.0.1:1883"},
                                          "influx": {"api": "v1", "url": "http://127.0.0.1:8086",
                                                     "database": "greenwire"}})
    assert config.validation == "fast"
    assert isinstance(make_codec(config.validation, config.limits), FastPath)
    assert isinstance(make_codec("reference", config.limits), ReferencePath)


def test_pubacks_of_a_flush_are_the_bytes_paho_writes_one_by_one() -> None:
    mids = [1, 2, 300, 65535, 7]
    one_by_one = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    for mid in mids:
        one_by_one.ack(mid, 1)
    batched = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, manual_ack=True)
    send_pubacks(batched, mids)
    assert len(batched._out_packet) == 1
    packet = batched._out_packet[0]
    assert packet["command"] == mqtt.PUBACK
    assert bytes(packet["packet"]) == b"".join(bytes(p["packet"]) for p in one_by_one._out_packet)


def test_a_flood_of_gateway_ids_does_not_grow_the_caches() -> None:
    fast = FastPath(Limits(), max_series=50)
    for g in range(400):
        topic = f"greenwire/v1/site-a/gw-{g}/readings"
        payload = _payload(["m1"]).replace(b'"gateway":"gw-01"', f'"gateway":"gw-{g}"'.encode())
        assert isinstance(fast.encode(topic, payload, NOW_NS), Encoded)
    assert len(fast._prefixes) + len(fast._line_prefixes) <= 50
    assert fast.compiled == 400
