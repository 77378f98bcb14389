"""NESO Carbon Intensity API (Great Britain): national and regional intensity, actual and 48 h forecast.

Provider: National Energy System Operator (formerly National Grid ESO) with the
Environmental Defense Fund Europe and the University of Oxford,
https://carbonintensity.org.uk; API reference https://carbon-intensity.github.io/api-definitions/
(OpenAPI ``carbon-intensity.yaml`` in github.com/carbon-intensity/api-definitions).
Licence of the data: CC BY 4.0 ("Carbon Intensity API, NESO"); no key is needed.

Endpoints used (all ``GET``, JSON, times in UTC as ``YYYY-MM-DDThh:mmZ``, half-hour periods):

- ``/intensity``: the current half hour, national: ``{"data": [{"from", "to",
  "intensity": {"forecast", "actual", "index"}}]}`` (``actual`` is null until estimated)
- ``/intensity/{from}/fw48h``: the same list for the 48 h from ``from``
- ``/regional``: every region now, ``{"data": [{"from", "to", "regions": [{"regionid",
  "dnoregion", "shortname", "intensity": {"forecast", "index"}, "generationmix"}]}]}``
- ``/regional/regionid/{id}`` and ``/regional/postcode/{outward code}``: one region,
  ``{"data": [{"regionid", "dnoregion", "shortname", ["postcode",] "data": [{"from", "to",
  "intensity", "generationmix"}]}]}``; ``/regional/intensity/{from}/fw48h/regionid/{id}``
  (and ``.../postcode/{pc}``) the same for 48 h. Regional values are forecasts only.
- errors: ``{"error": {"code": "400 Bad Request", "message": "..."}}``

Zones: ``GB`` (national), ``GB-<regionid>`` (1..17, e.g. ``GB-13`` London) and
``GB-<outward postcode>`` (e.g. ``GB-RG10``). NESO's factors count combustion
emissions (wind, solar and nuclear are 0 g/kWh; ``/intensity/factors``), so the
series are ``average`` and ``direct``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from greenwire.cloud.grid import _parse as p
from greenwire.cloud.grid.errors import ProviderRejected, ResponseError
from greenwire.cloud.grid.http import ProviderHttp, short_body
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries, combine

PROVIDER = "neso"
DEFAULT_BASE_URL = "https://api.carbonintensity.org.uk"
SOURCE = "NESO Carbon Intensity API (CC BY 4.0)"

REGIONS: dict[int, str] = {
    1: "North Scotland",
    2: "South Scotland",
    3: "North West England",
    4: "North East England",
    5: "Yorkshire",
    6: "North Wales",
    7: "South Wales",
    8: "West Midlands",
    9: "East Midlands",
    10: "East England",
    11: "South West England",
    12: "South England",
    13: "London",
    14: "South East England",
    15: "England",
    16: "Scotland",
    17: "Wales",
}
"""Region ids of the API (its "List of GB Regions"); 15-17 are the nations."""

_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


@dataclass(frozen=True, slots=True)
class Target:
    """What a zone name asks NESO for: ``national``, a ``region`` id or a ``postcode`` area."""

    zone: str
    scope: str
    value: str = ""


def target(zone: str) -> Target:
    """Read a zone name (``GB``, ``GB-13``, ``GB-RG10``); ProviderRejected names the forms if it is none."""
    name = zone.strip().upper()
    if name == "GB":
        return Target("GB", "national")
    head, _, tail = name.partition("-")
    if head == "GB" and tail.isdigit() and int(tail) in REGIONS:
        return Target(f"GB-{int(tail)}", "region", str(int(tail)))
    if head == "GB" and _POSTCODE.match(tail):
        return Target(name, "postcode", tail)
    raise ProviderRejected(
        PROVIDER,
        f"unknown zone {zone!r}: use GB, GB-<region id 1..17> or GB-<outward postcode, e.g. RG10>",
    )


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def _points(entries: list[Any], where: str) -> list[IntensityPoint]:
    points: list[IntensityPoint] = []
    for i, raw in enumerate(entries):
        here = f"{where}[{i}]"
        entry = p.obj(raw, PROVIDER, here)
        start = p.timestamp(p.key(entry, "from", PROVIDER, here), PROVIDER, f"{here}.from")
        end = p.timestamp(p.key(entry, "to", PROVIDER, here), PROVIDER, f"{here}.to")
        values = p.obj(p.key(entry, "intensity", PROVIDER, here), PROVIDER, f"{here}.intensity")
        try:
            forecast = values.get("forecast")
            if forecast is not None:
                g = p.number(forecast, PROVIDER, f"{here}.intensity.forecast")
                points.append(IntensityPoint(start, end, g, "forecast"))
            actual = values.get("actual")
            if actual is not None:
                g = p.number(actual, PROVIDER, f"{here}.intensity.actual")
                points.append(IntensityPoint(start, end, g, "actual"))
        except ValueError as exc:
            raise ResponseError(PROVIDER, f"{here}: {exc}") from exc
    return points


def parse_national(body: Any, *, fetched_at: datetime) -> IntensitySeries:
    """``/intensity`` or ``/intensity/{from}/fw48h`` into the national series."""
    data = p.items(p.key(p.obj(body, PROVIDER, "body"), "data", PROVIDER, "body"), PROVIDER, "data")
    return _series("GB", _points(data, "data"), fetched_at)


def parse_region(body: Any, zone: str, *, fetched_at: datetime) -> IntensitySeries:
    """``/regional/regionid/{id}``, ``/regional/postcode/{pc}`` or their ``fw48h`` into one region's series."""
    data = p.items(p.key(p.obj(body, PROVIDER, "body"), "data", PROVIDER, "body"), PROVIDER, "data")
    if not data:
        raise ResponseError(PROVIDER, "data: empty list for a region")
    region = p.obj(data[0], PROVIDER, "data[0]")
    entries = p.items(p.key(region, "data", PROVIDER, "data[0]"), PROVIDER, "data[0].data")
    return _series(zone, _points(entries, "data[0].data"), fetched_at)


