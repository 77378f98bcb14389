"""ENTSO-E A75 -> intensity: the mix maths checked by hand, and the connector against a loopback platform."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire.cloud.grid.entsoe import (
    BIDDING_ZONES,
    EntsoeConnector,
    eic,
    hourly_intensity,
    parse_a75,
)
from greenwire.cloud.grid.errors import (
    AuthError,
    NoData,
    ProviderRejected,
    RateLimited,
    ResponseError,
)
from greenwire.cloud.grid.mix import LIFECYCLE_FACTORS, PSR_MODES, intensity_of_mix
from tests.grid.replay import Handler, ReplayServer, Reply, Request, Sleeps

FIXTURES = Path(__file__).parent / "fixtures" / "entsoe"
A75 = (FIXTURES / "a75_DE-LU_2024-06-03.xml").read_bytes()
TOKEN = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
NOW = datetime(2024, 6, 3, 12, 40, tzinfo=UTC)


def _without_nuclear(document: bytes) -> bytes:
    return re.sub(
        rb"<TimeSeries>(?:(?!</TimeSeries>).)*?<psrType>B14</psrType>.*?</TimeSeries>",
        b"",
        document,
        flags=re.S,
    )


def test_the_factors_are_the_cited_ones() -> None:
    expected = {
        "biomass": 230,
        "coal": 820,
        "gas": 490,
        "geothermal": 38,
        "hydro": 24,
        "nuclear": 12,
        "solar": 45,
        "wind": 11,
        "oil": 650,
        "unknown": 700,
    }
    assert {mode: f.g_per_kwh for mode, f in LIFECYCLE_FACTORS.items()} == expected
    assert all(f.source for f in LIFECYCLE_FACTORS.values())
    assert set(PSR_MODES.values()) <= set(LIFECYCLE_FACTORS)


def test_intensity_of_a_mix_by_hand() -> None:
    # 1000 MWh gas, 500 coal, 2000 wind, 500 solar, 300 pumped-storage discharge (left out):
    # (1000*490 + 500*820 + 2000*11 + 500*45) / 4000 = 944500 / 4000 = 236.125 g/kWh
    mix = intensity_of_mix({"B04": 1000, "B05": 500, "B19": 2000, "B16": 500, "B10": 300})
    assert mix.g_per_kwh == pytest.approx(236.125)
    assert (mix.generation_mwh, mix.storage_mwh, mix.unmapped) == (4000, 300, ())
    unknown = intensity_of_mix({"B04": 100, "B99": 100})
    assert unknown.unmapped == ("B99",) and unknown.g_per_kwh == pytest.approx((490 + 700) / 2)
    with pytest.raises(ValueError, match="unknown"):
        intensity_of_mix({"B10": 50})
    with pytest.raises(ValueError, match="negative"):
        intensity_of_mix({"B04": -1})


def test_a75_hours_by_hand() -> None:
    generation = parse_a75(A75)
    assert {g.psr for g in generation} == {
        "B04",
        "B05",
        "B19",
        "B16",
        "B10",
        "B14",
    }  # pumping left out
    # Nuclear reports only 10:00-11:00, so 11:00 is not complete and is not given.
    assert hourly_intensity(generation) == (
        (datetime(2024, 6, 3, 10, tzinfo=UTC), pytest.approx(236.125)),
    )
    # Without it, 11:00 is: gas 1200, coal 500, wind mean(1000 x4) = 1000, solar 800 (A03 repeats
    # position 5 over 6-8); (1200*490 + 500*820 + 1000*11 + 800*45) / 3500 = 1045000 / 3500.
    hours = hourly_intensity(parse_a75(_without_nuclear(A75)))
    assert [h for h, _ in hours] == [
        datetime(2024, 6, 3, 10, tzinfo=UTC),
        datetime(2024, 6, 3, 11, tzinfo=UTC),
    ]
    assert [g for _, g in hours] == [pytest.approx(236.125), pytest.approx(1045000 / 3500)]


def test_zone_names_and_eic_codes() -> None:
    assert eic("de-lu") == eic("DE") == "10Y1001A1001A82H"
    assert eic("10YFR-RTE------C") == "10YFR-RTE------C"
    assert len(BIDDING_ZONES) == len(set(BIDDING_ZONES.values()))
    assert all(len(code) == 16 for code in BIDDING_ZONES.values())
    with pytest.raises(ProviderRejected, match="unknown bidding zone 'Atlantis'"):
        eic("Atlantis")


def platform(request: Request) -> Reply:
    """The platform's side, from the API guide: token, A75/A16, in_Domain, period; XML answers."""
    xml = "application/xml"
    if request.query.get("securityToken") != TOKEN:
        return Reply(
            401, b"<html><body><h1>Unauthorized</h1></body></html>", content_type="text/html"
        )
    q = request.query
    if (request.path, q.get("documentType"), q.get("processType")) != ("/api", "A75", "A16"):
        return Reply(400, (FIXTURES / "ack_bad_request.xml").read_bytes(), content_type=xml)
    if q.get("in_Domain") == "10Y1001A1001A82H":
        return Reply(200, _without_nuclear(A75), content_type=xml)
    if q.get("in_Domain") == "10YFR-RTE------C":
        return Reply(200, (FIXTURES / "ack_no_data.xml").read_bytes(), content_type=xml)
    return Reply(400, (FIXTURES / "ack_bad_request.xml").read_bytes(), content_type=xml)


