"""The zone roll-up: enterprises from the site model's zones, per-tonne figures from the CBAM
activity levels, rankings, metered share; zone mistakes name their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwire.cloud.carbon.report import account
from greenwire.cloud.cbam.report import cbam_report
from greenwire.cloud.cbam.zone import find_zone, zone_report
from greenwire.cloud.sites import load_sites
from greenwire.shared.errors import ConfigError
from tests.unit.test_cbam import END, START, _example, _rising

OFFICE = """  - id: town
    buildings:
      - {id: hq, floor_area_m2: 2000, zone: CN-JS, timezone: Asia/Shanghai,
         meters: [{gateway: gw-town, device: hq-main, role: grid_import}]}
zones:
  - id: wujin
    name: Wujin industrial park
    kind: park
    enterprises:
      - {id: fasteners, name: Fastener works, sites: [park]}
      - {id: council, sites: [town]}
"""


def _model(tmp_path: Path, extra: str = OFFICE) -> object:
    yaml, _, _ = _example()
    path = tmp_path / "sites.yaml"
    path.write_text(yaml + extra)
    return load_sites(path)


def test_zone_rolls_up_enterprises(tmp_path: Path) -> None:
    _, rises, _ = _example()
    model = _model(tmp_path)
    counters = {d: _rising(v) for d, v in rises.items() if d != "furnace"}
    counters["hq-main"] = _rising(1500.0, step_minutes=60)  # hourly: estimated timing
    gas = {"furnace": ("gas_volume_m3", _rising(rises["furnace"]))}
    accounts = {(s.id, b.id): account(b, counters, None, START, END, gas_counters=gas if b.id == "hall" else None)
                for s in model.sites for b in s.buildings}  # type: ignore[attr-defined]
    plant = model.sites[0]  # type: ignore[attr-defined]
    output = {"park": sum(p["activity_t"] for p in cbam_report(plant, plant.installation("works"), counters, gas,
                                                               START, END).products)}
    zone = zone_report(find_zone(model, None), model, accounts, output, START, END)  # type: ignore[attr-defined]
    by = {e["enterprise"]: e for e in zone["enterprises"]}
    hall, hq = accounts[("park", "hall")], accounts[("town", "hq")]
    # the hall's account: grid import 8400 kWh at 582.7 g/kWh, the furnace's gas at the CN default
    assert hall.grid_import_kwh == pytest.approx(8400)
    assert hall.total_kgco2e == pytest.approx(8400 * 0.5827 + 500 * 10.814166667 * 0.1999404, rel=1e-6)
    assert by["fasteners"]["kgco2e"] == pytest.approx(hall.total_kgco2e)
    assert by["fasteners"]["output_t"] == pytest.approx(30.0)
    assert by["fasteners"]["kgco2e_per_t"] == pytest.approx(hall.total_kgco2e / 30.0)
    assert by["council"]["output_t"] is None and by["council"]["kgco2e_per_t"] is None
    assert by["fasteners"]["rank_per_t"] == 1 and by["council"]["rank_per_t"] is None
    per_m2 = {k: v["kgco2e"] / v["floor_area_m2"] for k, v in by.items()}
    worst = max(per_m2, key=per_m2.__getitem__)
    assert by[worst]["rank_per_m2"] == 1
    assert by["fasteners"]["metered_share"] == pytest.approx(1.0)
    assert by["council"]["metered_share"] == pytest.approx((hq.grid_import_kwh - hq.estimated_kwh) / hq.grid_import_kwh)
    assert by["council"]["metered_share"] < 0.5
    assert zone["kgco2e"] == pytest.approx(hall.total_kgco2e + hq.total_kgco2e)
    assert zone["zone"] == "wujin" and zone["kind"] == "park"


def test_without_zones_every_site_is_an_enterprise(tmp_path: Path) -> None:
    model = _model(tmp_path, OFFICE.split("zones:")[0])
    zone = find_zone(model, None)  # type: ignore[arg-type]
    assert [(e.id, e.sites) for e in zone.enterprises] == [("park", ("park",)), ("town", ("town",))]
    with pytest.raises(KeyError, match="no zone 'x'"):
        find_zone(model, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("sites: [town]}", "sites: [village]}", "no site 'village' in the site model"),
        ("sites: [town]}", "sites: [park]}", "site 'park' already belongs to enterprise fasteners"),
        ("- {id: council,", "- {id: fasteners,", "enterprise id 'fasteners' is used twice"),
        ("kind: park", "kind: city", "Input should be 'park' or 'county'"),
    ],
)
def test_zone_mistakes_name_the_line(tmp_path: Path, old: str, new: str, words: str) -> None:
    yaml, _, _ = _example()
    text = yaml + OFFICE.replace(old, new)
    line = max(n for n, t in enumerate(text.splitlines(), 1) if new in t)  # the later of two
    path = tmp_path / "sites.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sites(path)
    assert words in str(info.value) and info.value.line == line, str(info.value)
