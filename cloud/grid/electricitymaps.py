"""Electricity Maps API v3: latest, recent history and forecast of a zone's carbon intensity.

Provider: Electricity Maps ApS, https://www.electricitymaps.com; API reference
https://portal.electricitymaps.com/developer-hub/api/reference (formerly
https://static.electricitymaps.com/api/docs/). Terms: the API is commercial
(free personal tier: ``latest`` and ``history``; ``forecast`` needs a plan); the
data are licensed under Electricity Maps' API terms, not an open licence; their
free data-portal exports are ODbL. Authentication: the ``auth-token`` header.

Endpoints used (``GET``, ``zone=<zone key>``, ``emissionFactorType=lifecycle|direct``):

- ``/v3/carbon-intensity/latest``: ``{"zone", "carbonIntensity", "datetime", "updatedAt",
  "createdAt", "emissionFactorType", "isEstimated", "estimationMethod"}``
- ``/v3/carbon-intensity/history``: ``{"zone", "history": [<latest-shaped entries>]}``
  (the last 24 h; ``carbonIntensity`` may be null for an hour with no data)
- ``/v3/carbon-intensity/forecast``: ``{"zone", "forecast": [{"carbonIntensity", "datetime"}],
  "updatedAt"}``
- errors: ``{"error": "Invalid auth-token", "message": "..."}`` with 401 or 403

``datetime`` is the start of the period; the period is ``temporalGranularity``
when given (``5_minutes``, ``15_minutes``, ``hourly``), else one hour as the
reference states. Values are consumption-based averages (flow-traced), so the
series are ``average``; the basis is the ``emissionFactorType`` asked for and
checked against the answer. An hour with a null value yields no point.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from greenwire.cloud.grid import _parse as p
from greenwire.cloud.grid.errors import ResponseError
from greenwire.cloud.grid.http import ProviderHttp, short_body
from greenwire.cloud.grid.series import Basis, IntensityPoint, IntensitySeries, Status, combine

PROVIDER = "electricitymaps"
DEFAULT_BASE_URL = "https://api.electricitymaps.com"
SOURCE = "Electricity Maps API v3"

_GRANULARITY = {
    "5_minutes": timedelta(minutes=5),
    "15_minutes": timedelta(minutes=15),
    "hourly": timedelta(hours=1),
}


def _point(
    entry: dict[str, Any], where: str, status: Status, basis: Basis, default: timedelta
) -> IntensityPoint | None:
    value = p.key(entry, "carbonIntensity", PROVIDER, where)
    if value is None:
        return None
    start = p.timestamp(p.key(entry, "datetime", PROVIDER, where), PROVIDER, f"{where}.datetime")
    granularity = entry.get("temporalGranularity")
    period = _GRANULARITY.get(granularity, default) if isinstance(granularity, str) else default
    if granularity is not None and granularity not in _GRANULARITY:
        raise ResponseError(PROVIDER, f"{where}.temporalGranularity: unknown {granularity!r}")
    factor = entry.get("emissionFactorType")
    if factor is not None and factor != basis:
        raise ResponseError(
            PROVIDER, f"{where}.emissionFactorType is {factor!r}, asked for {basis!r}"
        )
    try:
        return IntensityPoint(
            start,
            start + period,
            p.number(value, PROVIDER, f"{where}.carbonIntensity"),
            status,
            estimated=entry.get("isEstimated") is True,
        )
    except ValueError as exc:
        raise ResponseError(PROVIDER, f"{where}: {exc}") from exc


def _series(
    zone: str, basis: Basis, points: list[IntensityPoint | None], fetched_at: datetime
) -> IntensitySeries:
    try:
        return IntensitySeries.build(
            zone=zone,
            provider=PROVIDER,
            source=f"{SOURCE} ({basis})",
            kind="average",
            basis=basis,
            points=[pt for pt in points if pt is not None],
            fetched_at=fetched_at,
        )
    except ValueError as exc:
        raise ResponseError(PROVIDER, str(exc)) from exc


def _check_zone(body: dict[str, Any], zone: str) -> None:
    answered = body.get("zone")
    if answered is not None and str(answered).upper() != zone.upper():
        raise ResponseError(PROVIDER, f"asked for zone {zone!r}, the answer is for {answered!r}")


def parse_latest(body: Any, zone: str, basis: Basis, *, fetched_at: datetime) -> IntensitySeries:
    entry = p.obj(body, PROVIDER, "body")
    _check_zone(entry, zone)
    return _series(
        zone, basis, [_point(entry, "body", "actual", basis, timedelta(hours=1))], fetched_at
    )


def parse_history(body: Any, zone: str, basis: Basis, *, fetched_at: datetime) -> IntensitySeries:
    top = p.obj(body, PROVIDER, "body")
    _check_zone(top, zone)
    entries = p.items(p.key(top, "history", PROVIDER, "body"), PROVIDER, "history")
    points = [
        _point(
            p.obj(e, PROVIDER, f"history[{i}]"),
            f"history[{i}]",
            "actual",
            basis,
            timedelta(hours=1),
        )
        for i, e in enumerate(entries)
    ]
    return _series(zone, basis, points, fetched_at)


def parse_forecast(body: Any, zone: str, basis: Basis, *, fetched_at: datetime) -> IntensitySeries:
    top = p.obj(body, PROVIDER, "body")
    _check_zone(top, zone)
    entries = p.items(p.key(top, "forecast", PROVIDER, "body"), PROVIDER, "forecast")
    points = [
        _point(
            p.obj(e, PROVIDER, f"forecast[{i}]"),
            f"forecast[{i}]",
            "forecast",
            basis,
            timedelta(hours=1),
        )
        for i, e in enumerate(entries)
    ]
    return _series(zone, basis, points, fetched_at)


def _message(response: httpx.Response) -> str:
    error = p.error_text(response, ("error",))
    message = p.error_text(response, ("message",))
    joined = ": ".join(part for part in (error, message) if part)
    return joined or short_body(response)


class ElectricityMapsConnector:
    """Async adapter for Electricity Maps v3 (see the module docstring)."""

    provider = PROVIDER

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        basis: Basis = "lifecycle",
        **http: Any,
    ) -> None:
        if not token:
            raise ValueError("Electricity Maps needs an API token (auth-token)")
        self._token = token
        self._basis: Basis = basis
        self._http = ProviderHttp(PROVIDER, base_url, **http)

    async def __aenter__(self) -> ElectricityMapsConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _get(self, what: str, zone: str) -> Any:
        response = await self._http.get(
            f"/v3/carbon-intensity/{what}",
            params={"zone": zone, "emissionFactorType": self._basis},
            headers={"auth-token": self._token, "Accept": "application/json"},
            message_of=_message,
            no_data=lambda r: r.status_code == 404,
        )
        return p.json_body(response, PROVIDER)

    async def latest(self, zone: str, *, now: datetime) -> IntensitySeries:
        return parse_latest(await self._get("latest", zone), zone, self._basis, fetched_at=now)

    async def history(self, zone: str, *, now: datetime) -> IntensitySeries:
        return parse_history(await self._get("history", zone), zone, self._basis, fetched_at=now)

    async def forecast(self, zone: str, *, now: datetime) -> IntensitySeries:
        return parse_forecast(await self._get("forecast", zone), zone, self._basis, fetched_at=now)

    async def fetch(self, zone: str, *, now: datetime) -> IntensitySeries:
        """Latest value and forecast in one series (two requests)."""
        return combine(await self.latest(zone, now=now), await self.forecast(zone, now=now))
