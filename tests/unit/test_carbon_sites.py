"""The site model: valid files load; mistakes name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwire.cloud.sites import load_sites
from greenwire.shared.errors import ConfigError

GOOD = """sites:
  - id: haikou
    buildings:
      - id: clinic
        floor_area_m2: 2400
        use: healthcare
        zone: CN-HI
        timezone: Asia/Shanghai
        annual_budget_kgco2e: 150000
        meters:
          - {gateway: gw-01, device: main, role: grid_import}
          - {gateway: gw-01, device: pv, role: pv_generation}
          - {gateway: gw-01, device: boiler, role: gas}
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "sites.yaml"
    path.write_text(text)
    return load_sites(path)


def test_site_model_loads(tmp_path: Path) -> None:
    model = _load(tmp_path, GOOD)
    building = model.building("haikou", "clinic")  # type: ignore[attr-defined]
    assert [m.device for m in building.meters_with("grid_import")] == ["main"]
    assert building.annual_budget_kgco2e == 150000


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("timezone: Asia/Shanghai", "timezone: Asia/Haikou", 8, "unknown timezone 'Asia/Haikou'"),
        ("role: gas", "role: steam", 13, "'grid_import', 'grid_export', 'pv_generation', 'sub_meter', 'gas', 'heat' or 'production'"),
        ("device: pv,", "device: main,", 12, "meter gw-01/main already belongs to building haikou/clinic"),
        ("floor_area_m2: 2400", "floor_area_m2: 0", 5, "greater than 0"),
    ],
)
def test_mistakes_name_the_line(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, GOOD.replace(old, new))
    assert words in str(info.value)
    assert info.value.line == line, str(info.value)


def test_budget_for_a_period_follows_the_monthly_split(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    model = _load(tmp_path, GOOD)
    clinic = model.building("haikou", "clinic")  # type: ignore[attr-defined]
    # 150,000 kg a year spread by days: January 2026 (local time, UTC+8) is 31/365 of it.
    jan = clinic.budget_between(datetime(2025, 12, 31, 16, tzinfo=UTC), datetime(2026, 1, 31, 16, tzinfo=UTC))
    assert jan == pytest.approx(150_000 * 31 / 365)
    winter = GOOD.replace("annual_budget_kgco2e: 150000",
                          "annual_budget_kgco2e: 120000\n        monthly_budget_split: [0.2, 0.2, 0.1, 0.05, 0.05, "
                          "0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.1]")
    split = _load(tmp_path, winter).building("haikou", "clinic")  # type: ignore[attr-defined]
    half_feb = split.budget_between(datetime(2026, 1, 31, 16, tzinfo=UTC), datetime(2026, 2, 14, 16, tzinfo=UTC))
    assert half_feb == pytest.approx(120_000 * 0.2 / 2)
    with pytest.raises(ConfigError, match="12 non-negative shares summing to 1"):
        _load(tmp_path, winter.replace("0.2, 0.2,", "0.3, 0.2,"))


HEAT = GOOD + """          - {gateway: gw-01, device: dh, role: heat}
        heat_factor: us_epa_district_hot_water
"""


def test_heat_factor_by_name_or_as_the_networks_own(tmp_path: Path) -> None:
    by_name = _load(tmp_path, HEAT).building("haikou", "clinic")  # type: ignore[attr-defined]
    assert by_name.heat_factor == "us_epa_district_hot_water"
    own = HEAT.replace("heat_factor: us_epa_district_hot_water",
                       'heat_factor: {value: 180.5, source: "test network, not a published figure", year: 2025}')
    factor = _load(tmp_path, own).building("haikou", "clinic").heat_factor  # type: ignore[attr-defined]
    assert (factor.value, factor.source, factor.year) == (180.5, "test network, not a published figure", 2025)
    assert _load(tmp_path, GOOD).building("haikou", "clinic").heat_factor is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("factor", "line", "words"),
    [
        ("district_heating", 15,
         "no district-heat factor 'district_heating'; known: us_epa_district_hot_water, us_epa_district_steam"),
        ('{value: 0, source: "network", year: 2025}', 15, "heat_factor.value: Input should be greater than 0"),
        ('{value: -3, source: "network", year: 2025}', 15, "greater than 0"),
        ('{value: .inf, source: "network", year: 2025}', 15, "heat_factor.value: Input should be a finite number"),
        ('{value: .nan, source: "network", year: 2025}', 15, "finite number"),
        ('{value: 150, source: "", year: 2025}', 15, "heat_factor.source: String should have at least 1 character"),
        ('{value: 150, source: "  ", year: 2025}', 15, "the source of the factor must be given"),
        ("{value: 150, year: 2025}", 15, "heat_factor.source: required key 'source' is missing"),  # on the mapping's line
        ('{value: 150, source: "network", year: 2025, kind: average}', 15, "unknown key 'kind'"),
    ],
)
def test_heat_factor_mistakes_name_the_line(tmp_path: Path, factor: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, HEAT.replace("us_epa_district_hot_water", factor))
    assert words in str(info.value)
    assert info.value.line == line, str(info.value)


def test_a_heat_factor_without_a_heat_meter_is_a_mistake(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, GOOD + "        heat_factor: us_epa_district_steam\n")
    assert "heat_factor is given but no meter of the building has role 'heat'" in str(info.value)
    assert info.value.line == 14
