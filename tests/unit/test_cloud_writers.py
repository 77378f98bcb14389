"""greenwire.cloud.adapters.influx: how InfluxDB's answers map to "stored", "retry" (StoreError) or "refused" (StoreRejected).

Only the mapping of HTTP answers is tested here, against a small aiohttp server
on loopback that answers like InfluxDB (v1 and v2).
That InfluxDB really stores the points is proven against real servers in
tests/integration/test_ingest.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from greenwire.cloud.adapters.influx import InfluxV1Writer, InfluxV2Writer, make_writer
from greenwire.cloud.ingest.config import InfluxSection
from greenwire.shared.errors import StoreError, StoreRejected

LINES = ["readings,device=m1,gateway=gw-01,site=s active_power_w=1.5 1", "readings,device=m2,gateway=gw-01,site=s x=2 2"]

Seen = list[tuple[web.Request, bytes]]


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen, dict[str, object]]]:
    """A server on a free loopback port that answers ``/write``, ``/ping`` and ``/api/v2/write``
    like InfluxDB; set ``answer["status"]``, ``["body"]`` (JSON, or text if a str), ``["headers"]``
    and ``["delay_s"]`` per test."""
    seen: Seen = []
    answer: dict[str, object] = {"status": 204, "body": None, "headers": {}, "delay_s": 0.0}

    async def handle(request: web.Request) -> web.Response:
        seen.append((request, await request.read()))
        await asyncio.sleep(float(str(answer["delay_s"])))
        body = answer["body"]
        headers = dict(answer["headers"])  # type: ignore[call-overload]
        if isinstance(body, str):
            return web.Response(status=int(str(answer["status"])), text=body, headers=headers)
        return web.Response(
            status=int(str(answer["status"])),
            text=json.dumps(body) if body is not None else None,
            content_type="application/json" if body is not None else None,
            headers=headers,
        )

    app = web.Application()
    app.router.add_post("/write", handle)
    app.router.add_get("/ping", handle)
    app.router.add_post("/api/v2/write", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen, answer
    finally:
        await runner.cleanup()


Server = tuple[str, Seen, dict[str, object]]


async def test_v1_posts_line_protocol_with_ns_precision_and_returns_on_204(server: Server) -> None:
    url, seen, _ = server
    writer = InfluxV1Writer(url, "greenwire", retention_policy="autogen", username="u", password="p")
    await writer.write(LINES)
    await writer.write([])  # nothing to write: no request
    await writer.close()
    assert len(seen) == 1
    request, body = seen[0]
    assert (request.method, request.path) == ("POST", "/write")
    assert dict(request.query) == {"db": "greenwire", "precision": "ns", "rp": "autogen"}
    assert body == "\n".join(LINES).encode()
    assert request.headers["Authorization"] == "Basic dTpw"  # base64 of "u:p" (RFC 7617)


async def test_v1_posts_a_ready_body_as_it_is(server: Server) -> None:
    url, seen, _ = server
    writer = InfluxV1Writer(url, "greenwire")
    await writer.write("\n".join(LINES).encode())
    await writer.write(b"")  # nothing to write: no request
    await writer.close()
    assert [body for _, body in seen] == ["\n".join(LINES).encode()]


async def test_v1_gzip_sends_the_same_lines_compressed(server: Server) -> None:
    url, seen, _ = server
    writer = InfluxV1Writer(url, "greenwire", gzip=True)
    await writer.write(LINES)
    await writer.close()
    request, body = seen[0]
    assert request.headers["Content-Encoding"] == "gzip"
    assert body == "\n".join(LINES).encode()  # aiohttp's server decompresses the request body


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
        (503, "down", StoreError, "answered 503: down"),
        (200, "down", StoreError, "answered 200"),
    ],
)
async def test_v1_status_mapping(server: Server, status: int, body: object, error: type[StoreError], words: str) -> None:
    url, _, answer = server
    answer.update(status=status, body=body)
    writer = InfluxV1Writer(url, "greenwire")
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    await writer.close()
    assert type(caught.value) is error, "4xx the data's fault: refused; anything else: retried"
    assert words in str(caught.value)
    assert f"InfluxDB {url} database greenwire" in str(caught.value)


async def test_the_error_header_is_used_when_the_body_is_not_json(server: Server) -> None:
    url, _, answer = server
    answer.update(status=400, body="<html>", headers={"X-Influxdb-Error": "bad timestamp"})
    writer = InfluxV1Writer(url, "greenwire")
    with pytest.raises(StoreRejected, match="bad timestamp"):
        await writer.write(LINES)
    await writer.close()


def _unused_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _assert_retryable(writer: InfluxV1Writer, words: str) -> None:
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    assert not isinstance(caught.value, StoreRejected)
    assert words in str(caught.value)
    assert isinstance(caught.value.__cause__, (aiohttp.ClientError, TimeoutError, OSError))
    assert await writer.ping() is False
    await writer.close()


async def test_v1_connection_refused_is_retryable() -> None:
    await _assert_retryable(InfluxV1Writer(f"http://127.0.0.1:{_unused_port()}", "greenwire"), "Connect")


async def test_v1_a_server_that_does_not_answer_in_time_is_retryable(server: Server) -> None:
    url, _, answer = server
    answer.update(delay_s=2.0)
    await _assert_retryable(InfluxV1Writer(url, "greenwire", timeout_s=0.2), "Timeout")


async def test_v1_a_connection_closed_without_an_answer_is_retryable() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.close()

    closer = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = closer.sockets[0].getsockname()[1]
    try:
        await _assert_retryable(InfluxV1Writer(f"http://127.0.0.1:{port}", "greenwire"), "Disconnected")
    finally:
        closer.close()
        await closer.wait_closed()


async def test_v1_ping(server: Server) -> None:
    url, seen, _ = server
    writer = InfluxV1Writer(url, "greenwire")
    assert await writer.ping() is True
    await writer.close()
    assert seen[0][0].path == "/ping"


def test_v1_writer_can_be_made_outside_the_event_loop(server: Server) -> None:
    """The health service makes its writers before its loop runs: the session opens on first use."""
    writer = InfluxV1Writer("http://127.0.0.1:8086", "greenwire")
    assert writer._session is None


# -- v2: influxdb-client against a loopback server that answers like InfluxDB 2 ----------------


async def test_v2_writes_through_influxdb_client(server: Server) -> None:
    url, seen, _ = server
    writer = InfluxV2Writer(url, "tok", "county", "greenwire")
    await writer.write(LINES)
    await writer.close()
    ((request, body),) = seen
    assert dict(request.query) == {"org": "county", "bucket": "greenwire", "precision": "ns"}
    assert request.headers["Authorization"] == "Token tok"
    assert body.decode().splitlines() == LINES


async def test_v2_gzip_through_influxdb_client(server: Server) -> None:
    url, seen, _ = server
    writer = InfluxV2Writer(url, "tok", "county", "greenwire", gzip=True)
    await writer.write(LINES)
    await writer.close()
    ((request, body),) = seen
    assert request.headers["Content-Encoding"] == "gzip"
    assert body.decode().splitlines() == LINES  # aiohttp decompresses the request body


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, StoreRejected), (413, StoreRejected), (422, StoreRejected), (401, StoreError), (404, StoreError),
     (429, StoreError), (500, StoreError), (503, StoreError)],
)
async def test_v2_status_mapping(
    server: Server, status: int, error: type[StoreError]
) -> None:
    url, _, answer = server
    answer.update(status=status, body={"code": "invalid", "message": f"server says {status}"})
    writer = InfluxV2Writer(url, "tok", "county", "greenwire")
    with pytest.raises(StoreError) as caught:
        await writer.write(LINES)
    await writer.close()
    assert type(caught.value) is error
    assert f"answered {status}: server says {status}" in str(caught.value)


async def test_v2_unreachable_is_retryable() -> None:
    writer = InfluxV2Writer(f"http://127.0.0.1:{_unused_port()}", "tok", "county", "greenwire", timeout_s=2)
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
