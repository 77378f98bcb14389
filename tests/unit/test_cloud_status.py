"""Gateway status and ingest self-metrics as points: what the Fleet dashboard reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from greenwire.cloud.ingest.pipeline import IngestStats
from greenwire.cloud.ingest.selfmetrics import SelfMetrics
from greenwire.cloud.ingest.status import StatusAccepted, status_points
from greenwire.cloud.ingest.validate import Rejected, RejectReason
from greenwire.shared.wire import ReadingsBatch
from greenwire.transport.publisher import status_payload

TOPIC = "greenwire/v1/campus-a/gw-01/status"
NOW = datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC)


def _health(ts: str = "2026-11-22T10:00:00.000Z", **extra: object) -> bytes:
    message = orjson.loads(status_payload("gw-01", "online", version="0.1.0", config_hash="abcd", **extra))
    message["ts"] = ts
    return orjson.dumps(message)


def test_health_status_becomes_a_gateway_point_and_one_point_per_device() -> None:
    payload = _health(
        devices=[
            {"device": "main", "bus": "plant", "online": True, "reads": 12, "errors": 0, "poll_latency_ms": 8.5,
             "last_read": "2026-11-22T09:59:59.000Z"},
            {"device": "absent", "bus": "plant", "online": False, "reads": 0, "errors": 7, "poll_latency_ms": None,
             "last_read": None},
        ],
        buffer={"readings": 40, "batches": 2, "oldest_reading_age_s": 12.5, "dropped_readings": 3},
        process={"cpu_pct": 1.5, "rss_mb": 50.2, "peak_rss_mb": 60.0},
    )
    out = status_points(TOPIC, payload, received=NOW, max_future_s=300,
                        building_of=lambda s, g, d: "b2" if d == "main" else None)
    assert isinstance(out, StatusAccepted)
    ns = 1795341600000000000  # date -u -d 2026-11-22T10:00:00Z +%s
    assert out.lines == [
        f'gateway_status,gateway=gw-01,site=campus-a online=1i,state="online",buffer_readings=40i,'
        f"buffer_batches=2i,oldest_reading_age_s=12.5,dropped_readings=3i,devices_online=1i,devices_total=2i,"
        f"cpu_pct=1.5,rss_mb=50.2 {ns}",
        f"gateway_device,building=b2,bus=plant,device=main,gateway=gw-01,site=campus-a "
        f"online=1i,reads=12i,errors=0i,poll_latency_ms=8.5 {ns}",
        f"gateway_device,bus=plant,device=absent,gateway=gw-01,site=campus-a online=0i,reads=0i,errors=7i {ns}",
    ]


def test_a_last_will_is_stored_when_it_arrives_not_when_it_was_built() -> None:
    will = orjson.loads(status_payload("gw-01", "offline", reason="lost"))
    will["ts"] = "2026-11-20T08:00:00.000Z"  # the connect, two days before the loss
    out = status_points(TOPIC, orjson.dumps(will), received=NOW, max_future_s=300)
    assert isinstance(out, StatusAccepted)
    assert out.lines == [f'gateway_status,gateway=gw-01,site=campus-a online=0i,state="offline",reason="lost" '
                         f"{int(NOW.timestamp()) * 10**9}"]
    shutdown = orjson.loads(status_payload("gw-01", "offline", reason="shutdown"))
    shutdown["ts"] = "2026-11-22T09:00:00.000Z"
    out = status_points(TOPIC, orjson.dumps(shutdown), received=NOW, max_future_s=300)
    assert isinstance(out, StatusAccepted) and out.lines[0].endswith(" 1795338000000000000")


def test_bad_status_messages_are_rejected_with_a_reason() -> None:
    cases = {
        b"{not json": RejectReason.MALFORMED_JSON,
        b"[]": RejectReason.UNKNOWN_SCHEMA,
        orjson.dumps({"schema": "greenwire.readings.v1", "gateway": "gw-01"}): RejectReason.UNKNOWN_SCHEMA,
        _health(colour="red"): RejectReason.UNEXPECTED_FIELD,
        _health(buffer={"readings": -1, "batches": 0, "dropped_readings": 0}): RejectReason.SCHEMA_VIOLATION,
        _health(ts="2026-11-22T11:00:00.000Z"): RejectReason.FUTURE_TIMESTAMP,
    }
    for payload, reason in cases.items():
        out = status_points(TOPIC, payload, received=NOW, max_future_s=300)
        assert isinstance(out, Rejected) and out.reason is reason, (payload, out)
    other = status_points("greenwire/v1/campus-a/gw-02/status", _health(), received=NOW, max_future_s=300)
    assert isinstance(other, Rejected) and other.reason is RejectReason.GATEWAY_MISMATCH
    wrong_topic = status_points("greenwire/v1/campus-a/gw-01/readings", _health(), received=NOW, max_future_s=300)
    assert isinstance(wrong_topic, Rejected) and wrong_topic.reason is RejectReason.INVALID_TOPIC


def _batch(*offsets_s: float) -> ReadingsBatch:
    return ReadingsBatch.model_validate({
        "schema": "greenwire.readings.v1", "gateway": "gw-01", "seq": 1, "sent_at": NOW,
        "readings": [{"ts": NOW - timedelta(seconds=s), "device": "m", "values": {"active_power_w": 1.0}}
                     for s in offsets_s],
    }, strict=False)


def test_ingest_lag_per_gateway_and_counters() -> None:
    metrics = SelfMetrics("ingest-1", clock_ns=lambda: 42)
    received = int(NOW.timestamp()) * 10**9
    metrics.observe("campus-a", "gw-01", _batch(3600, 10), received)   # a backlog: an hour old
    metrics.observe("campus-a", "gw-01", _batch(2.5, 1.5), received)   # live
    metrics.observe("campus-b", "gw-07", _batch(4), received)
    stats = IngestStats(received_messages=3, accepted_messages=3, readings_written=5, acked_messages=3)
    stats.rejected["malformed_json"] = 2
    lines = metrics.lines(stats)
    assert lines[0] == ("ingest_lag,gateway=gw-01,instance=ingest-1,site=campus-a "
                        "lag_max_s=3600,lag_newest_s=1.5,messages=2i,readings=4i 42")
    assert lines[1] == ("ingest_lag,gateway=gw-07,instance=ingest-1,site=campus-b "
                        "lag_max_s=4,lag_newest_s=4,messages=1i,readings=1i 42")
    assert lines[2].startswith("ingest_stats,instance=ingest-1 received_messages=3i,accepted_messages=3i,"
                               "readings_written=5i,rejected_total=2i,acked_messages=3i,")
    # A new interval: no messages, so no lag point; the counters are still written.
    assert [line.split(",")[0] for line in metrics.lines(stats)] == ["ingest_stats"]


def _care_status(**extra: object) -> bytes:
    return _health(
        wearables=[{"source": "ward-hub", "online": True, "polls": 40, "errors": 1, "received": 1200,
                    "forwarded": 1100, "rejected": {"no_consent": 90, "duplicate": 10},
                    "last_poll": "2026-11-22T09:59:58.000Z", "throttled": 2, "search_restarts": 0}],
        vitals_buffer={"observations": 5, "published": 1095}, **extra)


def test_a_care_gateway_status_is_v2_and_stores_its_wearable_counters() -> None:
    payload = _care_status(buffer={"readings": 0, "batches": 0, "oldest_reading_age_s": None,
                                   "dropped_readings": 0})
    assert orjson.loads(payload)["schema"] == "greenwire.status.v2"
    out = status_points(TOPIC, payload, received=NOW, max_future_s=300)
    assert isinstance(out, StatusAccepted), out
    ns = 1795341600000000000
    assert out.lines == [
        f'gateway_status,gateway=gw-01,site=campus-a online=1i,state="online",buffer_readings=0i,'
        f"buffer_batches=0i,oldest_reading_age_s=0,dropped_readings=0i,wearables_received=1200i,"
        f"wearables_forwarded=1100i,wearables_rejected=100i,vitals_buffer_observations=5i,"
        f"vitals_published=1095i {ns}",
        f"gateway_wearable,gateway=gw-01,site=campus-a,source=ward-hub online=1i,polls=40i,errors=1i,"
        f"received=1200i,forwarded=1100i,rejected=100i,rejected_duplicate=10i,rejected_no_consent=90i,"
        f"throttled=2i,search_restarts=0i {ns}",
    ]


def test_v1_stays_accepted_and_strict() -> None:
    # A v1 gateway (no wearables) is unchanged; wearable counters under v1 are still an unexpected field.
    assert orjson.loads(_health())["schema"] == "greenwire.status.v1"
    assert isinstance(status_points(TOPIC, _health(), received=NOW, max_future_s=300), StatusAccepted)
    message = orjson.loads(_care_status())
    message["schema"] = "greenwire.status.v1"
    out = status_points(TOPIC, orjson.dumps(message), received=NOW, max_future_s=300)
    assert isinstance(out, Rejected) and out.reason is RejectReason.UNEXPECTED_FIELD
    assert out.detail == "wearables: unexpected field"
    message["schema"] = "greenwire.status.v9"
    out = status_points(TOPIC, orjson.dumps(message), received=NOW, max_future_s=300)
    assert isinstance(out, Rejected) and out.reason is RejectReason.UNKNOWN_SCHEMA
    bad = orjson.loads(_care_status())
    bad["wearables"][0]["rejected"] = {"Patient/pat-1": 1}  # a reason code, never an identifier
    out = status_points(TOPIC, orjson.dumps(bad), received=NOW, max_future_s=300)
    assert isinstance(out, Rejected) and out.reason is RejectReason.SCHEMA_VIOLATION


def test_a_v3_status_stores_the_end_to_end_commit_figures() -> None:
    delivery = {"mode": "commit", "uncommitted_readings": 40, "uncommitted_batches": 2,
                "oldest_uncommitted_age_s": 1.5, "resent_batches": 3, "committed_readings": 9000}
    message = orjson.loads(_health())
    message.update(schema="greenwire.status.v3", delivery=delivery)
    out = status_points(TOPIC, orjson.dumps(message), received=NOW, max_future_s=300)
    assert isinstance(out, StatusAccepted), out
    assert ('delivery_mode="commit",uncommitted_readings=40i,uncommitted_batches=2i,'
            "oldest_uncommitted_age_s=1.5,resent_batches=3i,committed_readings=9000i") in out.lines[0]
    message["delivery"] = {**delivery, "mode": "trust-me"}
    out = status_points(TOPIC, orjson.dumps(message), received=NOW, max_future_s=300)
    assert isinstance(out, Rejected) and out.reason is RejectReason.SCHEMA_VIOLATION
    message["schema"] = "greenwire.status.v2"
    message["delivery"] = delivery
    out = status_points(TOPIC, orjson.dumps(message), received=NOW, max_future_s=300)
    assert isinstance(out, Rejected) and out.reason is RejectReason.UNEXPECTED_FIELD


def test_checked_in_status_schemas_are_current_and_describe_the_messages() -> None:
    import json
    from pathlib import Path

    import jsonschema

    from greenwire.shared.status import status_json_schema

    schemas = Path(__file__).parents[2] / "shared" / "schemas"
    for version in (1, 2, 3):
        stored = json.loads((schemas / f"greenwire.status.v{version}.json").read_text())
        assert stored == status_json_schema(version), "shared/schemas is stale: run `greenwire schema --write`"
    jsonschema.validate(orjson.loads(_care_status()), status_json_schema(2))
    jsonschema.validate(orjson.loads(_health()), status_json_schema(1))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(orjson.loads(_care_status()), status_json_schema(1))
