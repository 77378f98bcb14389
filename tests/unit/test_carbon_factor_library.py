"""The factor library against its source copies: every value of every set is the copied figure.

Each check reads the copy under cloud/carbon/data/sources/ that the set names and compares the
library's value (g per kWh) with the published figure in its published unit. A last test makes
sure every factor of the library was compared by one of them, so a value added without its
source copy fails here.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from greenwire.cloud.carbon.factorsets import (
    SOURCES_DIR,
    FactorLibrary,
    FactorSet,
    all_factors,
    load_library,
)

CHECKED: set[tuple[str, str, str | None, str | None]] = set()


def _key(factor_set: FactorSet, kind: str, zone: str | None = None, fuel: str | None = None) -> float | None:
    factor = factor_set.find(kind, zone=zone, fuel=fuel)  # type: ignore[arg-type]
    assert factor is not None, f"{factor_set.id} has no {kind} {zone or fuel}"
    CHECKED.add((factor_set.id, kind, zone, fuel))
    return factor.value


def _sets(library: FactorLibrary, family: str) -> list[FactorSet]:
    found = [s for s in library.sets if s.family == family]
    assert found, family
    return found


def _rows(path: str) -> list[dict[str, str]]:
    with (SOURCES_DIR / path).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_set_names_an_existing_copy_with_provenance_and_licence() -> None:
    for factor_set in load_library().sets:
        copy = SOURCES_DIR / factor_set.copy_path
        assert copy.is_file(), factor_set.id
        provenance = (copy.parent / "PROVENANCE.md").read_text(encoding="utf-8") if (
            copy.parent / "PROVENANCE.md").exists() else (SOURCES_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
        assert copy.name in provenance, f"{factor_set.id}: {copy.name} is not described in a PROVENANCE.md"
        licences = [p for p in copy.parent.iterdir() if p.name.upper().startswith("LICEN")]
        assert licences or "Licence:" in provenance, f"{factor_set.id}: no licence beside {copy}"


def test_desnz_sets_are_the_transcribed_cells() -> None:
    library = load_library()
    rows = _rows("desnz-ghg-conversion-factors/desnz_2019_2025.csv")
    by = {(int(r["year"]), r["quantity"]): r for r in rows}
    assert {y for y, _ in by} == set(range(2019, 2026))
    for factor_set in _sets(library, "desnz"):
        year = factor_set.year
        assert factor_set.jurisdiction == "GB" and factor_set.id == f"desnz-{year}"
        grid = by[(year, "electricity_generation")]
        assert _key(factor_set, "grid", zone="GB") == pytest.approx(float(grid["value"]) * 1000, rel=1e-12)
        gas = by[(year, "natural_gas_kwh_gross_cv")]
        assert _key(factor_set, "fuel", fuel="natural_gas") == pytest.approx(float(gas["value"]) * 1000, rel=1e-12)
        factor = factor_set.find("fuel", fuel="natural_gas")
        assert factor is not None and factor.basis == "gross_cv" and factor.gases == "co2e"
        assert factor.verification == gas["verification"]
        assert factor_set.find("grid", zone="GB").verification == grid["verification"]  # type: ignore[union-attr]
        if (year, "natural_gas_m3") in by:  # the calorific value the edition implies
            per_m3 = float(by[(year, "natural_gas_m3")]["value"])
            assert factor.calorific_kwh_per_m3 == pytest.approx(per_m3 / float(gas["value"]), rel=1e-9)
        else:
            assert factor.calorific_kwh_per_m3 is None
        if (year, "electricity_td_losses") in by:
            td = float(by[(year, "electricity_td_losses")]["value"])
            assert _key(factor_set, "td_losses", zone="GB") == pytest.approx(td * 1000, rel=1e-12)
        else:
            assert factor_set.find("td_losses", zone="GB") is None
    # The values the issue names, as DESNZ publishes them (kg CO2e per kWh).
    assert library.get("desnz-2024").find("grid", zone="GB").value == pytest.approx(207.05)  # type: ignore[union-attr]
    assert library.get("desnz-2025").find("fuel", fuel="natural_gas").value == pytest.approx(182.96)  # type: ignore[union-attr]


def test_mee_provincial_factors_are_the_codecarbon_transcription() -> None:
    library = load_library()
    official = json.loads((SOURCES_DIR / "codecarbon-3.3.2" / "china_provincial_emissions.json").read_text())["data"]
    (mee,) = _sets(library, "mee")
    assert {f.zone for f in mee.factors} == set(official)
    for zone, entry in official.items():
        assert _key(mee, "grid", zone=zone) == entry["emission_factor"] and entry["unit"] == "gCO2/kWh"
    assert mee.find("grid", zone="CN-HI").gases == "co2"  # type: ignore[union-attr]


def test_china_natural_gas_is_derived_from_the_guideline_parameters() -> None:
    library = load_library()
    rows = {r["parameter"]: r for r in _rows("china-fuel-factors/natural_gas.csv")}
    ncv, carbon, oxidation = (float(rows[k]["value"]) for k in ("ncv", "carbon_content", "oxidation"))
    (guidelines,) = _sets(library, "cn-guidelines")
    # t C per TJ = kg C per GJ; x 44/12 CO2 per C; x 3.6 GJ per MWh = g per kWh
    assert _key(guidelines, "fuel", fuel="natural_gas") == pytest.approx(carbon * oxidation * 44 / 12 * 3.6, rel=1e-9)
    factor = guidelines.find("fuel", fuel="natural_gas")
    assert factor is not None and factor.basis == "net_cv" and factor.gases == "co2"
    assert factor.calorific_kwh_per_m3 == pytest.approx(ncv / 10_000 / 0.0036, rel=1e-9)  # GJ/10^4 Nm3 -> kWh/Nm3
    assert factor.verification == "disputed" == rows["oxidation"]["verification"]


def test_eea_and_aib_sets_are_the_transcribed_tables() -> None:
    library = load_library()
    eea = _rows("eea-electricity-intensity/ghg_intensity_of_electricity_generation.csv")
    for factor_set in _sets(library, "eea"):
        mine = [r for r in eea if int(r["data_year"]) == factor_set.year]
        assert len(mine) == len(factor_set.factors) == 27
        for r in mine:
            assert _key(factor_set, "grid", zone=r["country"]) == float(r["co2e_g_per_kwh"])
    aib = _rows("aib-european-residual-mixes/residual_mixes.csv")
    for factor_set in _sets(library, "aib"):
        mine = [r for r in aib if int(r["data_year"]) == factor_set.year]
        assert len(mine) == len(factor_set.factors) == 27
        for r in mine:
            expected = float(r["co2_g_per_kwh"]) if r["co2_g_per_kwh"] else None
            assert _key(factor_set, "residual_mix", zone=r["country"]) == expected
    assert library.get("aib-2025").find("residual_mix", zone="DE").value == 701.47  # type: ignore[union-attr]
    assert library.get("aib-2023").find("residual_mix", zone="AT").value is None  # printed N/A, never 0  # type: ignore[union-attr]


def test_us_sets_are_the_lbnl_copies_of_egrid_and_the_emission_factors_hub() -> None:
    library = load_library()
    egrid = json.loads((SOURCES_DIR / "lbnl-better-0.1.1" / "egrid_emission_factors_2024.json").read_text())
    (grid,) = _sets(library, "egrid")
    subregions = [k for k in egrid if len(k) == 4 and k.isupper()]
    assert len(subregions) == len(grid.factors) == 26
    for key in subregions:
        assert _key(grid, "grid", zone=f"US-{key}") == pytest.approx(egrid[key]["CO2"] * 1000, abs=1e-9)
    fossil = json.loads((SOURCES_DIR / "lbnl-better-0.1.1" / "fossil_emission_factors_2024.json").read_text())
    (hub,) = _sets(library, "epa-hub")
    assert _key(hub, "fuel", fuel="natural_gas") == pytest.approx(fossil["OTHERS"]["NATURAL_GAS"]["CO2e"] * 1000)
    factor = hub.find("fuel", fuel="natural_gas")
    assert factor is not None and factor.calorific_kwh_per_m3 == pytest.approx(1026 * 35.3147 / 3412.14, rel=1e-9)


def test_every_library_value_was_compared_with_its_copy() -> None:
    """The checks above record each factor they compare; together they must cover the library."""
    CHECKED.clear()
    for check in (test_desnz_sets_are_the_transcribed_cells, test_mee_provincial_factors_are_the_codecarbon_transcription,
                  test_china_natural_gas_is_derived_from_the_guideline_parameters,
                  test_eea_and_aib_sets_are_the_transcribed_tables,
                  test_us_sets_are_the_lbnl_copies_of_egrid_and_the_emission_factors_hub):
        check()
    everything = {(s.id, f.kind, f.zone, f.fuel) for s, f in all_factors(load_library())}
    assert everything - CHECKED == set()


def test_the_library_is_well_formed(tmp_path: Path) -> None:
    from greenwire.cloud.carbon.factorsets import load_library as load
    from greenwire.shared.errors import ConfigError

    bad = tmp_path / "library.yaml"
    bad.write_text(
        'version: "x"\nsets:\n  - {id: s, family: f, jurisdiction: GB, year: 2024, publisher: p, title: t,\n'
        "     version: v, url: u, licence: l, copy: c,\n"
        "     factors: [{kind: grid, value: 1, gases: co2, unit: gCO2/kWh, basis: generation, scope: scope2_location,\n"
        "                table: t, row: r, verification: copied_file}]}\n"
    )
    with pytest.raises(ConfigError, match=r"library.yaml:5:.*a grid factor needs a zone"):
        load.__wrapped__(bad)
