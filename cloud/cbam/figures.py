"""CBAM figures of an installation's products over a reporting period, from counters (pure).

Following Regulation (EU) 2023/956 Annex IV and Implementing Regulation (EU) 2023/1773 Annex III,
for each production process ``p`` over the period:

- electricity ``E_p`` (kWh): its own sub-meters, plus its share of each shared meter (by the
  processes' own metered electricity, by the tonnes each made, or a declared share);
- fuel ``F_p`` (kWh on the factor's calorific basis) and its direct emissions: the gas meters'
  energy (volume x calorific value, or energy) x the fuel's factor, both from the carbon engine's
  factor choice for the meter's building (``report.gas_minutes``: the site model's
  ``gas_factor``, else the jurisdiction's published natural gas);
- measurable heat bought in (district heat meters) x the building's ``heat_factor``: direct
  emissions too (Implementing Regulation (EU) 2023/1773 Annex III: imported heat's emissions are
  attributed to the process that consumes it);
- the electricity factor ``EF`` (g/kWh): grid import at the static grid factor of the
  installation's grid zone (the carbon engine's factor set for the reporting year), on-site
  generation consumed on site at its own factor with evidence, weighted by the energy of each;
- activity ``AL_p`` (t): the production counters' rise, pieces x mass per piece.

Each product of a process takes the process's figures in proportion to its mass; precursors add
``M_i x SEE_i`` with ``M_i = t_per_t x AL``. ``SEE = (AttrEm + EE_InpMat) / AL``, direct and
indirect apart. ``default_share`` is the part of the embedded emissions (direct + indirect) that
comes from EU default values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from greenwire.cloud.carbon.emissions import minute_buckets
from greenwire.cloud.carbon.energy import CounterLimits, counter_intervals
from greenwire.cloud.carbon.factor_choice import building_factors, static_grid
from greenwire.cloud.carbon.factors import load_factors
from greenwire.cloud.carbon.meters import Counter, counter_minutes, meter_limits, totals
from greenwire.cloud.carbon.report import gas_minutes, heat_factor
from greenwire.cloud.cbam.defaults import load_cbam_data
from greenwire.cloud.cbam.model import FUEL_ROLES, HEAT_ROLES, Installation, Precursor, Process
from greenwire.cloud.sites import Building, Site


@dataclass(frozen=True, slots=True)
class Energy:
    """One meter's energy (or production) in the period, what of it is estimated, and what was left out."""

    amount: float
    estimated: float = 0.0
    excluded: float = 0.0
    rejected: float = 0.0
    kg: float = 0.0
    """Direct emissions of a fuel meter."""


@dataclass(slots=True)
class ProcessFigures:
    electricity_kwh: float = 0.0
    fuel_kwh: float = 0.0
    heat_kwh: float = 0.0
    direct_kg: float = 0.0
    estimated_kwh: float = 0.0
    excluded_kwh: float = 0.0
    rejected_kwh: float = 0.0
    activity_t: float = 0.0
    product_t: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlantReadings:
    """What an installation's figures are computed from: counter readings by device (electricity
    in kWh, production in t or pieces), gas counters with the field they count, and the gateways'
    plausibility limits of their devices (from their status messages)."""

    counters: dict[str, Counter]
    gas: dict[str, tuple[str, Counter]] = field(default_factory=dict)
    device_max_power_kw: dict[str, float] = field(default_factory=dict)


def counter_amount(building: Building, device: str, readings: Counter, start: datetime, end: datetime,
                   limits: CounterLimits | None = None, device_kw: dict[str, float] | None = None) -> Energy:
    """A counter's rise in [start, end) through the carbon engine's counter rules
    (:func:`~greenwire.cloud.carbon.meters.counter_minutes`: each local day classified on its own
    readings, the site model's ``max_power_kw`` as the limit, else the gateway's, cut by the minute)."""
    chosen = limits or meter_limits(building, device_kw).get(device, CounterLimits())
    total = totals(counter_minutes({device: readings}, {device: chosen}, start, end, building.timezone))
    return Energy(total.kwh, total.estimated_kwh, total.excluded_kwh, total.rejected_kwh)


def production_amount(readings: Counter, start: datetime, end: datetime) -> float:
    """A production counter's rise in [start, end) (tonnes), classified over all its readings at once
    (``counter_intervals``) rather than day by day: production is often counted once a shift or a
    day, or imported as daily totals, and a day classified alone would hold a single reading."""
    buckets = minute_buckets(counter_intervals(readings, CounterLimits()))
    return sum(e.kwh for minute, e in buckets.items() if start <= minute < end)


