"""greenwire.cloud.adapters.influx: how InfluxDB's answers map to "stored", "retry" (StoreError) or "refused" (StoreRejected).

Only the mapping of HTTP answers is tested here, against httpx's MockTransport
(v1) and a small aiohttp server on loopback that answers like InfluxDB (v2).
That InfluxDB really stores the points is proven against real servers in
tests/integration/test_ingest.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from aiohttp import web

from greenwire.cloud.adapters.influx import InfluxV1Writer, InfluxV2Writer, make_writer
from greenwire.cloud.ingest.config import InfluxSection
from greenwire.shared.errors import StoreError, StoreRejected

LINES = ["readings,device=m1,gateway=gw-01,site=s active_power_w=1.5 1", "readings,device=m2,gateway=gw-01,site=s x=2 2"]


def v1_writer(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> InfluxV1Writer:
    return InfluxV1Writer(
        "http://influx.test:8086", "greenwire", transport=httpx.MockTransport(handler), **kwargs  # type: ignore[arg-type]
    )


async def test_v1_posts_line_protocol_with_ns_precision_and_returns_on_204() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    writer = v1_writer(handler, retention_policy="autogen", username="u", password="p")
    await writer.write(LINES)
    await writer.write([])  # nothing to write: no request
    await writer.close()
    assert len(seen) == 1
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/write")
    assert dict(request.url.params) == {"db": "greenwire", "precision": "ns", "rp": "autogen"}
    assert request.content == "\n".join(LINES).encode()
    assert request.headers["Authorization"] == httpx.BasicAuth("u", "p")._auth_header


async def test_v1_gzip_sends_the_same_lines_compressed() -> None:
    import gzip

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    writer = v1_writer(handler, gzip=True)
    await writer.write(LINES)
    await writer.close()
    assert seen[0].headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(seen[0].content) == "\n".join(LINES).encode()


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (400, {"error": 'partial write: field type conflict: input field "x" is type string'}, StoreRejected,
         "answered 400: partial write: field type conflict"),
        (400, {"error": "unable to parse 'readings x': invalid field format"}, StoreRejected, "unable to parse"),
        (413, {"error": "Request Entity Too Large"}, StoreRejected, "answered 413"),
        (422, {"error": "unprocessable"}, StoreRejected, "answered 422"),
        (404, {"error": 'database not found: "greenwire"'}, StoreError, "database not found"),
        (401, {"error": "authorization failed"}, StoreError, "answered 401"),
        (403, {"error": "forbidden"}, StoreError, "answered 403"),
        (429, {"error": "slow down"}, StoreError, "answered 429"),
        (500, {"error": "timeout"}, StoreError, "answered 500: timeout"),
        (503, None, StoreError, "answered 503"),
        (200, None, StoreError, "answered 200"),
    ],
)
async def test_v1_status_mapping(status: int, body: object, error: type[StoreError], words: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="down")

    writer = v1_writer(handler)
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    await writer.close()
    assert type(caught.value) is error, "4xx the data's fault: refused; anything else: retried"
    assert words in str(caught.value)
    assert "InfluxDB http://influx.test:8086 database greenwire" in str(caught.value)


async def test_the_error_header_is_used_when_the_body_is_not_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="<html>", headers={"X-Influxdb-Error": "bad timestamp"})

    writer = v1_writer(handler)
    with pytest.raises(StoreRejected, match="bad timestamp"):
        await writer.write(LINES)
    await writer.close()


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")]
)
async def test_v1_connection_failures_are_retryable(exc: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    writer = v1_writer(handler)
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    assert not isinstance(caught.value, StoreRejected)
    assert type(exc).__name__ in str(caught.value)
    assert caught.value.__cause__ is exc
    assert await writer.ping() is False
    await writer.close()


async def test_v1_ping() -> None:
    writer = v1_writer(lambda r: httpx.Response(204 if r.url.path == "/ping" else 404))
    assert await writer.ping() is True
    await writer.close()


# -- v2: influxdb-client against a loopback server that answers like InfluxDB 2 ----------------


@pytest.fixture
async def v2_server() -> AsyncIterator[tuple[str, list[web.Request | bytes], dict[str, object]]]:
    """A server on a free loopback port; set ``answer["status"]``/``answer["body"]`` per test."""
    seen: list[web.Request | bytes] = []
    answer: dict[str, object] = {"status": 204, "body": None}

    async def write(request: web.Request) -> web.Response:
        seen.append(request)
        seen.append(await request.read())
        body = answer["body"]
        return web.Response(
            status=int(str(answer["status"])),
            text=json.dumps(body) if body is not None else None,
            content_type="application/json" if body is not None else None,
        )

    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen, answer
    finally:
        await runner.cleanup()


async def test_v2_writes_through_influxdb_client(v2_server: tuple[str, list[object], dict[str, object]]) -> None:
    url, seen, _ = v2_server
    writer = InfluxV2Writer(url, "tok", "county", "greenwire")
    await writer.write(LINES)
    await writer.close()
    request, body = seen
    assert isinstance(request, web.Request) and isinstance(body, bytes)
    assert dict(request.query) == {"org": "county", "bucket": "greenwire", "precision": "ns"}
    assert request.headers["Authorization"] == "Token tok"
    assert body.decode().splitlines() == LINES


async def test_v2_gzip_through_influxdb_client(v2_server: tuple[str, list[object], dict[str, object]]) -> None:
    url, seen, _ = v2_server
    writer = InfluxV2Writer(url, "tok", "county", "greenwire", gzip=True)
    await writer.write(LINES)
    await writer.close()
    request, body = seen
    assert isinstance(request, web.Request) and isinstance(body, bytes)
    assert request.headers["Content-Encoding"] == "gzip"
    assert body.decode().splitlines() == LINES  # aiohttp decompresses the request body


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, StoreRejected), (413, StoreRejected), (422, StoreRejected), (401, StoreError), (404, StoreError),
     (429, StoreError), (500, StoreError), (503, StoreError)],
)
async def test_v2_status_mapping(
    v2_server: tuple[str, list[object], dict[str, object]], status: int, error: type[StoreError]
) -> None:
    url, _, answer = v2_server
    answer.update(status=status, body={"code": "invalid", "message": f"server says {status}"})
    writer = InfluxV2Writer(url, "tok", "county", "greenwire")
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    await writer.close()
    assert type(caught.value) is error
    assert f"answered {status}: server says {status}" in str(caught.value)


async def test_v2_unreachable_is_retryable() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    writer = InfluxV2Writer(f"http://127.0.0.1:{port}", "tok", "county", "greenwire", timeout_s=2)
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    assert not isinstance(caught.value, StoreRejected)
    assert await writer.ping() is False
    await writer.close()


async def test_make_writer_follows_the_api_setting() -> None:
    v1 = make_writer(InfluxSection(api="v1", url="http://127.0.0.1:8086", database="d"))
    v2 = make_writer(InfluxSection(api="v2", url="http://127.0.0.1:8086", token="t", org="o", bucket="b"))
    assert isinstance(v1, InfluxV1Writer) and isinstance(v2, InfluxV2Writer)
    await v1.close()
    await v2.close()
