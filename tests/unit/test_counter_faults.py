"""Counter interpretation under real meter faults: never more energy than was used, and never less
than the used energy minus that of the faulty intervals.

The faults (``greenwire.simulators.counter_faults``) are injected into the real Cambridge
consumption series in the repository; the truth is the series itself.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwire.cloud.carbon.energy import CounterLimits, counter_intervals
from greenwire.cloud.carbon.meters import counter_minutes
from greenwire.simulators.counter_faults import KINDS, Fault, FaultyCounter, monthly_faults
from greenwire.simulators.series import Series, builtin_series

TZ = "Europe/London"
T0 = datetime(2022, 3, 1, tzinfo=UTC)
SERIES = {name: builtin_series(name) for name in ("b2", "b25", "b85")}


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _steady(values: list[float], every: float = 15.0) -> list[tuple[datetime, float, str]]:
    return [(_at(every * i), v, "good") for i, v in enumerate(values)]


def _month(month: int) -> tuple[datetime, datetime]:
    tz = ZoneInfo(TZ)
    start = datetime(2022, month, 1, tzinfo=tz)
    end = datetime(2022, month + 1, 1, tzinfo=tz) if month < 12 else datetime(2022, 12, 31, 23, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _bounds(counter: FaultyCounter, start: datetime, end: datetime) -> tuple[float, float, float]:
    """(reported, true, faulty) kWh of [start, end)."""
    readings, width = counter.readings()
    minutes = counter_minutes({"m": readings}, {"m": CounterLimits(rollover=width)}, start, end, TZ)
    reported = sum(e.kwh for e in minutes.values())
    return reported, counter.true_kwh(end) - counter.true_kwh(start), counter.faulty_kwh(start, end)


# Each kind on its own, on a steady 10 kWh per 15 minutes (40 kW) counter.
BASE = [1000.0 + 10 * i for i in range(12)]


def _kwh(readings: list[tuple[datetime, float, str]], **limits: float) -> tuple[float, list[str]]:
    intervals = counter_intervals(readings, CounterLimits(**limits))  # type: ignore[arg-type]
    return sum(i.kwh for i in intervals), [i.flag for i in intervals]


def test_a_single_outlier_above_or_below_is_ignored() -> None:
    for offset in (-3.0, +3.0, -900.0, +5e6):
        values = list(BASE)
        values[5] += offset
        kwh, flags = _kwh(_steady(values))
        # The step over the outlier is measured; its split between the two quarters is spread.
        assert kwh == pytest.approx(110.0) and set(flags) <= {"measured", "estimated"}, offset
        assert len(flags) == (10 if abs(offset) > 100 else 11)  # a small one just moves 3 kWh a quarter


def test_a_replacement_at_another_value_counts_nothing_for_its_interval() -> None:
    for new_start in (50_000.0, 300.0):  # above and below the old counter, far from zero
        values = [*BASE[:6], *(new_start + 10 * i for i in range(6))]
        intervals = counter_intervals(_steady(values))
        swap = intervals[5]
        assert swap.kwh == 0 and swap.excluded_kwh == pytest.approx(10.0)  # the meter's recent rate
        assert swap.flag in ("excluded", "rejected")
        assert sum(i.kwh for i in intervals) == pytest.approx(100.0)


def test_a_reset_to_zero_counts_the_new_counter_only_when_plausible() -> None:
    cleared = [*BASE[:6], *(4.0 + 10 * i for i in range(6))]
    kwh, flags = _kwh(_steady(cleared))
    assert flags[5] == "reset" and kwh == pytest.approx(104.0)
    # From zero to 400 kWh in 15 minutes is 1.6 MW on a 40 kW meter: not since zero, left out.
    implausible = [*BASE[:6], *(400.0 + 10 * i for i in range(6))]
    kwh, flags = _kwh(_steady(implausible))
    assert flags[5] == "excluded" and kwh == pytest.approx(100.0)


def test_an_implausible_rise_is_rejected_and_the_counter_continues() -> None:
    values = [*BASE[:6], *(BASE[5] + 2e6 + 10 * i for i in range(1, 7))]
    intervals = counter_intervals(_steady(values))
    assert intervals[5].flag == "rejected" and intervals[5].rejected_kwh == pytest.approx(2e6 + 10)
    assert sum(i.kwh for i in intervals) == pytest.approx(100.0)


def test_the_site_models_limit_overrides_the_meters_history() -> None:
    values = list(BASE)
    values[6:] = [v + 90 for v in values[6:]]  # 100 kWh in 15 minutes: 400 kW
    kwh, flags = _kwh(_steady(values))
    assert flags[5] == "measured" and kwh == pytest.approx(200.0)  # ten times its history: plausible
    kwh, flags = _kwh(_steady(values), max_power_kw=100.0)
    assert flags[5] == "rejected" and kwh == pytest.approx(100.0)
    kwh, flags = _kwh(_steady(values), device_max_power_kw=100.0)
    assert flags[5] == "rejected"


def test_duplicates_and_out_of_order_readings_change_nothing() -> None:
    readings = _steady(BASE)
    shuffled = [readings[3], *readings, readings[7]]
    random.Random(1).shuffle(shuffled)
    assert _kwh(shuffled) == _kwh(readings)


@pytest.mark.parametrize("name", sorted(SERIES))
def test_a_year_with_every_fault_kind_stays_within_the_faulty_energy(name: str) -> None:
    """The issue's bar: every building-month within the energy of its faulty intervals, never above."""
    counter = FaultyCounter(SERIES[name], timedelta(minutes=15))
    counter.faults = monthly_faults(counter, random.Random(2022))
    assert {f.kind for f in counter.faults} == set(KINDS)
    for month in range(1, 13):
        reported, true, faulty = _bounds(counter, *_month(month))
        assert reported <= true * (1 + 1e-9) + 1e-6, (month, reported, true)
        assert reported >= true - faulty - 1e-6 - 1e-9 * true, (month, reported, true, faulty)


