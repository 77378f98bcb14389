"""SunSpec: model layouts from the official JSON, discovery, and profiles with scale factors."""

from __future__ import annotations

import pytest

from greenwire.edge.plan import build_plan
from greenwire.edge.sunspec import SunSpecError, build_profile, discover, model_points
from greenwire.simulators.sunspec_device import BASE, device_image


def test_model_offsets_follow_the_official_definitions() -> None:
    meter = model_points(203)
    # ID, L, A, AphA, AphB, AphC, A_SF, PhV, PhVphA ... (each int16 one register)
    assert (meter["ID"].offset, meter["L"].offset, meter["A"].offset, meter["A_SF"].offset) == (0, 1, 2, 6)
    assert meter["TotWhImp"].type == "acc32" and meter["TotWhImp"].sf == "TotWh_SF"
    assert meter["TotWhImp"].offset == meter["TotWhExp"].offset + 8  # TotWhExp + 3 phases, 2 registers each
    inverter = model_points(113)
    assert inverter["W"].type == "float32" and inverter["W"].sf is None
    assert model_points(1)["SN"].size == 16


def _reader(image: list[int]):  # type: ignore[no-untyped-def]
    async def read(address: int, count: int) -> list[int] | None:
        if address < BASE or address + count > BASE + len(image):
            return None
        return image[address - BASE : address - BASE + count]

    return read


async def test_discovery_and_decoding_of_a_three_phase_meter() -> None:
    image = device_image([
        (1, {"Mn": "Acme", "Md": "M-203", "SN": "0042"}),
        (203, {"W": 12345, "WphA": 4115, "W_SF": -1, "Hz": 5001, "Hz_SF": -2, "PhVphA": 2305, "PhVphB": 2298,
               "PhVphC": 2311, "V_SF": -1, "PF": -95, "PF_SF": 0, "TotWhImp": 987654, "TotWhExp": 120,
               "TotWh_SF": 1, "AphA": 1812, "A_SF": -2}),
    ])
    found = await discover(_reader(image))
    assert (found.base, found.manufacturer, found.model, found.serial) == (40000, "Acme", "M-203", "0042")
    assert [m.id for m in found.models] == [1, 203]
    plan = build_plan(build_profile(found))
    responses = [image[r.address - BASE : r.address - BASE + r.count] for r in plan.requests]
    values = plan.decode(responses)
    assert values["active_power_w"] == pytest.approx(1234.5)
    assert values["active_power_l1_w"] == pytest.approx(411.5)
    assert values["frequency_hz"] == pytest.approx(50.01)
    assert values["voltage_l2_v"] == pytest.approx(229.8)
    assert values["power_factor"] == pytest.approx(-0.95)  # percent in SunSpec
    assert values["energy_import_kwh"] == pytest.approx(9876.54)  # 987654 x 10^1 Wh
    assert values["energy_export_kwh"] == pytest.approx(1.2)
    assert values["current_l1_a"] == pytest.approx(18.12)
    # Points the device left "not implemented" give no value; the phase-B power, for one.
    assert "active_power_l2_w" not in values and "voltage_l1_l2_v" not in values
    assert len(plan.requests) == 1, "a model block is read in one request, scale factors included"


async def test_float_inverter_and_an_unimplemented_scale_factor() -> None:
    image = device_image([(113, {"W": 3520.5, "Hz": 49.98, "WH": 1.5e7, "PF": 99.0}), (203, {"W": 100, "Hz": 5000})])
    found = await discover(_reader(image))
    values = build_plan(build_profile(found)).decode(
        [image[r.address - BASE : r.address - BASE + r.count] for r in build_plan(build_profile(found)).requests]
    )
    assert values["active_power_w"] == pytest.approx(3520.5)  # the inverter came first: its W wins
    assert values["energy_generated_kwh"] == pytest.approx(15000.0)
    assert values["power_factor"] == pytest.approx(0.99)
    assert values["frequency_hz"] == pytest.approx(49.98, rel=1e-6)


async def test_not_sunspec() -> None:
    with pytest.raises(SunSpecError, match="no SunSpec marker"):
        await discover(_reader([0, 0, 0]))
    with pytest.raises(SunSpecError, match="no supported model"):
        build_profile(await discover(_reader(device_image([(1, {"Mn": "x"})]))))
