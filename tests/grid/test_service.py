"""``greenwire grid run`` against a loopback NESO (recorded answers), real Mosquitto and real InfluxDB.

The provider's side replays NESO's recorded national answers of 2023-03-16 (fixtures/neso):
at 02:45Z the current half hour (02:30Z) has its actual (65 g/kWh, forecast 59) and the
48 h forward answer carries the forecasts after it. Then the provider goes down (HTTP 503):
the last value must be held with its age, never extended or invented, until it expires.
What the service published is read back with ``mosquitto_sub`` (Debian's client) and what it
stored with InfluxQL, through the same query the carbon engine uses.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.cloud.carbon.feed import feed_line
from greenwire.cloud.grafana.dashboards import portfolio
from greenwire.cloud.grafana.evaluate import influx_query, run_panel
from greenwire.cloud.grafana.model import DATASOURCE_UID
from greenwire.cloud.grid.config import ZoneFeed, parse_config
from greenwire.cloud.grid.hold import HoldState, on_failure, on_success
from greenwire.cloud.grid.messages import zone_update
from greenwire.cloud.grid.neso import NesoConnector, parse_national
from greenwire.cloud.grid.service import GridService
from greenwire.servers import InfluxDB1, Mosquitto
from greenwire.shared.errors import ConfigError
from greenwire.transport.mqtt import BrokerSettings
from tests.grid.replay import Handler, ReplayServer, Reply, Request
from tests.helpers import eventually

FIXTURES = Path(__file__).parent / "fixtures" / "neso"
NOW = datetime(2023, 3, 16, 2, 45, tzinfo=UTC)
PERIOD = datetime(2023, 3, 16, 2, 30, tzinfo=UTC)


def _recorded(name: str) -> list[dict[str, Any]]:
    return list(json.loads((FIXTURES / name).read_text())["data"])


DAY_16 = _recorded("national_pt24h_2023-03-16T0331Z.json")
NOW_ENTRY = DAY_16[-2]  # 02:30Z: forecast 59, actual 65
FORWARD = [
    NOW_ENTRY,
    *[
        {**e, "intensity": {**e["intensity"], "actual": None}}
        for e in [DAY_16[-1], *_recorded("national_pt24h_2023-03-17T0331Z.json")]
    ],
]


class Provider:
    """NESO's side: the recorded answers while ``up``, else a 503 with NESO's error body."""

    def __init__(self) -> None:
        self.up = True

    def __call__(self, request: Request) -> Reply:
        if not self.up:
            return Reply(503, {"error": {"code": "503 Service Unavailable", "message": "maintenance"}})
        if request.path == "/intensity":
            return Reply(body={"data": [NOW_ENTRY]})
        if request.path.startswith("/intensity/") and request.path.endswith("/fw48h"):
            return Reply(body={"data": FORWARD})
        return Reply(404, {"error": {"code": "404 Not Found", "message": request.path}})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _forward_at(start: str) -> float:
    return float(next(e["intensity"]["forecast"] for e in FORWARD if e["from"] == start))


def _series() -> Any:
    from greenwire.cloud.grid.series import combine

    return combine(
        parse_national({"data": [NOW_ENTRY]}, fetched_at=NOW),
        parse_national({"data": FORWARD}, fetched_at=NOW),
    )


# -- the pure part ----------------------------------------------------------------------------


def test_update_now_publishes_the_actual_and_keeps_forecasts_apart() -> None:
    update = zone_update("GB", "neso", on_success(HoldState(), _series()), NOW, max_age_s=3600)
    assert update.reading.status == "current"
    message = orjson.loads(update.intensity or b"")
    assert message == {
        "schema": "greenwire.grid.v1", "zone": "GB", "start": "2023-03-16T02:30:00Z", "period_s": 1800,
        "g_per_kwh": 65.0, "kind": "average", "basis": "direct",
        "source": "NESO Carbon Intensity API (CC BY 4.0)",
    }
    # What the carbon service would store from the message is one of the lines written here.
    line, _ = feed_line(update.intensity_topic, update.intensity or b"")
    assert line in update.lines
    forecasts = [x for x in update.lines if "status=forecast" in x]
    assert len(forecasts) == len(FORWARD)  # 02:30 (forecast 59) and the 48 h after it
    assert not any("status=" in x for x in update.lines if x.startswith("grid_intensity") and x not in forecasts)
    forecast = orjson.loads(update.forecast)
    assert forecast["schema"] == "greenwire.grid-forecast.v1"
    assert forecast["current"] == {"status": "current", "g_per_kwh": 65.0, "start": "2023-03-16T02:30:00Z",
                                   "end": "2023-03-16T03:00:00Z", "age_s": 900.0, "stale": False}
    assert [w["duration_h"] for w in forecast["best_windows"]] == [1, 2, 4, 8]
    assert update.lines[-1].startswith("grid_status,provider=neso,zone=GB status=\"current\",status_code=0i")


def test_outage_holds_the_value_with_its_age_then_expires_and_never_invents_one() -> None:
    state = on_success(HoldState(), parse_national({"data": [NOW_ENTRY]}, fetched_at=NOW))
    later = NOW + timedelta(hours=2)
    state = on_failure(state, "neso: HTTP 503", later)
    held = zone_update("GB", "neso", state, later, max_age_s=4 * 3600)
    assert held.reading.status == "held" and held.reading.age == timedelta(hours=2, minutes=15)
    message = orjson.loads(held.intensity or b"")
    assert (message["start"], message["period_s"], message["g_per_kwh"]) == ("2023-03-16T02:30:00Z", 1800, 65.0)
    assert orjson.loads(held.forecast)["current"]["age_s"] == 8100.0
    expired = zone_update("GB", "neso", state, NOW + timedelta(hours=5), max_age_s=4 * 3600)
    assert expired.reading.status == "expired" and expired.intensity is None
    assert "status_code=2i" in expired.lines[-1]
    nothing = zone_update("GB", "neso", on_failure(HoldState(), "down", NOW), NOW, max_age_s=60)
    assert nothing.intensity is None and orjson.loads(nothing.forecast)["current"] is None
    assert nothing.lines == (nothing.lines[-1],) and "status_code=3i" in nothing.lines[-1]


def test_config_errors_name_the_line() -> None:
    text = "zones:\n  - zone: GB\n    provider: neso\n  - zone: gb\n    provider: electricitymaps\n"
    with pytest.raises(ConfigError, match=r"grid.yaml:4:5: zones\[1\]\.zone.*already fed by zones\[0\]"):
        parse_config(text, source="grid.yaml")
    with pytest.raises(ConfigError, match=r"grid.yaml:3:.*provider"):
        parse_config("zones:\n  - zone: GB\n    provider: nesoo\n", source="grid.yaml")
    with pytest.raises(ConfigError, match=r":3:.*no base_url"):
        parse_config("zones:\n  - zone: CN-BJ\n    base_url: http://x:1\n    provider: china\n")
    assert parse_config("zones:\n  - {zone: GB, provider: neso}\n").client_id() == "greenwire-grid"


# -- against real servers ---------------------------------------------------------------------


def _retained(broker: Mosquitto, topic_filter: str, count: int) -> dict[str, dict[str, Any]]:
    """The retained messages under ``topic_filter``, read with Debian's mosquitto_sub."""
    out = subprocess.run(
        ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", topic_filter, "-C", str(count),
         "-W", "10", "-F", "%t %p"],
        capture_output=True, check=True, timeout=20,
    ).stdout.decode()
    return {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line}


