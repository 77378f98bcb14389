"""Anomaly detection on real meter series with known injected anomalies.

Every kind is injected six times into a year of a real building's hourly electricity (on its own
copy), and the detectors must find them with the precision and recall below; the clean year
must give at most one false finding per month. ``make bench`` (section anomalies) reports the
same figures for every real building, including those where they are not met.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.buildings import building
from greenwire.cloud.anomalies.detect import change_points, detect
from greenwire.cloud.anomalies.evaluate import METER_KINDS, evaluate_meter, evaluate_submeters
from greenwire.cloud.anomalies.findings import Finding, Truth, score
from greenwire.cloud.anomalies.inject import inject
from greenwire.cloud.forecast.features import Calendar
from greenwire.cloud.forecast.series import HourlySeries


@pytest.fixture(scope="module", params=["cambridge-b2", "cambridge-b25"])
def result(request: pytest.FixtureRequest) -> dict:  # type: ignore[type-arg]
    b = building(request.param)
    series = b.series()
    return evaluate_meter(series, b.calendar(series))


@pytest.mark.parametrize("kind", METER_KINDS)
def test_each_injected_kind_is_found(result: dict, kind: str) -> None:  # type: ignore[type-arg]
    s = result["scores"][kind]
    assert s["truths"] >= 5
    assert s["precision"] >= 0.8, s
    assert s["recall"] >= 0.7, s


def test_the_clean_year_gives_at_most_one_false_finding_a_month(result: dict) -> None:  # type: ignore[type-arg]
    assert result["false_per_month"] <= 1.0, result


def test_a_finding_says_when_what_it_cost_and_how_sure() -> None:
    b = building("cambridge-b2")
    series = b.series()
    cal = b.calendar(series)
    injected, truths = inject(series, cal, "frozen_counter", count=5, seed=3)
    frozen = [f for f in detect(injected, cal, meter="b2-main") if f.kind == "frozen_counter"]
    assert len(frozen) == 5
    for f, t in zip(frozen, truths, strict=True):
        assert (f.start, f.end) == (t.start, t.end)
        hours = int((t.end - t.start) / timedelta(hours=1))
        a = series.index(t.start)
        # the energy left unmeasured: near what the building really used in those hours
        assert f.kwh == pytest.approx(float(np.sum(series.values[a:a + hours])), rel=0.35)
        assert 0 < f.confidence <= 1 and f.meter == "b2-main"


def test_sub_meters_that_stop_adding_up_are_found() -> None:
    larry, christian, antonette = (building(n) for n in
                                   ("panther-office-larry", "panther-office-christian", "panther-office-antonette"))
    subs = [larry.series().slice(larry.score_from, larry.score_to),
            christian.series().slice(larry.score_from, larry.score_to)]
    rest = antonette.series().slice(larry.score_from, larry.score_to)
    main = type(subs[0])(subs[0].start, subs[0].values + subs[1].values + 0.1 * rest.values)
    r = evaluate_submeters(main, subs, larry.calendar(main))
    s = r["scores"]["submeter_mismatch"]
    assert s["truths"] >= 5 and s["precision"] >= 0.8 and s["recall"] >= 0.8, r
    assert r["false_per_month"] <= 1.0, r


def test_scoring_counts_a_finding_of_the_wrong_kind_as_false() -> None:
    b = building("cambridge-b2")
    start = b.series().start
    truth = [Truth("step_change", start, start + timedelta(days=1))]
    wrong = [Finding("out_of_hours", start, start + timedelta(hours=6), 10.0, 0.9)]
    scores = score(wrong, truth)
    assert scores["step_change"].recall == 0.0 and scores["out_of_hours"].precision == 0.0


def test_a_false_finding_the_clean_series_has_too_is_counted_apart() -> None:
    from greenwire.cloud.anomalies.evaluate import _also_clean

    day = datetime(2022, 3, 1, tzinfo=UTC)

    def step(d: int) -> Finding:
        return Finding("step_change", day + timedelta(days=d), day + timedelta(days=d + 5), 1.0, 1.0)

    truths = [Truth("step_change", day + timedelta(days=40), day + timedelta(days=41))]
    clean = [step(10), Finding("out_of_hours", day + timedelta(days=70), day + timedelta(days=71), 1.0, 1.0)]
    # on the injected copy: the injected step (true), the clean year's change (false, also on the clean
    # series), a new false step, and a false step where the clean series has only another kind
    found = [step(40), step(10), step(90), step(70)]
    assert _also_clean(found, truths, clean, "step_change") == 1
    assert _also_clean(found, truths, [], "step_change") == 0


def _office(days: int = 120, seed: int = 0) -> tuple[HourlySeries, Calendar]:
    """An office-like series: 10 kWh at night, 30 kWh in working hours on working days, a little noise."""
    start = datetime(2022, 1, 3, tzinfo=UTC)
    cal = Calendar.of(start, 24 * days, "UTC", "GB")
    rng = np.random.default_rng(seed)
    work = (cal.hour >= 8) & (cal.hour < 18) & (cal.off_day == 0)
    values = np.where(work, 30.0, 10.0) * rng.normal(1.0, 0.02, len(cal.hour))
    return HourlySeries(start, values), cal


def test_a_step_is_placed_on_the_day_it_happened() -> None:
    series, cal = _office()
    v = series.values.copy()
    v[24 * 60:] *= 1.25
    steps = [f for f in detect(HourlySeries(series.start, v), cal) if f.kind == "step_change"]
    assert len(steps) == 1
    assert abs(steps[0].start - series.at(24 * 60)) <= timedelta(hours=24), steps
    assert "+25 %" in steps[0].detail


def test_change_points_are_found_together_where_they_are() -> None:
    rng = np.random.default_rng(3)
    level = np.concatenate([np.zeros(40), np.full(15, 0.3), np.full(50, 0.1), np.zeros(40)])
    y = level + rng.normal(0, 0.05, len(level))
    weight = np.full(len(y), 1 / 0.05 ** 2)
    assert change_points(y, weight, 1.5 * np.log(len(y)), 10) == [40, 55, 105]
    assert change_points(rng.normal(0, 0.05, 145), weight, 1.5 * np.log(145), 10) == []
    # no segment shorter than min_len, and a day of weight 0 (unknown) does not pull a boundary
    y[70] = 5.0
    weight[70] = 0.0
    cps = change_points(y, weight, 1.5 * np.log(len(y)), 20)
    assert 40 in cps and 105 in cps and not any(60 < c < 90 for c in cps), cps
    assert min(np.diff([0, *cps, len(y)])) >= 20, cps


def test_a_step_two_weeks_after_a_real_change_is_placed_on_its_day() -> None:
    """rat-health-tanya's load as published already moves by about a third in early June 2017;
    the step injected on 25 June (seed 0) must be placed on its own day, not on that change."""
    b = building("rat-health-tanya")
    series = b.series().slice(b.score_from, b.score_to)
    cal = b.calendar(series)
    injected, truths = inject(series, cal, "step_change", seed=0)
    truth = next(t for t in truths if t.start.month == 6)
    steps = [f for f in detect(injected, cal) if f.kind == "step_change"]
    assert score(steps, [truth])["step_change"].found == 1, [(f.start, f.detail) for f in steps]


def test_a_slow_seasonal_trend_is_not_a_step() -> None:
    series, cal = _office()
    trend = np.exp(np.linspace(0, 0.4, len(series)))  # +49 % over four months, smoothly
    found = detect(HourlySeries(series.start, series.values * trend), cal)
    assert not [f for f in found if f.kind == "step_change"], found


def test_a_short_dip_that_does_not_hold_is_not_a_step() -> None:
    series, cal = _office()
    v = series.values.copy()
    v[24 * 60:24 * 66] *= 0.7  # six days, then back
    assert not [f for f in detect(HourlySeries(series.start, v), cal) if f.kind == "step_change"]


def test_a_load_that_jumps_in_one_day_is_a_step_not_a_drift() -> None:
    series, cal = _office()
    v = series.values.copy()
    v[24 * 60:] += 3.0  # the baseload rises by 30 % overnight
    kinds = {f.kind for f in detect(HourlySeries(series.start, v), cal)}
    assert "baseload_drift" not in kinds


def test_a_baseload_that_creeps_up_is_drift() -> None:
    series, cal = _office()
    v = series.values.copy()
    v[24 * 50:24 * 64] += np.linspace(0, 3.0, 24 * 14)
    v[24 * 64:] += 3.0
    drift = [f for f in detect(HourlySeries(series.start, v), cal) if f.kind == "baseload_drift"]
    assert drift and series.at(24 * 50) <= drift[0].start <= series.at(24 * 72), drift


def test_plant_left_on_over_a_weekend_is_one_out_of_hours_event() -> None:
    series, cal = _office()
    v = series.values.copy()
    friday = 24 * 60 + 24 * ((4 - int(cal.dow[24 * 60])) % 7)  # a Friday after the reference weeks
    for day in (friday, friday + 72, friday + 96):  # Friday, Monday and Tuesday nights
        v[day:day + 6] = 30.0
    ooh = [f for f in detect(HourlySeries(series.start, v), cal) if f.kind == "out_of_hours"]
    assert len(ooh) == 1 and "3 night(s)" in ooh[0].detail, ooh


def test_a_colder_day_that_lifts_nights_and_working_hours_alike_is_not_out_of_hours() -> None:
    series, cal = _office()
    v = series.values.copy()
    v[24 * 60:24 * 63] *= 1.6  # every hour of three days up by 60 %
    assert not [f for f in detect(HourlySeries(series.start, v), cal) if f.kind == "out_of_hours"]


def test_out_of_hours_is_injected_only_where_it_changes_the_nights() -> None:
    b = building("cambridge-b85", "gas")
    series = b.series()
    cal = b.calendar(series)
    injected, truths = inject(series, cal, "out_of_hours", count=6, seed=0)
    assert truths
    for t in truths:
        a, z = series.index(t.start), series.index(t.end)
        night = (cal.hour[a:z] >= 22) | (cal.hour[a:z] < 6)
        assert np.nansum(injected.values[a:z][night]) >= 1.1 * np.nansum(series.values[a:z][night]), t


@pytest.mark.parametrize("days", [1, 10, 27])
def test_a_series_shorter_than_the_reference_gives_only_what_it_can_tell(days: int) -> None:
    series, cal = _office(days)
    v = series.values.copy()
    v[5:9] = np.nan
    found = detect(HourlySeries(series.start, v), cal)
    assert [f.kind for f in found] == ["stopped_reporting"]
