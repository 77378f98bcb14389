"""Read planning: fewest requests, never mixing function codes, decoded in place."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwire.edge.codec import encode
from greenwire.edge.plan import ReadRequest, build_plan, group_registers
from greenwire.edge.profile import Profile, load_profile


def _profile(registers: list[dict[str, object]], **plan: int) -> Profile:
    return Profile.model_validate(
        {"name": "test", "defaults": {"function": "holding", "type": "uint16"}, "plan": plan, "registers": registers}
    )


def test_sdm630_is_three_requests() -> None:
    plan = build_plan(load_profile("eastron-sdm630"))
    assert plan.requests == (
        ReadRequest("input", 0, 80),
        ReadRequest("input", 200, 26),
        ReadRequest("input", 342, 2),
    )
    assert all(r.code == 4 for r in plan.requests)


def test_decode_puts_each_value_where_its_register_is() -> None:
    plan = build_plan(load_profile("eastron-sdm630"))
    blocks = [[0] * r.count for r in plan.requests]
    blocks[0][0:2] = encode(231.25, "float32")  # voltage_l1_v
    blocks[0][72:74] = encode(12345.5, "float32")  # energy_import_kwh
    blocks[1][24:26] = encode(0.75, "float32")  # current_n_a at 224
    blocks[2][0:2] = encode(99999.0, "float32")  # energy_total_kwh at 342
    values = plan.decode(blocks)
    assert values["voltage_l1_v"] == 231.25
    assert values["energy_import_kwh"] == 12345.5
    assert values["current_n_a"] == 0.75
    assert values["energy_total_kwh"] == 99999.0
    assert values["frequency_hz"] == 0.0
    assert len(values) == 23


def test_decode_refuses_short_answers() -> None:
    plan = build_plan(load_profile("eastron-sdm630"))
    with pytest.raises(ValueError, match="device returned 10 registers"):
        plan.decode([[0] * 10, [0] * 26, [0] * 2])
    with pytest.raises(ValueError, match="expected 3 responses"):
        plan.decode([[0] * 80])


def test_function_codes_are_never_mixed() -> None:
    plan = build_plan(
        _profile(
            [
                {"quantity": "voltage_l1_v", "address": 0, "function": "input"},
                {"quantity": "voltage_l2_v", "address": 1, "function": "holding"},
                {"quantity": "voltage_l3_v", "address": 2, "function": "input"},
            ],
            max_gap=10,
        )
    )
    assert set(plan.requests) == {ReadRequest("input", 0, 3), ReadRequest("holding", 1, 1)}


def test_gap_tolerance_and_the_125_register_limit() -> None:
    registers = [
        {"quantity": "voltage_l1_v", "address": 0},
        {"quantity": "voltage_l2_v", "address": 5},  # gap of 4
        {"quantity": "voltage_l3_v", "address": 200, "type": "float32"},
    ]
    assert len(build_plan(_profile(registers, max_gap=3)).requests) == 3
    assert build_plan(_profile(registers, max_gap=4)).requests[0] == ReadRequest("holding", 0, 6)
    # Within gap tolerance but beyond 125 registers: a new request.
    wide = _profile(registers, max_gap=125)
    assert [r.count for r in build_plan(wide).requests] == [6, 2]
    capped = _profile(registers[:2], max_gap=10, max_registers=5)
    assert len(build_plan(capped).requests) == 2


_QUANTITIES = ["voltage_l1_v", "voltage_l2_v", "voltage_l3_v", "current_l1_a", "current_l2_a", "current_l3_a",
               "active_power_w", "frequency_hz"]


@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=len(_QUANTITIES), unique=True),
    st.integers(0, 30),
    st.integers(4, 125),
)
def test_grouping_is_minimal_and_covers_every_register(addresses: list[int], max_gap: int, max_registers: int) -> None:
    spaced = sorted(a * 4 for a in addresses)  # float32 values never overlap
    profile = _profile(
        [{"quantity": q, "address": a, "type": "float32"} for q, a in zip(_QUANTITIES, spaced, strict=False)],
        max_gap=max_gap,
        max_registers=max_registers,
    )
    plan = build_plan(profile)
    for request in plan.requests:
        assert request.count <= max_registers
    covered = {(s.request, s.offset) for s in plan.slots}
    assert len(covered) == len(spaced)
    # Minimal: no partition of the sorted registers into fewer contiguous runs satisfies the limits.
    registers = profile.resolved()
    for k in range(1, len(plan.requests)):
        for cuts in itertools.combinations(range(1, len(registers)), k - 1):
            bounds = [0, *cuts, len(registers)]
            runs = [registers[a:b] for a, b in itertools.pairwise(bounds)]
            feasible = all(
                r[-1].end - r[0].address <= max_registers
                and all(y.address - x.end <= max_gap for x, y in itertools.pairwise(r))
                for r in runs
            )
            assert not feasible, f"{k} requests would do, plan has {len(plan.requests)}"
    assert len(group_registers(registers, max_gap=max_gap, max_registers=max_registers)) == len(plan.requests)


def test_sentinel_register_is_left_out() -> None:
    plan = build_plan(
        _profile([{"quantity": "temperature_c", "address": 0, "type": "int16", "scale": 0.1, "missing": [0x8000]}])
    )
    assert plan.decode([[0x8000]]) == {}
    assert plan.decode([[215]])["temperature_c"] == pytest.approx(21.5)
