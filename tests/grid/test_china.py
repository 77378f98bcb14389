"""The official provincial factors as a static series: the value, its year and its announcement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from greenwire.cloud.grid.china import ChinaFactorConnector, provincial_factors
from greenwire.cloud.grid.errors import ProviderRejected

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


async def test_beijing_2023_factor_over_its_year_in_china_time() -> None:
    async with ChinaFactorConnector() as connector:
        series = await connector.fetch("cn-bj", now=NOW)
    (point,) = series.points
    assert (series.zone, point.g_per_kwh, series.kind, series.basis) == (
        "CN-BJ",
        555.4,
        "average",
        "direct",
    )
    assert (point.start, point.end) == (
        datetime(2022, 12, 31, 16, tzinfo=UTC),
        datetime(2023, 12, 31, 16, tzinfo=UTC),
    )
    assert "Announcement 2025 No. 47" in series.source and "2023" in series.source
    assert (
        series.at(NOW) is None and series.latest_before(NOW) == point
    )  # a 2023 value, held, never "now"


def test_thirty_provinces() -> None:
    factors = provincial_factors()
    assert (
        len(factors) == 30 and factors["CN-YN"].value == 133.3 and factors["CN-SD"].value == 619.1
    )


async def test_unknown_province() -> None:
    async with ChinaFactorConnector() as connector:
        with pytest.raises(ProviderRejected, match="no official factor for 'CN-XZ'"):
            await connector.fetch("CN-XZ", now=NOW)
