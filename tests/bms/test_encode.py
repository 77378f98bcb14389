"""The BMS point list and its encoding, without servers: signal -> values -> register words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.cloud.bms.encode import (
    CarbonSignal,
    Rejected,
    decode,
    parse_signal,
    point_values,
    registers,
)
from greenwire.cloud.bms.points import (
    BANDS,
    BY_NAME,
    MAP_VERSION,
    POINTS,
    REGISTER_COUNT,
    as_csv,
    as_json,
    as_markdown,
)
from greenwire.cloud.carbon.bands import NAMES
from greenwire.cloud.carbon.signal import signal_payload
from greenwire.cloud.sites import Building

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
TS = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _building() -> Building:
    return Building.model_validate({"id": "b2", "zone": "GB", "timezone": "Europe/London", "floor_area_m2": 1000, "meters": [
        {"gateway": "gw-01", "device": "main", "role": "grid_import"}]})


def _payload(**extra: object) -> bytes:
    """A signal as the carbon service builds it (``signal_payload``), with fields it may gain."""
    base = orjson.loads(signal_payload("campus", _building(), (TS, 231.44, 12.3456), 48.125, 229.0, 100.0))
    return orjson.dumps({**base, **extra})


def test_the_docs_the_files_and_the_code_agree() -> None:
    assert as_markdown() in (ROOT / "docs" / "bms.md").read_text(), "regenerate the table in docs/bms.md"
    assert (ROOT / "cloud" / "bms" / "bms-points.json").read_text() == as_json()
    assert (ROOT / "cloud" / "bms" / "bms-registers.csv").read_text() == as_csv()
    document = json.loads(as_json())
    assert document["map_version"] == MAP_VERSION == 1
    assert [p["name"] for p in document["points"]] == [p.name for p in POINTS]


def test_the_map_has_no_overlaps_and_bands_are_the_carbon_engines() -> None:
    taken: set[int] = set()
    for point in POINTS:
        cells = set(range(point.address, point.address + point.count))
        assert not taken & cells, point.name
        taken |= cells
    assert taken == set(range(REGISTER_COUNT)) and REGISTER_COUNT == 34 <= 125  # one read request
    assert BANDS == NAMES


def test_a_signal_encodes_to_the_documented_words() -> None:
    signal = parse_signal(_payload())
    assert isinstance(signal, CarbonSignal)
    block = registers(point_values(signal, NOW, heartbeat=7))
    at = {p.name: p.address for p in POINTS}
    assert block[at["map_version"]] == 1
    assert block[at["status_code"]] == 0
    assert block[at["heartbeat"]] == 7
    assert block[at["data_age_s"]] == 30
    assert block[at["intensity_g_per_kwh"]] == 2314  # 231.44 at 0.1
    assert block[at["grid_intensity_g_per_kwh"]] == 2290
    assert block[at["grid_band"]] == BANDS.index(orjson.loads(_payload())["grid_band"])
    assert block[at["today_budget_used_pct"]] == 481  # 48.125 of 100 kg
    assert block[8:10] == [0, 12346]  # 12.3456 kg/h at 0.001, high word first
    assert block[10:12] == [0, 48125]
    assert (block[12] << 16 | block[13]) == int(TS.timestamp())
    assert block[14:34] == [0xFFFF, 0xFFFF, 0x8000, 0xFFFF, 0xFFFF] * 4  # no best windows in this signal


def test_best_windows_when_the_signal_carries_them() -> None:
    start = NOW + timedelta(hours=3)
    windows = [{"duration_h": 2, "start": start.isoformat().replace("+00:00", "Z"), "end": "x",
                "g_per_kwh": 152.5, "now_g_per_kwh": 231.0, "saving_g_per_kwh": 78.5, "saving_percent": 33.98},
               {"duration_h": 8, "start": None, "end": None, "g_per_kwh": None, "reason": "gap"}]
    signal = parse_signal(_payload(best_windows=windows, forecast_emission_rate_kg_per_h=[1, 2]))
    assert isinstance(signal, CarbonSignal)
    values = decode(registers(point_values(signal, NOW, heartbeat=0)))
    assert values["best_2h_start_in_min"] == 180
    assert values["best_2h_g_per_kwh"] == pytest.approx(152.5)
    assert values["best_2h_saving_pct"] == pytest.approx(34.0)
    assert values["best_2h_start_time"] == start.timestamp()
    assert values["best_1h_g_per_kwh"] is None and values["best_8h_start_time"] is None


def test_stale_no_signal_and_no_budget_are_said_not_guessed() -> None:
    signal = parse_signal(_payload(today_budget_kgco2e=None))
    assert isinstance(signal, CarbonSignal)
    later = TS + timedelta(minutes=6)
    values = point_values(signal, later, heartbeat=70000)
    assert values["status_code"] == 1 and values["data_age_s"] == 360 and values["heartbeat"] == 70000 % 65536
    assert values["today_budget_used_pct"] is None
    nothing = decode(registers(point_values(None, NOW, heartbeat=1)))
    assert nothing["status_code"] == 2 and nothing["map_version"] == 1
    assert all(nothing[name] is None for name in ("intensity_g_per_kwh", "data_age_s", "today_kgco2e"))
    week = point_values(signal, TS + timedelta(days=7), heartbeat=0)
    assert week["data_age_s"] == 65534  # saturates, never wraps to a small age


def test_rejected_payloads_say_why() -> None:
    assert isinstance(parse_signal(b"{"), Rejected)
    wrong = parse_signal(orjson.dumps({**orjson.loads(_payload()), "schema": "greenwire.carbon.v2"}))
    assert isinstance(wrong, Rejected) and "schema" in wrong.reason
    negative = parse_signal(orjson.dumps({**orjson.loads(_payload()), "intensity_g_per_kwh": -1}))
    assert isinstance(negative, Rejected) and "intensity_g_per_kwh" in negative.reason


@given(st.floats(min_value=0, max_value=6553.4), st.floats(min_value=0, max_value=4_000_000))
def test_decode_inverts_encode_within_a_step(intensity: float, kg: float) -> None:
    values = {p.name: None for p in POINTS} | {"intensity_g_per_kwh": intensity, "today_kgco2e": kg}
    back = decode(registers(values))
    assert back["intensity_g_per_kwh"] == pytest.approx(intensity, abs=BY_NAME["intensity_g_per_kwh"].scale / 2)
    assert back["today_kgco2e"] == pytest.approx(kg, abs=0.0006)


def test_out_of_range_is_not_available_rather_than_clipped() -> None:
    values = {p.name: None for p in POINTS} | {"intensity_g_per_kwh": 7000.0, "today_kgco2e": -5.0}
    back = decode(registers(values))
    assert back["intensity_g_per_kwh"] is None and back["today_kgco2e"] is None


def test_points_command_prints_the_files() -> None:
    from typer.testing import CliRunner

    from greenwire.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["bms", "points", "--csv"]).output == as_csv()
    assert runner.invoke(app, ["bms", "points", "--json"]).output == as_json()
    table = runner.invoke(app, ["bms", "points"]).output
    assert "register map version 1" in table and "32-33  best_8h_start_time" in table


def test_bms_config_errors_name_the_line() -> None:
    from greenwire.cloud.bms.config import parse_config
    from greenwire.shared.errors import ConfigError

    good = parse_config("buildings:\n  - {site: a, building: b2, unit: 1}\n")
    assert (good.modbus.host, good.modbus.port, good.bacnet.port, good.client_id()) == (
        "127.0.0.1", 502, 47808, "greenwire-bms")
    with pytest.raises(ConfigError, match=r"bms.yaml:3:.*buildings\[1\]\.unit: unit 1 is already buildings\[0\]"):
        parse_config("buildings:\n  - {site: a, building: b2, unit: 1}\n  - {site: a, building: b3, unit: 1}\n",
                     source="bms.yaml")
    with pytest.raises(ConfigError, match=r"bms.yaml:3:.*unit"):
        parse_config("buildings:\n  - site: a\n    unit: 300\n    building: b\n", source="bms.yaml")
    with pytest.raises(ConfigError, match="IPv4 address with its prefix"):
        parse_config("buildings:\n  - {site: a, building: b2, unit: 1}\nbacnet:\n  address: nowhere\n")


def test_a_bad_message_never_replaces_a_good_signal() -> None:
    from greenwire.cloud.bms.source import Signals

    signals = Signals((("campus", "b2"),))
    topic = "greenwire/v1/campus/carbon/b2"
    assert isinstance(signals.receive(topic, _payload()), CarbonSignal)
    assert isinstance(signals.receive(topic, b"not json"), Rejected)
    other = orjson.dumps({**orjson.loads(_payload()), "building": "b9"})
    assert isinstance(signals.receive(topic, other), Rejected)
    kept = signals.get("campus", "b2")
    assert kept is not None and kept.intensity_g_per_kwh == 231.44
    assert (signals.rejected, signals.last_rejection) == (2, f"{topic}: the payload is campus/b9's")
    assert signals.receive(topic, b"") is None and signals.get("campus", "b2") is None  # topic cleared
    assert isinstance(signals.receive("greenwire/v1/campus/carbon/b3", _payload()), Rejected)


def test_the_example_config_is_valid() -> None:
    from greenwire.cloud.bms.config import load_config

    config = load_config(ROOT / "cloud" / "bms" / "bms.example.yaml")
    assert [b.unit for b in config.buildings] == [1, 2] and config.modbus.port == 5020
