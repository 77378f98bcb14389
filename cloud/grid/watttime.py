"""WattTime API v3: marginal (MOER) and average (AOER) emissions, forecast and history, per grid region.

Provider: WattTime (a non-profit), https://watttime.org; API reference
https://docs.watttime.org (OpenAPI "WattTime Data API (V3)"). Terms: account
required; ``/v3/historical`` and ``/v3/forecast`` are for subscribers except for
the preview region ``CAISO_NORTH``; data use follows WattTime's terms of service,
not an open licence. Rate limit: 3,000 requests per 5 minutes, 100 per 5 minutes
on ``/login``; above that, HTTP 429.

Authentication: ``GET /login`` with HTTP basic auth answers ``{"token": "<JWT>"}``,
valid 30 minutes; every data request sends ``Authorization: Bearer <token>``.
This adapter logs in lazily, again when its clock says the token has expired,
and once more when a data request answers 401 (a token revoked early); a second
401, or a 401/403 from ``/login``, is an :class:`AuthError`.

Endpoints used (``region=<WattTime region>``, ``signal_type=co2_moer|co2_aoer``):

- ``/v3/signal-index``: ``{"data": [{"point_time", "value"}], "meta": {"region", "signal_type",
  "units": "percentile", "data_point_period_seconds", ...}}``; value 0..100 relative to the
  region's recent range, not g/kWh, so it is a :class:`SignalIndex`, not a series
- ``/v3/forecast`` (``horizon_hours``): ``{"data": [{"point_time", "value"}], "meta": {...,
  "units": "lbs_co2_per_mwh", "generated_at", "data_point_period_seconds"}}``
- ``/v3/historical`` (``start``, ``end``): the same shape, measured values

``point_time`` starts a period of ``data_point_period_seconds`` (300). Values in
lbs CO2 per MWh become g per kWh (x 0.45359237). ``co2_moer`` is ``marginal``,
``co2_aoer`` ``average``; both count emissions at the stack (``direct``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from greenwire.cloud.grid import _parse as p
from greenwire.cloud.grid.errors import AuthError, ResponseError
from greenwire.cloud.grid.http import AuthRefused, ProviderHttp, short_body
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries, Kind, Status, combine

PROVIDER = "watttime"
DEFAULT_BASE_URL = "https://api.watttime.org"
SOURCE = "WattTime API v3"
TOKEN_LIFETIME = timedelta(minutes=30)
"""The documented lifetime of a login token; renewed a minute early."""

Signal = Literal["co2_moer", "co2_aoer"]
G_PER_KWH_PER_LB_PER_MWH = 0.45359237
"""1 lb = 453.59237 g and 1 MWh = 1,000 kWh."""

_UNITS = {"lbs_co2_per_mwh": G_PER_KWH_PER_LB_PER_MWH, "g_co2_per_kwh": 1.0, "kg_co2_per_mwh": 1.0}
_KIND: dict[str, Kind] = {"co2_moer": "marginal", "co2_aoer": "average"}


@dataclass(frozen=True, slots=True)
class SignalIndex:
    """WattTime's 0-100 index of how dirty the region's marginal generation is now, relative to its recent range."""

    region: str
    signal_type: str
    start: datetime
    end: datetime
    percent: float


def _meta(top: dict[str, Any]) -> dict[str, Any]:
    return p.obj(p.key(top, "meta", PROVIDER, "body"), PROVIDER, "meta")


def _period(meta: dict[str, Any]) -> timedelta:
    seconds = meta.get("data_point_period_seconds", 300)
    return timedelta(seconds=p.number(seconds, PROVIDER, "meta.data_point_period_seconds"))


def _check(meta: dict[str, Any], region: str, signal: str) -> None:
    if meta.get("region") not in (None, region):
        raise ResponseError(
            PROVIDER, f"asked for region {region!r}, the answer is for {meta['region']!r}"
        )
    if meta.get("signal_type") not in (None, signal):
        raise ResponseError(PROVIDER, f"asked for {signal}, the answer is {meta['signal_type']!r}")


def parse_data(
    body: Any, region: str, signal: Signal, status: Status, *, fetched_at: datetime
) -> IntensitySeries:
    """A ``/v3/forecast`` or ``/v3/historical`` answer as a series in g/kWh."""
    top = p.obj(body, PROVIDER, "body")
    meta = _meta(top)
    _check(meta, region, signal)
    units = meta.get("units")
    if units not in _UNITS:
        raise ResponseError(PROVIDER, f"meta.units: cannot convert {units!r} to g/kWh")
    scale, period = _UNITS[units], _period(meta)
    points = []
    for i, raw in enumerate(p.items(p.key(top, "data", PROVIDER, "body"), PROVIDER, "data")):
        entry = p.obj(raw, PROVIDER, f"data[{i}]")
        start = p.timestamp(
            p.key(entry, "point_time", PROVIDER, f"data[{i}]"), PROVIDER, f"data[{i}].point_time"
        )
        value = p.number(
            p.key(entry, "value", PROVIDER, f"data[{i}]"), PROVIDER, f"data[{i}].value"
        )
        try:
            points.append(IntensityPoint(start, start + period, value * scale, status))
        except ValueError as exc:
            raise ResponseError(PROVIDER, f"data[{i}]: {exc}") from exc
    try:
        return IntensitySeries.build(
            zone=region,
            provider=PROVIDER,
            source=f"{SOURCE} {signal}",
            kind=_KIND[signal],
            basis="direct",
            points=points,
            fetched_at=fetched_at,
        )
    except ValueError as exc:
        raise ResponseError(PROVIDER, str(exc)) from exc


def parse_signal_index(body: Any, region: str, signal: Signal) -> SignalIndex:
    top = p.obj(body, PROVIDER, "body")
    meta = _meta(top)
    _check(meta, region, signal)
    if meta.get("units") not in (None, "percentile"):
        raise ResponseError(
            PROVIDER, f"meta.units: expected 'percentile', got {meta.get('units')!r}"
        )
    data = p.items(p.key(top, "data", PROVIDER, "body"), PROVIDER, "data")
    if not data:
        raise ResponseError(PROVIDER, "data: empty signal index")
    entry = p.obj(data[-1], PROVIDER, f"data[{len(data) - 1}]")
    start = p.timestamp(
        p.key(entry, "point_time", PROVIDER, "data[-1]"), PROVIDER, "data[-1].point_time"
    )
    value = p.number(p.key(entry, "value", PROVIDER, "data[-1]"), PROVIDER, "data[-1].value")
    if not 0 <= value <= 100:
        raise ResponseError(PROVIDER, f"data[-1].value: a percentile must be 0..100, got {value:g}")
    return SignalIndex(region, signal, start, start + _period(meta), value)


def _message(response: httpx.Response) -> str:
    return p.error_text(response, ("error",), ("message",), ("detail",)) or short_body(response)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WattTimeConnector:
    """Async adapter for WattTime v3 with login and token renewal (see the module docstring)."""

    provider = PROVIDER

    def __init__(
        self,
        username: str,
        password: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        signal: Signal = "co2_moer",
        login_url: str | None = None,
        **http: Any,
    ) -> None:
        if not username or not password:
            raise ValueError("WattTime needs a username and a password")
        if signal not in _KIND:
            raise ValueError(f"signal must be one of {', '.join(_KIND)}, got {signal!r}")
        self._auth = (username, password)
        self._signal: Signal = signal
        self._http = ProviderHttp(PROVIDER, base_url, **http)
        self._login_url = login_url or f"{self._http.base_url}/login"
        self._token: str | None = None
        self._token_until: datetime | None = None
        self.logins = 0
        """How many times this adapter has logged in (for the service's metrics)."""

    async def __aenter__(self) -> WattTimeConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _login(self) -> str:
        try:
            response = await self._http.get(
                "", url=self._login_url, auth=self._auth, message_of=_message
            )
        except AuthError as exc:
            raise AuthError(
                PROVIDER, f"login refused ({exc.reason}); check the username and password"
            ) from exc
        token = p.obj(p.json_body(response, PROVIDER), PROVIDER, "login").get("token")
        if not isinstance(token, str) or not token:
            raise ResponseError(PROVIDER, "login answered without a token")
        self.logins += 1
        self._token = token
        self._token_until = self._http.now() + TOKEN_LIFETIME - timedelta(minutes=1)
        return token

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        token = self._token
        if token is None or self._token_until is None or self._http.now() >= self._token_until:
            token = await self._login()
        for attempt in (1, 2):
            try:
                response = await self._http.get(
                    path,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    message_of=_message,
                )
                return p.json_body(response, PROVIDER)
            except AuthRefused as exc:
                if exc.status != 401 or attempt == 2:
                    raise
                token = await self._login()  # the token expired or was revoked early: renew once
        raise AssertionError("unreachable")

    def _params(self, region: str, **extra: str) -> dict[str, str]:
        return {"region": region, "signal_type": self._signal, **extra}

    async def signal_index(self, region: str) -> SignalIndex:
        body = await self._get("/v3/signal-index", self._params(region))
        return parse_signal_index(body, region, self._signal)

    async def forecast(
        self, region: str, *, now: datetime, horizon_hours: int = 24
    ) -> IntensitySeries:
        body = await self._get(
            "/v3/forecast", self._params(region, horizon_hours=str(horizon_hours))
        )
        return parse_data(body, region, self._signal, "forecast", fetched_at=now)

    async def historical(
        self, region: str, *, start: datetime, end: datetime, now: datetime
    ) -> IntensitySeries:
        body = await self._get(
            "/v3/historical", self._params(region, start=_stamp(start), end=_stamp(end))
        )
        return parse_data(body, region, self._signal, "actual", fetched_at=now)

    async def fetch(self, region: str, *, now: datetime) -> IntensitySeries:
        """The last hour's measured values and the next 24 h forecast in one series."""
        past = await self.historical(region, start=now - timedelta(hours=1), end=now, now=now)
        return combine(past, await self.forecast(region, now=now))
