"""The one place a grid provider's HTTP answer is read and its failures translated.

Every connector sends its requests through :class:`ProviderHttp`, which turns
transport failures and HTTP statuses into :mod:`greenwire.cloud.grid.errors` (with
``raise ... from``) so that no connector handles httpx exceptions itself:

- connection refused, DNS failure, timeout, 5xx  -> :class:`ProviderUnavailable`
- 429 -> wait the provider's ``Retry-After`` once if it is at most ``max_retry_wait_s``,
  else :class:`RateLimited` carrying it (the service loop then waits that long)
- 401, 403 -> :class:`AuthError` (``status`` says which; WattTime renews its token on 401)
- other 4xx -> :class:`ProviderRejected`, or :class:`NoData` when the connector says so
- 2xx -> the response, for the connector to parse

Messages name the path, never the query string: ENTSO-E's token travels in it.
The wait is an injected ``sleep`` so tests run on a controlled clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import httpx

from greenwire.cloud.grid.errors import (
    AuthError,
    NoData,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)

Sleep = Callable[[float], Awaitable[None]]
MessageOf = Callable[[httpx.Response], str]

DEFAULT_TIMEOUT_S = 20.0
DEFAULT_MAX_RETRY_WAIT_S = 30.0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def short_body(response: httpx.Response, limit: int = 200) -> str:
    """The start of a response body on one line, for an error message."""
    text = " ".join(response.text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


class AuthRefused(AuthError):
    """An :class:`AuthError` that knows the HTTP status (401 unauthenticated, 403 forbidden)."""

    def __init__(self, provider: str, message: str, *, status: int) -> None:
        super().__init__(provider, message)
        self.status = status


class ProviderHttp:
    """An httpx client bound to one provider's base URL, with the error translation above."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"{provider}: base URL must start with http:// or https://, got {base_url!r}"
            )
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._timeout_s = timeout_s
        self._max_retry_wait_s = max_retry_wait_s
        self._sleep = sleep
        self._clock = clock

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def now(self) -> datetime:
        """The injected clock's time (UTC)."""
        return self._clock()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        message_of: MessageOf = short_body,
        no_data: Callable[[httpx.Response], bool] = lambda _r: False,
        url: str | None = None,
    ) -> httpx.Response:
        """GET ``base_url + path`` (or ``url``); the 2xx response, or the translated error."""
        target = url or f"{self.base_url}{path}"
        shown = httpx.URL(target).path
        waited = False
        while True:
            try:
                response = await self._client.get(
                    target,
                    params=dict(params or {}),
                    headers=dict(headers or {}),
                    auth=auth,
                    timeout=self._timeout_s,
                )
            except httpx.TimeoutException as exc:
                raise ProviderUnavailable(
                    self.provider, f"no answer within {self._timeout_s:g} s for {shown}"
                ) from exc
            except httpx.TransportError as exc:
                raise ProviderUnavailable(
                    self.provider,
                    f"cannot reach {httpx.URL(target).host}: {type(exc).__name__}: {exc}",
                ) from exc
            status = response.status_code
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
                if not waited and retry_after is not None and retry_after <= self._max_retry_wait_s:
                    waited = True
                    await self._sleep(retry_after)
                    continue
                after = f"; retry after {retry_after:g} s" if retry_after is not None else ""
                raise RateLimited(
                    self.provider,
                    f"rate limited (HTTP 429) on {shown}{after}",
                    retry_after_s=retry_after,
                )
            if 200 <= status < 300:
                return response
            message = message_of(response)
            if status in (401, 403):
                raise AuthRefused(
                    self.provider, f"HTTP {status} on {shown}: {message}", status=status
                )
            if status >= 500:
                raise ProviderUnavailable(self.provider, f"HTTP {status} on {shown}: {message}")
            if no_data(response):
                raise NoData(self.provider, f"no data (HTTP {status}) on {shown}: {message}")
            raise ProviderRejected(self.provider, f"HTTP {status} on {shown}: {message}")
