"""EU CBAM figures: the worked example of docs/cbam.md recomputed by hand; site-model errors by line."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenwire.cloud.carbon.statement import verify
from greenwire.cloud.cbam.output import to_csv, to_json, write_xlsx
from greenwire.cloud.cbam.report import CbamReport, cbam_report
from greenwire.cloud.sites import load_sites
from greenwire.shared.errors import ConfigError

DOC = Path(__file__).resolve().parents[2] / "docs" / "cbam.md"
START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=1)


def _example() -> tuple[str, dict[str, float], dict[str, dict[str, float]]]:
    """The docs' site model, its counters' rises and its table of results."""
    text = DOC.read_text(encoding="utf-8")
    yaml = re.search(r"```yaml\n(.*?)```", text, re.S)[1]  # type: ignore[index]
    rises = {m[1]: float(m[2]) for m in re.finditer(r"^\| ([a-z-]+) \| (\d+) \|$", text, re.M)}
    results: dict[str, dict[str, float]] = {}
    for m in re.finditer(r"^\| ([a-z0-9_]+) \| ([\d.]+) \| ([\d.]+) \|$", text, re.M):
        results[m[1]] = {"bolts": float(m[2]), "fittings": float(m[3])}
    return yaml, rises, results


def _rising(total: float, step_minutes: int = 5) -> list[tuple[datetime, float, str]]:
    steps = 24 * 60 // step_minutes
    return [(START + timedelta(minutes=step_minutes * i), 1000.0 + total * i / steps, "good") for i in range(steps + 1)]


def _report(tmp_path: Path, yaml: str, rises: dict[str, float]) -> CbamReport:
    path = tmp_path / "sites.yaml"
    path.write_text(yaml)
    site = load_sites(path).sites[0]
    counters = {d: _rising(v) for d, v in rises.items() if d != "furnace"}
    return cbam_report(site, site.installation("works"), counters,
                       {"furnace": ("gas_volume_m3", _rising(rises["furnace"]))}, START, END)


def _hand(rises: dict[str, float]) -> dict[str, dict[str, float]]:
    """The docs' hand computation, from the inputs and the factors the docs name."""
    grid, ncv, gas_g, steel = 582.7, 10.814166667, 199.9404, 3.31
    ef = (rises["main"] * grid + rises["pv"] * 0.0) / (rises["main"] + rises["pv"])
    tonnes = {"bolts": rises["bolts-count"] * 0.05 / 1000, "fittings": rises["fittings-mass"]}
    mass = sum(tonnes.values())
    kwh = {"bolts": rises["line-a"] + rises["compressors"] * tonnes["bolts"] / mass,
           "fittings": rises["line-b"] + rises["compressors"] * tonnes["fittings"] / mass}
    direct = {"bolts": rises["furnace"] * ncv * gas_g / 1e6, "fittings": 0.0}
    precursor = {"bolts": 1.05 * tonnes["bolts"] * steel, "fittings": 1.08 * tonnes["fittings"] * steel}
    out: dict[str, dict[str, float]] = {}
    for p in ("bolts", "fittings"):
        indirect = kwh[p] * ef / 1e6
        total = direct[p] + indirect + precursor[p]
        out[p] = {"activity_t": tonnes[p], "direct_tco2e": direct[p], "indirect_tco2e": indirect,
                  "see_direct": (direct[p] + precursor[p]) / tonnes[p], "see_indirect": indirect / tonnes[p],
                  "see_total": total / tonnes[p], "electricity_mwh": kwh[p] / 1000,
                  "electricity_mwh_per_t": kwh[p] / 1000 / tonnes[p], "electricity_factor_g_per_kwh": ef,
                  "default_share": precursor[p] / total}
    return out