def _share_of(process: Process, shares: dict[str, float], total: float) -> float:
    return shares.get(process.id, 0.0) / total if total > 0 else 0.0


def electricity_factor(site: Site, installation: Installation, plant: PlantReadings, start: datetime,
                       end: datetime) -> tuple[float, str, float, float]:
    """The installation's electricity factor (g/kWh), its source, the grid import and the on-site
    generation consumed (kWh): grid import at the grid factor (the site model's, else the factor
    library's for each building's zone) except what PPAs cover (at their own factor), on-site
    generation consumed on site at its own factor, weighted by energy."""
    buildings = [b for b in site.buildings if b.id in installation.buildings]
    table = load_factors()
    grid_kwh = grid_g = 0.0
    sources: list[str] = []
    for building in buildings:
        imported = sum(counter_amount(building, m.device, plant.counters.get(m.device, []), start, end,
                                      device_kw=plant.device_max_power_kw).amount
                       for m in building.meters_with("grid_import"))
        if installation.grid_factor is not None:
            own = installation.grid_factor
            grid_kwh, grid_g = grid_kwh + imported, grid_g + imported * own.value
            continue
        chosen = building_factors(building, start)
        static = static_grid(building, chosen, table)
        if static is None:
            if imported:
                raise LookupError(f"building {building.id}: no grid factor for zone {building.zone}: give the "
                                  "installation's grid_factor")
            continue
        grid_kwh += imported
        grid_g += imported * static.value
        note = f" [{chosen.grid.note}]" if chosen.grid is not None and chosen.grid.note else ""
        sources.append(f"grid {static.value:g} g/kWh, zone {building.zone}: {static.source} ({static.year}){note}")
    if installation.grid_factor is not None:
        own = installation.grid_factor
        sources.append(f"grid {own.value:g} g/kWh: {own.source} ({own.year}, site model)")
    grid_factor = grid_g / grid_kwh if grid_kwh else 0.0
    ppa_kwh = ppa_g = 0.0
    for ppa in installation.ppas:
        p0 = datetime.combine(ppa.start, datetime.min.time(), UTC)
        p1 = datetime.combine(ppa.end, datetime.min.time(), UTC)
        overlap = (min(end, p1) - max(start, p0)).total_seconds()
        if overlap <= 0:
            continue
        kwh = min(ppa.kwh * overlap / (p1 - p0).total_seconds(), grid_kwh - ppa_kwh)
        ppa_kwh += kwh
        ppa_g += kwh * ppa.g_per_kwh
        sources.append(f"PPA {ppa.g_per_kwh:g} g/kWh for {kwh:.6g} kWh: {ppa.evidence}")
    exported = sum(counter_amount(b, m.device, plant.counters.get(m.device, []), start, end,
                                  device_kw=plant.device_max_power_kw).amount
                   for b in buildings for m in b.meters_with("grid_export"))
    generated = [(g, counter_amount(_building_of(site, g.meter), g.meter, plant.counters.get(g.meter, []), start,
                                    end, device_kw=plant.device_max_power_kw).amount)
                 for g in installation.on_site_generation]
    total_generated = sum(kwh for _, kwh in generated)
    kept = max(0.0, 1 - exported / total_generated) if total_generated else 0.0
    own_kwh = own_g = 0.0
    for generation, kwh in generated:
        own_kwh += kwh * kept
        own_g += kwh * kept * generation.g_per_kwh
        sources.append(f"on-site {generation.meter} {generation.g_per_kwh:g} g/kWh: {generation.evidence}")
    consumed = grid_kwh + own_kwh
    mixed = (grid_kwh - ppa_kwh) * grid_factor + ppa_g + own_g
    factor = mixed / consumed if consumed else grid_factor
    parts = [f"grid {grid_kwh - ppa_kwh:.6g} kWh"] + ([f"PPA {ppa_kwh:.6g} kWh"] if ppa_kwh else []) + (
        [f"on-site {own_kwh:.6g} kWh"] if own_kwh else [])
    weights = f" (weighted by energy: {', '.join(parts)})" if len(parts) > 1 else ""
    return factor, "; ".join(sources) + weights, grid_kwh, own_kwh


