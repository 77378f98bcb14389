"""A zone's roll-up: its enterprises' emissions, intensities, rankings and metered share (pure).

An enterprise's figures are the sums of its buildings' carbon accounts
(:class:`~greenwire.cloud.carbon.report.Account`, the same figures their statements print), so the
zone's total equals the sum of its buildings' statements:

- ``kgco2e``: Scope 1 + Scope 2 location-based + Scope 2 of district heat (``Account.total_kgco2e``);
- ``kgco2e_per_m2`` over the period, and ``kgco2e_per_m2_year`` annualised as ``carbon ranking`` does;
- ``output_t``: the tonnes its installations' production counters counted (CBAM activity levels),
  and ``kgco2e_per_t`` where there was output;
- ``metered_share``: the part of its grid electricity that was metered rather than estimated or
  left out: (grid import - estimated) / (grid import + excluded);
- ranks by ``kgco2e_per_m2_year`` and by ``kgco2e_per_t``, worst first (1 = highest intensity).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from greenwire.cloud.carbon.report import Account
from greenwire.cloud.cbam.model import Zone
from greenwire.cloud.cbam.output import hashed_csv
from greenwire.cloud.sites import SiteModel


def find_zone(model: SiteModel, zone: str | None) -> Zone:
    """The zone of that id; with None the only zone, else every site an enterprise of one zone
    (KeyError naming the zones when the choice is unclear)."""
    if zone is None:
        if len(model.zones) == 1:
            return model.zones[0]
        if model.zones:
            raise KeyError(f"the site model has several zones: give one ({', '.join(z.id for z in model.zones)})")
        return Zone.model_validate({"id": "all", "name": "every site of the site model", "enterprises": [
            {"id": s.id, "name": s.name, "sites": [s.id]} for s in model.sites]})
    for candidate in model.zones:
        if candidate.id == zone:
            return candidate
    raise KeyError(f"no zone {zone!r} ({', '.join(z.id for z in model.zones) or 'the site model has none'})")


def _ranks(rows: list[dict[str, Any]], key: str, rank_key: str) -> None:
    ranked = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key], reverse=True)
    for row in rows:
        row[rank_key] = None
    for rank, row in enumerate(ranked, start=1):
        row[rank_key] = rank


def zone_report(zone: Zone, model: SiteModel, accounts: Mapping[tuple[str, str], Account],
                output_t: Mapping[str, float], start: datetime, end: datetime) -> dict[str, Any]:
    """The zone's figures from its buildings' accounts (by (site, building)) and each site's output (t)."""
    years = (end - start).total_seconds() / (365.25 * 86400)
    enterprises: list[dict[str, Any]] = []
    for enterprise in zone.enterprises:
        chosen = [(s.id, b) for s in model.sites if s.id in enterprise.sites for b in s.buildings]
        kg = sum(accounts[(site, b.id)].total_kgco2e for site, b in chosen)
        area = sum(b.floor_area_m2 for _, b in chosen)
        grid = sum(accounts[(site, b.id)].grid_import_kwh for site, b in chosen)
        estimated = sum(accounts[(site, b.id)].estimated_kwh for site, b in chosen)
        excluded = sum(accounts[(site, b.id)].excluded_kwh for site, b in chosen)
        output = sum(output_t.get(site, 0.0) for site in enterprise.sites)
        has_output = any(i for s in model.sites if s.id in enterprise.sites for i in s.installations)
        enterprises.append({
            "enterprise": enterprise.id, "name": enterprise.name, "sites": list(enterprise.sites),
            "buildings": [f"{site}/{b.id}" for site, b in chosen],
            "kgco2e": kg, "floor_area_m2": area,
            "kgco2e_per_m2": kg / area if area else None,
            "kgco2e_per_m2_year": kg / area / years if area and years > 0 else None,
            "output_t": output if has_output else None,
            "kgco2e_per_t": kg / output if output > 0 else None,
            "grid_import_kwh": grid, "estimated_kwh": estimated, "excluded_kwh": excluded,
            "metered_share": (grid - estimated) / (grid + excluded) if grid + excluded > 0 else None,
            "gas_kwh": sum(accounts[(site, b.id)].gas_kwh for site, b in chosen),
            "factor_sets": list(dict.fromkeys(s for site, b in chosen for s in accounts[(site, b.id)].factor_sets)),
            "heat_kwh": sum(accounts[(site, b.id)].heat_kwh for site, b in chosen),
        })
    _ranks(enterprises, "kgco2e_per_m2_year", "rank_per_m2")
    _ranks(enterprises, "kgco2e_per_t", "rank_per_t")
    total = sum(e["kgco2e"] for e in enterprises)
    area = sum(e["floor_area_m2"] for e in enterprises)
    grid = sum(e["grid_import_kwh"] for e in enterprises)
    excluded = sum(e["excluded_kwh"] for e in enterprises)
    return {
        "schema": "greenwire.zone.v1", "zone": zone.id, "name": zone.name, "kind": zone.kind,
        "from": start.isoformat(), "to": end.isoformat(),
        "kgco2e": total, "floor_area_m2": area, "kgco2e_per_m2": total / area if area else None,
        "metered_share": ((grid - sum(e["estimated_kwh"] for e in enterprises)) / (grid + excluded)
                          if grid + excluded > 0 else None),
        "enterprises": enterprises,
        "buildings": {f"{site}/{building}": a.total_kgco2e for (site, building), a in accounts.items()},
    }


def zone_csv(result: dict[str, Any]) -> str:
    """The zone report's figures in the statements' CSV layout, its content hash last."""
    rows: list[tuple[str, str, Any, str]] = [
        ("zone", key, result[key], "") for key in ("zone", "name", "kind", "from", "to")]
    rows += [("zone", "kgco2e", result["kgco2e"], "kgCO2e"), ("zone", "floor_area_m2", result["floor_area_m2"], "m2"),
             ("zone", "kgco2e_per_m2", result["kgco2e_per_m2"], "kgCO2e/m2"),
             ("zone", "metered_share", result["metered_share"], "1")]
    for e in result["enterprises"]:
        section = f"enterprise {e['enterprise']}"
        rows += [(section, key, value, UNITS.get(key, "")) for key, value in e.items() if key != "enterprise"]
    rows += [("building", name, kg, "kgCO2e") for name, kg in result["buildings"].items()]
    return hashed_csv(rows)


UNITS = {"kgco2e": "kgCO2e", "floor_area_m2": "m2", "kgco2e_per_m2": "kgCO2e/m2", "kgco2e_per_m2_year": "kgCO2e/m2/year",
         "output_t": "t", "kgco2e_per_t": "kgCO2e/t", "grid_import_kwh": "kWh", "estimated_kwh": "kWh",
         "excluded_kwh": "kWh", "metered_share": "1", "gas_kwh": "kWh", "heat_kwh": "kWh"}
