"""Alert rules with hysteresis, heat index and exposure hours, and vitals validation (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from greenwire.cloud.health.alerts import DEFAULT_RULES, AlertEngine, AlertRule, Sample
from greenwire.cloud.health.heat import heat_index_c, intervals_above, union_hours
from greenwire.cloud.health.intake import AcceptedVitals, validate_vitals
from greenwire.cloud.ingest.config import LimitsSection
from greenwire.cloud.ingest.validate import Rejected, RejectReason

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
RULES = {r.id: r for r in DEFAULT_RULES}
P = "pilot2026.0123456789abcdef0123456789abcdef"


def _feed(engine: AlertEngine, rule: AlertRule, values: list[float], step_s: float = 60) -> list[tuple[int, str]]:
    events = []
    for i, value in enumerate(values):
        event = engine.evaluate(rule, Sample("care", "gw", P, T0 + timedelta(seconds=i * step_s), value))
        if event is not None:
            events.append((i, event.state.value))
    return events


def test_defaults_cite_their_sources_and_thresholds() -> None:
    assert {r.id: (r.direction, r.threshold) for r in DEFAULT_RULES} == {
        "spo2_low": ("below", 92.0), "heart_rate_high": ("above", 120.0),
        "body_temperature_high": ("above", 38.0), "indoor_heat_index_high": ("above", 32.0),
        "indoor_co2_high": ("above", 1200.0)}
    assert all(len(r.source) > 40 for r in DEFAULT_RULES)


def test_wavering_at_the_threshold_raises_once() -> None:
    engine = AlertEngine()
    rule = RULES["spo2_low"]  # below 92 % for 2 min; clears at 93 % held 2 min
    values = [95, 91, 91, 91, 92.5, 91.5, 92.5, 91, 92.5, 93, 93, 93, 96]
    assert _feed(engine, rule, values) == [(3, "raised"), (11, "cleared")]
    assert engine.raised_total == 1 and engine.active() == 0


def test_a_short_artefact_raises_nothing_and_hold_zero_raises_at_once() -> None:
    engine = AlertEngine()
    assert _feed(engine, RULES["spo2_low"], [97, 85, 97, 97]) == []
    assert _feed(engine, RULES["body_temperature_high"], [36.8, 38.4, 38.1, 37.8, 37.6]) == [(1, "raised"), (4, "cleared")]


def test_late_samples_are_not_evaluated_again() -> None:
    engine = AlertEngine()
    rule = RULES["body_temperature_high"]
    assert engine.evaluate(rule, Sample("care", "gw", P, T0, 39.0)) is not None
    assert engine.evaluate(rule, Sample("care", "gw", P, T0 - timedelta(minutes=5), 36.0)) is None
    assert engine.late == 1 and engine.active("care") == 1 and engine.active("elsewhere") == 0


def test_events_carry_the_pseudonym_or_the_sensor() -> None:
    engine = AlertEngine()
    (event,) = [e for e in (engine.evaluate(RULES["body_temperature_high"], Sample("care", "gw", P, T0, 38.5)),) if e]
    assert event.subject == P and event.device is None and event.value == 38.5
    site = AlertEngine(rules=(RULES["indoor_co2_high"].model_copy(update={"hold_s": 0}),))
    (co2,) = [e for e in (site.evaluate(site.rules[0], Sample("care", "gw", "lounge-env", T0, 1500)),) if e]
    assert co2.device == "lounge-env" and co2.subject is None


def test_rules_are_checked() -> None:
    with pytest.raises(ValidationError, match="not vital signs"):
        AlertRule(id="x", scope="participant", codes=("39156-5",), direction="above", threshold=1, margin=0,
                  unit="1", source="s")
    with pytest.raises(ValidationError, match="watches a quantity"):
        AlertRule(id="x", scope="environment", codes=("8867-4",), direction="above", threshold=1, margin=0,
                  unit="1", source="s")


@pytest.mark.parametrize(("t_f", "rh", "hi_f"), [(90, 50, 95), (96, 60, 116), (100, 40, 109), (80, 40, 80),
                                                   (86, 90, 105), (104, 10, 98)])
def test_heat_index_matches_the_nws_chart(t_f: float, rh: float, hi_f: float) -> None:
    assert heat_index_c((t_f - 32) * 5 / 9, rh) * 9 / 5 + 32 == pytest.approx(hi_f, abs=1.0)


def test_exposure_hours_are_the_union_over_sensors() -> None:
    gap = timedelta(minutes=5)
    a = [(T0 + timedelta(minutes=m), v) for m, v in ((0, 33), (1, 33), (2, 30), (30, 34), (31, 34))]
    b = [(T0 + timedelta(minutes=m), v) for m in range(0, 60, 1) for v in [33 if m < 2 else 20]]
    spans = intervals_above(a, 32, max_gap=gap) + intervals_above(b, 32, max_gap=gap)
    # a: 10:00-10:02 and 10:30-10:36 (the last sample holds for the 5-minute gap); b: 10:00-10:02
    assert union_hours(spans, T0, T0 + timedelta(hours=1)) == pytest.approx(8 / 60)
    assert union_hours(spans, T0 + timedelta(minutes=31), T0 + timedelta(minutes=33)) == pytest.approx(2 / 60)


LIMITS = LimitsSection()
GOOD = {"schema": "greenwire.vitals.v1", "gateway": "gw", "seq": 1, "sent_at": "2026-11-02T10:00:01Z",
        "observations": [{"ts": "2026-11-02T10:00:00Z", "subject": P, "code": "8867-4", "value": 72.0,
                          "unit": "/min", "device": "hub"}]}


def _check(doc: object, topic: str = "greenwire/v1/care/gw/vitals") -> AcceptedVitals | Rejected:
    return validate_vitals(topic, json.dumps(doc).encode(), now=T0, limits=LIMITS)


def test_vitals_validation_never_quotes_the_input() -> None:
    assert isinstance(_check(GOOD), AcceptedVitals)
    raw = json.loads(json.dumps(GOOD))
    raw["observations"][0]["subject"] = "Patient/pat-secret"
    rejected = _check(raw)
    assert isinstance(rejected, Rejected) and rejected.reason is RejectReason.SCHEMA_VIOLATION
    assert "pat-secret" not in rejected.detail and "observations[0].subject" in rejected.detail
    assert _check(GOOD, "greenwire/v1/care/other/vitals").reason is RejectReason.GATEWAY_MISMATCH  # type: ignore[union-attr]
    assert _check(GOOD, "greenwire/v1/care/gw/readings").reason is RejectReason.INVALID_TOPIC  # type: ignore[union-attr]
    future = json.loads(json.dumps(GOOD))
    future["observations"][0]["ts"] = "2026-11-02T11:00:00Z"
    assert _check(future).reason is RejectReason.FUTURE_TIMESTAMP  # type: ignore[union-attr]
    extra = json.loads(json.dumps(GOOD))
    extra["observations"][0]["name"] = "Ada"
    assert _check(extra).reason is RejectReason.UNEXPECTED_FIELD  # type: ignore[union-attr]
    assert validate_vitals("greenwire/v1/care/gw/vitals", b"{nope", now=T0, limits=LIMITS).reason \
        is RejectReason.MALFORMED_JSON  # type: ignore[union-attr]


def test_site_figures_line_per_resolution() -> None:
    from greenwire.cloud.health.aggregate import SiteFigures

    day = SiteFigures("care", "1d", T0, participants=7, observations=900, alerts_raised=3, alerts_participant=2,
                      alerts_environment=1, heat_exposure_h=1.5, co2_exposure_h=0.25, kgco2e=70.0,
                      carbon_sources="GB grid 2022 (NESO)")
    line = day.line()
    assert line.startswith("health_site,resolution=1d,site=care ")
    # floats as InfluxDB reads them (no "i"): 7 and 10 are floats here, the counts integers
    assert "participants=7i" in line and "participant_days=7," in line and "kgco2e_per_participant_day=10 " in line
    assert 'carbon_sources="GB grid 2022 (NESO)"' in line
    empty = SiteFigures("care", "1d", T0, 0, 0, 0, 0, 0, 0.0, 0.0, kgco2e=70.0)
    assert "kgco2e_per_participant_day" not in empty.line(), "no division by zero participants"
    hour = SiteFigures("care", "1h", T0, 3, 90, 0, 0, 0, 0.0, 0.0, alerts_active=1)
    assert "participant_days" not in hour.line() and "alerts_active=1i" in hour.line()
