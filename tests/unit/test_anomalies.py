"""Anomaly detection on real meter series with known injected anomalies.

Every kind is injected six times into a year of a real building's hourly electricity (on its own
copy), and the detectors must find them with the precision and recall below; the clean year
must give at most one false finding per month. ``make bench`` (section anomalies) reports the
same figures for every real building, including those where they are not met.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from bench.buildings import building
from greenwire.cloud.anomalies.detect import detect
from greenwire.cloud.anomalies.evaluate import METER_KINDS, evaluate_meter, evaluate_submeters
from greenwire.cloud.anomalies.findings import Finding, Truth, score
from greenwire.cloud.anomalies.inject import inject


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