@pytest.mark.integration
async def test_service_stores_publishes_and_holds_through_an_outage(
    replay: Callable[[Handler], ReplayServer], mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str
) -> None:
    provider = Provider()
    server = replay(provider)
    feed = ZoneFeed(zone="GB", provider="neso", base_url=server.url, interval_s=60, max_age_s=3 * 86_400)
    clock = Clock(NOW)
    influx = InfluxV1(influxdb.url, influx_db)
    service = GridService([feed], influx=influx, broker=BrokerSettings(mosquitto.host, mosquitto.port,
                                                                       "grid-test"), clock=clock)
    assert service.publisher is not None
    disconnect = asyncio.Event()
    sender = asyncio.create_task(service.publisher.run(disconnect), name="grid-publish")
    try:
        async with NesoConnector(server.url) as connector:
            update, error = await service.poll(feed, connector)
            assert error is None and update.reading.status == "current"
            await eventually(lambda: service.publisher.published == 2, 10, "the two messages")  # type: ignore[union-attr]
            retained = await asyncio.to_thread(_retained, mosquitto, "greenwire/v1/grid/gb/+", 2)
            assert retained["greenwire/v1/grid/gb/intensity"]["g_per_kwh"] == 65.0
            assert retained["greenwire/v1/grid/gb/forecast"]["current"]["status"] == "current"

            # The carbon engine's read sees the actual only; the forecasts are kept apart.
            stored = influx.series("GB", PERIOD, PERIOD + timedelta(hours=1))
            assert stored is not None and stored.values == (65.0,) and stored.starts == (PERIOD,)
            forecasts = influx.query(
                'SELECT "g_per_kwh" FROM "grid_intensity" WHERE "status" = \'forecast\' ORDER BY time')
            assert len(forecasts) == len(FORWARD) and forecasts[0]["g_per_kwh"] == 59.0

            provider.up = False
            # Two hours into the outage the provider's own forecast still covers now: it is used.
            clock.now = NOW + timedelta(hours=2)
            update, error = await service.poll(feed, connector)
            assert error is not None and "503" in str(error)
            assert update.reading.status == "current" and update.reading.point is not None
            assert update.reading.point.status == "forecast"
            assert update.reading.point.g_per_kwh == _forward_at("2023-03-16T04:30Z")
            # Past the forecast's 48 h, the last actual is held with its age, until max_age.
            clock.now = NOW + timedelta(hours=50)
            update, error = await service.poll(feed, connector)
            assert update.reading.status == "held" and update.reading.age == timedelta(hours=50, minutes=15)
            await eventually(lambda: service.publisher.published == 6, 10, "the held messages")  # type: ignore[union-attr]
            retained = await asyncio.to_thread(_retained, mosquitto, "greenwire/v1/grid/gb/+", 2)
            held = retained["greenwire/v1/grid/gb/forecast"]["current"]
            assert (held["status"], held["age_s"], held["g_per_kwh"]) == ("held", 180_900.0, 65.0)
            assert "503" in retained["greenwire/v1/grid/gb/forecast"]["last_error"]
            assert retained["greenwire/v1/grid/gb/forecast"]["failures"] == 2
            assert retained["greenwire/v1/grid/gb/intensity"]["start"] == "2023-03-16T02:30:00Z"
            # Nothing was invented for the hours the provider was down: the one actual, and the
            # provider's forecast for the period it was used in.
            actuals = influx.query('SELECT "g_per_kwh" FROM "grid_intensity" WHERE "status" != \'forecast\'')
            assert [r["g_per_kwh"] for r in actuals] == [65.0, _forward_at("2023-03-16T04:30Z")]
            status = influx.query('SELECT "status", "age_s", "failures" FROM "grid_status" ORDER BY time')
            assert [(r["status"], r["age_s"], r["failures"]) for r in status] == [
                ("current", 900.0, 0), ("current", 900.0, 1), ("held", 180_900.0, 2)]

            # The Portfolio dashboard's "Grid data age", as Grafana would send its query, shows it.
            board = portfolio()
            panel = next(p for p in board.panel_list() if p.title == "Grid data age")
            shown = run_panel(board, panel, {}, {DATASOURCE_UID: influx_query(influxdb.url, influx_db)}, clock.now)
            assert {s["tags"]["zone"]: s["values"][-1][1] for s in shown.series} == {"GB": 180_900.0}

            clock.now = NOW + timedelta(days=4)
            update, _ = await service.poll(feed, connector)
            assert update.reading.status == "expired" and update.intensity is None
            provider.up = True
            clock.now = NOW
            update, error = await service.poll(feed, connector)
            assert error is None and update.reading.status == "current"
    finally:
        disconnect.set()
        await asyncio.wait_for(sender, 20)


