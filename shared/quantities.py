"""The quantity vocabulary: every value on the wire is named here.

A name ends in its unit (``active_power_w``, ``energy_import_kwh``), so a
field in InfluxDB or a column in Grafana says what it measures without a
lookup. ``power_factor`` is the one dimensionless exception.

Each quantity is either an *instant* value (a gauge sampled at read time) or
a *counter* (a cumulative register that only grows until it rolls over or the
meter is replaced). Energy accounting uses counter deltas, never integrated
power, so the kind matters to everything downstream.

Adding a name is a compatible change of ``greenwire.readings.v1``; renaming
or removing one needs a new schema version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Kind(StrEnum):
    """How a quantity behaves over time."""

    INSTANT = "instant"
    COUNTER = "counter"


@dataclass(frozen=True, slots=True)
class Quantity:
    """One entry of the vocabulary."""

    name: str
    unit: str
    kind: Kind
    description: str


def _q(name: str, unit: str, kind: Kind, description: str) -> Quantity:
    return Quantity(name, unit, kind, description)


_I, _C = Kind.INSTANT, Kind.COUNTER

_ALL: tuple[Quantity, ...] = (
    # Electricity: power
    _q("active_power_w", "W", _I, "total active power, positive = import"),
    _q("active_power_l1_w", "W", _I, "active power, phase L1"),
    _q("active_power_l2_w", "W", _I, "active power, phase L2"),
    _q("active_power_l3_w", "W", _I, "active power, phase L3"),
    _q("reactive_power_var", "var", _I, "total reactive power"),
    _q("apparent_power_va", "VA", _I, "total apparent power"),
    _q("power_factor", "1", _I, "total power factor, -1..1"),
    # Electricity: voltage, current, frequency
    _q("voltage_l1_v", "V", _I, "phase-to-neutral voltage L1"),
    _q("voltage_l2_v", "V", _I, "phase-to-neutral voltage L2"),
    _q("voltage_l3_v", "V", _I, "phase-to-neutral voltage L3"),
    _q("voltage_l1_l2_v", "V", _I, "line-to-line voltage L1-L2"),
    _q("voltage_l2_l3_v", "V", _I, "line-to-line voltage L2-L3"),
    _q("voltage_l3_l1_v", "V", _I, "line-to-line voltage L3-L1"),
    _q("current_l1_a", "A", _I, "current L1"),
    _q("current_l2_a", "A", _I, "current L2"),
    _q("current_l3_a", "A", _I, "current L3"),
    _q("current_n_a", "A", _I, "neutral current"),
    _q("frequency_hz", "Hz", _I, "grid frequency"),
    _q("voltage_thd_l1_pct", "%", _I, "voltage total harmonic distortion L1"),
    _q("current_thd_l1_pct", "%", _I, "current total harmonic distortion L1"),
    # Electricity: energy counters
    _q("energy_import_kwh", "kWh", _C, "active energy imported (delivered to the site)"),
    _q("energy_export_kwh", "kWh", _C, "active energy exported (fed back to the grid)"),
    _q("energy_total_kwh", "kWh", _C, "active energy, import plus export"),
    _q("energy_generated_kwh", "kWh", _C, "energy produced by a generator or PV inverter"),
    _q("reactive_energy_import_kvarh", "kvarh", _C, "reactive energy imported"),
    _q("reactive_energy_export_kvarh", "kvarh", _C, "reactive energy exported"),
    # PV inverter DC side
    _q("dc_power_w", "W", _I, "DC power at the inverter input"),
    # Gas, water, heat
    _q("gas_volume_m3", "m3", _C, "gas volume"),
    _q("gas_energy_kwh", "kWh", _C, "gas energy (meters that convert volume)"),
    _q("water_volume_m3", "m3", _C, "water volume"),
    _q("heat_energy_kwh", "kWh", _C, "heat energy (district heat, heat meters)"),
    _q("heat_power_w", "W", _I, "heat power"),
    _q("flow_rate_m3_per_h", "m3/h", _I, "volume flow rate"),
    _q("flow_temperature_c", "degC", _I, "supply (flow) temperature"),
    _q("return_temperature_c", "degC", _I, "return temperature"),
    # Production counters (industrial installations, EU CBAM)
    _q("production_mass_t", "t", _C, "mass of product made (a production line's counter)"),
    _q("production_count_pcs", "pcs", _C, "pieces of product made (a production line's counter)"),
    # Indoor environment
    _q("temperature_c", "degC", _I, "air temperature"),
    _q("relative_humidity_pct", "%", _I, "relative humidity"),
    _q("co2_ppm", "ppm", _I, "carbon dioxide concentration"),
    _q("pm2_5_ug_per_m3", "ug/m3", _I, "fine particulate matter PM2.5"),
    _q("voc_ppb", "ppb", _I, "total volatile organic compounds"),
    _q("illuminance_lx", "lx", _I, "illuminance"),
)

QUANTITIES: Final = MappingProxyType({q.name: q for q in _ALL})
"""Every quantity by name, read-only."""

COUNTERS: Final = frozenset(q.name for q in _ALL if q.kind is Kind.COUNTER)
"""Names of cumulative counters."""


def is_quantity(name: str) -> bool:
    """True if ``name`` is in the vocabulary."""
    return name in QUANTITIES
