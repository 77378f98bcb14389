"""WattTime v3 connector against a loopback server that logs users in and expires their tokens."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.grid.errors import AuthError, RateLimited, ResponseError
from greenwire.cloud.grid.watttime import G_PER_KWH_PER_LB_PER_MWH, WattTimeConnector
from tests.grid.replay import Handler, ReplayServer, Reply, Request, Sleeps

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
REGION = "CAISO_NORTH"


def _meta(units: str, **extra: object) -> dict[str, object]:
    return {
        "region": REGION,
        "signal_type": "co2_moer",
        "units": units,
        "data_point_period_seconds": 300,
        "model": {"date": "2023-03-01"},
        "warnings": [],
        **extra,
    }


@dataclass
class WattTime:
    """The provider's side: accounts, tokens it issued and which it has expired, the v3 endpoints."""

    users: dict[str, str] = field(default_factory=lambda: {"site-a": "s3cret"})
    valid: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def expire_tokens(self) -> None:
        self.valid.clear()

    def __call__(self, request: Request) -> Reply:
        if request.path == "/login":
            scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
            user, _, password = base64.b64decode(encoded or b"").decode().partition(":")
            if scheme != "Basic" or self.users.get(user) != password:
                return Reply(403, {"error": "Invalid username or password"})
            token = f"tok-{next(self.counter)}"
            self.valid.add(token)
            self.issued.append(token)
            return Reply(body={"token": token})
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.valid:
            return Reply(401, {"error": "Unauthorized: token expired or invalid"})
        if request.query.get("region") != REGION:
            return Reply(
                403, {"error": f"Your plan has no access to region {request.query.get('region')}"}
            )
        if request.path == "/v3/forecast":
            hours = int(request.query["horizon_hours"])
            data = [
                {"point_time": (NOW + timedelta(minutes=5 * i)).isoformat(), "value": 900.0 - i}
                for i in range(hours * 12)
            ]
            return Reply(
                body={"data": data, "meta": _meta("lbs_co2_per_mwh", generated_at=NOW.isoformat())}
            )
        if request.path == "/v3/historical":
            start = datetime.fromisoformat(request.query["start"])
            data = [
                {"point_time": (start + timedelta(minutes=5 * i)).isoformat(), "value": 1000.0}
                for i in range(12)
            ]
            return Reply(body={"data": data, "meta": _meta("lbs_co2_per_mwh")})
        if request.path == "/v3/signal-index":
            return Reply(
                body={
                    "data": [{"point_time": NOW.isoformat(), "value": 83.0}],
                    "meta": _meta("percentile"),
                }
            )
        return Reply(404, {"error": "not found"})


async def test_forecast_in_g_per_kwh_marginal(replay: Callable[[Handler], ReplayServer]) -> None:
    provider = WattTime()
    server = replay(provider)
    async with WattTimeConnector("site-a", "s3cret", server.url) as connector:
        series = await connector.fetch(REGION, now=NOW)
    assert (series.kind, series.basis, series.zone) == ("marginal", "direct", REGION)
    assert len(series.forecasts) == 288 and len(series.actuals) == 12
    first = series.forecasts[0]
    assert first.g_per_kwh == pytest.approx(900.0 * G_PER_KWH_PER_LB_PER_MWH)  # 408.2 g/kWh
    assert first.end - first.start == timedelta(minutes=5)
    assert connector.logins == 1
    historical = next(r for r in server.requests if r.path == "/v3/historical")
    assert (
        historical.query["start"] == "2026-12-02T06:00:00Z"
        and historical.query["signal_type"] == "co2_moer"
    )