@pytest.mark.integration
def test_grid_run_stops_on_sigterm(
    replay: Callable[[Handler], ReplayServer], mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str,
    tmp_path: Path, processes: list[subprocess.Popen[bytes]],
) -> None:
    """The command: a config with its own broker and database, polled until SIGTERM, exit 0.

    The replay's "now" is 2023, so the value is long expired for the service's real clock: it is
    reported with its age and never published as the current intensity.
    """
    server = replay(Provider())
    config = tmp_path / "grid.yaml"
    config.write_text(
        f"zones:\n  - zone: GB\n    provider: neso\n    base_url: {server.url}\n    interval_s: 0.5\n"
        f"mqtt:\n  url: {mosquitto.url}\n  client_id: grid-sigterm\n"
        f"influx:\n  url: {influxdb.url}\n  database: {influx_db}\n"
    )
    log = tmp_path / "grid.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "greenwire", "grid", "run", "--config", str(config)],
                                   stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    processes.append(process)
    retained = _retained(mosquitto, "greenwire/v1/grid/gb/forecast", 1)
    assert retained["greenwire/v1/grid/gb/forecast"]["zone"] == "GB"
    asyncio.run(_until(lambda: len(server.requests) >= 6, 20))  # several polls: it keeps going
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()
    status = InfluxV1(influxdb.url, influx_db).query('SELECT "status" FROM "grid_status"')
    assert len(status) >= 3 and {r["status"] for r in status} == {"expired"}


