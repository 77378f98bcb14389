"""Counter sanity: rollover, reset and implausible jumps are flagged in the reading's quality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenwire.edge.counters import CounterGuard, CounterSpec
from greenwire.edge.profile import Profile
from greenwire.shared.wire import Quality

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _guard(**kwargs: float) -> CounterGuard:
    # A uint32 counter in 0.01 kWh steps wraps at 42,949,672.96 kWh.
    return CounterGuard([CounterSpec("energy_import_kwh", rollover=2**32 * 0.01, resolution=0.01)], **kwargs)


def test_steady_counter_is_good() -> None:
    guard = _guard(max_power_kw=100)
    assert guard.check(_at(0), {"energy_import_kwh": 1000.0}) is Quality.GOOD
    assert guard.check(_at(60), {"energy_import_kwh": 1001.5}) is Quality.GOOD  # 90 kW over a minute
    assert guard.check(_at(120), {"energy_import_kwh": 1001.5}) is Quality.GOOD  # nothing used
    assert guard.flagged == {}


def test_rollover_at_the_declared_width() -> None:
    guard = _guard(max_power_kw=100)
    top = 2**32 * 0.01
    guard.check(_at(0), {"energy_import_kwh": top - 0.5})
    assert guard.check(_at(60), {"energy_import_kwh": 0.7}) is Quality.COUNTER_ROLLOVER  # 1.2 kWh: plausible
    assert guard.check(_at(120), {"energy_import_kwh": 1.9}) is Quality.GOOD  # judged from the new baseline


def test_a_drop_no_rollover_explains_is_a_reset() -> None:
    guard = _guard(max_power_kw=100)
    guard.check(_at(0), {"energy_import_kwh": 5000.0})
    assert guard.check(_at(60), {"energy_import_kwh": 3.0}) is Quality.COUNTER_RESET  # meter replaced
    float_counter = CounterGuard([CounterSpec("energy_import_kwh")])  # float32: no rollover known
    float_counter.check(_at(0), {"energy_import_kwh": 99_999.9})
    assert float_counter.check(_at(60), {"energy_import_kwh": 0.1}) is Quality.COUNTER_RESET


def test_rise_beyond_the_meters_maximum_is_a_jump() -> None:
    guard = _guard(max_power_kw=72)
    guard.check(_at(0), {"energy_import_kwh": 1000.0})
    # 72 kW for 60 s is 1.2 kWh; 10 % margin plus two steps of resolution allowed.
    assert guard.check(_at(60), {"energy_import_kwh": 1001.33}) is Quality.GOOD
    assert guard.check(_at(120), {"energy_import_kwh": 1500.0}) is Quality.COUNTER_JUMP
    assert guard.flagged == {Quality.COUNTER_JUMP: 1}


def test_no_jump_check_without_a_maximum_or_when_the_clock_goes_back() -> None:
    unbounded = _guard()
    unbounded.check(_at(0), {"energy_import_kwh": 1.0})
    assert unbounded.check(_at(1), {"energy_import_kwh": 1e6}) is Quality.GOOD
    guard = _guard(max_power_kw=10)
    guard.check(_at(60), {"energy_import_kwh": 1.0})
    assert guard.check(_at(0), {"energy_import_kwh": 500.0}) is Quality.GOOD  # cannot judge a rate


def test_worst_flag_wins_and_volume_counters_use_the_flow_limit() -> None:
    guard = CounterGuard(
        [CounterSpec("energy_import_kwh"), CounterSpec("gas_volume_m3", resolution=0.001)],
        max_power_kw=50,
        max_flow_m3_per_h=6,
    )
    guard.check(_at(0), {"energy_import_kwh": 100.0, "gas_volume_m3": 10.0})
    assert guard.check(_at(3600), {"energy_import_kwh": 140.0, "gas_volume_m3": 30.0}) is Quality.COUNTER_JUMP
    assert guard.check(_at(7200), {"energy_import_kwh": 1.0, "gas_volume_m3": 100.0}) is Quality.COUNTER_RESET


def test_instant_quantities_are_never_judged() -> None:
    guard = CounterGuard([CounterSpec("active_power_w")], max_power_kw=1)
    guard.check(_at(0), {"active_power_w": 5.0})
    assert guard.check(_at(1), {"active_power_w": 1e9}) is Quality.GOOD


@pytest.mark.parametrize(
    ("register", "rollover", "resolution"),
    [
        ({"type": "uint32", "scale": 0.01}, 2**32 * 0.01, 0.01),
        ({"type": "uint16", "scale": 1.0}, 2**16, 1.0),
        ({"type": "int32", "scale": 0.1}, None, 0.1),
        ({"type": "float32"}, None, 0.0),
        ({"type": "float32", "rollover": 99_999.99}, 99_999.99, 0.0),
    ],
)
def test_profiles_declare_counter_width(register: dict[str, object], rollover: float | None, resolution: float) -> None:
    profile = Profile.model_validate(
        {"name": "p", "registers": [{"quantity": "energy_import_kwh", "address": 0, **register}]}
    )
    spec = profile.resolved()[0].counter
    assert spec is not None
    assert spec.rollover == (pytest.approx(rollover) if rollover else None)
    assert spec.resolution == pytest.approx(resolution)


def test_a_flag_comes_with_the_figures_behind_it() -> None:
    guard = _guard(max_power_kw=72)
    guard.check(_at(0), {"energy_import_kwh": 1000.0})
    assert guard.check(_at(60), {"energy_import_kwh": 1500.0}) is Quality.COUNTER_JUMP
    assert guard.detail == "energy_import_kwh 1,000 -> 1,500 in 60 s, at most 1.34 kWh plausible, wraps at 4.29497e+07"
    assert guard.check(_at(120), {"energy_import_kwh": 1500.5}) is Quality.GOOD
    assert guard.detail is None
