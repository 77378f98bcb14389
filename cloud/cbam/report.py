"""An installation's CBAM report for a period: per-product figures and the installation data (pure).

:func:`cbam_report` puts :mod:`greenwire.cloud.cbam.figures` together; ``CbamReport.products`` are
the JSON entries ``greenwire cbam report`` prints (one per product, the keys of the issue), and
``installation`` the data the communication template asks of the installation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from greenwire.cloud.carbon.meters import Counter
from greenwire.cloud.cbam.defaults import load_cbam_data
from greenwire.cloud.cbam.figures import (
    PlantReadings,
    electricity_factor,
    precursor_emissions,
    process_figures,
)
from greenwire.cloud.cbam.model import Installation
from greenwire.cloud.sites import Site

METHOD = ("EU CBAM: Regulation (EU) 2023/956 Annex IV and Implementing Regulation (EU) 2023/1773 Annex III. "
          "Attributed emissions of each production process from metered energy (counter deltas): fuels x "
          "their factor (direct), electricity x the installation's electricity factor (indirect); shared "
          "meters allocated by the rule the site model states; a process's figures split between its "
          "products by mass; precursors add their mass x specific embedded emissions; "
          "SEE = (attributed + precursor emissions) / activity level.")


def _per_t(value: float, tonnes: float) -> float | None:
    return value / tonnes if tonnes > 0 else None


@dataclass(slots=True)
class CbamReport:
    """The figures of one installation over [start, end)."""

    site: str
    installation: Installation
    start: datetime
    end: datetime
    products: list[dict[str, Any]] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)
    """Per production process: its energy, direct emissions and activity (the template's process summary)."""
    precursors: list[dict[str, Any]] = field(default_factory=list)
    """Per process and precursor: the mass used and its embedded emissions (purchased precursors)."""
    data: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def cbam_report(site: Site, installation: Installation, counters: dict[str, Counter],
                gas: dict[str, tuple[str, Counter]], start: datetime, end: datetime,
                device_max_power_kw: dict[str, float] | None = None) -> CbamReport:
    """Every product's CBAM figures in [start, end) from the installation's counter readings (pure);
    ``device_max_power_kw``: the gateways' limits of their devices, where the site model gives none."""
    plant = PlantReadings(counters, gas, device_max_power_kw or {})
    fuel_sources: set[str] = set()
    processes = process_figures(site, installation, plant, start, end, fuel_sources)
    factor, factor_source, grid_kwh, own_kwh = electricity_factor(site, installation, plant, start, end)
    report = CbamReport(site.id, installation, start, end)
    precursor_sources: list[str] = []
    for process in installation.processes:
        figures = processes[process.id]
        energy = figures.electricity_kwh + figures.fuel_kwh + figures.heat_kwh
        for product in process.products:
            tonnes = figures.product_t.get(product.product, 0.0)
            share = tonnes / figures.activity_t if figures.activity_t > 0 else 0.0
            direct = share * figures.direct_kg / 1000
            electricity_kwh = share * figures.electricity_kwh
            indirect = electricity_kwh * factor / 1e6
            pre_direct = pre_indirect = from_default = 0.0
            for precursor in process.precursors:
                part = precursor_emissions(precursor, tonnes)
                pre_direct += part.direct_t
                pre_indirect += part.indirect_t
                from_default += (part.direct_t + part.indirect_t) if part.from_default else 0.0
                if part.source not in precursor_sources:
                    precursor_sources.append(part.source)
            embedded = direct + indirect + pre_direct + pre_indirect
            estimated_share = figures.estimated_kwh / energy if energy else 0.0
            flags = []
            if figures.estimated_kwh:
                flags.append(f"estimated energy {100 * estimated_share:.2f} % (gaps filled when a counter resumed)")
            if figures.excluded_kwh:
                flags.append(f"excluded energy {figures.excluded_kwh:.6g} kWh (a replaced or re-based counter, "
                             "a rejected rise: the meter's recent-rate estimate, not counted)")
            if figures.rejected_kwh:
                flags.append(f"rejected rises {figures.rejected_kwh:.6g} kWh (implausible counter jumps, not counted)")
            if tonnes <= 0:
                flags.append("no production in the period: no specific figures")
            report.products.append({
                "cn_code": product.cn_code,
                "product": product.product,
                "process": process.id,
                "activity_t": tonnes,
                "direct_tco2e": direct,
                "indirect_tco2e": indirect,
                "precursor_direct_tco2e": pre_direct,
                "precursor_indirect_tco2e": pre_indirect,
                "see_direct": _per_t(direct + pre_direct, tonnes),
                "see_indirect": _per_t(indirect + pre_indirect, tonnes),
                "see_total": _per_t(embedded, tonnes),
                "electricity_mwh": electricity_kwh / 1000,
                "electricity_mwh_per_t": _per_t(electricity_kwh / 1000, tonnes),
                "electricity_factor_g_per_kwh": factor,
                "electricity_factor_source": factor_source,
                "fuel_mwh": share * figures.fuel_kwh / 1000,
                "heat_mwh": share * figures.heat_kwh / 1000,
                "default_share": from_default / embedded if embedded else 0.0,
                "estimated_energy_share": estimated_share,
                "excluded_kwh": share * figures.excluded_kwh,
                "rejected_kwh": share * figures.rejected_kwh,
                "data_quality": flags,
            })
    for process in installation.processes:
        figures = processes[process.id]
        report.processes.append({
            "process": process.id, "name": process.name, "activity_t": figures.activity_t,
            "electricity_mwh": figures.electricity_kwh / 1000, "fuel_mwh": figures.fuel_kwh / 1000,
            "heat_mwh": figures.heat_kwh / 1000,
            "direct_tco2e": figures.direct_kg / 1000, "indirect_tco2e": figures.electricity_kwh * factor / 1e6,
            "estimated_mwh": figures.estimated_kwh / 1000, "excluded_mwh": figures.excluded_kwh / 1000})
        for precursor in process.precursors:
            part = precursor_emissions(precursor, figures.activity_t)
            report.precursors.append({
                "process": process.id, "precursor": precursor.name, "cn_code": precursor.cn_code,
                "country": precursor.country, "t_per_t": precursor.t_per_t,
                "mass_t": precursor.t_per_t * figures.activity_t, "direct_tco2e": part.direct_t,
                "indirect_tco2e": part.indirect_t,
                "values": "EU default value" if part.from_default else "supplier's values"})
    attributed = sum(p.electricity_kwh for p in processes.values())
    report.data = {
        "site": site.id, "installation": installation.id, "name": installation.name,
        "address": installation.address, "country": installation.country,
        "from": start.isoformat(), "to": end.isoformat(),
        "grid_import_mwh": grid_kwh / 1000, "on_site_consumed_mwh": own_kwh / 1000,
        "electricity_attributed_mwh": attributed / 1000,
        "electricity_not_attributed_mwh": (grid_kwh + own_kwh - attributed) / 1000,
        "fuel_mwh": sum(p.fuel_kwh for p in processes.values()) / 1000,
        "heat_mwh": sum(p.heat_kwh for p in processes.values()) / 1000,
        "direct_tco2e": sum(p.direct_kg for p in processes.values()) / 1000,
        "electricity_factor_g_per_kwh": factor,
        "cbam_data_version": load_cbam_data().version,
    }
    report.sources = [f"electricity: {factor_source}", *sorted(fuel_sources), *precursor_sources]
    return report
