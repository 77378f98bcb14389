"""Proactive alert rules and their evaluation on the stream, with hysteresis. Pure.

A rule watches one series: a participant's vital sign (LOINC codes) or a site sensor's
indoor quantity (``heat_index_c``, ``co2_ppm``, ...), per subject or per sensor. Its state
machine::

    normal --(beyond threshold for hold_s)--> raised      -> event "raised"
    raised --(back past threshold - margin for clear_hold_s)--> normal -> event "cleared"

so a value wavering at the threshold (within the margin) raises once and stays raised, and a
single artefact shorter than ``hold_s`` raises nothing. The service restores the alerts that
were raised and not cleared from the stored events when it starts (``restore``). ``hold_s`` = 0 raises on the first
sample beyond the threshold. Samples are taken in time order per series; a sample older than
the series' latest (resent or late data) is not evaluated again (counted in ``late``).

The defaults cite their sources; a pilot replaces or extends them in the health config.
They are screening thresholds for a proactive call or visit, not diagnoses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from greenwire.shared.vitals import VITAL_SIGNS, AlertEvent, AlertState
from greenwire.shared.wire import Id

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AlertRule(BaseModel):
    """One rule: what it watches, the threshold, the hysteresis, and where the threshold comes from."""

    model_config = _FROZEN

    id: Id
    scope: Literal["participant", "environment"]
    codes: tuple[str, ...] = Field(default=(), description="Participant rules: LOINC codes watched.")
    quantity: str | None = Field(default=None, description="Environment rules: the indoor quantity watched.")
    direction: Literal["above", "below"]
    threshold: float
    margin: float = Field(ge=0, description="Hysteresis: to clear, the value must be this far back past the threshold.")
    hold_s: float = Field(default=0.0, ge=0, description="Beyond the threshold this long before raising.")
    clear_hold_s: float | None = Field(default=None, ge=0, description="Back past it this long before clearing "
                                                                         "(default: hold_s).")
    unit: str = Field(max_length=16)
    source: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _target(self) -> Self:
        if self.scope == "participant":
            if not self.codes or self.quantity is not None:
                raise ValueError("a participant rule watches codes (LOINC), not a quantity")
            unknown = [c for c in self.codes if c not in VITAL_SIGNS]
            if unknown:
                raise ValueError(f"codes {unknown} are not vital signs the pilot carries ({', '.join(VITAL_SIGNS)})")
        elif self.quantity is None or self.codes:
            raise ValueError("an environment rule watches a quantity (heat_index_c, co2_ppm, ...), not codes")
        return self

    def beyond(self, value: float) -> bool:
        return value > self.threshold if self.direction == "above" else value < self.threshold

    def back(self, value: float) -> bool:
        if self.direction == "above":
            return value <= self.threshold - self.margin
        return value >= self.threshold + self.margin


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        id="spo2_low", scope="participant", codes=("59408-5", "2708-6"), direction="below", threshold=92.0,
        margin=1.0, hold_s=120, unit="%",
        source="NHS England, Pulse oximetry to detect early deterioration of patients with COVID-19 in primary "
        "and community care settings (2020): escalate at SpO2 below 92 %; RCP NEWS2 (2017) scores SpO2 <= 91 % as 3",
    ),
    AlertRule(
        id="heart_rate_high", scope="participant", codes=("8867-4",), direction="above", threshold=120.0,
        margin=10.0, hold_s=600, unit="/min",
        source="Sustained above 120/min for 10 min stands in for resting tachycardia (the stream has no "
        "activity context), as wearables' high-heart-rate notifications do; RCP NEWS2 (2017) scores 111-130/min as 2",
    ),
    AlertRule(
        id="body_temperature_high", scope="participant", codes=("8310-5",), direction="above", threshold=38.0,
        margin=0.3, hold_s=0, unit="Cel",
        source="NICE NG143 Fever in under 5s (2019, updated 2021) and WHO: fever is 38 degC or higher; "
        "RCP NEWS2 (2017) scores 38.1-39.0 degC",
    ),
    AlertRule(
        id="indoor_heat_index_high", scope="environment", quantity="heat_index_c", direction="above",
        threshold=32.0, margin=1.0, hold_s=600, unit="Cel",
        source="NOAA National Weather Service heat index: 32-41 degC (90-103 degF) is 'extreme caution' "
        "(heat cramps and exhaustion possible with prolonged exposure)",
    ),
    AlertRule(
        id="indoor_co2_high", scope="environment", quantity="co2_ppm", direction="above", threshold=1200.0,
        margin=100.0, hold_s=600, unit="ppm",
        source="EN 16798-1:2019 Annex B: category III indoor air is 800 ppm above outdoor (about 1200 ppm at "
        "400 ppm outdoor); German UBA (2008): 1000-2000 ppm is conspicuous, ventilate",
    ),
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one series, as the engine sees it."""

    site: str
    gateway: str
    key: str
    """The pseudonym (participant rules) or the sensor's device id (environment rules)."""
    ts: datetime
    value: float


