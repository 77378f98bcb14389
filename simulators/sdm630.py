"""The Eastron SDM630 input-register map, and a meter's state laid out in it.

Addresses and meanings come from the sdm_modbus 0.7.0 SDM630 register table
(MIT; see data/PROVENANCE-registers.md), cross-checked with mbmd's sdm.go.
This map is kept apart from the edge's profile on purpose: the edge reads
through ``edge/profiles/eastron-sdm630.yaml``, the simulator writes through
this table, and the tests check that the two agree.

Every value is an IEEE 754 float32 in two input registers, high word first.
Registers of the map that this simulator does not fill (THD, demand values)
read as 0.0; addresses past the end of the map answer "illegal data address",
as the meter does.
"""

from __future__ import annotations

import cmath
import math
import struct
from dataclasses import dataclass
from typing import Final

MAP_END: Final = 382
"""One past the last input register of the SDM630 map (L3 total reactive energy at 380)."""

PHASE_SHARE: Final = (0.36, 0.33, 0.31)
"""How the building's load splits over L1, L2, L3 (a typical, slightly unbalanced building)."""

ADDRESSES: Final[dict[str, int]] = {
    # name in sdm_modbus: input register address
    "l1_voltage": 0,
    "l2_voltage": 2,
    "l3_voltage": 4,
    "l1_current": 6,
    "l2_current": 8,
    "l3_current": 10,
    "l1_power_active": 12,
    "l2_power_active": 14,
    "l3_power_active": 16,
    "l1_power_apparent": 18,
    "l2_power_apparent": 20,
    "l3_power_apparent": 22,
    "l1_power_reactive": 24,
    "l2_power_reactive": 26,
    "l3_power_reactive": 28,
    "l1_power_factor": 30,
    "l2_power_factor": 32,
    "l3_power_factor": 34,
    "l1_phase_angle": 36,
    "l2_phase_angle": 38,
    "l3_phase_angle": 40,
    "voltage_ln": 42,
    "current_ln": 46,
    "total_line_current": 48,
    "total_power_active": 52,
    "total_power_apparent": 56,
    "total_power_reactive": 60,
    "total_power_factor": 62,
    "total_phase_angle": 66,
    "frequency": 70,
    "import_energy_active": 72,
    "export_energy_active": 74,
    "import_energy_reactive": 76,
    "export_energy_reactive": 78,
    "l12_voltage": 200,
    "l23_voltage": 202,
    "l31_voltage": 204,
    "voltage_ll": 206,
    "neutral_current": 224,
    "total_energy_active": 342,
    "total_energy_reactive": 344,
}


@dataclass(frozen=True, slots=True)
class MeterState:
    """What the meter measures at one instant."""

    power_w: float
    import_kwh: float
    export_kwh: float = 0.0
    voltage_v: tuple[float, float, float] = (230.0, 230.0, 230.0)
    frequency_hz: float = 50.0
    power_factor: float = 0.95


def values(state: MeterState) -> dict[str, float]:
    """Every register's value, by sdm_modbus name, consistent with each other (P = V I PF, S^2 = P^2 + Q^2)."""
    pf = state.power_factor
    tan_phi = math.tan(math.acos(pf))
    angle = math.degrees(math.acos(pf))
    out: dict[str, float] = {}
    currents: list[complex] = []
    for n, (share, volts) in enumerate(zip(PHASE_SHARE, state.voltage_v, strict=True), start=1):
        p = state.power_w * share
        s = p / pf
        current = s / volts
        out |= {
            f"l{n}_voltage": volts,
            f"l{n}_current": current,
            f"l{n}_power_active": p,
            f"l{n}_power_apparent": s,
            f"l{n}_power_reactive": p * tan_phi,
            f"l{n}_power_factor": pf,
            f"l{n}_phase_angle": angle,
        }
        currents.append(cmath.rect(current, -math.radians(120 * (n - 1))))
    v1, v2, v3 = state.voltage_v
    line = [abs(cmath.rect(a, 0) - cmath.rect(b, -2 * math.pi / 3)) for a, b in ((v1, v2), (v2, v3), (v3, v1))]
    total_current = sum(abs(c) for c in currents)
    out |= {
        "voltage_ln": sum(state.voltage_v) / 3,
        "current_ln": total_current / 3,
        "total_line_current": total_current,
        "total_power_active": state.power_w,
        "total_power_apparent": state.power_w / pf,
        "total_power_reactive": state.power_w * tan_phi,
        "total_power_factor": pf,
        "total_phase_angle": angle,
        "frequency": state.frequency_hz,
        "import_energy_active": state.import_kwh,
        "export_energy_active": state.export_kwh,
        "import_energy_reactive": state.import_kwh * tan_phi,
        "export_energy_reactive": 0.0,
        "l12_voltage": line[0],
        "l23_voltage": line[1],
        "l31_voltage": line[2],
        "voltage_ll": sum(line) / 3,
        "neutral_current": abs(sum(currents)),
        "total_energy_active": state.import_kwh + state.export_kwh,
        "total_energy_reactive": state.import_kwh * tan_phi,
    }
    return out


_FLOAT: Final = struct.Struct(">f")
_WORDS: Final = struct.Struct(">HH")


def write_registers(state: MeterState, registers: list[int]) -> None:
    """Lay ``state`` out in ``registers`` (the input-register block from address 0), in place."""
    for name, value in values(state).items():
        address = ADDRESSES[name]
        registers[address], registers[address + 1] = _WORDS.unpack(_FLOAT.pack(value))


# The simulated state under the vocabulary's names, for meters simulated from any profile.
QUANTITY_OF: Final[dict[str, str]] = {
    "l1_voltage": "voltage_l1_v", "l2_voltage": "voltage_l2_v", "l3_voltage": "voltage_l3_v",
    "l1_current": "current_l1_a", "l2_current": "current_l2_a", "l3_current": "current_l3_a",
    "l1_power_active": "active_power_l1_w", "l2_power_active": "active_power_l2_w",
    "l3_power_active": "active_power_l3_w", "total_power_active": "active_power_w",
    "total_power_apparent": "apparent_power_va", "total_power_reactive": "reactive_power_var",
    "total_power_factor": "power_factor", "frequency": "frequency_hz",
    "import_energy_active": "energy_import_kwh", "export_energy_active": "energy_export_kwh",
    "import_energy_reactive": "reactive_energy_import_kvarh", "export_energy_reactive": "reactive_energy_export_kvarh",
    "l12_voltage": "voltage_l1_l2_v", "l23_voltage": "voltage_l2_l3_v", "l31_voltage": "voltage_l3_l1_v",
    "neutral_current": "current_n_a", "total_energy_active": "energy_total_kwh",
}


def quantities(state: MeterState) -> dict[str, float]:
    """The meter's state by greenwire quantity name."""
    return {QUANTITY_OF[name]: value for name, value in values(state).items() if name in QUANTITY_OF}
