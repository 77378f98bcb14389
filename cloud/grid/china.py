"""China: the official provincial grid emission factors as a static series (no public real-time source).

Source: Ministry of Ecology and Environment (MEE) and National Bureau of Statistics
(NBS), Announcement 2025 No. 47 (published 2025-12-31), Table 3: 2023 provincial
average CO2 emission factors of electricity, location-based, including
inter-provincial transfers,
https://www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202512/t20251231_1139517.html.
The numbers are read from greenwire's factor table (``cloud/carbon/data/factors.yaml``,
checked there against codecarbon 3.3.2's transcription), so there is one copy.
Licence: an official government announcement (public information).

Each province (``CN-BJ`` .. ``CN-XJ``) gets one ``actual`` point covering the
factor's calendar year in China Standard Time (UTC+8): the value is the year's
average, CO2 only, so ``average`` and ``direct``. Nothing is fetched; there is
no base URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from greenwire.cloud.carbon.factors import FactorTable, GridFactor, load_factors
from greenwire.cloud.grid.errors import ProviderRejected
from greenwire.cloud.grid.series import IntensityPoint, IntensitySeries

PROVIDER = "china-mee"
CST = timezone(timedelta(hours=8), "CST")


def provincial_factors(table: FactorTable | None = None) -> dict[str, GridFactor]:
    """The official provincial factors (zones ``CN-..``) of the factor table."""
    table = table or load_factors()
    return {f.zone: f for f in table.grid if f.zone.startswith("CN-")}


def static_series(
    zone: str, *, fetched_at: datetime, table: FactorTable | None = None
) -> IntensitySeries:
    """The province's factor as one point over its year; ProviderRejected names the provinces if unknown."""
    factors = provincial_factors(table)
    name = zone.strip().upper()
    if name not in factors:
        raise ProviderRejected(
            PROVIDER, f"no official factor for {zone!r}; provinces: {', '.join(sorted(factors))}"
        )
    factor = factors[name]
    start = datetime(factor.year, 1, 1, tzinfo=CST).astimezone(UTC)
    end = datetime(factor.year + 1, 1, 1, tzinfo=CST).astimezone(UTC)
    source = f"{factor.source} ({factor.url}), {factor.name} {factor.year}, {factor.gases}, location-based"
    return IntensitySeries.build(
        zone=name,
        provider=PROVIDER,
        source=source,
        kind=factor.kind,
        basis=factor.basis,
        points=[IntensityPoint(start, end, factor.value, "actual")],
        fetched_at=fetched_at,
    )


class ChinaFactorConnector:
    """The static provincial factors behind the same interface as the network connectors."""

    provider = PROVIDER

    def __init__(self, table: FactorTable | None = None) -> None:
        self._table = table

    async def __aenter__(self) -> ChinaFactorConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, zone: str, *, now: datetime) -> IntensitySeries:
        return static_series(zone, fetched_at=now, table=self._table)