async def test_signal_index_is_a_percentile_not_an_intensity(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(WattTime())
    async with WattTimeConnector("site-a", "s3cret", server.url) as connector:
        index = await connector.signal_index(REGION)
    assert (index.percent, index.start, index.end - index.start) == (
        83.0,
        NOW,
        timedelta(minutes=5),
    )


async def test_expired_token_is_renewed_once_and_the_request_repeated(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    provider = WattTime()
    server = replay(provider)
    async with WattTimeConnector("site-a", "s3cret", server.url) as connector:
        await connector.signal_index(REGION)
        provider.expire_tokens()  # the server revokes tok-1 before its 30 minutes are up
        index = await connector.signal_index(REGION)
    assert index.percent == 83.0
    assert provider.issued == ["tok-1", "tok-2"] and connector.logins == 2
    assert [r.path for r in server.requests] == [
        "/login",
        "/v3/signal-index",
        "/v3/signal-index",
        "/login",
        "/v3/signal-index",
    ]


async def test_token_is_renewed_before_its_documented_lifetime_ends(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    provider = WattTime()
    server = replay(provider)
    clock = [NOW]
    async with WattTimeConnector(
        "site-a", "s3cret", server.url, clock=lambda: clock[0]
    ) as connector:
        await connector.signal_index(REGION)
        clock[0] = NOW + timedelta(minutes=29, seconds=30)
        await connector.signal_index(REGION)
    assert provider.issued == ["tok-1", "tok-2"]
    assert [r.path for r in server.requests] == [
        "/login",
        "/v3/signal-index",
        "/login",
        "/v3/signal-index",
    ]


async def test_wrong_password_and_forbidden_region_are_auth_errors(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    provider = WattTime()
    server = replay(provider)
    async with WattTimeConnector("site-a", "wrong", server.url) as connector:
        with pytest.raises(AuthError, match=r"login refused .*check the username and password"):
            await connector.signal_index(REGION)
    async with WattTimeConnector("site-a", "s3cret", server.url) as connector:
        with pytest.raises(AuthError, match=r"HTTP 403 .*no access to region PJM"):
            await connector.signal_index("PJM")
        assert connector.logins == 1  # a 403 is not cured by logging in again


async def test_token_refused_twice_is_an_auth_error(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    def stingy(request: Request) -> Reply:
        if request.path == "/login":
            return Reply(body={"token": "tok"})
        return Reply(401, {"error": "Unauthorized"})

    server = replay(stingy)
    async with WattTimeConnector("site-a", "s3cret", server.url) as connector:
        with pytest.raises(AuthError, match="HTTP 401"):
            await connector.signal_index(REGION)
        assert connector.logins == 2


async def test_login_rate_limit(replay: Callable[[Handler], ReplayServer], sleeps: Sleeps) -> None:
    server = replay(
        lambda _r: Reply(429, {"error": "Too many login requests"}, {"Retry-After": "300"})
    )
    async with WattTimeConnector("site-a", "s3cret", server.url, sleep=sleeps) as connector:
        with pytest.raises(RateLimited, match="/login; retry after 300 s"):
            await connector.signal_index(REGION)


async def test_unknown_units_are_refused(replay: Callable[[Handler], ReplayServer]) -> None:
    def odd(request: Request) -> Reply:
        if request.path == "/login":
            return Reply(body={"token": "tok"})
        return Reply(
            body={
                "data": [{"point_time": NOW.isoformat(), "value": 1.0}],
                "meta": _meta("usd_per_mwh"),
            }
        )

    server = replay(odd)
    async with WattTimeConnector("site-a", "s3cret", server.url) as connector:
        with pytest.raises(ResponseError, match="cannot convert 'usd_per_mwh'"):
            await connector.forecast(REGION, now=NOW)


async def test_data_rate_limit_waits_and_keeps_the_token(
    replay: Callable[[Handler], ReplayServer], sleeps: Sleeps
) -> None:
    provider = WattTime()
    limited = [True]

    def busy(request: Request) -> Reply:
        if request.path == "/v3/signal-index" and limited[0]:
            limited[0] = False
            return Reply(429, {"error": "Rate limit exceeded"}, {"Retry-After": "10"})
        return provider(request)

    server = replay(busy)
    async with WattTimeConnector("site-a", "s3cret", server.url, sleep=sleeps) as connector:
        index = await connector.signal_index(REGION)
    assert index.percent == 83.0 and sleeps.waits == [10.0] and provider.issued == ["tok-1"]


async def test_grid_fetch_for_watttime(replay: Callable[[Handler], ReplayServer]) -> None:
    from greenwire.cloud.grid.fetch import fetch

    server = replay(WattTime())
    env = {"GREENWIRE_WATTTIME_USERNAME": "site-a", "GREENWIRE_WATTTIME_PASSWORD": "s3cret"}
    answer = await fetch("watttime", REGION, base_url=server.url, env=env, now=NOW)
    assert (
        answer["at"] == "2026-12-02T07:00:00Z"
    )  # the forecast's period of now: history ends at now
    assert answer["intensity_g_per_kwh"] == pytest.approx(900.0 * G_PER_KWH_PER_LB_PER_MWH)
    assert len(answer["forecast"]) == 288
