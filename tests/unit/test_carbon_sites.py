"""The site model: valid files load; mistakes name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.carbon.site import load_sites
from shared.errors import ConfigError

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
        ("role: gas", "role: steam", 13, "'grid_import', 'grid_export', 'pv_generation', 'sub_meter', 'gas' or 'heat'"),
        ("device: pv,", "device: main,", 12, "meter gw-01/main already belongs to building haikou/clinic"),
        ("floor_area_m2: 2400", "floor_area_m2: 0", 5, "greater than 0"),
    ],
)
def test_mistakes_name_the_line(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, GOOD.replace(old, new))
    assert words in str(info.value)
    assert info.value.line == line, str(info.value)
