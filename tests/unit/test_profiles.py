"""Meter profiles: shipped profiles agree with independent register sources; mistakes name the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenwire.edge.profile import ProfileError, list_profiles, load_profile

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


# profile -> (mbmd model, our quantity -> mbmd measurement, mbmd function code, transforms mbmd uses)
MBMD = {
    "janitza-b23": ("JANITZA", {
        "voltage_l1_v": "VoltageL1", "voltage_l2_v": "VoltageL2", "voltage_l3_v": "VoltageL3",
        "current_l1_a": "CurrentL1", "current_l2_a": "CurrentL2", "current_l3_a": "CurrentL3",
        "active_power_l1_w": "PowerL1", "active_power_l2_w": "PowerL2", "active_power_l3_w": "PowerL3",
        "active_power_w": "Power", "frequency_hz": "Frequency",
        "energy_import_kwh": "Import", "energy_export_kwh": "Export",
    }, "holding"),
    "siemens-pac2200": ("PAC2200", {
        "voltage_l1_v": "VoltageL1", "voltage_l2_v": "VoltageL2", "voltage_l3_v": "VoltageL3",
        "current_l1_a": "CurrentL1", "current_l2_a": "CurrentL2", "current_l3_a": "CurrentL3",
        "active_power_l1_w": "PowerL1", "active_power_l2_w": "PowerL2", "active_power_l3_w": "PowerL3",
        "frequency_hz": "Frequency", "apparent_power_va": "ApparentPower", "active_power_w": "Power",
        "reactive_power_var": "ReactivePower", "power_factor": "Cosphi",
        "energy_import_kwh": "Import", "energy_export_kwh": "Export",
    }, "input"),
    "schneider-iem3000": ("IEM3000", {
        "current_l1_a": "CurrentL1", "current_l2_a": "CurrentL2", "current_l3_a": "CurrentL3",
        "voltage_l1_v": "VoltageL1", "voltage_l2_v": "VoltageL2", "voltage_l3_v": "VoltageL3",
        "active_power_l1_w": "PowerL1", "active_power_l2_w": "PowerL2", "active_power_l3_w": "PowerL3",
        "active_power_w": "Power", "reactive_power_var": "ReactivePower", "apparent_power_va": "ApparentPower",
        "frequency_hz": "Frequency", "energy_import_kwh": "Import", "energy_export_kwh": "Export",
        "reactive_energy_import_kvarh": "ReactiveImport", "reactive_energy_export_kvarh": "ReactiveExport",
    }, "holding"),
}
_THREE_PHASE = {
    "voltage_l1_v": "VoltageL1", "voltage_l2_v": "VoltageL2", "voltage_l3_v": "VoltageL3",
    "current_l1_a": "CurrentL1", "current_l2_a": "CurrentL2", "current_l3_a": "CurrentL3",
    "active_power_l1_w": "PowerL1", "active_power_l2_w": "PowerL2", "active_power_l3_w": "PowerL3",
    "active_power_w": "Power", "power_factor": "Cosphi", "frequency_hz": "Frequency",
    "energy_import_kwh": "Import", "energy_export_kwh": "Export",
}
MBMD |= {
    "carlo-gavazzi-em24": ("CGEM24", _THREE_PHASE, "input"),
    "carlo-gavazzi-em340": ("CGEX3X0", _THREE_PHASE, "input"),
    "abb-b23": ("ABB", _THREE_PHASE, "holding"),
}
_MBMD_FUNCTION = {"holding": "ReadHoldingReg", "input": "ReadInputReg"}


@pytest.mark.parametrize("profile_name", sorted(MBMD))
def test_profiles_match_mbmd_addresses_and_function(profile_name: str) -> None:
    model, names, function = MBMD[profile_name]
    mbmd = json.loads((REGISTERS / "mbmd" / "mbmd_register_maps.json").read_text())["meters"][model]
    assert mbmd["function_codes"] == [_MBMD_FUNCTION[function]]
    registers = {r.quantity: r for r in load_profile(profile_name).resolved()}
    assert set(registers) == set(names)
    for quantity, measurement in names.items():
        assert registers[quantity].address == mbmd["registers"][measurement]["address"], quantity
        assert registers[quantity].function == function


def test_iem3000_golden_frame() -> None:
    """Raw words as the meter sends them -> values in the vocabulary's units (kW -> W, Wh -> kWh)."""
    from greenwire.edge.plan import build_plan

    plan = build_plan(load_profile("schneider-iem3000"))
    frame = {a: 0 for r in plan.requests for a in range(r.address, r.address + r.count)}
    frame[3059], frame[3060] = 0x4148, 0x0000  # float32 12.5 (kW), total active power
    frame[3027], frame[3028] = 0x4366, 0x8000  # float32 230.5 (V)
    # INT64 123,456,789 (Wh) = 0x00000000075BCD15, import energy
    frame[3203], frame[3204], frame[3205], frame[3206] = 0x0000, 0x0000, 0x075B, 0xCD15
    values = plan.decode([[frame[a] for a in range(r.address, r.address + r.count)] for r in plan.requests])
    assert values["active_power_w"] == 12_500.0
    assert values["voltage_l1_v"] == 230.5
    assert values["energy_import_kwh"] == pytest.approx(123_456.789)