def parse_all_regions(body: Any, *, fetched_at: datetime) -> tuple[IntensitySeries, ...]:
    """``/regional`` into one series per region id (zones ``GB-1`` .. ``GB-17``)."""
    data = p.items(p.key(p.obj(body, PROVIDER, "body"), "data", PROVIDER, "body"), PROVIDER, "data")
    by_zone: dict[str, list[IntensityPoint]] = {}
    for i, raw in enumerate(data):
        period = p.obj(raw, PROVIDER, f"data[{i}]")
        regions = p.items(
            p.key(period, "regions", PROVIDER, f"data[{i}]"), PROVIDER, f"data[{i}].regions"
        )
        for j, raw_region in enumerate(regions):
            here = f"data[{i}].regions[{j}]"
            region = p.obj(raw_region, PROVIDER, here)
            region_id = p.key(region, "regionid", PROVIDER, here)
            if isinstance(region_id, bool) or not isinstance(region_id, int):
                raise ResponseError(
                    PROVIDER, f"{here}.regionid: expected an integer, got {region_id!r}"
                )
            entry = {
                "from": period.get("from"),
                "to": period.get("to"),
                "intensity": region.get("intensity"),
            }
            by_zone.setdefault(f"GB-{region_id}", []).extend(_points([entry], here))
    return tuple(_series(zone, pts, fetched_at) for zone, pts in sorted(by_zone.items()))


def _series(zone: str, points: list[IntensityPoint], fetched_at: datetime) -> IntensitySeries:
    try:
        return IntensitySeries.build(
            zone=zone,
            provider=PROVIDER,
            source=SOURCE,
            kind="average",
            basis="direct",
            points=points,
            fetched_at=fetched_at,
        )
    except ValueError as exc:
        raise ResponseError(PROVIDER, str(exc)) from exc


def _message(response: httpx.Response) -> str:
    return p.error_text(response, ("error", "message"), ("error", "code")) or short_body(response)


class NesoConnector:
    """Async adapter for the NESO Carbon Intensity API (see the module docstring)."""

    provider = PROVIDER

    def __init__(self, base_url: str = DEFAULT_BASE_URL, **http: Any) -> None:
        self._http = ProviderHttp(PROVIDER, base_url, **http)

    async def __aenter__(self) -> NesoConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _get(self, path: str) -> Any:
        response = await self._http.get(
            path, headers={"Accept": "application/json"}, message_of=_message
        )
        return p.json_body(response, PROVIDER)

    async def current(self, zone: str, *, now: datetime) -> IntensitySeries:
        """The half hour containing ``now`` (national: forecast and actual; regional: forecast)."""
        where = target(zone)
        if where.scope == "national":
            return parse_national(await self._get("/intensity"), fetched_at=now)
        path = (
            f"/regional/regionid/{where.value}"
            if where.scope == "region"
            else (f"/regional/postcode/{quote(where.value)}")
        )
        return parse_region(await self._get(path), where.zone, fetched_at=now)

    async def forecast(self, zone: str, *, now: datetime) -> IntensitySeries:
        """The 48 h from the half hour containing ``now``."""
        where = target(zone)
        start = now.replace(minute=30 if now.minute >= 30 else 0, second=0, microsecond=0)
        if where.scope == "national":
            return parse_national(
                await self._get(f"/intensity/{_stamp(start)}/fw48h"), fetched_at=now
            )
        kind = "regionid" if where.scope == "region" else "postcode"
        path = f"/regional/intensity/{_stamp(start)}/fw48h/{kind}/{quote(where.value)}"
        return parse_region(await self._get(path), where.zone, fetched_at=now)

    async def regions(self, *, now: datetime) -> tuple[IntensitySeries, ...]:
        """Every region's forecast for the current half hour, from one ``/regional`` request."""
        return parse_all_regions(await self._get("/regional"), fetched_at=now)

    async def fetch(self, zone: str, *, now: datetime) -> IntensitySeries:
        """Now and the next 48 h in one series (two requests)."""
        return combine(await self.current(zone, now=now), await self.forecast(zone, now=now))
