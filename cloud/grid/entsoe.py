"""ENTSO-E Transparency Platform: actual generation per production type (A75), as carbon intensity.

Provider: ENTSO-E (European Network of Transmission System Operators for
Electricity), https://transparency.entsoe.eu; RESTful API guide
https://transparency.entsoe.eu/content/static_content/Static%20content/web%20api/Guide.html
(and the Postman collection https://documenter.getpostman.com/view/7009892/2s93JtP3F6).
Terms: free after registration; a personal ``securityToken`` (query parameter)
is issued on request. Data published under EU Regulation 543/2013 and the
platform's terms of use (reuse allowed with attribution "ENTSO-E Transparency
Platform"). Limit: 400 requests per minute per IP and token, then HTTP 429 and a
ten-minute ban.

Request: ``GET /api?documentType=A75&processType=A16&in_Domain=<EIC>&periodStart=
YYYYMMDDHHMM&periodEnd=YYYYMMDDHHMM&securityToken=<token>`` (data item 16.1.B&C,
"Actual Generation per Production Type", realised).

Answer: an XML ``GL_MarketDocument`` (namespace
``urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0``) with one
``TimeSeries`` per production type (``MktPSRType/psrType``), generation ones
carrying ``inBiddingZone_Domain.mRID`` and consumption ones (pumping)
``outBiddingZone_Domain.mRID``; each ``Period`` has a ``timeInterval`` start/end,
a ``resolution`` (PT15M, PT30M, PT60M) and ``Point``s (``position`` from 1,
``quantity`` in MW). With ``curveType`` A03 a missing position repeats the one
before. Errors and "no data" come as an ``Acknowledgement_MarketDocument`` whose
``Reason/text`` says why (e.g. "No matching data found for Data item
ACTUAL_GENERATION_PER_PRODUCTION_TYPE [16.1.B&C] ..."), with HTTP 200 or 400;
a missing or invalid token gets HTTP 401.

The hourly intensity is the generation-weighted lifecycle factor of the hour's
mix (:mod:`greenwire.cloud.grid.mix`). An hour is given only when every production type
in the document covers all of it: the newest quarter-hours often arrive for
some types before others, and a partial hour would bias the mix.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import httpx

from greenwire.cloud.grid.errors import NoData, ProviderRejected, ResponseError
from greenwire.cloud.grid.http import ProviderHttp, short_body
from greenwire.cloud.grid.mix import MixIntensity, intensity_of_mix
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries

PROVIDER = "entsoe"
DEFAULT_BASE_URL = "https://web-api.tp.entsoe.eu"
SOURCE = (
    "ENTSO-E Transparency Platform A75 actual generation per production type "
    "x IPCC AR5 lifecycle medians (Electricity Maps defaults)"
)

BIDDING_ZONES: Mapping[str, str] = MappingProxyType(
    {
        "AT": "10YAT-APG------L",
        "BE": "10YBE----------2",
        "BG": "10YCA-BULGARIA-R",
        "HR": "10YHR-HEP------M",
        "CZ": "10YCZ-CEPS-----N",
        "DK-DK1": "10YDK-1--------W",
        "DK-DK2": "10YDK-2--------M",
        "EE": "10Y1001A1001A39I",
        "FI": "10YFI-1--------U",
        "FR": "10YFR-RTE------C",
        "DE-LU": "10Y1001A1001A82H",
        "GR": "10YGR-HTSO-----Y",
        "HU": "10YHU-MAVIR----U",
        "IE-SEM": "10Y1001A1001A59C",
        "IT-NORD": "10Y1001A1001A73I",
        "IT-CNOR": "10Y1001A1001A70O",
        "IT-CSUD": "10Y1001A1001A71M",
        "IT-SUD": "10Y1001A1001A788",
        "IT-CALA": "10Y1001C--00096J",
        "IT-SICI": "10Y1001A1001A75E",
        "IT-SARD": "10Y1001A1001A74G",
        "LV": "10YLV-1001A00074",
        "LT": "10YLT-1001A0008Q",
        "NL": "10YNL----------L",
        "PL": "10YPL-AREA-----S",
        "PT": "10YPT-REN------W",
        "RO": "10YRO-TEL------P",
        "SK": "10YSK-SEPS-----K",
        "SI": "10YSI-ELES-----O",
        "ES": "10YES-REE------0",
        "SE-SE1": "10Y1001A1001A44P",
        "SE-SE2": "10Y1001A1001A45N",
        "SE-SE3": "10Y1001A1001A46L",
        "SE-SE4": "10Y1001A1001A47J",
        # Bidding zones of the coupled European market outside the EU.
        "NO-NO1": "10YNO-1--------2",
        "NO-NO2": "10YNO-2--------T",
        "NO-NO3": "10YNO-3--------J",
        "NO-NO4": "10YNO-4--------9",
        "NO-NO5": "10Y1001A1001A48H",
        "CH": "10YCH-SWISSGRIDZ",
    }
)
"""EIC codes of the bidding zones of the EU member states (Cyprus and Malta have none on the
coupled market) and of Norway and Switzerland, as in the API guide's area list (``BZN|...``)."""

