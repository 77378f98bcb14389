"""The simulator's SDM630 map agrees with both register sources and with the edge's profile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from greenwire.edge.plan import build_plan
from greenwire.edge.profile import load_profile
from greenwire.simulators.sdm630 import ADDRESSES, MAP_END, MeterState, values, write_registers

REGISTERS = Path(__file__).parents[1] / "data" / "registers"


def test_every_address_is_the_sdm_modbus_one() -> None:
    table = json.loads((REGISTERS / "sdm-modbus" / "sdm_modbus_registers.json").read_text())["SDM630"]["registers"]
    for name, address in ADDRESSES.items():
        assert table[name]["address"] == address, name
        assert table[name]["register_type"] == "registerType.INPUT"
    inputs = [r["address"] for r in table.values() if r["register_type"] == "registerType.INPUT"]
    assert max(inputs) + 2 == MAP_END


def test_the_edge_reads_back_what_the_simulator_wrote() -> None:
    state = MeterState(power_w=48_250.0, import_kwh=123_456.5, voltage_v=(231.0, 229.5, 230.2), frequency_hz=49.98)
    registers = [0] * MAP_END
    write_registers(state, registers)
    plan = build_plan(load_profile("eastron-sdm630"))
    read = plan.decode([registers[r.address : r.address + r.count] for r in plan.requests])
    assert read["active_power_w"] == 48_250.0
    assert read["energy_import_kwh"] == 123_456.5
    assert read["energy_total_kwh"] == 123_456.5
    assert read["voltage_l2_v"] == pytest.approx(229.5, rel=1e-7)
    assert read["frequency_hz"] == pytest.approx(49.98, rel=1e-7)
    assert read["power_factor"] == pytest.approx(0.95, rel=1e-7)
    phases = sum(read[f"active_power_l{n}_w"] for n in (1, 2, 3))
    assert phases == pytest.approx(48_250.0, rel=1e-6)
    apparent, reactive = read["apparent_power_va"], read["reactive_power_var"]
    assert math.hypot(48_250.0, reactive) == pytest.approx(apparent, rel=1e-6)
    assert read["voltage_l1_l2_v"] == pytest.approx(math.sqrt(3) * 230, rel=0.01)
    assert 0 < read["current_n_a"] < read["current_l1_a"]


def test_values_are_consistent_per_phase() -> None:
    v = values(MeterState(power_w=10_000.0, import_kwh=1.0))
    for n in (1, 2, 3):
        assert v[f"l{n}_voltage"] * v[f"l{n}_current"] * v[f"l{n}_power_factor"] == pytest.approx(
            v[f"l{n}_power_active"]
        )