def _meter_energy(site: Site, device: str, plant: PlantReadings, start: datetime, end: datetime,
                  fuel_sources: set[str]) -> tuple[str, Energy]:
    building, role = next((b, m.role) for b in site.buildings for m in b.meters if m.device == device)
    if role in HEAT_ROLES:
        heat = heat_factor(building, load_factors())
        if heat is None:  # the site model's validation requires one
            raise LookupError(f"building {building.id}: district heat meter {device} needs a heat_factor")
        energy = counter_amount(building, device, plant.counters.get(device, []), start, end,
                                device_kw=plant.device_max_power_kw)
        fuel_sources.add(heat.source)
        return "heat", Energy(energy.amount, energy.estimated, energy.excluded, energy.rejected,
                              kg=energy.amount * heat.g_per_kwh / 1000)
    if role not in FUEL_ROLES:
        return "electricity", counter_amount(building, device, plant.counters.get(device, []), start, end,
                                             device_kw=plant.device_max_power_kw)
    if device not in plant.gas:
        return "fuel", Energy(0.0)
    minutes, g_per_kwh, sources = gas_minutes(building, {device: plant.gas[device]}, None, start, end)
    fuel_sources.update(sources)
    total = totals(minutes)
    return "fuel", Energy(total.kwh, total.estimated_kwh, total.excluded_kwh, total.rejected_kwh,
                          kg=total.kwh * g_per_kwh / 1000)


def _add(figures: ProcessFigures, kind: str, energy: Energy, share: float = 1.0) -> None:
    if kind == "electricity":
        figures.electricity_kwh += energy.amount * share
    elif kind == "heat":
        figures.heat_kwh += energy.amount * share
        figures.direct_kg += energy.kg * share
    else:
        figures.fuel_kwh += energy.amount * share
        figures.direct_kg += energy.kg * share
    figures.estimated_kwh += energy.estimated * share
    figures.excluded_kwh += energy.excluded * share
    figures.rejected_kwh += energy.rejected * share


def _building_of(site: Site, device: str) -> Building:
    return next(b for b in site.buildings for m in b.meters if m.device == device)


def process_figures(site: Site, installation: Installation, plant: PlantReadings, start: datetime, end: datetime,
                    fuel_sources: set[str]) -> dict[str, ProcessFigures]:
    """Each process's electricity, fuel, direct emissions and activity, shared meters allocated."""
    out = {p.id: ProcessFigures() for p in installation.processes}
    for process in installation.processes:
        figures = out[process.id]
        for device in process.meters:
            _add(figures, *_meter_energy(site, device, plant, start, end, fuel_sources))
        for product in process.products:
            # in tonnes before the counter rules run, so their plausibility limits are in t/h
            per_unit = 1.0 if product.unit == "t" else (product.kg_per_piece or 0.0) / 1000
            readings = [(ts, value * per_unit, q) for ts, value, q in plant.counters.get(product.meter, [])]
            tonnes = production_amount(readings, start, end)
            figures.product_t[product.product] = figures.product_t.get(product.product, 0.0) + tonnes
            figures.activity_t += tonnes
    own_electricity = {p: f.electricity_kwh for p, f in out.items()}
    mass = {p: f.activity_t for p, f in out.items()}
    for shared in installation.shared:
        kind, energy = _meter_energy(site, shared.meter, plant, start, end, fuel_sources)
        weights = {"sub_meter": own_electricity, "mass": mass}.get(shared.by) or dict(shared.shares or {})
        total = sum(weights.values())
        for process in installation.processes:
            _add(out[process.id], kind, energy, _share_of(process, weights, total))
    return out


@dataclass(frozen=True, slots=True)
class PrecursorShare:
    direct_t: float
    indirect_t: float
    from_default: bool
    source: str


def precursor_emissions(precursor: Precursor, tonnes_of_product: float) -> PrecursorShare:
    """``M x SEE`` of a precursor for that many tonnes of product, and where its values come from."""
    used = precursor.t_per_t * tonnes_of_product
    if precursor.values == "eu_default":
        value = load_cbam_data().default(precursor.cn_code, precursor.country)
        return PrecursorShare(used * value.see_direct, used * value.see_indirect, True,
                              f"{precursor.name} (CN {precursor.cn_code}): EU default value {value.see_direct:g} + "
                              f"{value.see_indirect:g} tCO2e/t, {value.source} ({value.year}) [{value.verification}]")
    values = precursor.values
    return PrecursorShare(used * values.see_direct, used * values.see_indirect, False,
                          f"{precursor.name} (CN {precursor.cn_code}): supplier's values {values.see_direct:g} + "
                          f"{values.see_indirect:g} tCO2e/t, {values.source} ({values.year})")
