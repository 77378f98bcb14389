"""The independent FHIR test server's search rules are the specification's (R4 3.1.1.5.6, dates)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fhirserver import BadRequest, date_matches, date_range

AT = datetime(2026, 12, 2, 10, 0, 30, 250000, tzinfo=UTC)


def test_a_date_value_is_a_range_of_its_precision() -> None:
    assert date_range("2026") == (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert date_range("2026-12") == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    low, high = date_range("2026-12-02T10:00+00:00")
    assert (high - low).total_seconds() == 60
    low, high = date_range("2026-12-02T10:00:30.250Z")
    assert low == AT and (high - low).total_seconds() == 0.001
    with pytest.raises(BadRequest):
        date_range("2026-12-02T10:00:30")  # a time without a zone
    with pytest.raises(BadRequest):
        date_range("yesterday")


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        ("2026-12-02", True), ("eq2026-12-02", True), ("ne2026-12-02", False),
        ("gt2026-12-02T10:00Z", False), ("ge2026-12-02T10:00Z", True),  # 10:00 means the whole minute
        ("gt2026-12-02T09:59Z", True), ("lt2026-12-02T10:00Z", False), ("le2026-12-02T10:00Z", True),
        ("gt2026-12-02T10:00:30.249Z", True), ("gt2026-12-02T10:00:30.250Z", False),
        ("ge2026-12-02T10:00:30.250Z", True), ("sa2026-12-01", True), ("eb2026-12-03", True),
        ("ge2026-12-02T18:00:30.250+08:00", True), ("gt2026-12-02T18:00:30.250+08:00", False),
    ],
)
def test_prefixes(value: str, matches: bool) -> None:
    assert date_matches(value, AT) is matches
