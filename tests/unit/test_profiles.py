"""Meter profiles: shipped profiles agree with independent register sources; mistakes name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.profile import ProfileError, list_profiles, load_profile

REGISTERS = Path(__file__).parents[1] / "data" / "registers"

# Our quantity -> the name each source gives the same register.
SDM630_NAMES = {
    "voltage_l1_v": ("l1_voltage", "VoltageL1"),
    "voltage_l2_v": ("l2_voltage", "VoltageL2"),
    "voltage_l3_v": ("l3_voltage", "VoltageL3"),
    "current_l1_a": ("l1_current", "CurrentL1"),
    "current_l2_a": ("l2_current", "CurrentL2"),
    "current_l3_a": ("l3_current", "CurrentL3"),
    "active_power_l1_w": ("l1_power_active", "PowerL1"),
    "active_power_l2_w": ("l2_power_active", "PowerL2"),
    "active_power_l3_w": ("l3_power_active", "PowerL3"),
    "active_power_w": ("total_power_active", "Power"),
    "apparent_power_va": ("total_power_apparent", "ApparentPower"),
    "reactive_power_var": ("total_power_reactive", "ReactivePower"),
    "power_factor": ("total_power_factor", "Cosphi"),
    "frequency_hz": ("frequency", "Frequency"),
    "energy_import_kwh": ("import_energy_active", "Import"),
    "energy_export_kwh": ("export_energy_active", "Export"),
    "reactive_energy_import_kvarh": ("import_energy_reactive", "ReactiveImport"),
    "reactive_energy_export_kvarh": ("export_energy_reactive", "ReactiveExport"),
    "voltage_l1_l2_v": ("l12_voltage", None),
    "voltage_l2_l3_v": ("l23_voltage", None),
    "voltage_l3_l1_v": ("l31_voltage", None),
    "current_n_a": ("neutral_current", None),
    "energy_total_kwh": ("total_energy_active", "Sum"),
}


SDM120_NAMES = {
    "voltage_l1_v": ("voltage", "Voltage"),
    "current_l1_a": ("current", "Current"),
    "active_power_w": ("power_active", "Power"),
    "apparent_power_va": ("power_apparent", "ApparentPower"),
    "reactive_power_var": ("power_reactive", "ReactivePower"),
    "power_factor": ("power_factor", "Cosphi"),
    "frequency_hz": ("frequency", "Frequency"),
    "energy_import_kwh": ("import_energy_active", "Import"),
    "energy_export_kwh": ("export_energy_active", "Export"),
    "reactive_energy_import_kvarh": ("import_energy_reactive", "ReactiveImport"),
    "reactive_energy_export_kvarh": ("export_energy_reactive", "ReactiveExport"),
    "energy_total_kwh": ("total_energy_active", "Sum"),
}
SDM72_NAMES = {
    q: names for q, names in SDM630_NAMES.items()
    if not q.startswith("reactive_energy")
} | {"active_power_w": ("total_power", "Power"), "power_factor": ("total_pf", "Cosphi")}

# profile -> (sdm_modbus model, mbmd model, names, how many registers both sources give)
EASTRON = {
    "eastron-sdm630": ("SDM630", "SDM", SDM630_NAMES, 19),
    "eastron-sdm120": ("SDM120", "SDM120", SDM120_NAMES, 12),
    "eastron-sdm72": ("SDM72V2", "SDM72V2", SDM72_NAMES, 17),
}


@pytest.mark.parametrize("profile_name", sorted(EASTRON))
def test_eastron_profiles_match_sdm_modbus_and_mbmd(profile_name: str) -> None:
    sdm_model, mbmd_model, names, in_both = EASTRON[profile_name]
    sdm = json.loads((REGISTERS / "sdm-modbus" / "sdm_modbus_registers.json").read_text())[sdm_model]["registers"]
    mbmd = json.loads((REGISTERS / "mbmd" / "mbmd_register_maps.json").read_text())["meters"][mbmd_model]
    assert mbmd["function_codes"] == ["ReadInputReg"] and mbmd["transforms"] == ["RTUIeee754ToFloat64"]
    profile = load_profile(profile_name)
    registers = {r.quantity: r for r in profile.resolved()}
    assert set(registers) == set(names)
    both = 0
    for quantity, (sdm_name, mbmd_name) in names.items():
        ours = registers[quantity]
        theirs = sdm[sdm_name]
        assert ours.address == theirs["address"], quantity
        assert theirs["register_type"] == "registerType.INPUT" and ours.function == "input"
        assert theirs["data_type"] == "registerDataType.FLOAT32" and ours.type == "float32"
        assert ours.order == "ABCD" and ours.scale == 1.0  # both sources: big-endian float32, unscaled
        if mbmd_name is not None:
            assert mbmd["registers"][mbmd_name]["address"] == ours.address, quantity
            both += 1
    assert both == in_both


def test_shipped_profiles_all_load() -> None:
    names = list_profiles()
    assert "eastron-sdm630" in names
    for name in names:
        assert load_profile(name).name == name


def test_unknown_profile_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match=r"unknown profile 'sdm999'; shipped profiles: .*eastron-sdm630"):
        load_profile("sdm999")


def test_custom_profile_by_path(tmp_path: Path) -> None:
    path = tmp_path / "room-sensor.yaml"
    path.write_text(
        "name: room-sensor\n"
        "defaults: {function: holding, type: int16}\n"
        "registers:\n"
        "  - {quantity: temperature_c, address: 0, scale: 0.1}\n"
        "  - {quantity: relative_humidity_pct, address: 1, type: uint16, scale: 0.1}\n"
        "  - {quantity: co2_ppm, address: 2, type: uint16, missing: [0xFFFF]}\n"
    )
    profile = load_profile(str(path))
    assert [r.quantity for r in profile.resolved()] == ["temperature_c", "relative_humidity_pct", "co2_ppm"]
    assert profile.resolved()[2].missing == (0xFFFF,)


@pytest.mark.parametrize(
    ("registers", "line", "words"),
    [
        ("  - {quantity: voltage_l1_v, address: 0}\n  - {quantity: voltage_l1_v, address: 4}\n", 5,
         "quantity voltage_l1_v appears twice"),
        ("  - {quantity: voltage_l1_v, address: 0}\n  - {quantity: voltage_l2_v, address: 1}\n", 5,
         "overlap at input register 1"),
        ("  - {quantity: volts, address: 0}\n", 4, "registers[0].quantity"),
        ("  - {quantity: voltage_l1_v, address: 70000}\n", 4, "less than or equal to 65535"),
        ("  - {quantity: voltage_l1_v, address: 0, order: XYZW}\n", 4, "'ABCD', 'CDAB', 'BADC' or 'DCBA'"),
        ("  - {quantity: voltage_l1_v, address: 0, missing: [0x1FFFFFFFF]}\n", 4, "does not fit 32 bits"),
    ],
)
def test_profile_mistakes_name_file_and_line(tmp_path: Path, registers: str, line: int, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndefaults: {function: input, type: float32}\nregisters:\n" + registers)
    with pytest.raises(ProfileError) as info:
        load_profile(str(path))
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}:"), str(info.value)