def _slice(series: Series, start_hour: int, hours: int) -> Series:
    return Series(series.name, series.start + timedelta(hours=start_hour), series.kwh[start_hour:start_hour + hours])


@settings(max_examples=int(__import__("os").environ.get("GW_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SERIES)), start_day=st.integers(0, 330), seed=st.integers(0, 2**32),
       every=st.sampled_from([1, 5, 15, 60]), per_month=st.integers(1, 20))
def test_random_faults_on_random_weeks(name: str, start_day: int, seed: int, every: int, per_month: int) -> None:
    """Any mix of faults, on any ten days of any building, read every 1 to 60 minutes."""
    days = 10
    series = _slice(SERIES[name], start_day * 24, days * 24)
    counter = FaultyCounter(series, timedelta(minutes=every))
    rng = random.Random(seed)
    faults = monthly_faults(counter, rng, per_month=per_month)
    if every == 60:  # hourly readings: faults need their neighbours inside the slice
        faults = [f for f in faults if 8 <= f.index <= counter.count - 8]
    counter.faults = faults
    start, end = series.start + timedelta(hours=2), series.start + timedelta(days=days) - timedelta(hours=2)
    reported, true, faulty = _bounds(counter, start, end)
    assert reported <= true * (1 + 1e-9) + 1e-6
    assert reported >= true - faulty - 1e-6 - 1e-9 * true


def test_the_generator_itself_injects_what_it_says() -> None:
    counter = FaultyCounter(_slice(SERIES["b25"], 0, 48), timedelta(minutes=15))
    clean, _ = counter.readings()
    counter.faults = [Fault("spike", 20, 1e6), Fault("gap", 40, 4), Fault("duplicate", 60)]
    faulty, width = counter.readings()
    assert width is None and len(faulty) == len(clean) - 4 + 1
    assert faulty[20][1] == pytest.approx(clean[20][1] + 1e6)
    assert counter.faulty_kwh(counter.series.start, counter.time(counter.count)) > 0


def test_a_meter_read_once_a_day_off_midnight_gets_its_days() -> None:
    """Daily reads at 00:00 UTC for an Asia/Shanghai building (08:00 local): each local day takes the
    reads beyond its margin, so its energy is the reads' spread, not zero."""
    from greenwire.cloud.carbon.report import account
    from greenwire.cloud.sites import Building, MeterRef

    building = Building(id="b", floor_area_m2=100, zone="CN-HI", timezone="Asia/Shanghai",
                        meters=(MeterRef(gateway="g", device="main", role="grid_import"),))
    reads = [(datetime(2026, 3, d, tzinfo=UTC), 1000.0 + 100 * d, "good") for d in range(1, 8)]
    tz = ZoneInfo("Asia/Shanghai")
    day = datetime(2026, 3, 4, tzinfo=tz).astimezone(UTC)
    result = account(building, {"main": reads}, None, day, day + timedelta(days=1))
    assert result.grid_import_kwh == pytest.approx(100.0)
    week = account(building, {"main": reads}, None, datetime(2026, 3, 2, tzinfo=tz).astimezone(UTC),
                   datetime(2026, 3, 6, tzinfo=tz).astimezone(UTC))
    assert week.grid_import_kwh == pytest.approx(400.0)
