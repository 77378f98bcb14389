"""NESO connector against a loopback server answering like api.carbonintensity.org.uk.

The national answers are real recorded NESO responses (fixtures/neso/PROVENANCE.md);
regional answers are the API reference's examples; errors follow its Error definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire.cloud.grid.errors import (
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    ResponseError,
)
from greenwire.cloud.grid.neso import NesoConnector, target
from tests.grid.replay import Handler, ReplayServer, Reply, Request, Sleeps, free_port_closed

FIXTURES = Path(__file__).parent / "fixtures" / "neso"
NOW = datetime(2023, 3, 16, 3, 15, tzinfo=UTC)
"""Inside the last half hour of the 2023-03-16 03:31Z record, whose actual was not yet published."""


def _recorded(name: str) -> list[dict[str, object]]:
    return list(json.loads((FIXTURES / name).read_text())["data"])


def _forward(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    """Entries as a forward (fw48h) answer at NOW gives them: no actual for a period not yet begun."""
    out = []
    for entry in entries:
        intensity = dict(entry["intensity"])  # type: ignore[call-overload]
        if entry["from"] > "2023-03-16T03:00Z":  # type: ignore[operator]
            intensity["actual"] = None
        out.append({**entry, "intensity": intensity})
    return out


CURRENT = _recorded("national_pt24h_2023-03-16T0331Z.json")[-1]
FORWARD = _forward([CURRENT, *_recorded("national_pt24h_2023-03-17T0331Z.json")])


def neso(request: Request) -> Reply:
    """The provider's side, from its API reference."""
    if request.headers.get("accept") != "application/json":
        return Reply(
            406, {"error": {"code": "406 Not Acceptable", "message": "Accept application/json"}}
        )
    path = request.path
    if path == "/intensity":
        return Reply(body={"data": [CURRENT]})
    if path == "/intensity/2023-03-16T03:00Z/fw48h":
        return Reply(body={"data": FORWARD})
    if path == "/regional":
        return Reply(body=json.loads((FIXTURES / "regional.json").read_text()))
    if path == "/regional/regionid/3":
        return Reply(body=json.loads((FIXTURES / "regional_regionid_3.json").read_text()))
    if path == "/regional/postcode/RG10":
        return Reply(body=json.loads((FIXTURES / "regional_postcode_RG10.json").read_text()))
    if path.startswith("/regional/postcode/"):
        return Reply(
            400, {"error": {"code": "400 Bad Request", "message": "Please enter a valid postcode"}}
        )
    return Reply(404, {"error": {"code": "404 Not Found", "message": f"no route {path}"}})


def test_zone_names() -> None:
    assert target("gb").scope == "national"
    assert (target("GB-13").scope, target("GB-13").value) == ("region", "13")
    assert (target("gb-rg10").zone, target("gb-rg10").value) == ("GB-RG10", "RG10")
    for bad in ("FR", "GB-18", "GB-0", "GB-R G10", "GB-"):
        with pytest.raises(ProviderRejected, match="GB-<region id"):
            target(bad)


