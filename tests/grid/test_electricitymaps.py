"""Electricity Maps v3 connector against a loopback server answering as the API reference documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire.cloud.grid.electricitymaps import ElectricityMapsConnector
from greenwire.cloud.grid.errors import AuthError, NoData, RateLimited, ResponseError
from tests.grid.replay import Handler, ReplayServer, Reply, Request, Sleeps

FIXTURES = Path(__file__).parent / "fixtures" / "electricitymaps"
TOKEN = "test-token-1"
NOW = datetime(2019, 5, 21, 0, 40, tzinfo=UTC)


def _fixture(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def electricitymaps(request: Request) -> Reply:
    """The provider's side: auth-token header, zone parameter, documented bodies and errors."""
    token = request.headers.get("auth-token")
    if token is None:
        return Reply(
            401,
            {
                "error": "Invalid auth-token",
                "message": "Please provide a valid authentication header.",
            },
        )
    if token != TOKEN:
        return Reply(
            401,
            {
                "error": "Invalid auth-token",
                "message": "The provided token is invalid. If this token used to work, please visit "
                "https://help.electricitymaps.com to get support",
            },
        )
    zone = request.query.get("zone")
    if zone != "DE":
        return Reply(404, {"error": "Zone not found", "message": f"Zone '{zone}' does not exist"})
    what = request.path.removeprefix("/v3/carbon-intensity/")
    if what in ("latest", "history", "forecast"):
        return Reply(body=_fixture(f"{what}_DE.json"))
    return Reply(404, {"error": "Not found", "message": request.path})


async def test_latest_and_forecast(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(electricitymaps)
    async with ElectricityMapsConnector(TOKEN, server.url) as connector:
        series = await connector.fetch("DE", now=NOW)
    assert (series.provider, series.kind, series.basis) == (
        "electricitymaps",
        "average",
        "lifecycle",
    )
    (latest,) = series.actuals
    assert (latest.start, latest.end, latest.g_per_kwh) == (
        datetime(2019, 5, 21, 0, tzinfo=UTC),
        datetime(2019, 5, 21, 1, tzinfo=UTC),
        322.0,
    )
    assert len(series.forecasts) == 25 and series.forecasts[11].g_per_kwh == 246.0
    assert series.at(NOW) == latest  # the actual wins over the forecast of the same hour
    first = server.requests[0]
    assert first.path == "/v3/carbon-intensity/latest"
    assert first.query == {"zone": "DE", "emissionFactorType": "lifecycle"}


async def test_history_skips_an_hour_without_value_and_keeps_the_estimate_flag(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(electricitymaps)
    async with ElectricityMapsConnector(TOKEN, server.url) as connector:
        series = await connector.history("DE", now=NOW)
    assert [p.start.hour for p in series.points] == [18, 19, 21, 22, 23]  # 20:00 had a null value
    assert [p.estimated for p in series.points] == [False, False, False, True, False]


async def test_invalid_token_is_an_auth_error_with_the_providers_words(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(electricitymaps)
    async with ElectricityMapsConnector("expired-token", server.url) as connector:
        with pytest.raises(
            AuthError, match=r"HTTP 401 .*Invalid auth-token: The provided token is invalid"
        ):
            await connector.latest("DE", now=NOW)


async def test_unknown_zone_is_no_data(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(electricitymaps)
    async with ElectricityMapsConnector(TOKEN, server.url) as connector:
        with pytest.raises(NoData, match="Zone 'XX' does not exist"):
            await connector.latest("XX", now=NOW)


async def test_answer_for_another_basis_or_zone_is_refused(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    direct = {**_fixture("latest_DE.json"), "emissionFactorType": "direct"}  # type: ignore[dict-item]
    server = replay(lambda _r: Reply(body=direct))
    async with ElectricityMapsConnector(TOKEN, server.url) as connector:
        with pytest.raises(
            ResponseError, match="emissionFactorType is 'direct', asked for 'lifecycle'"
        ):
            await connector.latest("DE", now=NOW)
    other = {**_fixture("latest_DE.json"), "zone": "FR"}  # type: ignore[dict-item]
    server = replay(lambda _r: Reply(body=other))
    async with ElectricityMapsConnector(TOKEN, server.url) as connector:
        with pytest.raises(ResponseError, match="the answer is for 'FR'"):
            await connector.latest("DE", now=NOW)


async def test_rate_limit_with_http_date_retry_after(
    replay: Callable[[Handler], ReplayServer], sleeps: Sleeps
) -> None:
    server = replay(
        lambda _r: Reply(
            429, {"error": "Too many requests"}, {"Retry-After": "Tue, 21 May 2019 00:41:30 GMT"}
        )
    )
    async with ElectricityMapsConnector(
        TOKEN, server.url, sleep=sleeps, clock=lambda: NOW, max_retry_wait_s=60
    ) as connector:
        with pytest.raises(RateLimited) as caught:
            await connector.latest("DE", now=NOW)
    assert caught.value.retry_after_s == 90.0  # the HTTP-date is 90 s after the clock
    assert sleeps.waits == []
