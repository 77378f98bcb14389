"""The recorded provider: NESO's 2022 GB hourly record replayed on the clock, as a provider answers.

Checked against the CSV read with the standard library (not the loader the connector uses), and
through ``GridService`` (the hold policy and the published forecast message are the real ones).
"""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from greenwire.cloud.carbon.intensity import load_csv
from greenwire.cloud.grid.config import parse_config
from greenwire.cloud.grid.errors import NoData
from greenwire.cloud.grid.recorded import RecordedConnector
from greenwire.cloud.grid.service import GridService
from greenwire.shared.errors import ConfigError

RECORD = Path(__file__).parents[1] / "data" / "neso-gb-2022-hourly.csv"
FROM = datetime(2022, 6, 1, 6, tzinfo=UTC)
WALL = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)


def _hours() -> dict[datetime, float]:
    with RECORD.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return {datetime.fromisoformat(r[0]).replace(tzinfo=UTC): float(r[1]) * 1000 for r in rows}


def _connector(speed: float) -> RecordedConnector:
    return RecordedConnector(load_csv(RECORD, zone="GB"), replay_from=FROM, started_at=WALL, speed=speed)


def test_an_answer_is_the_record_of_those_hours_on_the_clock() -> None:
    hours = _hours()
    connector = _connector(60.0)  # a recorded hour lasts a minute
    now = WALL + timedelta(minutes=3, seconds=20)  # 09:20 recorded
    assert connector.recorded(now) == FROM + timedelta(hours=3, minutes=20)
    series = asyncio.run(connector.fetch("GB", now=now))
    current = series.at(now)
    assert current is not None and current.status == "actual"
    assert current.g_per_kwh == pytest.approx(hours[FROM + timedelta(hours=3)])
    assert (current.start, current.end) == (WALL + timedelta(minutes=3), WALL + timedelta(minutes=4))
    forecast = series.forecasts
    assert len(forecast) == 48 and all(p.end - p.start == timedelta(minutes=1) for p in forecast)
    for k, point in enumerate(forecast):
        assert point.g_per_kwh == pytest.approx(hours[FROM + timedelta(hours=4 + k)])
    assert len(series.actuals) == 25  # the hour under way and the 24 before it


def test_the_forecast_message_best_window_is_the_records_cleanest_hour() -> None:
    hours = _hours()
    config = parse_config(f"zones:\n  - {{zone: GB, provider: recorded, recording: {RECORD}, "
                          f"replay_from: '{FROM.isoformat()}'}}\n")
    now = WALL + timedelta(seconds=30)
    service = GridService(config.zones, connector=lambda feed: _connector(feed.speed), clock=lambda: now)
    assert asyncio.run(service.run(asyncio.Event(), once=True)) is True
    last = service.stats.zones["GB"].last
    assert last is not None and last.intensity is not None
    assert orjson.loads(last.intensity)["g_per_kwh"] == pytest.approx(hours[FROM])
    message = orjson.loads(last.forecast)
    assert message["provider"] == "recorded" and message["current"]["status"] == "current"
    # Hourly steps: a window across two hours is never below the cleaner one, so the best 1 h
    # window is the cleanest whole hour that fits in the next 24 h (07:00 to 05:00 recorded).
    one = message["best_windows"][0]
    fits = [FROM + timedelta(hours=k) for k in range(1, 24)]
    cleanest = min(hours[h] for h in fits)
    assert one["g_per_kwh"] == pytest.approx(cleanest)
    start = datetime.fromisoformat(one["start"].replace("Z", "+00:00"))
    assert hours[FROM + (start - WALL)] == pytest.approx(cleanest)
    assert one["now_g_per_kwh"] == pytest.approx((hours[FROM] * 3570 + hours[FROM + timedelta(hours=1)] * 30) / 3600)


def test_past_the_record_there_is_no_value_and_bad_configs_say_why() -> None:
    connector = _connector(3600.0)  # a recorded hour a second: 2022 ends 5,130 s after June 1st 06:00
    with pytest.raises(NoData, match="covers 2022-01-01 to 2023-01-01"):
        asyncio.run(connector.fetch("GB", now=WALL + timedelta(hours=2)))
    with pytest.raises(ConfigError, match="provider recorded needs replay_from"):
        parse_config(f"zones:\n  - {{zone: GB, provider: recorded, recording: {RECORD}}}\n")
    with pytest.raises(ConfigError, match="speed is for provider recorded only"):
        parse_config("zones:\n  - {zone: GB, provider: neso, speed: 2}\n")
    with pytest.raises(ConfigError, match=r"<config>:2:\d+: zones\[0\]\.recording: cannot replay the recording"):
        parse_config(f"zones:\n  - {{zone: GB, provider: recorded, recording: {RECORD}.missing, "
                     f"replay_from: '{FROM.isoformat()}'}}\n")
    # A relative recording is the config file's neighbour.
    config = parse_config(f"zones:\n  - {{zone: GB, provider: recorded, recording: {RECORD.name}, "
                          f"replay_from: '{FROM.isoformat()}'}}\n", base_dir=RECORD.parent)
    assert config.zones[0].recording == RECORD
