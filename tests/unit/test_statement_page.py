"""What a statement shows a person: paper by country, periods in words, warnings first, the days' chart.

The days come from real meter data: Cambridge University building b2's 2022 electricity
(simulators/data/cambridge-2022, MIT), read back as a counter every 15 minutes.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest

from greenwire.cloud.carbon.regional import LETTER_COUNTRIES, paper_for, period_words, place_of
from greenwire.cloud.carbon.report import Account, Readings, account_of
from greenwire.cloud.carbon.statement import (
    QUALITY_FIELDS,
    Header,
    render,
    unmeasured_share_pct,
    warnings,
)
from greenwire.cloud.carbon.statement_chart import days_of
from greenwire.cloud.sites import Building, MeterRef
from greenwire.simulators.series import builtin_series

LONDON = Building(id="b2", floor_area_m2=10000, zone="GB", timezone="Europe/London", annual_budget_kgco2e=2000,
                  meters=(MeterRef(gateway="gw-c", device="b2-main", role="grid_import"),))
START = datetime(2022, 3, 1, tzinfo=UTC)  # midnight in London (GMT)
END = datetime(2022, 3, 31, 23, tzinfo=UTC)  # 1 April 00:00 BST


@pytest.mark.parametrize(("zone", "timezone", "country", "paper"), [
    ("GB", "Europe/London", "GB", "A4"),
    ("DE", "Europe/Berlin", "DE", "A4"),
    ("CN-HI", "Asia/Shanghai", "CN", "A4"),
    ("US-CAMX", "America/Los_Angeles", "US", "letter"),
    ("CA-ON", "America/Toronto", "CA", "letter"),
    ("XX-GRID", "America/Mexico_City", "MX", "letter"),  # a zone that names no country: its timezone does
    ("XX-GRID", "Asia/Manila", "PH", "letter"),
    ("XX-GRID", "UTC", None, "A4"),  # nothing names a country: ISO A4
])
def test_paper_follows_the_buildings_country(zone: str, timezone: str, country: str | None, paper: str) -> None:
    place = place_of(zone, timezone)
    assert place.country == country
    assert paper_for(place.country) == paper


def test_letter_is_cldrs_list() -> None:
    assert {"US", "CA", "MX", "PH", "CL", "CO"} <= LETTER_COUNTRIES and "GB" not in LETTER_COUNTRIES


@pytest.mark.parametrize(("start", "end", "words"), [
    (START, END, "March 2022"),
    (datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC), "2022"),
    (START, START + timedelta(days=7), "1\u20137 March 2022"),
    (START, START + timedelta(days=1), "1 March 2022"),
    (datetime(2022, 2, 28, tzinfo=UTC), START + timedelta(days=3), "28 February \u2013 3 March 2022"),
    (datetime(2021, 12, 30, tzinfo=UTC), datetime(2022, 1, 3, tzinfo=UTC), "30 December 2021 \u2013 2 January 2022"),
    (datetime(2022, 1, 1, tzinfo=UTC), START, "January \u2013 February 2022"),
    (START + timedelta(hours=6), START + timedelta(days=1, hours=18, minutes=30),
     "1 March 2022 06:00 to 2 March 2022 18:30"),
])
def test_periods_are_written_in_words_in_the_buildings_time(start: datetime, end: datetime, words: str) -> None:
    assert period_words(start, end, "Europe/London") == words


def _account(**kwargs: float) -> Account:
    return Account("b2", START, END, floor_area_m2=10000, factor_table_version="t", **kwargs)  # type: ignore[arg-type]


def test_over_budget_and_data_quality_warnings_open_the_statement() -> None:
    account = _account(grid_import_kwh=40_000.0, estimated_kwh=3_000.0, excluded_kwh=500.0,
                       scope2_location_kgco2e=8_000.0, budget_kgco2e=8_000.0 / 9.727)
    header = Header("cambridge", "b2", START, END, datetime(2026, 12, 2, 9, 5, tzinfo=UTC), "0.1.0")
    text, _ = render("md", header, LONDON, account)
    over = "> **Warning, over budget:** 972.70 % of the period's budget used: 8,000.0 kgCO2e emitted against a budget"
    assert over in text
    quality = text.index("> **Warning, data quality:** 8.64 % of the period's 40,500.0 kWh of grid energy")
    assert "above the 5 % threshold: 3,000.0 kWh estimated" in text and " and 500.0 kWh excluded" in text
    assert text.index(over) < quality < text.index("Method:") < text.index("## Energy")
    assert "Period: March 2022 (Europe/London time). Prepared 2 December 2026 09:05 UTC" in text
    sheet, _ = render("csv", header, LONDON, account)
    rows = {(r["section"], r["item"]): r["value"] for r in csv.DictReader(sheet.splitlines())}
    assert rows[("warning", "over budget")].startswith("972.70 %")
    assert rows[("statement", "from")] == START.isoformat()  # machines keep ISO 8601


def test_the_data_quality_warning_follows_the_threshold_and_the_fields() -> None:
    within = _account(grid_import_kwh=1000.0, estimated_kwh=30.0, excluded_kwh=10.0)
    share, whole, parts = unmeasured_share_pct(within)
    assert share == pytest.approx(100 * 40 / 1010) and whole == 1010 and [kwh for _, kwh in parts] == [30, 10]
    assert not warnings(within) and [w.item for w in warnings(within, threshold_pct=3.0)] == ["data quality"]
    # Every field in QUALITY_FIELDS counts: one more kind of unmeasured energy is one more row.
    assert {name for name, _, _ in QUALITY_FIELDS} == {"estimated_kwh", "excluded_kwh"}
    alone = _account(grid_import_kwh=1000.0, excluded_kwh=100.0)
    assert "9.09 % of the period's 1,100.0 kWh" in str(warnings(alone)[0].value)
    assert "100.0 kWh excluded" in str(warnings(alone)[0].value) and "estimated" not in str(warnings(alone)[0].value)
    assert not warnings(_account(grid_import_kwh=0.0, budget_kgco2e=10.0))  # nothing used, nothing to warn


def _counters(days: int) -> Readings:
    series = builtin_series("b2")
    stamps = [START + timedelta(minutes=15 * q) for q in range(days * 96 + 9)]
    offset = (START - series.start).total_seconds()
    return Readings({"b2-main": [(t, 50_000 + series.energy_kwh_at(offset + (t - START).total_seconds()), "good")
                                 for t in stamps]}, {}, None)


def test_the_days_add_up_to_the_account_and_carry_their_budget() -> None:
    readings = _counters(3)
    end = START + timedelta(days=3)
    account = account_of(LONDON, readings, START, end)
    days = days_of(LONDON, readings, START, end)
    assert [d.start for d in days] == [START + timedelta(days=i) for i in range(3)]
    assert sum(d.kgco2e or 0.0 for d in days) == pytest.approx(account.total_kgco2e, rel=1e-9)
    assert all(d.kgco2e and d.kgco2e > 0 for d in days)
    assert sum(d.budget_kgco2e or 0.0 for d in days) == pytest.approx(account.budget_kgco2e or 0.0, rel=1e-9)
    # A day past the readings has no figure (no bar), not zero.
    longer = days_of(LONDON, readings, START, START + timedelta(days=5))
    assert longer[-1].kgco2e is None


def test_the_html_page_is_sized_for_its_paper_and_shows_the_chart() -> None:
    pytest.importorskip("matplotlib")
    readings = _counters(3)
    end = START + timedelta(days=3)
    account = account_of(LONDON, readings, START, end)
    header = Header("cambridge", "b2", START, end, END, "0.1.0")
    days = days_of(LONDON, readings, START, end)
    page, _ = render("html", header, LONDON, account, days=days, paper="A4")
    assert "@page{size:A4;" in page and '<figure data-chart="0" data-empty="false"><picture>' in page
    assert page.count("data:image/png;base64,") == 2  # the wide drawing and the phone's
    assert page.index("<figure") < page.index("<h2>Boundary</h2>")
    letter, _ = render("html", header, LONDON, account, days=days, paper="letter")
    assert "@page{size:letter;" in letter
    empty, _ = render("html", header, LONDON, account, days=days_of(LONDON, Readings({}, {}, None), START, end))
    assert 'data-empty="true"' in empty and "No data for this period" in empty


def test_the_commands_threshold_is_the_engines() -> None:
    import inspect

    from greenwire.cloud.carbon.statement import QUALITY_THRESHOLD_PCT
    from greenwire.commands.carbon_statement import statement

    assert inspect.signature(statement).parameters["quality_threshold"].default == QUALITY_THRESHOLD_PCT