async def _until(predicate: Callable[[], object], within_s: float) -> None:
    await eventually(predicate, within_s, "the service's polls")


def test_the_example_config_is_valid() -> None:
    from greenwire.cloud.grid.config import load_config

    config = load_config(Path(__file__).parents[2] / "cloud" / "grid" / "grid.example.yaml")
    assert [(z.zone, z.provider) for z in config.zones] == [("GB", "neso"), ("GB-13", "neso"),
                                                            ("DE", "electricitymaps")]
    assert config.client_id() == "greenwire-grid"


@pytest.mark.integration
def test_grid_run_once_prints_each_zones_outcome(
    replay: Callable[[Handler], ReplayServer], mosquitto: Mosquitto, influxdb: InfluxDB1, influx_db: str,
    tmp_path: Path,
) -> None:
    """``--once --json``: one poll per zone; a 2023 answer read in 2026 is expired, with its age."""
    from typer.testing import CliRunner

    from greenwire.cli import app

    server = replay(Provider())
    config = tmp_path / "grid.yaml"
    config.write_text(
        f"zones:\n  - {{zone: GB, provider: neso, base_url: '{server.url}'}}\n"
        f"  - {{zone: GB-13, provider: neso, base_url: '{server.url}'}}\n"
        f"mqtt: {{url: '{mosquitto.url}', client_id: grid-once}}\n"
        f"influx: {{url: '{influxdb.url}', database: {influx_db}}}\n"
    )
    result = CliRunner().invoke(app, ["grid", "run", "--config", str(config), "--once", "--json"])
    assert result.exit_code == 1, result.output  # GB-13 failed: the replay knows no region
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["GB"]["status"] == "expired" and outcome["GB"]["g_per_kwh"] == 65.0
    assert outcome["GB"]["age_s"] > 3 * 365 * 86_400
    assert outcome["GB-13"]["status"] == "none" and "404" in outcome["GB-13"]["last_error"]


@pytest.mark.integration
async def test_the_live_feed_next_to_an_imported_series_of_the_zone(
    replay: Callable[[Handler], ReplayServer], influxdb: InfluxDB1, influx_db: str
) -> None:
    """A site that imported half-hourly GB intensity (as the NESO archive gives it), then runs
    ``grid run`` for GB: both series hold 02:30; the carbon engine's read keeps one value per
    start, the live one (two values for one start would make the series refuse itself)."""
    from greenwire.shared.intensity import IntensitySeries as Imported

    influx = InfluxV1(influxdb.url, influx_db)
    halves = tuple(PERIOD + timedelta(minutes=30 * k) for k in range(-2, 3))
    influx.write_series(Imported("GB", "average", "direct", "gb-2023.csv", halves, (300.0,) * 5,
                                 (timedelta(minutes=30),) * 5))
    server = replay(Provider())
    service = GridService([ZoneFeed(zone="GB", provider="neso", base_url=server.url)], influx=influx,
                          clock=lambda: NOW)
    async with NesoConnector(server.url) as connector:
        await service.poll(service.zones[0], connector)
    stored = influx.series("GB", PERIOD - timedelta(hours=1), PERIOD + timedelta(hours=2))
    assert stored is not None
    assert stored.value_at(PERIOD - timedelta(minutes=15)) == 300.0  # 02:00, imported only
    assert stored.value_at(PERIOD + timedelta(minutes=5)) == 65.0  # 02:30: the live actual, not the import
    assert stored.value_at(PERIOD + timedelta(minutes=45)) == 300.0  # 03:00: imported, the feed had no actual
    assert stored.starts == tuple(sorted(set(stored.starts)))