ALIASES: Mapping[str, str] = MappingProxyType(
    {"DE": "DE-LU", "LU": "DE-LU", "IE": "IE-SEM", "DK1": "DK-DK1", "DK2": "DK-DK2"}
)

_EIC = re.compile(r"^[0-9]{2}[A-Z0-9-]{13}[A-Z0-9]$")
_RESOLUTION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")
_HOUR = timedelta(hours=1)


def eic(zone: str) -> str:
    """The EIC code of a bidding zone name (``DE-LU``, ``FR``, ``SE-SE3``) or an EIC code itself."""
    name = zone.strip().upper()
    name = ALIASES.get(name, name)
    if name in BIDDING_ZONES:
        return BIDDING_ZONES[name]
    if _EIC.match(name):
        return name
    raise ProviderRejected(
        PROVIDER, f"unknown bidding zone {zone!r}; known: {', '.join(BIDDING_ZONES)}"
    )


@dataclass(frozen=True, slots=True)
class Generation:
    """Mean MW of one production type over ``[start, end)``."""

    psr: str
    start: datetime
    end: datetime
    mw: float


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    for child in node:
        if _local(child.tag) == name:
            return child
    return None


def _optional(node: ET.Element, name: str) -> str | None:
    child = _child(node, name)
    text = child.text if child is not None else None
    return " ".join(text.split()) if text is not None and text.strip() else None


def _text(node: ET.Element, path: str, where: str) -> str:
    current: ET.Element | None = node
    for part in path.split("/"):
        current = _child(current, part) if current is not None else None
    if current is None or current.text is None or not current.text.strip():
        raise ResponseError(PROVIDER, f"{where}: missing {path}")
    return current.text.strip()


def _time(text: str, where: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ResponseError(PROVIDER, f"{where}: unreadable time {text!r}") from exc
    if at.tzinfo is None:
        raise ResponseError(PROVIDER, f"{where}: time {text!r} has no zone")
    return at.astimezone(UTC)


def _resolution(text: str, where: str) -> timedelta:
    match = _RESOLUTION.match(text)
    if not match or not any(match.groups()):
        raise ResponseError(PROVIDER, f"{where}: unsupported resolution {text!r}")
    return timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))


def _root(content: bytes) -> ET.Element:
    # expat (2.4.1 and later) refuses entity-expansion bombs; no external entity is fetched.
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise ResponseError(PROVIDER, f"the answer is not XML: {exc}") from exc


