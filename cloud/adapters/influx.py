"""InfluxDB writers: line protocol in, ``None`` (stored) or a ``StoreError`` out.

Two implementations of one small interface (:class:`Writer`):

- :class:`InfluxV1Writer`: InfluxDB 1.x ``POST /write?db=..&rp=..&precision=ns``
  over aiohttp, optional basic auth. Only ``204 No Content`` means stored.
- :class:`InfluxV2Writer`: the v2 write API (InfluxDB 2.x/3, VictoriaMetrics)
  through influxdb-client's ``InfluxDBClientAsync``, imported only when chosen.

Every failure is translated here, in :func:`status_error` and :func:`connection_error`, and nowhere else:

==============================================  =====================================
connection refused, DNS, reset, timeout          ``StoreError`` (retry the same data)
429, 5xx                                         ``StoreError``
401, 403, 404 (auth, unknown database/bucket)    ``StoreError``: fix the server or the
                                                 config; the data is not at fault, so
                                                 it is kept and retried, never dropped
400, 413, 422 (unparsable, field-type conflict,  ``StoreRejected`` with InfluxDB's own
too large)                                       message: retrying as is cannot help
any other answer                                 ``StoreError``
==============================================  =====================================
"""

from __future__ import annotations

import gzip as gzip_module
import json
from base64 import b64encode
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlencode

import aiohttp

from greenwire.shared.errors import StoreError, StoreRejected

if TYPE_CHECKING:
    from greenwire.cloud.adapters.settings import InfluxSection

_REJECTING_STATUSES: Final = frozenset({400, 413, 422})
_AUTH_STATUSES: Final = frozenset({401, 403})
_MESSAGE_CHARS: Final = 500


class Writer(Protocol):
    """Writes line protocol to a time-series database."""

    async def write(self, lines: Sequence[str] | bytes) -> None:
        """Store ``lines`` (nanosecond timestamps) or raise ``StoreError``/``StoreRejected``.

        ``bytes`` is a request body as it is: UTF-8 lines joined by newlines (the ingestor
        joins its messages' buffers into one, and no text of it is built again).
        """
        ...

    async def ping(self) -> bool:
        """True if the database answers its health endpoint."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def status_error(status: int, message: str, target: str, *, data_kept: bool = True) -> StoreError:
    """The one place an HTTP answer from InfluxDB becomes a greenwire error (the table above).

    ``data_kept`` is True for a service writing data it still holds (a flush, a buffer): a
    refused login is then worth retrying once the server or config is fixed. A command's query
    or write (``data_kept=False``) holds nothing to retry with, so 401 and 403 are final
    (``StoreRejected``) there. 429 and 5xx are always ``StoreError``: retry with backoff.
    """
    message = " ".join(message.split())[:_MESSAGE_CHARS] or "(no message)"
    why = " (it refused the credentials)" if status in _AUTH_STATUSES else ""
    text = f"{target} answered {status}: {message}{why}"
    if status in _REJECTING_STATUSES or (not data_kept and status in _AUTH_STATUSES):
        return StoreRejected(text)
    return StoreError(text)


def connection_error(exc: BaseException, target: str) -> StoreError:
    """A failure to reach InfluxDB at all (refused, DNS, reset, timeout): always worth retrying."""
    return StoreError(f"{target}: {type(exc).__name__}: {exc}")


def retryable(exc: StoreError) -> bool:
    """The one retry rule: everything but ``StoreRejected`` may succeed later with the same data."""
    return not isinstance(exc, StoreRejected)


def query_rows(body: Any, q: str, target: str) -> list[dict[str, Any]]:
    """The rows of an InfluxQL ``/query`` answer (tags merged into each row), or ``StoreRejected``
    with InfluxDB's words when a statement failed (unknown database, bad syntax)."""
    rows: list[dict[str, Any]] = []
    for result in body.get("results", []) if isinstance(body, dict) else []:
        if "error" in result:
            raise StoreRejected(f"{target} refused {q!r}: {result['error']}")
        for series in result.get("series", []):
            for values in series["values"]:
                row = dict(series.get("tags", {}))
                row.update(zip(series["columns"], values, strict=True))
                rows.append(row)
    return rows


