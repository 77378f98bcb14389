"""Carbon statements: the same figures in every format, each with a hash that catches changes."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from greenwire.cloud.carbon.report import Account
from greenwire.cloud.carbon.statement import Header, content_hash, render, verify
from greenwire.cloud.sites import Building, MeterRef

START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
BUILDING = Building(id="b1", floor_area_m2=2000, zone="CN-HI", timezone="Asia/Shanghai",
                    meters=(MeterRef(gateway="gw-1", device="main", role="grid_import"),
                            MeterRef(gateway="gw-1", device="pv", role="pv_generation")))
ACCOUNT = Account("b1", START, END, grid_import_kwh=12_345.678, estimated_kwh=123.4567, rejected_kwh=10.0,
                  excluded_kwh=45.0,
                  scope2_location_kgco2e=12_345.678 * 0.3648, pv_generation_kwh=800.0, grid_export_kwh=200.0,
                  floor_area_m2=2000, factors={"MEE & NBS Announcement 2025 No. 47, Table 3 (2023)"},
                  factor_table_version="t1")
HEADER = Header("haikou", "b1", START, END, datetime(2026, 11, 2, 8, 0, tzinfo=UTC), "0.1.0")


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_a_statement_verifies_until_a_figure_is_changed(fmt: str) -> None:
    text, digest = render(fmt, HEADER, BUILDING, ACCOUNT)  # type: ignore[arg-type]
    assert content_hash(text) == digest and verify(text)
    assert not verify(text.replace("12,345.7" if fmt == "md" else "12345.678", "12,000.0", 1))


def test_csv_keeps_full_precision_and_the_data_quality_shares() -> None:
    text, _ = render("csv", HEADER, BUILDING, ACCOUNT)
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(text.splitlines())}
    assert float(rows[("energy", "grid import")]) == 12_345.678
    assert float(rows[("energy", "PV self-consumption (zero emissions)")]) == 600.0
    assert float(rows[("data quality", "estimated share of grid import")]) == pytest.approx(100 * 123.4567 / 12_345.678)
    assert float(rows[("data quality", "excluded share of grid import (excluded / counted + excluded)")]) == \
        pytest.approx(100 * 45 / (12_345.678 + 45))
    assert float(rows[("energy", "rejected counter rises (implausible, not energy, not counted)")]) == 10.0
    assert rows[("factors", "factor table version")] == "t1"


def test_html_shows_the_markdown_hash() -> None:
    _, digest = render("md", HEADER, BUILDING, ACCOUNT)
    page, page_digest = render("html", HEADER, BUILDING, ACCOUNT)
    assert page_digest == digest and digest in page and '<table class="figures">' in page
    with pytest.raises(ValueError, match="an HTML statement cannot be checked"):
        verify(page)


def test_heat_is_counted_from_its_own_counter_and_never_added_to_grid_energy() -> None:
    from datetime import timedelta

    from greenwire.cloud.carbon.report import account

    building = Building(id="b1", floor_area_m2=100, zone="CN-JS",
                        meters=(MeterRef(gateway="g", device="main", role="grid_import"),
                                MeterRef(gateway="g", device="dh", role="heat")))
    hours = [START + timedelta(hours=h) for h in range(4)]
    counters = {"main": [(t, 100.0 + 10 * h, "good") for h, t in enumerate(hours)],
                "dh": [(t, 5000.0 + 40 * h, "good") for h, t in enumerate(hours)]}
    result = account(building, counters, None, START, START + timedelta(hours=3))
    assert result.heat_kwh == pytest.approx(120.0) and result.grid_import_kwh == pytest.approx(30.0)
    assert result.scope2_location_kgco2e == pytest.approx(30.0 * 0.5827)
