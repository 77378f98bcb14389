"""``greenwire grid fetch``: the function and the typer command, against loopback providers."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from greenwire.cloud.grid.fetch import fetch, summary
from greenwire.commands.grid import app
from greenwire.shared.errors import ConfigError
from tests.grid.replay import Handler, ReplayServer, Reply, Request, free_port_closed
from tests.grid.test_electricitymaps import NOW as EM_NOW
from tests.grid.test_electricitymaps import TOKEN as EM_TOKEN
from tests.grid.test_electricitymaps import electricitymaps
from tests.grid.test_neso import NOW as NESO_NOW
from tests.grid.test_neso import neso

RECORDED = json.loads(
    (Path(__file__).parent / "fixtures/neso/national_pt24h_2023-03-17T0331Z.json").read_text()
)


async def test_neso_answer_shape(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(neso)
    answer = await fetch("neso", "GB", base_url=server.url, now=NESO_NOW)
    assert set(answer) == {"zone", "provider", "intensity_g_per_kwh", "at", "forecast"}
    assert (answer["zone"], answer["provider"], answer["at"]) == (
        "GB",
        "neso",
        "2023-03-16T03:00:00Z",
    )
    assert (
        answer["intensity_g_per_kwh"] == answer["forecast"][0]["g_per_kwh"]
    )  # no actual yet: NESO's forecast
    assert len(answer["forecast"]) == 49
    assert answer["forecast"][1] == {
        "start": "2023-03-16T03:30:00Z",
        "end": "2023-03-16T04:00:00Z",
        "g_per_kwh": RECORDED["data"][0]["intensity"]["forecast"],
    }


async def test_electricitymaps_with_token_from_the_environment(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(electricitymaps)
    env = {"GREENWIRE_ELECTRICITYMAPS_TOKEN": EM_TOKEN}
    answer = await fetch("electricitymaps", "DE", base_url=server.url, env=env, now=EM_NOW)
    assert (answer["intensity_g_per_kwh"], answer["at"]) == (322.0, "2019-05-21T00:00:00Z")
    assert len(answer["forecast"]) == 25


async def test_china_is_a_held_official_year() -> None:
    answer = await fetch("china", "CN-GD", now=datetime(2026, 12, 2, tzinfo=UTC))
    assert answer == {
        "zone": "CN-GD",
        "provider": "china",
        "intensity_g_per_kwh": 441.9,
        "at": "2022-12-31T16:00:00Z",
        "forecast": [],
    }


async def test_configuration_errors_name_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="GREENWIRE_ENTSOE_TOKEN"):
        await fetch("entsoe", "DE-LU", env={})
    with pytest.raises(ConfigError, match="GREENWIRE_WATTTIME_USERNAME"):
        await fetch("watttime", "CAISO_NORTH", env={"GREENWIRE_WATTTIME_PASSWORD": "x"})
    with pytest.raises(ConfigError, match="unknown provider 'octopus'"):
        await fetch("octopus", "GB", env={})
    with pytest.raises(ConfigError, match="no base URL"):
        await fetch("china", "CN-BJ", base_url="http://127.0.0.1:9")


def test_summary_drops_ended_forecasts_and_refuses_an_empty_answer() -> None:
    from greenwire.cloud.grid.errors import NoData
    from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    points = [
        IntensityPoint(t0 + i * hour, t0 + (i + 1) * hour, 100.0 + i, "forecast") for i in range(3)
    ]
    series = IntensitySeries.build(
        zone="X",
        provider="p",
        source="s",
        kind="average",
        basis="direct",
        points=points,
        fetched_at=t0,
    )
    answer = summary(series, t0 + timedelta(minutes=90))
    assert answer["intensity_g_per_kwh"] == 101.0 and [
        f["g_per_kwh"] for f in answer["forecast"]
    ] == [101.0, 102.0]
    with pytest.raises(NoData, match="no value for X"):
        summary(series, t0 - hour)


def _shifted_neso(request: Request) -> Reply:
    """NESO answering for today's date with recorded values: the forecast is restamped from the request."""
    if request.path == "/intensity":
        now = datetime.now(UTC)
        start = now.replace(minute=30 if now.minute >= 30 else 0, second=0, microsecond=0)
        entries = [(start, 0)]
    else:
        start = datetime.strptime(request.path.split("/")[2], "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
        entries = [(start + i * timedelta(minutes=30), i) for i in range(len(RECORDED["data"]))]
    data = [
        {
            "from": f"{at:%Y-%m-%dT%H:%MZ}",
            "to": f"{at + timedelta(minutes=30):%Y-%m-%dT%H:%MZ}",
            "intensity": {
                "forecast": RECORDED["data"][i]["intensity"]["forecast"],
                "actual": None,
                "index": RECORDED["data"][i]["intensity"]["index"],
            },
        }
        for at, i in entries
    ]
    return Reply(body={"data": data})


def test_cli_json(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(_shifted_neso)
    result = CliRunner().invoke(
        app, ["fetch", "--provider", "neso", "--zone", "GB", "--base-url", server.url, "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = orjson.loads(result.stdout)
    assert (
        answer["provider"] == "neso"
        and answer["intensity_g_per_kwh"] == RECORDED["data"][0]["intensity"]["forecast"]
    )
    assert len(answer["forecast"]) == 48


def test_cli_text_and_one_line_error(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(_shifted_neso)
    result = CliRunner().invoke(app, ["fetch", "-p", "neso", "-z", "GB", "--base-url", server.url])
    assert result.exit_code == 0 and "g/kWh for the period from" in result.stdout
    down = CliRunner().invoke(
        app, ["fetch", "-p", "neso", "-z", "GB", "--base-url", free_port_closed()]
    )
    assert down.exit_code == 1
    assert (
        down.stderr.startswith("error: neso: cannot reach 127.0.0.1")
        and down.stderr.count("\n") == 1
    )
    bad = CliRunner().invoke(
        app,
        ["fetch", "-p", "electricitymaps", "-z", "DE"],
        env={"GREENWIRE_ELECTRICITYMAPS_TOKEN": ""},
    )
    assert bad.exit_code == 1 and "GREENWIRE_ELECTRICITYMAPS_TOKEN" in bad.stderr


def test_the_help_example_runs(replay: Callable[[Handler], ReplayServer]) -> None:
    """The example in ``grid fetch --help``, pointed at a loopback NESO (no network here)."""
    server = replay(_shifted_neso)
    shown = CliRunner().invoke(app, ["fetch", "--help"], terminal_width=200).stdout
    example = next(line for line in shown.splitlines() if "greenwire grid fetch" in line)
    args = example.split("greenwire grid ", 1)[1].split()
    result = CliRunner().invoke(app, [*args, "--base-url", server.url])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["zone"] == "GB"