def acknowledgement(content: bytes) -> str | None:
    """The reason text of an ``Acknowledgement_MarketDocument``, or None for any other document."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    if _local(root.tag) != "Acknowledgement_MarketDocument":
        return None
    reasons = [r for r in root if _local(r.tag) == "Reason"]
    texts = [t for t in (_optional(r, "text") for r in reasons) if t]
    codes = [c for c in (_optional(r, "code") for r in reasons) if c]
    return "; ".join(texts) or (f"reason code {', '.join(codes)}" if codes else "no reason given")


def parse_a75(content: bytes) -> tuple[Generation, ...]:
    """Every generation interval of an A75 ``GL_MarketDocument`` (consumption series are left out)."""
    root = _root(content)
    if _local(root.tag) == "Acknowledgement_MarketDocument":
        reason = acknowledgement(content) or ""
        error = NoData if "no matching data" in reason.lower() else ProviderRejected
        raise error(PROVIDER, reason)
    if _local(root.tag) != "GL_MarketDocument":
        raise ResponseError(PROVIDER, f"expected a GL_MarketDocument, got {_local(root.tag)}")
    out: list[Generation] = []
    for s, series in enumerate(node for node in root if _local(node.tag) == "TimeSeries"):
        where = f"TimeSeries[{s}]"
        if _child(series, "inBiddingZone_Domain.mRID") is None:
            continue  # outBiddingZone_Domain: a consumption series (pumping), not generation
        psr = _text(series, "MktPSRType/psrType", where)
        unit = _text(series, "quantity_Measure_Unit.name", where)
        if unit != "MAW":
            raise ResponseError(PROVIDER, f"{where}: quantities in {unit!r}, expected MAW (MW)")
        curve = _optional(series, "curveType") or "A01"
        for k, period in enumerate(node for node in series if _local(node.tag) == "Period"):
            here = f"{where}.Period[{k}]"
            start = _time(_text(period, "timeInterval/start", here), here)
            end = _time(_text(period, "timeInterval/end", here), here)
            step = _resolution(_text(period, "resolution", here), here)
            slots = round((end - start) / step)
            values: dict[int, float] = {}
            for point in (node for node in period if _local(node.tag) == "Point"):
                try:
                    position = int(_text(point, "position", here))
                    quantity = float(_text(point, "quantity", here))
                except ValueError as exc:
                    raise ResponseError(PROVIDER, f"{here}: unreadable Point ({exc})") from exc
                if not 1 <= position <= slots:
                    raise ResponseError(PROVIDER, f"{here}: position {position} outside 1..{slots}")
                values[position] = quantity
            last: float | None = None
            for position in range(1, slots + 1):
                if position in values:
                    last = values[position]
                elif curve != "A03" or last is None:
                    continue  # A01: a missing position is a missing value, never invented
                slot_start = start + (position - 1) * step
                out.append(Generation(psr, slot_start, slot_start + step, last))
    return tuple(out)


def hourly_mix(generation: tuple[Generation, ...]) -> tuple[tuple[datetime, MixIntensity], ...]:
    """(hour start, its mix and intensity) for every hour every production type covers exactly once."""
    energy: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    covered: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for g in generation:
        at = g.start
        while at < g.end:
            hour = at.replace(minute=0, second=0, microsecond=0)
            until = min(g.end, hour + _HOUR)
            share = (until - at) / _HOUR
            energy[hour][g.psr] += g.mw * share
            covered[hour][g.psr] += share
            at = until
    types = {g.psr for g in generation}
    hours = []
    for hour in sorted(energy):
        if all(abs(covered[hour].get(psr, 0.0) - 1.0) < 1e-9 for psr in types):
            hours.append((hour, intensity_of_mix(energy[hour])))
    return tuple(hours)


def hourly_intensity(generation: tuple[Generation, ...]) -> tuple[tuple[datetime, float], ...]:
    """(hour start, g/kWh) of :func:`hourly_mix`."""
    return tuple((hour, mix.g_per_kwh) for hour, mix in hourly_mix(generation))


def parse_series(content: bytes, zone: str, *, fetched_at: datetime) -> IntensitySeries:
    """An A75 answer as an hourly lifecycle-intensity series of actuals."""
    try:
        hours = hourly_mix(parse_a75(content))
        points = [IntensityPoint(hour, hour + _HOUR, mix.g_per_kwh) for hour, mix in hours]
        unmapped = sorted({code for _, mix in hours for code in mix.unmapped})
        note = f"; psrType {', '.join(unmapped)} counted as unknown (700 g/kWh)" if unmapped else ""
        return IntensitySeries.build(
            zone=zone,
            provider=PROVIDER,
            source=SOURCE + note,
            kind="average",
            basis="lifecycle",
            points=points,
            fetched_at=fetched_at,
        )
    except ValueError as exc:
        raise ResponseError(PROVIDER, str(exc)) from exc


def _message(response: httpx.Response) -> str:
    return acknowledgement(response.content) or short_body(response)


def _no_data(response: httpx.Response) -> bool:
    return "no matching data" in (acknowledgement(response.content) or "").lower()


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H%M")


class EntsoeConnector:
    """Async adapter for the ENTSO-E Transparency Platform, A75 (see the module docstring)."""

    provider = PROVIDER

    def __init__(self, token: str, base_url: str = DEFAULT_BASE_URL, **http: Any) -> None:
        if not token:
            raise ValueError("ENTSO-E needs a security token")
        self._token = token
        self._http = ProviderHttp(PROVIDER, base_url, **http)

    async def __aenter__(self) -> EntsoeConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def generation(self, zone: str, *, start: datetime, end: datetime) -> bytes:
        """The raw A75 document for ``[start, end)`` (whole hours are asked for)."""
        response = await self._http.get(
            "/api",
            params={
                "documentType": "A75",
                "processType": "A16",
                "in_Domain": eic(zone),
                "periodStart": _stamp(start),
                "periodEnd": _stamp(end),
                "securityToken": self._token,
            },
            message_of=_message,
            no_data=_no_data,
        )
        return response.content

    async def fetch(self, zone: str, *, now: datetime, hours: int = 6) -> IntensitySeries:
        """The hourly intensity of the last ``hours`` whole hours that ENTSO-E has published."""
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + _HOUR
        content = await self.generation(zone, start=end - timedelta(hours=hours + 1), end=end)
        return parse_series(content, zone.strip().upper(), fetched_at=now)
