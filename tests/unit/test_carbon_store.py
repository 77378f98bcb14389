"""The carbon commands' InfluxQL client: credentials for InfluxDB 1.x with authentication and 2.x/3 tokens."""

from __future__ import annotations

import base64

import httpx
import pytest

from greenwire.cloud.adapters.influxql import InfluxV1
from greenwire.shared.errors import StoreRejected


def _server(seen: list[httpx.Request], status: int = 200) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/write":
            return httpx.Response(204 if status == 200 else status)
        return httpx.Response(status, json={"results": [{"statement_id": 0}]})

    return httpx.MockTransport(handle)


def test_a_token_goes_in_the_authorization_header_and_never_in_the_repr() -> None:
    seen: list[httpx.Request] = []
    influx = InfluxV1("http://influx:8086", "greenwire", token="s3cret-token", transport=_server(seen))
    assert influx.query('SELECT * FROM "carbon"') == []
    influx.write(["carbon,site=s value=1 1"])
    assert [r.headers["authorization"] for r in seen] == ["Token s3cret-token"] * 2
    assert all("s3cret" not in str(r.url) for r in seen)
    assert "s3cret" not in repr(influx)


def test_username_and_password_go_as_basic_auth() -> None:
    seen: list[httpx.Request] = []
    InfluxV1("http://influx:8086", "greenwire", username="carbon", password="pw", transport=_server(seen)).query("SHOW MEASUREMENTS")
    assert seen[0].headers["authorization"] == "Basic " + base64.b64encode(b"carbon:pw").decode()


def test_refused_credentials_are_a_clear_error() -> None:
    influx = InfluxV1("http://influx:8086", "greenwire", token="wrong", transport=_server([], status=401))
    with pytest.raises(StoreRejected, match="refused the credentials"):
        influx.query("SHOW MEASUREMENTS")
