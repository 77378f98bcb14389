"""What one provider says now: the function behind ``greenwire grid fetch``.

``summary`` (pure) turns a series into the printed answer::

    {"zone": "GB", "provider": "neso", "intensity_g_per_kwh": 240.0,
     "at": "2023-03-16T03:00:00Z",
     "forecast": [{"start": "2023-03-16T03:00:00Z", "end": "2023-03-16T03:30:00Z", "g_per_kwh": 240.0}, ...]}

``intensity_g_per_kwh`` is the value for now under the hold policy
(:mod:`greenwire.cloud.grid.hold`): the period containing now, else the newest one
before it (ENTSO-E publishes about an hour late; China's factor is a past
year's); ``at`` is the start of that value's period, so its age is visible.
``forecast`` lists the provider's forecast periods that have not ended.

``fetch`` (async) builds the connector from the provider name, an optional base
URL and the credentials in the environment, and asks it once:

==================  =====================================================================
provider            credentials (environment)
==================  =====================================================================
``neso``            none
``electricitymaps`` ``GREENWIRE_ELECTRICITYMAPS_TOKEN``
``watttime``        ``GREENWIRE_WATTTIME_USERNAME``, ``GREENWIRE_WATTTIME_PASSWORD``
``entsoe``          ``GREENWIRE_ENTSOE_TOKEN``
``china``           none (static official factors; no base URL)
==================  =====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from greenwire.cloud.grid.errors import NoData
from greenwire.cloud.grid.hold import HoldState, on_success, reading
from greenwire.cloud.grid.series import IntensitySeries
from greenwire.shared.errors import ConfigError

PROVIDERS = ("neso", "electricitymaps", "watttime", "entsoe", "china")


class Connector(Protocol):
    """What every connector offers: one async ``fetch`` of now and its forecast, and a context."""

    provider: str

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def fetch(self, zone: str, *, now: datetime) -> IntensitySeries: ...


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(
    series: IntensitySeries, now: datetime, *, provider: str | None = None
) -> dict[str, Any]:
    """The ``grid fetch`` answer for a series at ``now``; NoData if it holds no value for now or before."""
    shown = reading(on_success(HoldState(), series), now)
    if shown.point is None:
        raise NoData(series.provider, f"no value for {series.zone} at or before {_stamp(now)}")
    return {
        "zone": series.zone,
        "provider": provider or series.provider,
        "intensity_g_per_kwh": shown.point.g_per_kwh,
        "at": _stamp(shown.point.start),
        "forecast": [
            {"start": _stamp(p.start), "end": _stamp(p.end), "g_per_kwh": p.g_per_kwh}
            for p in series.forecasts
            if p.end > now
        ],
    }


def _need(env: Mapping[str, str], name: str, provider: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{provider} needs {name} in the environment")
    return value


def connector_for(
    provider: str, *, base_url: str | None = None, env: Mapping[str, str] | None = None, **http: Any
) -> Connector:
    """The connector of ``provider``, pointed at ``base_url`` (else the provider's own)."""
    env = os.environ if env is None else env
    where: dict[str, Any] = {} if base_url is None else {"base_url": base_url}
    if provider == "neso":
        from greenwire.cloud.grid.neso import NesoConnector

        return NesoConnector(**where, **http)
    if provider == "electricitymaps":
        from greenwire.cloud.grid.electricitymaps import ElectricityMapsConnector

        return ElectricityMapsConnector(
            _need(env, "GREENWIRE_ELECTRICITYMAPS_TOKEN", provider), **where, **http
        )
    if provider == "watttime":
        from greenwire.cloud.grid.watttime import WattTimeConnector

        return WattTimeConnector(
            _need(env, "GREENWIRE_WATTTIME_USERNAME", provider),
            _need(env, "GREENWIRE_WATTTIME_PASSWORD", provider),
            **where,
            **http,
        )
    if provider == "entsoe":
        from greenwire.cloud.grid.entsoe import EntsoeConnector

        return EntsoeConnector(_need(env, "GREENWIRE_ENTSOE_TOKEN", provider), **where, **http)
    if provider == "china":
        from greenwire.cloud.grid.china import ChinaFactorConnector

        if base_url is not None:
            raise ConfigError("china: the official factors are static; there is no base URL to set")
        return ChinaFactorConnector()
    raise ConfigError(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")


async def fetch(
    provider: str,
    zone: str,
    *,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    **http: Any,
) -> dict[str, Any]:
    """Ask ``provider`` once about ``zone``; the :func:`summary` of its answer, or a GridError/ConfigError."""
    now = now or datetime.now(UTC)
    async with connector_for(provider, base_url=base_url, env=env, **http) as connector:
        series = await connector.fetch(zone, now=now)
    return summary(series, now, provider=provider)
