"""The building's carbon signal: the zone's forecast with the building's emission rate, and the best windows.

By hand on a small forecast, then against the checked-in JSON Schema of ``greenwire.carbon.v1``:
the new fields validate, and a signal of the first v1 shape (without them) still does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import orjson
import pytest

from greenwire.cloud.bms.encode import CarbonSignal, decode, parse_signal, point_values, registers
from greenwire.cloud.carbon.signal import Forecast, outlook, present_kw, signal_payload
from greenwire.cloud.carbon.windows import BestWindow, NoWindow, Step
from greenwire.cloud.sites import Building
from greenwire.shared.intensity import IntensitySeries
from greenwire.shared.signal import carbon_json_schema

SCHEMA = json.loads((Path(__file__).parents[2] / "shared" / "schemas" / "greenwire.carbon.v1.json").read_text())
T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
BUILDING = Building.model_validate({"id": "b2", "zone": "GB", "timezone": "Europe/London", "floor_area_m2": 1000,
                                    "meters": [{"gateway": "gw-01", "device": "main", "role": "grid_import"}]})
LIVE = (T0 + timedelta(minutes=10), 300.0, 12.0)
"""A live window at 300 g/kWh and 12 kg/h: 40 kW."""


def _forecast(values: list[float], start: datetime = T0) -> Forecast:
    return Forecast("test forecast", tuple(Step(start + i * H, start + (i + 1) * H, v) for i, v in enumerate(values)))


def test_present_load_is_the_live_windows_mean_power() -> None:
    assert present_kw(LIVE) == pytest.approx(40.0)
    assert present_kw((T0, 0.0, 0.0)) is None


def test_forecast_and_windows_by_hand() -> None:
    now = T0 + timedelta(minutes=10)
    # The actual of the hour under way (320) wins over its forecast (10): no window can start on it.
    actual = IntensitySeries("GB", "average", "direct", "feed", (T0,), (320.0,), (H,))
    ahead = outlook(actual, _forecast([10, 200, 100, 400] + [500] * 30), now)
    assert ahead.source == "test forecast"
    assert [s.start for s in ahead.forecast][:2] == [T0, T0 + H] and ahead.forecast[-1].start < now + 24 * H
    one, two, four, eight = ahead.windows
    assert isinstance(one, BestWindow) and (one.start, one.mean_g_per_kwh) == (T0 + 2 * H, 100)
    # From now: 50 minutes at 320 and 10 at 200.
    assert one.now_mean_g_per_kwh == pytest.approx((50 * 320 + 10 * 200) / 60)
    assert isinstance(two, BestWindow) and (two.start, two.mean_g_per_kwh) == (T0 + H, 150)
    assert isinstance(four, BestWindow) and isinstance(eight, BestWindow)

    signal = orjson.loads(signal_payload("campus", BUILDING, LIVE, 48.0, 320.0, 100.0, ahead))
    jsonschema.validate(signal, SCHEMA)
    assert signal["forecast_source"] == "test forecast" and signal["forecast_load_kw"] == pytest.approx(40.0)
    first = signal["forecast"][1]
    assert first["start"] == "2026-12-02T11:00:00Z" and first["g_per_kwh"] == 200
    assert first["emission_rate_kg_per_h"] == pytest.approx(200 * 40 / 1000)
    assert [w["duration_h"] for w in signal["best_windows"]] == [1, 2, 4, 8]
    assert signal["best_windows"][0]["start"] == "2026-12-02T12:00:00Z"
    assert signal["best_windows"][0]["saving_g_per_kwh"] == pytest.approx(one.now_mean_g_per_kwh - 100)

    # What a BMS bridge makes of it: the best 1 h window starts in 110 minutes.
    parsed = parse_signal(orjson.dumps(signal))
    assert isinstance(parsed, CarbonSignal)
    values = decode(registers(point_values(parsed, now, heartbeat=0)))
    assert values["best_1h_start_in_min"] == 110 and values["best_1h_g_per_kwh"] == pytest.approx(100)


def test_without_a_forecast_no_window_is_invented() -> None:
    now = T0 + timedelta(minutes=10)
    ahead = outlook(None, None, now)
    assert ahead.source is None and ahead.forecast == ()
    assert all(isinstance(w, NoWindow) for w in ahead.windows)
    signal = orjson.loads(signal_payload("campus", BUILDING, LIVE, 48.0, 300.0, None, ahead))
    jsonschema.validate(signal, SCHEMA)
    assert signal["forecast"] == [] and all(w["start"] is None and w["reason"] for w in signal["best_windows"])
    # A forecast with a hole: the 4 h and 8 h windows do not bridge it.
    holed = Forecast("f", (*_forecast([100, 100, 100]).steps, *_forecast([50, 50], T0 + 4 * H).steps))
    one, two, four, _ = outlook(None, holed, T0, horizon=24 * H).windows
    assert isinstance(one, BestWindow) and one.start == T0 + 4 * H and one.mean_g_per_kwh == 50
    assert isinstance(two, BestWindow) and two.start == T0 + 4 * H
    assert isinstance(four, NoWindow)


def test_the_schema_is_checked_in_and_the_first_v1_shape_still_validates() -> None:
    assert carbon_json_schema() == SCHEMA, "shared/schemas is stale: run `greenwire schema --write`"
    old = orjson.loads(signal_payload("campus", BUILDING, LIVE, 48.0, 300.0))
    for added in ("today_budget_kgco2e", "forecast_source", "forecast_load_kw", "forecast", "best_windows"):
        old.pop(added)
    jsonschema.validate(old, SCHEMA)
    jsonschema.validate({**old, "a_field_of_a_later_v1": 1}, SCHEMA)  # consumers ignore what they do not know
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**old, "forecast": [{"start": "2026-12-02T10:00:00Z"}]}, SCHEMA)
