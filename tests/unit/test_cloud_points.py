"""greenwire.cloud.ingest.points: accepted batches become the documented InfluxDB schema, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.cloud.ingest.points import PointEncoder, _fields_slow, rejected_line, timestamp_ns
from greenwire.shared.wire import ReadingsBatch


def batch(readings: list[dict[str, object]], gateway: str = "gw-01") -> ReadingsBatch:
    return ReadingsBatch.model_validate_json(
        orjson.dumps(
            {"schema": "greenwire.readings.v1", "gateway": gateway, "seq": 1,
             "sent_at": "2026-11-22T10:00:01.250Z", "readings": readings}
        )
    )


def test_one_point_per_reading_with_sorted_tags_fields_in_order_and_read_time() -> None:
    lines = PointEncoder().lines(
        "campus-a",
        "gw-01",
        batch(
            [
                {"ts": "2026-11-22T10:00:00.812Z", "device": "main-incomer",
                 "values": {"active_power_w": 48210.5, "energy_import_kwh": 183442.61}},
                {"ts": "2026-11-22T10:00:00.900123Z", "device": "pv-1",
                 "values": {"active_power_w": -1200, "power_factor": 1e-7}, "quality": "counter_reset"},
            ]
        ),
    )
    assert lines == [
        "readings,device=main-incomer,gateway=gw-01,site=campus-a "
        'active_power_w=48210.5,energy_import_kwh=183442.61,quality="good" 1795341600812000000',
        "readings,device=pv-1,gateway=gw-01,site=campus-a "
        'active_power_w=-1200,power_factor=1e-07,quality="counter_reset" 1795341600900123000',
    ]


def test_building_tag_when_the_lookup_knows_the_device() -> None:
    asked: list[tuple[str, str, str]] = []

    def building_of(site: str, gateway: str, device: str) -> str | None:
        asked.append((site, gateway, device))
        return "b2" if device == "m1" else None

    encoder = PointEncoder(building_of)
    readings = [{"ts": "2026-11-22T10:00:00Z", "device": d, "values": {"co2_ppm": 415}} for d in ("m1", "m2", "m1")]
    lines = encoder.lines("campus-a", "gw-01", batch(readings))
    assert lines[0].startswith("readings,building=b2,device=m1,gateway=gw-01,site=campus-a ")
    assert lines[1].startswith("readings,device=m2,gateway=gw-01,site=campus-a ")
    assert asked == [("campus-a", "gw-01", "m1"), ("campus-a", "gw-01", "m2")], "looked up once per series"


def test_series_cache_is_bounded() -> None:
    encoder = PointEncoder(max_series=2)
    for i in range(5):
        readings = [{"ts": "2026-11-22T10:00:00Z", "device": f"m{i}", "values": {"co2_ppm": 415}}]
        line = encoder.lines("s", "g", batch(readings, gateway="g"))[0]
        assert line.startswith(f"readings,device=m{i},gateway=g,site=s ")
        assert len(encoder._prefixes) <= 2


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1, "0.1"), (123456.789, "123456.789"), (1e21, "1e+21"), (-0.987654321, "-0.987654321"),
     (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (0.0, "0"), (-0.0, "-0")],
)
def test_floats_round_trip_exactly(value: float, text: str) -> None:
    line = PointEncoder().lines(
        "s", "g", batch([{"ts": "2026-11-22T10:00:00Z", "device": "m", "values": {"active_power_w": value}}], "g")
    )[0]
    field = line.split(" ")[1].split(",")[0]
    assert field == f"active_power_w={text}"
    assert float(text) == value


def test_timestamps_are_exact_nanoseconds_from_any_offset() -> None:
    utc = datetime(2026, 11, 22, 10, 0, 0, 812_345, tzinfo=UTC)
    assert timestamp_ns(utc) == 1_795_341_600_812_345_000
    east = utc.astimezone(timezone(timedelta(hours=8)))
    assert timestamp_ns(east) == timestamp_ns(utc)
    assert timestamp_ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert timestamp_ns(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1000
    # Far from the epoch a float timestamp would lose the microseconds; the integer path does not.
    late = datetime(2262, 4, 11, 23, 47, 16, 854_775, tzinfo=UTC)
    assert timestamp_ns(late) == 9_223_372_036_854_775_000


def test_lines_carry_the_same_instant_whatever_the_offsets_in_a_batch() -> None:
    at = datetime(2026, 11, 22, 10, 0, 0, 812_345, tzinfo=UTC)
    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30)), UTC,
             timezone(timedelta(hours=8))]
    readings = [{"ts": (at + timedelta(seconds=i)).astimezone(z).isoformat(), "device": f"m{i}",
                 "values": {"active_power_w": 1.0}} for i, z in enumerate(zones)]
    stamps = [int(line.rsplit(" ", 1)[1]) for line in PointEncoder().lines("s", "g", batch(readings, "g"))]
    assert stamps == [1_795_341_600_812_345_000 + i * 1_000_000_000 for i in range(len(zones))]


def test_rejected_point_carries_reason_ids_when_known_and_size() -> None:
    assert (
        rejected_line("gateway_mismatch", size=734, received_ns=17, site="campus-a", gateway="gw-01")
        == "ingest_rejected,gateway=gw-01,reason=gateway_mismatch,site=campus-a bytes=734i 17"
    )
    assert rejected_line("invalid_topic", size=3, received_ns=18) == "ingest_rejected,reason=invalid_topic bytes=3i 18"


FAST_PATH_EDGES = [0.0, -0.0, 1e-4, -1e-4, 9.99e-5, 1e-5, 1.5e-7, 0.00012, 10.00001, 999_999.9999, 1e6, -1e6,
                   -999_999.5, 1234567.0, 230.0, 100.0, -1200.0, 0.1 + 0.2, 5e-324, 1e16, 1e21, 183442.61]


@pytest.mark.parametrize("value", FAST_PATH_EDGES)
def test_fast_field_formatting_is_format_float_at_the_edges(value: float) -> None:
    values = {"active_power_w": value, "energy_import_kwh": 183442.0, "power_factor": 0.95}
    line = PointEncoder().lines("s", "g", batch([{"ts": "2026-11-22T10:00:00Z", "device": "m", "values": values}], "g"))[0]
    assert line.split(" ")[1] == _fields_slow(values) + ',quality="good"'


NAMES = ["active_power_w", "energy_import_kwh", "voltage_l1_v", "voltage_l2_v", "voltage_l3_v",
         "current_l1_a", "frequency_hz", "power_factor"]


@given(st.lists(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=8),
                min_size=1, max_size=5))
def test_fast_field_formatting_is_format_float_for_any_values(rows: list[list[float]]) -> None:
    readings = [{"ts": "2026-11-22T10:00:00Z", "device": f"m{i}", "values": dict(zip(NAMES, row, strict=False))}
                for i, row in enumerate(rows)]
    encoder = PointEncoder()
    for _ in range(2):  # the second time through cached templates
        lines = encoder.lines("s", "g", batch(readings, "g"))
        assert [line.split(" ")[1] for line in lines] == [
            _fields_slow(r["values"]) + ',quality="good"' for r in readings
        ]


def test_one_reading_that_needs_an_exponent_leaves_the_others_exact() -> None:
    rows = [{"active_power_w": 230.0, "power_factor": 0.95}, {"active_power_w": 1.5e-7},
            {"active_power_w": 2.5e6, "power_factor": 1.0}, {"active_power_w": 10.00001}]
    readings = [{"ts": "2026-11-22T10:00:00Z", "device": f"m{i}", "values": v} for i, v in enumerate(rows)]
    fields = [line.split(" ")[1] for line in PointEncoder().lines("s", "g", batch(readings, "g"))]
    assert fields == [
        'active_power_w=230,power_factor=0.95,quality="good"',
        'active_power_w=1.5e-07,quality="good"',
        'active_power_w=2.5e+06,power_factor=1,quality="good"',
        'active_power_w=10.00001,quality="good"',
    ]