@dataclass(slots=True)
class _State:
    raised: bool = False
    since: datetime | None = None
    """When the value first went beyond (normal) or back (raised) in the current run."""
    last: datetime | None = None


@dataclass(slots=True)
class AlertEngine:
    """Evaluates samples against rules; returns the events (raised, cleared) they cause."""

    rules: tuple[AlertRule, ...] = DEFAULT_RULES
    late: int = 0
    raised_total: int = 0
    _states: dict[tuple[str, str, str, str], _State] = field(default_factory=dict)

    def rules_for_code(self, code: str) -> list[AlertRule]:
        return [r for r in self.rules if r.scope == "participant" and code in r.codes]

    def rules_for_quantity(self, quantity: str) -> list[AlertRule]:
        return [r for r in self.rules if r.scope == "environment" and r.quantity == quantity]

    def evaluate(self, rule: AlertRule, sample: Sample) -> AlertEvent | None:
        """Feed one sample to one rule; the event it causes, if any."""
        key = (rule.id, sample.site, sample.gateway, sample.key)
        state = self._states.setdefault(key, _State())
        if state.last is not None and sample.ts <= state.last:
            self.late += 1
            return None
        state.last = sample.ts
        if not state.raised:
            if not rule.beyond(sample.value):
                state.since = None
                return None
            state.since = state.since or sample.ts
            if sample.ts - state.since < timedelta(seconds=rule.hold_s):
                return None
            state.raised, state.since = True, None
            self.raised_total += 1
            return self._event(rule, sample, AlertState.RAISED)
        if not rule.back(sample.value):
            state.since = None
            return None
        state.since = state.since or sample.ts
        hold = rule.hold_s if rule.clear_hold_s is None else rule.clear_hold_s
        if sample.ts - state.since < timedelta(seconds=hold):
            return None
        state.raised, state.since = False, None
        return self._event(rule, sample, AlertState.CLEARED)

    def restore(self, rule_id: str, site: str, gateway: str, key: str, raised_at: datetime) -> bool:
        """Mark an alert raised before a restart (from the stored events), so it is not raised twice.

        Returns False if no configured rule has that id (a rule removed from the config)."""
        if not any(r.id == rule_id for r in self.rules):
            return False
        self._states[(rule_id, site, gateway, key)] = _State(raised=True, last=raised_at)
        return True

    def active(self, site: str | None = None) -> int:
        """Alerts raised and not cleared (of one site, or all)."""
        return sum(1 for (_, s, _, _), st in self._states.items() if st.raised and (site is None or s == site))

    @staticmethod
    def _event(rule: AlertRule, sample: Sample, state: AlertState) -> AlertEvent:
        participant = rule.scope == "participant"
        return AlertEvent.model_validate({
            "schema": "greenwire.alert.v1", "site": sample.site, "gateway": sample.gateway, "rule": rule.id,
            "state": state, "ts": sample.ts, "subject": sample.key if participant else None,
            "device": None if participant else sample.key, "value": sample.value, "threshold": rule.threshold,
            "unit": rule.unit, "source": rule.source,
        })
