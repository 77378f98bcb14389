"""What an anomaly finding is, and how findings are scored against known (injected) anomalies.

Kinds (what a facility manager is told):

==================  ==========================================================================
kind                meaning
==================  ==========================================================================
baseload_drift      the night and off-day minimum has crept up over days (an always-on load)
out_of_hours        load at night or on an off day near the working-day level (left running)
step_change         every hour's load moved abruptly to a new level and stayed there
frozen_counter      the counter reads but does not move while the building uses energy
stopped_reporting   no readings at all
submeter_mismatch   the sub-meters no longer add up to their main meter as they used to
==================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["baseload_drift", "out_of_hours", "step_change", "frozen_counter", "stopped_reporting",
               "submeter_mismatch"]
KINDS: tuple[Kind, ...] = ("baseload_drift", "out_of_hours", "step_change", "frozen_counter",
                           "stopped_reporting", "submeter_mismatch")


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly: when, what it cost in energy (kWh above what was expected, or the energy left
    unmeasured for a meter that froze or stopped), and how sure the detector is (0-1)."""

    kind: Kind
    start: datetime
    end: datetime
    kwh: float
    confidence: float
    meter: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "kwh": round(self.kwh, 3), "confidence": round(self.confidence, 3), "meter": self.meter,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Truth:
    """An anomaly put into a series on purpose: its kind and the hours it covers."""

    kind: Kind
    start: datetime
    end: datetime


TOLERANCE = timedelta(hours=24)
"""A finding counts for a known anomaly of its kind when their periods overlap within this."""


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end + TOLERANCE and b_start < a_end + TOLERANCE


@dataclass(frozen=True, slots=True)
class Score:
    kind: Kind
    findings: int
    true_findings: int
    truths: int
    found: int

    @property
    def precision(self) -> float:
        return self.true_findings / self.findings if self.findings else float("nan")

    @property
    def recall(self) -> float:
        return self.found / self.truths if self.truths else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "findings": self.findings, "true_findings": self.true_findings,
                "truths": self.truths, "found": self.found, "precision": round(self.precision, 3),
                "recall": round(self.recall, 3)}


def score(findings: Iterable[Finding], truths: Sequence[Truth]) -> dict[Kind, Score]:
    """Precision (findings that match a known anomaly of their kind) and recall (known anomalies
    found by at least one finding of their kind), per kind."""
    found = list(findings)
    out: dict[Kind, Score] = {}
    for kind in KINDS:
        mine = [f for f in found if f.kind == kind]
        known = [t for t in truths if t.kind == kind]
        true = sum(any(overlaps(f.start, f.end, t.start, t.end) for t in known) for f in mine)
        hit = sum(any(overlaps(f.start, f.end, t.start, t.end) for f in mine) for t in known)
        out[kind] = Score(kind, len(mine), true, len(known), hit)
    return out
