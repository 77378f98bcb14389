"""The HTML report's pure parts: units by magnitude, figures as people read them, day axes, empty panels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from greenwire.cloud.grafana.dashboards import building
from greenwire.cloud.grafana.evaluate import PanelData
from greenwire.cloud.grafana.report import (
    NO_DATA,
    _day_range,
    amount,
    draw,
    number,
    page,
    power_panel,
    scaled_unit,
)


@pytest.mark.parametrize(("unit", "peak", "expected"), [
    ("kW", 772.6, ("kW", 1.0)), ("kW", 1_202.0, ("kW", 1.0)), ("kW", 15_000.0, ("MW", 1e3)),
    ("kWh", 9_999.0, ("kWh", 1.0)), ("kWh", 26_000.0, ("MWh", 1e3)), ("kWh", 3.2e7, ("GWh", 1e6)),
    ("kgCO2e", 347.0, ("kgCO2e", 1.0)), ("kgCO2e", 6_815.0, ("tCO2e", 1e3)),
    ("gCO2e/kWh", 310.0, ("gCO2e/kWh", 1.0)), ("%", 972.7, ("%", 1.0)),
])
def test_units_are_chosen_by_magnitude(unit: str, peak: float, expected: tuple[str, float]) -> None:
    assert scaled_unit(unit, peak) == expected


def test_figures_have_no_offset_or_exponent() -> None:
    assert [number(v) for v in (0, 0.29, 1.3212, 26.83, 347.2, 15_151.7, 1.2e8)] == [
        "0", "0.290", "1.32", "26.8", "347", "15,152", "120,000,000"]
    assert amount(15_151.7, "kgCO2e") == "15.2 tCO2e"
    assert amount(840.2, "kW") == "840 kW"


def test_a_partial_day_is_drawn_as_its_whole_day() -> None:
    start, end = datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    assert _day_range(start, end) == (start, datetime(2026, 12, 3, tzinfo=UTC))
    assert _day_range(start, datetime(2026, 12, 4, tzinfo=UTC)) == (start, datetime(2026, 12, 4, tzinfo=UTC))


def test_an_empty_panel_says_so_and_which_measurement_had_nothing(tmp_path: Path) -> None:
    panel = next(p for p in building().panel_list() if p.title == "Emissions per day: location- and market-based")
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 8, tzinfo=UTC)
    stale = tmp_path / "b2-1.png"
    stale.write_bytes(b"an earlier run's chart")
    data = PanelData(panel, ('SELECT last("scope1_kgco2e") FROM "carbon_daily" WHERE ...',),
                     ({"name": "carbon_daily", "columns": ["time", "a"], "values": [[0, None]]},), start, end)
    chart = draw(data, tmp_path, "b2-1", "building b2")
    assert chart.empty and chart.png is None and not stale.exists()
    assert "`carbon_daily`" in chart.note and "1 Oct 2026 00:00 UTC" in chart.note
    html = page([chart], "cambridge", start, end)
    assert NO_DATA in html and "<img" not in html and "1970" not in html
    assert 'name="viewport"' in html


def test_the_power_query_reads_the_grid_meters_power_field() -> None:
    panel = next(p for p in building().panel_list() if p.title == "Grid power")
    sql = power_panel(panel, [("gw-demo", "b2-main"), ("gw-demo", "b2-o'brien")]).queries[0].sql
    assert 'mean("active_power_w") / 1000' in sql and "grid_import_kwh" not in sql
    assert "(\"gateway\" = 'gw-demo' AND \"device\" = 'b2-main')" in sql and "b2-o\\'brien" in sql
    assert "grid_import_kwh" in panel.queries[0].sql, "the dashboard's own panel is unchanged"