async def test_fetch_hourly_lifecycle_intensity(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(platform)
    async with EntsoeConnector(TOKEN, server.url) as connector:
        series = await connector.fetch("DE-LU", now=NOW)
    assert (series.zone, series.kind, series.basis, series.provider) == (
        "DE-LU",
        "average",
        "lifecycle",
        "entsoe",
    )
    assert [p.g_per_kwh for p in series.actuals] == [
        pytest.approx(236.125),
        pytest.approx(1045000 / 3500),
    ]
    assert series.forecasts == ()
    sent = server.requests[0].query
    assert (sent["in_Domain"], sent["periodStart"], sent["periodEnd"]) == (
        "10Y1001A1001A82H",
        "202406030600",
        "202406031300",
    )


async def test_no_matching_data_acknowledgement_is_no_data(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(platform)
    async with EntsoeConnector(TOKEN, server.url) as connector:
        with pytest.raises(NoData, match=r"No matching data found for Data item ACTUAL_GENERATION"):
            await connector.fetch("FR", now=NOW)


async def test_bad_request_acknowledgement_and_bad_token(
    replay: Callable[[Handler], ReplayServer],
) -> None:
    server = replay(platform)
    async with EntsoeConnector(TOKEN, server.url) as connector:
        with pytest.raises(
            ProviderRejected, match=r"HTTP 400 on /api: The combination of \[In_Domain"
        ):
            await connector.fetch("PL", now=NOW)
    async with EntsoeConnector("revoked", server.url) as connector:
        with pytest.raises(AuthError, match="HTTP 401 on /api: <html>") as caught:
            await connector.fetch("DE-LU", now=NOW)
    assert "revoked" not in str(
        caught.value
    )  # the token travels in the query; messages never show it


async def test_ban_after_the_rate_limit(
    replay: Callable[[Handler], ReplayServer], sleeps: Sleeps
) -> None:
    server = replay(
        lambda _r: Reply(
            429,
            b"Max allowed requests per minute from each unique IP is max up to 400 only",
            {"Retry-After": "600"},
            "text/plain",
        )
    )
    async with EntsoeConnector(TOKEN, server.url, sleep=sleeps) as connector:
        with pytest.raises(RateLimited) as caught:
            await connector.fetch("DE-LU", now=NOW)
    assert caught.value.retry_after_s == 600 and sleeps.waits == []


async def test_not_xml_is_a_response_error(replay: Callable[[Handler], ReplayServer]) -> None:
    server = replay(lambda _r: Reply(200, b'{"oops": true}'))
    async with EntsoeConnector(TOKEN, server.url) as connector:
        with pytest.raises(ResponseError, match="not XML"):
            await connector.fetch("DE-LU", now=NOW)


def test_an_unknown_production_type_is_counted_and_named() -> None:
    from greenwire.cloud.grid.entsoe import parse_series

    renamed = _without_nuclear(A75).replace(b"<psrType>B05</psrType>", b"<psrType>B42</psrType>")
    series = parse_series(renamed, "DE-LU", fetched_at=NOW)
    assert "psrType B42 counted as unknown (700 g/kWh)" in series.source
    # hour 10: coal's 500 MWh now at 700 instead of 820 g/kWh: (944500 - 500 * 120) / 4000
    assert series.actuals[0].g_per_kwh == pytest.approx((944500 - 500 * 120) / 4000)