async def test_national_now_and_48h_from_recorded_answers(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(neso)
    async with NesoConnector(server.url) as connector:
        series = await connector.fetch("GB", now=NOW)
    assert (series.zone, series.provider, series.kind, series.basis) == (
        "GB",
        "neso",
        "average",
        "direct",
    )
    # The current half hour: NESO had published its forecast (recorded 240) but no actual yet.
    now_point = series.at(NOW)
    assert now_point is not None and now_point.status == "forecast"
    assert (now_point.start, now_point.end) == (
        datetime(2023, 3, 16, 3, 0, tzinfo=UTC),
        datetime(2023, 3, 16, 3, 30, tzinfo=UTC),
    )
    assert now_point.g_per_kwh == CURRENT["intensity"]["forecast"]  # type: ignore[index]
    assert series.actuals == ()
    assert len(series.forecasts) == 49
    assert series.forecasts[-1].start == datetime(2023, 3, 17, 3, 0, tzinfo=UTC)
    assert [r.path for r in server.requests] == ["/intensity", "/intensity/2023-03-16T03:00Z/fw48h"]


async def test_actual_and_forecast_of_one_period_are_kept_apart(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    recorded = _recorded("national_pt24h_2023-03-16T0331Z.json")[
        13
    ]  # 10:00Z: forecast 241, actual 229
    server = replay(lambda _r: Reply(body={"data": [recorded]}))
    async with NesoConnector(server.url) as connector:
        series = await connector.current("GB", now=datetime(2023, 3, 15, 10, 5, tzinfo=UTC))
    assert [(p.status, p.g_per_kwh) for p in series.points] == [
        ("actual", 229.0),
        ("forecast", 241.0),
    ]
    assert series.at(datetime(2023, 3, 15, 10, 5, tzinfo=UTC)).status == "actual"  # type: ignore[union-attr]


async def test_regional_by_id_postcode_and_all(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(neso)
    when = datetime(2018, 1, 20, 12, 10, tzinfo=UTC)
    async with NesoConnector(server.url) as connector:
        by_id = await connector.current("GB-3", now=when)
        by_postcode = await connector.current("GB-RG10", now=when)
        every = await connector.regions(now=when)
    assert by_id.zone == "GB-3" and by_postcode.zone == "GB-RG10"
    for series in (by_id, by_postcode, every[0]):
        (point,) = series.points
        assert (point.g_per_kwh, point.status) == (266.0, "forecast")
    assert [s.zone for s in every] == ["GB-3"]


async def test_regional_forecast_path(replay: Callable[[Handler], ReplayServer]) -> None:
    body = json.loads((FIXTURES / "regional_regionid_3.json").read_text())
    server = replay(lambda _r: Reply(body=body))
    async with NesoConnector(server.url) as connector:
        await connector.forecast("GB-3", now=datetime(2018, 1, 20, 12, 40, tzinfo=UTC))
    assert server.requests[0].path == "/regional/intensity/2018-01-20T12:30Z/fw48h/regionid/3"


async def test_error_answer_names_the_providers_message(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(neso)
    async with NesoConnector(server.url) as connector:
        with pytest.raises(ProviderRejected, match=r"HTTP 400 .*Please enter a valid postcode"):
            await connector.current("GB-ZZ99", now=NOW)


async def test_server_error_and_unreachable_are_retryable() -> None:
    def broken(_r: Request) -> Reply:
        return Reply(500, {"error": {"code": "500 Internal Server Error", "message": "string"}})

    with ReplayServer(broken) as server:
        async with NesoConnector(server.url) as connector:
            with pytest.raises(ProviderUnavailable, match="HTTP 500"):
                await connector.current("GB", now=NOW)
    async with NesoConnector(free_port_closed()) as connector:
        with pytest.raises(ProviderUnavailable, match=r"cannot reach 127\.0\.0\.1"):
            await connector.current("GB", now=NOW)


async def test_rate_limit_waits_retry_after_once_then_succeeds(
    replay: Callable[[Handler], ReplayServer], sleeps: Sleeps
) -> None:
    answers = iter(
        [
            Reply(429, b"Too Many Requests", {"Retry-After": "7"}, "text/plain"),
            Reply(body={"data": [CURRENT]}),
        ]
    )
    server = replay(lambda _r: next(answers))
    async with NesoConnector(server.url, sleep=sleeps) as connector:
        series = await connector.current("GB", now=NOW)
    assert sleeps.waits == [7.0]
    assert len(server.requests) == 2 and series.points


async def test_rate_limit_longer_than_allowed_is_raised_with_its_wait(
    replay: Callable[[Handler], ReplayServer], sleeps: Sleeps
) -> None:
    server = replay(lambda _r: Reply(429, b"slow down", {"Retry-After": "120"}, "text/plain"))
    async with NesoConnector(server.url, sleep=sleeps, max_retry_wait_s=30) as connector:
        with pytest.raises(RateLimited, match="retry after 120 s") as caught:
            await connector.current("GB", now=NOW)
    assert caught.value.retry_after_s == 120.0 and sleeps.waits == []


async def test_html_from_a_proxy_is_a_response_error(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(lambda _r: Reply(200, b"<html>captive portal</html>", content_type="text/html"))
    async with NesoConnector(server.url) as connector:
        with pytest.raises(ResponseError, match="not JSON"):
            await connector.current("GB", now=NOW)


async def test_missing_field_is_named(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(
        lambda _r: Reply(body={"data": [{"from": "2023-03-16T03:00Z", "intensity": {}}]})
    )
    async with NesoConnector(server.url) as connector:
        with pytest.raises(ResponseError, match=r"data\[0\]: missing 'to'"):
            await connector.current("GB", now=NOW)


async def test_a_provider_that_does_not_answer_in_time(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    import time

    def slow(_r: Request) -> Reply:
        time.sleep(0.6)  # in the server's thread, not the event loop
        return Reply(body={"data": [CURRENT]})

    server = replay(slow)
    async with NesoConnector(server.url, timeout_s=0.1) as connector:
        with pytest.raises(ProviderUnavailable, match=r"no answer within 0\.1 s for /intensity"):
            await connector.current("GB", now=NOW)


async def test_a_second_rate_limit_after_waiting_is_raised(
    replay: Callable[[Handler], ReplayServer], sleeps: Sleeps
) -> None:
    server = replay(lambda _r: Reply(429, b"Too Many Requests", {"Retry-After": "2"}, "text/plain"))
    async with NesoConnector(server.url, sleep=sleeps) as connector:
        with pytest.raises(RateLimited, match="retry after 2 s"):
            await connector.current("GB", now=NOW)
    assert sleeps.waits == [2.0] and len(server.requests) == 2


async def test_outage_holds_the_last_value_with_its_age(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    """A good fetch, then the provider fails: the signal keeps NESO's last value and says how old it is."""
    from datetime import timedelta

    from greenwire.cloud.grid.hold import HoldState, on_failure, on_success, reading

    healthy = [True]

    def flaky(request: Request) -> Reply:
        if not healthy[0]:
            return Reply(
                503, {"error": {"code": "503 Service Unavailable", "message": "maintenance"}}
            )
        return neso(request)

    server = replay(flaky)
    state = HoldState()
    async with NesoConnector(server.url) as connector:
        state = on_success(state, await connector.current("GB", now=NOW))
        healthy[0] = False
        later = NOW + timedelta(hours=2)
        with pytest.raises(ProviderUnavailable) as caught:
            await connector.current("GB", now=later)
        state = on_failure(state, str(caught.value), later)
    shown = reading(state, later, max_age=timedelta(hours=6))
    assert (shown.status, shown.g_per_kwh, shown.stale) == (
        "held",
        CURRENT["intensity"]["forecast"],
        True,
    )  # type: ignore[index]
    assert (
        shown.age == timedelta(hours=2, minutes=15)
        and shown.last_error == "neso: HTTP 503 on /intensity: maintenance"
    )