class InfluxV1Writer:
    """InfluxDB 1.x HTTP ``/write`` with nanosecond precision, over aiohttp.

    aiohttp rather than httpx (which the blocking InfluxQL client uses): measured on
    5,000-line writes to InfluxDB 1.6, httpx's asyncio client spent 3.1-3.8 ms of CPU per
    request and aiohttp 1.3-1.5 ms, on the ingestor's hot path. The session is opened on
    the first request, so the writer can be made outside the event loop it writes from.
    """

    def __init__(
        self,
        url: str,
        database: str,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        gzip: bool = False,
    ) -> None:
        params = {"db": database, "precision": "ns"}
        self._gzip = gzip
        if retention_policy:
            params["rp"] = retention_policy
        base = url.rstrip("/")
        self._write_url = f"{base}/write?{urlencode(params)}"
        self._ping_url = f"{base}/ping"
        self._target = f"InfluxDB {url} database {database}"
        # Basic auth (RFC 7617) as a header: aiohttp 3.14 deprecates its BasicAuth helper.
        credentials = f"{username}:{password or ''}".encode() if username is not None else None
        self._headers = {"Authorization": f"Basic {b64encode(credentials).decode()}"} if credentials else {}
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Per phase, as httpx's timeout was: connecting, and each wait for the server's bytes.
            timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout_s, sock_read=self._timeout_s)
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=timeout)
        return self._session

    async def write(self, lines: Sequence[str] | bytes) -> None:
        """POST the lines; return when InfluxDB answered 204, else raise."""
        if not lines:
            return
        body = lines if isinstance(lines, bytes) else "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._gzip:
            # Level 1: most of the size win for a fraction of the CPU of the default level 9.
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            async with self._client().post(self._write_url, data=body, headers=headers) as response:
                if response.status == 204:
                    return
                status = response.status
                text = await response.text(errors="replace")
                header = response.headers.get("X-Influxdb-Error")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise connection_error(exc, self._target) from exc
        raise status_error(status, _v1_message(text, header), self._target)

    async def ping(self) -> bool:
        """``GET /ping`` answers 204 when InfluxDB is up."""
        try:
            async with self._client().get(self._ping_url) as response:
                return response.status == 204
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _v1_message(text: str, header: str | None) -> str:
    """InfluxDB 1.x puts its reason in ``{"error": ...}`` and in the X-Influxdb-Error header."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return header or text


class InfluxV2Writer:
    """The v2 write API through influxdb-client (InfluxDB 2.x/3, VictoriaMetrics).

    Create it inside a running event loop: the client opens an aiohttp session.
    """

    def __init__(
        self, url: str, token: str, org: str, bucket: str, *, timeout_s: float = 10.0, gzip: bool = False
    ) -> None:
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        self._org = org
        self._bucket = bucket
        self._target = f"InfluxDB {url} bucket {bucket}"
        self._client = InfluxDBClientAsync(
            url=url, token=token, org=org, timeout=int(timeout_s * 1000), enable_gzip=gzip
        )
        self._write_api = self._client.write_api()

    async def write(self, lines: Sequence[str] | bytes) -> None:
        """Write the lines with nanosecond precision; return when the server accepted them."""
        import aiohttp
        from influxdb_client.domain.write_precision import WritePrecision
        from influxdb_client.rest import ApiException

        if not lines:
            return
        try:
            ok = await self._write_api.write(
                bucket=self._bucket, org=self._org, record=lines if isinstance(lines, bytes) else list(lines),
                # influxdb-client annotates the parameter with its enum class, whose members are str.
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            raise status_error(int(exc.status or 0), _v2_message(exc), self._target) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StoreError(f"{self._target}: {type(exc).__name__}: {exc}") from exc
        if not ok:
            raise StoreError(f"{self._target}: the write was not acknowledged with 204")

    async def ping(self) -> bool:
        """``GET /ping`` through the client."""
        import aiohttp
        from influxdb_client.rest import ApiException

        try:
            return bool(await self._client.ping())
        except (ApiException, aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def close(self) -> None:
        """Close the client's aiohttp session."""
        await self._client.close()  # type: ignore[no-untyped-call]


def _v2_message(exc: Any) -> str:
    """influxdb-client extracts ``message`` from the JSON body; fall back to the raw body."""
    message = getattr(exc, "message", None)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    if isinstance(message, str) and message:
        return message
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body or getattr(exc, "reason", "") or "")


def make_writer(config: InfluxSection) -> Writer:
    """The writer the ``influx`` section asks for (call inside the event loop)."""
    if config.api == "v1":
        assert config.database is not None  # guaranteed by InfluxSection's validation
        return InfluxV1Writer(
            config.url,
            config.database,
            retention_policy=config.retention_policy,
            username=config.username,
            password=config.resolved_password(),
            timeout_s=config.timeout_s,
            gzip=config.gzip,
        )
    token = config.resolved_token()
    assert token is not None and config.org is not None and config.bucket is not None
    return InfluxV2Writer(
        config.url, token, config.org, config.bucket, timeout_s=config.timeout_s, gzip=config.gzip
    )