def test_em340_golden_frame() -> None:
    """INT32 with the low word first, scaled: what a Carlo Gavazzi meter sends for 230.1 V and 1234.5 kWh."""
    from greenwire.edge.plan import build_plan

    plan = build_plan(load_profile("carlo-gavazzi-em340"))
    frame = {a: 0 for r in plan.requests for a in range(r.address, r.address + r.count)}
    frame[0], frame[1] = 2301, 0  # 2301 (x0.1 V), low word first
    frame[52], frame[53] = 12345 & 0xFFFF, 12345 >> 16  # 12345 (x0.1 kWh)
    frame[40], frame[41] = (-15000) & 0xFFFF, ((-15000) >> 16) & 0xFFFF  # -1500.0 W: exporting
    frame[49] = (-950) & 0xFFFF  # PF -0.950 (INT16)
    values = plan.decode([[frame[a] for a in range(r.address, r.address + r.count)] for r in plan.requests])
    assert values["voltage_l1_v"] == pytest.approx(230.1)
    assert values["energy_import_kwh"] == pytest.approx(1234.5)
    assert values["active_power_w"] == pytest.approx(-1500.0)
    assert values["power_factor"] == pytest.approx(-0.95)


def test_abb_not_available_registers_give_no_value() -> None:
    from greenwire.edge.plan import build_plan

    plan = build_plan(load_profile("abb-b23"))
    responses = [[0xFFFF] * r.count for r in plan.requests]
    values = plan.decode(responses)
    # Unsigned registers of all ones are "not available"; signed ones are -1 scaled, not a sentinel.
    assert "voltage_l1_v" not in values and "energy_import_kwh" not in values and "frequency_hz" not in values
    assert values["active_power_w"] == pytest.approx(-0.01)


# Golden words, written by hand from the data types the sources give (IEEE 754 and two's
# complement done on paper, not by greenwire's encoder): profile, {address: word}, expected values.
GOLDEN = [
    ("eastron-sdm630", {0: 0x4366, 1: 0x8000, 72: 0x47C3, 73: 0x5000, 342: 0x47C3, 343: 0x5080},
     {"voltage_l1_v": 230.5, "energy_import_kwh": 100000.0, "energy_total_kwh": 100001.0}),
    ("eastron-sdm120", {0: 0x4366, 1: 0x8000, 12: 0x44FA, 13: 0x0000, 70: 0x4248, 71: 0x0000},
     {"voltage_l1_v": 230.5, "active_power_w": 2000.0, "frequency_hz": 50.0}),
    ("eastron-sdm72", {52: 0xC47A, 53: 0x0000, 224: 0x3F80, 225: 0x0000},
     {"active_power_w": -1000.0, "current_n_a": 1.0}),
    ("carlo-gavazzi-em24", {0: 0x08FD, 1: 0x0000, 40: 0x86A0, 41: 0x0001, 55: 0x01F4},
     {"voltage_l1_v": 230.1, "active_power_w": 10000.0, "frequency_hz": 50.0}),
    ("janitza-b23", {19026: 0x461C, 19027: 0x4000, 19068: 0x4B18, 19069: 0x9680},
     {"active_power_w": 10000.0, "energy_import_kwh": 10000000.0}),
    ("siemens-pac2200", {65: 0x4120, 66: 0x0000, 801: 0x40C3, 802: 0x8800, 803: 0x0000, 804: 0x0000},
     {"active_power_w": 10.0, "energy_import_kwh": 10.0}),
    ("abb-b23", {23296: 0x0000, 23297: 0x08FD, 20480: 0, 20481: 0, 20482: 0x0001, 20483: 0x86A0, 23340: 0x1388},
     {"voltage_l1_v": 230.1, "energy_import_kwh": 1000.0, "frequency_hz": 50.0}),
]


@pytest.mark.parametrize(("name", "words", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_words(name: str, words: dict[int, int], expected: dict[str, float]) -> None:
    from greenwire.edge.plan import build_plan

    plan = build_plan(load_profile(name))
    responses = [[words.get(a, 0) for a in range(r.address, r.address + r.count)] for r in plan.requests]
    values = plan.decode(responses)
    for quantity, value in expected.items():
        assert values[quantity] == pytest.approx(value, rel=1e-7), quantity
