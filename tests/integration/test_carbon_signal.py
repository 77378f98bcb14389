"""The building's carbon signal from what ``grid run`` stored, through real InfluxDB and Mosquitto.

``GridService`` polls the recorded provider (NESO's 2022 GB hourly record, replayed on the clock)
and writes ``grid_intensity`` (actuals, and the forecast tagged ``status=forecast``) to InfluxDB;
``CarbonService`` then reads it back with a meter's readings and publishes the retained
``greenwire.carbon.v1`` signal. Its best windows must be those the grid's own path computes from
the provider's answer (two routes, one answer), its forecast the provider's, and it must validate
against the checked-in JSON Schema.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import orjson
import pytest

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.carbon.intensity import load_csv
from greenwire.cloud.carbon.service import CarbonService
from greenwire.cloud.grid.config import ZoneFeed
from greenwire.cloud.grid.recorded import RecordedConnector
from greenwire.cloud.grid.service import GridService
from greenwire.cloud.grid.windows import best_windows, windows_json
from greenwire.cloud.sites import Building
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.shared.lineprotocol import SeriesPrefix
from greenwire.transport.mqtt import BrokerSettings
from tests.integration.test_edge_publish import Subscriber

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
RECORD = ROOT / "tests" / "data" / "neso-gb-2022-hourly.csv"
REPLAY_FROM = datetime(2022, 3, 16, 12, tzinfo=UTC)


def test_the_signal_carries_the_stored_forecast_and_its_best_windows(
    influxdb: InfluxDB1, influx_db: str, mosquitto: Mosquitto
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    influx = InfluxV1(influxdb.url, influx_db)
    # A meter drawing a steady 40 kW for the last 90 minutes, read every minute.
    prefix = SeriesPrefix("readings", {"site": "s", "gateway": "gw-c", "device": "m"})
    influxdb.write(influx_db, [
        prefix.line({"energy_import_kwh": 5000.0 + 40.0 * k / 60, "quality": "good"},
                    int((now - timedelta(minutes=90 - k)).timestamp()) * 10**9)
        for k in range(91)
    ])
    # The record plays from the start of this wall-clock hour, one recorded hour a wall hour.
    connector = RecordedConnector(load_csv(RECORD, zone="GB"), replay_from=REPLAY_FROM,
                                  started_at=now.replace(minute=0), speed=1.0)
    feed = ZoneFeed(zone="GB", provider="recorded", recording=RECORD, replay_from=REPLAY_FROM)
    grid = GridService([feed], influx=influx, connector=lambda _feed: connector, clock=lambda: now)
    assert asyncio.run(grid.run(asyncio.Event(), once=True)) is True

    building = Building.model_validate({"id": "b", "floor_area_m2": 100, "zone": "GB", "timezone": "Europe/London",
                                        "meters": [{"gateway": "gw-c", "device": "m", "role": "grid_import"}]})
    carbon = CarbonService(influx, [("s", building)], clock=lambda: now + timedelta(seconds=20),
                           signal=BrokerSettings(mosquitto.host, mosquitto.port, "test-carbon-signal"))
    assert asyncio.run(carbon.run(asyncio.Event(), once=True)) is True, carbon.error
    bms = Subscriber(mosquitto.host, mosquitto.port, "greenwire/v1/s/carbon/b")
    try:
        deadline = time.time() + 20
        while not bms.messages and time.time() < deadline:
            time.sleep(0.05)
        assert bms.messages, "no retained carbon signal"
        signal = orjson.loads(bms.messages[-1][1])
    finally:
        bms.close()

    schema = json.loads((ROOT / "shared" / "schemas" / "greenwire.carbon.v1.json").read_text())
    jsonschema.validate(signal, schema)
    answer = asyncio.run(connector.fetch("GB", now=now))
    last_minute = answer.at(now - timedelta(minutes=1))  # the newest measured minute's grid intensity
    assert last_minute is not None and signal["grid_intensity_g_per_kwh"] == pytest.approx(last_minute.g_per_kwh)
    # Two routes, one answer: the grid's windows of the provider's answer, and the engine's of
    # what InfluxDB holds.
    assert signal["best_windows"] == windows_json(best_windows(answer, now))
    assert [w["duration_h"] for w in signal["best_windows"]] == [1, 2, 4, 8]
    assert all(w["start"] is not None for w in signal["best_windows"])
    ahead = [p for p in answer.forecasts if p.end > now and p.start < now + timedelta(hours=24)]
    assert len(ahead) >= 23
    assert [(f["start"], f["g_per_kwh"]) for f in signal["forecast"]] == [
        (f"{p.start:%Y-%m-%dT%H:%M:%SZ}", round(p.g_per_kwh, 3)) for p in ahead]
    assert signal["forecast_source"] == "a recorded series replayed on the clock"
    assert signal["forecast_load_kw"] == pytest.approx(40.0, rel=1e-3)
    for period in signal["forecast"]:
        assert period["emission_rate_kg_per_h"] == pytest.approx(period["g_per_kwh"] * 40.0 / 1000, rel=1e-3)