def test_worked_example_equals_the_hand_computation(tmp_path: Path) -> None:
    yaml, rises, documented = _example()
    hand = _hand(rises)
    report = _report(tmp_path, yaml, rises)
    products = json.loads(to_json(report))["products"]
    assert [p["process"] for p in products] == ["bolts", "fittings"]
    for entry in products:
        expected = hand[entry["process"]]
        for key, value in expected.items():
            assert entry[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
            assert documented[key][entry["process"]] == pytest.approx(value, abs=5e-5), f"docs: {key}"
        assert "582.7 g/kWh" in entry["electricity_factor_source"]
        assert entry["data_quality"] == []
    assert len(documented) == len(hand["bolts"])
    assert report.data["electricity_not_attributed_mwh"] == pytest.approx(1.0)
    assert any("EU default value 3.31" in s for s in report.sources)


def test_csv_verifies_and_xlsx_holds_the_same_figures(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    yaml, rises, _ = _example()
    report = _report(tmp_path, yaml, rises)
    text = to_csv(report)
    assert verify(text)
    assert not verify(text.replace("3.31", "3.01", 1))
    csv_rows = list(csv.reader(io.StringIO(text)))
    digest = csv_rows[-1][2]
    assert json.loads(to_json(report))["content_hash_sha256"] == digest
    path = tmp_path / "works.xlsx"
    write_xlsx(report, path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["Summary_Products", "Installation_Data"]
    sheet = book["Summary_Products"]
    header = [c.value for c in sheet[2]]
    for row, product in zip(sheet.iter_rows(min_row=3, values_only=True), report.products, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["CN code"] == product["cn_code"]
        # a workbook keeps 15 significant digits (Excel's precision), the CSV all of them
        for label, key in (("Specific embedded emissions, total (tCO2e/t)", "see_total"),
                           ("Specific embedded emissions, direct (tCO2e/t)", "see_direct"),
                           ("Electricity consumed (MWh)", "electricity_mwh"), ("Activity level (t)", "activity_t"),
                           ("Share of embedded emissions from default values (1)", "default_share")):
            assert cells[label] == pytest.approx(product[key], rel=1e-14), label
    sources = [c.value for c in book["Sources"]["B"]]
    assert digest in sources
    hand = _hand(rises)
    processes = book["Summary_Processes"]
    columns = [c.value for c in processes[1]]
    rows = {r[0]: dict(zip(columns, r, strict=True)) for r in processes.iter_rows(min_row=2, values_only=True)}
    assert rows["bolts"]["direct_tco2e (tCO2e)"] == pytest.approx(hand["bolts"]["direct_tco2e"])
    assert rows["fittings"]["electricity_mwh (MWh)"] == pytest.approx(hand["fittings"]["electricity_mwh"])
    precursors = book["Purchased_Precursors"]
    columns = [c.value for c in precursors[1]]
    bought = [dict(zip(columns, r, strict=True)) for r in precursors.iter_rows(min_row=2, values_only=True)]
    assert [(b["process"], b["mass_t (t)"], b["t_per_t (t/t)"]) for b in bought] == [
        ("bolts", pytest.approx(21.0), 1.05), ("fittings", pytest.approx(10.8), 1.08)]
    assert bought[0]["direct_tco2e (tCO2e)"] == pytest.approx(69.51) and bought[0]["values"] == "EU default value"


def test_estimated_energy_is_flagged(tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    path = tmp_path / "sites.yaml"
    path.write_text(yaml)
    site = load_sites(path).sites[0]
    counters = {d: _rising(v) for d, v in rises.items() if d != "furnace"}
    counters["line-a"] = _rising(rises["line-a"], step_minutes=60)  # read hourly: gaps over 15 minutes
    report = cbam_report(site, site.installation("works"), counters, {}, START, END)
    bolts = report.products[0]
    assert bolts["estimated_energy_share"] > 0.5
    assert any("estimated energy" in flag for flag in bolts["data_quality"])
    assert report.products[1]["estimated_energy_share"] == 0


def test_supplier_values_are_not_defaults(tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    supplier = "values: {see_direct: 2.0, see_indirect: 0.25, source: 'Mill X communication 2026-10', year: 2026}"
    report = _report(tmp_path, yaml.replace("t_per_t: 1.08, country: CN, values: eu_default", "t_per_t: 1.08, "
                                            f"country: CN, {supplier}"), rises)
    fittings = report.products[1]
    assert fittings["default_share"] == 0
    indirect = fittings["indirect_tco2e"] + 1.08 * 10 * 0.25
    assert fittings["see_indirect"] == pytest.approx(indirect / 10)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("buildings: [hall]", "buildings: [hal]", "no building 'hal' in this site"),
        ("meters: [line-b]", "meters: [line-c]", "meter 'line-c' is not a meter of the installation's buildings"),
        ("meters: [line-b]", "meters: [line-a]", "meter 'line-a' is already used by process bolts"),
        ("meter: fittings-mass", "meter: line-b", "meter 'line-b' has role 'sub_meter'; a product's counter needs"),
        ("unit: pieces, kg_per_piece: 0.05", "unit: pieces", "a product counted in pieces needs kg_per_piece"),
        ("{meter: compressors, by: mass}", "{meter: compressors, by: declared, shares: {bolts: 0.6}}",
         "declared shares must be non-negative and sum to 1"),
        ("{meter: compressors, by: mass}", "{meter: compressors, by: declared, shares: {bolts: 0.6, nuts: 0.4}}",
         "no process 'nuts' in this installation"),
        ('cn_code: "7207 19 19", t_per_t: 1.08, country: CN', 'cn_code: "7208 10", t_per_t: 1.08, country: CN',
         "no EU default value for CN 7208 10 from CN"),
    ],
)
def test_mistakes_name_the_line(tmp_path: Path, old: str, new: str, words: str) -> None:
    yaml, _, _ = _example()
    assert old in yaml
    changed = yaml.replace(old, new, 1)
    line = next(n for n, text in enumerate(changed.splitlines(), 1) if new.split(",")[0].strip("{ ") in text)
    path = tmp_path / "sites.yaml"
    path.write_text(changed)
    with pytest.raises(ConfigError) as info:
        load_sites(path)
    assert words in str(info.value)
    assert info.value.line == line, str(info.value)
    assert f"{path}:{line}" in str(info.value)


def test_a_ppa_and_the_site_models_grid_factor_price_the_electricity(tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    own = ("        grid_factor: {value: 537.0, source: 'published grid factor of the country', year: 2025}\n"
           "        ppas:\n"
           "          - {kwh: 4800, from: 2026-11-01, to: 2026-11-03, g_per_kwh: 10, evidence: 'wind farm PPA W-17'}\n")
    report = _report(tmp_path, yaml.replace("        on_site_generation:\n", own + "        on_site_generation:\n"), rises)
    covered = 4800 / 2  # the contract's two days spread evenly: one in the period
    factor = ((rises["main"] - covered) * 537.0 + covered * 10 + rises["pv"] * 0) / (rises["main"] + rises["pv"])
    bolts = report.products[0]
    assert bolts["electricity_factor_g_per_kwh"] == pytest.approx(factor)
    assert bolts["indirect_tco2e"] == pytest.approx(bolts["electricity_mwh"] * 1000 * factor / 1e6)
    assert "PPA 10 g/kWh for 2400 kWh: wind farm PPA W-17" in bolts["electricity_factor_source"]
    assert "537 g/kWh: published grid factor of the country (2025, site model)" in bolts["electricity_factor_source"]
    assert "MEE" not in bolts["electricity_factor_source"]


def test_a_ppa_never_covers_more_than_the_grid_import(tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    own = ("        ppas:\n"
           "          - {kwh: 1.0e6, from: 2026-11-01, to: 2026-11-02, g_per_kwh: 0, evidence: 'hydro PPA H-2'}\n")
    report = _report(tmp_path, yaml.replace("        on_site_generation:\n", own + "        on_site_generation:\n"), rises)
    assert report.products[0]["electricity_factor_g_per_kwh"] == pytest.approx(0.0)


def test_production_counters_can_be_imported_as_csv(tmp_path: Path) -> None:
    """`greenwire import readings` takes production counters like any other (pieces and tonnes)."""
    from greenwire.cloud.history import read_history

    path = tmp_path / "production.csv"
    path.write_text("timestamp,device,quantity,value\n"
                    "2026-11-01T00:00:00Z,bolts-count,production_count_pcs,0\n"
                    "2026-11-01T00:00:00Z,fittings-mass,production_mass_t,0\n"
                    "2026-11-02T00:00:00Z,bolts-count,production_count_pcs,400000\n"
                    "2026-11-02T00:00:00Z,fittings-mass,production_mass_t,10.0\n")
    readings = read_history(path)
    by = {(r.device, r.ts): r.values for r in readings}
    assert by[("bolts-count", END)] == {"production_count_pcs": 400000.0}
    assert by[("fittings-mass", END)] == {"production_mass_t": 10.0}


def test_a_production_counter_read_once_a_day_counts_its_whole_rise(tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    path = tmp_path / "sites.yaml"
    path.write_text(yaml)
    site = load_sites(path).sites[0]
    counters = {d: _rising(v) for d, v in rises.items() if d != "furnace"}
    counters["bolts-count"] = [(START, 5000.0, "good"), (END, 405000.0, "good")]  # imported daily totals
    counters["fittings-mass"] = [(START, 2.5, "good"), (END, 12.5, "good")]
    report = cbam_report(site, site.installation("works"), counters,
                         {"furnace": ("gas_volume_m3", _rising(rises["furnace"]))}, START, END)
    assert [p["activity_t"] for p in report.products] == [pytest.approx(20.0), pytest.approx(10.0)]


HEAT = ("          - {gateway: gw-works, device: steam, role: heat}\n"
        "        heat_factor: {value: 250.0, source: 'park heat network, published factor', year: 2025}\n")


def _with_heat(yaml: str) -> str:
    meters = "          - {gateway: gw-works, device: fittings-mass, role: production}\n"
    return yaml.replace(meters, meters + HEAT).replace("meters: [line-b]", "meters: [line-b, steam]")


def test_district_heat_a_process_takes_counts_as_its_direct_emissions(tmp_path: Path) -> None:
    yaml, rises, _ = _example()
    rises = {**rises, "steam": 1200.0}
    report = _report(tmp_path, _with_heat(yaml), rises)
    fittings = report.products[1]
    assert fittings["heat_mwh"] == pytest.approx(1.2)
    assert fittings["direct_tco2e"] == pytest.approx(1200 * 250.0 / 1e6)
    assert fittings["see_direct"] == pytest.approx((1200 * 250.0 / 1e6 + 1.08 * 10 * 3.31) / 10)
    assert report.products[0]["heat_mwh"] == 0
    assert any("district heat 250 gCO2e/kWh: park heat network" in s for s in report.sources)


def test_district_heat_without_a_factor_is_refused_at_its_line(tmp_path: Path) -> None:
    yaml, _, _ = _example()
    text = _with_heat(yaml).replace(HEAT.splitlines()[1] + "\n", "")
    path = tmp_path / "sites.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sites(path)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "meters: [line-b, steam]" in t)
    assert "meter 'steam' measures district heat but building 'hall' has no heat_factor" in str(info.value)
    assert info.value.line == line
