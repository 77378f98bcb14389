"""Detection measured on real series with known injected anomalies (``greenwire anomalies evaluate``).

For each kind the series gets its own injected copy (:mod:`greenwire.cloud.anomalies.inject`) and
the detectors run over it; precision and recall per kind come from
:func:`greenwire.cloud.anomalies.findings.score`. The clean series is run too: every finding on
it is counted as false, except a ``stopped_reporting`` or ``frozen_counter`` finding over hours
the published data really has blank or zero (those are true, and are counted apart as
``real_gaps``); findings over those same hours are left out of the injected copies' scores too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenwire.cloud.anomalies.detect import detect, detect_submeters
from greenwire.cloud.anomalies.findings import KINDS, Finding, Kind, Score, Truth, overlaps, score
from greenwire.cloud.anomalies.inject import inject, inject_submeters
from greenwire.cloud.forecast.features import Calendar
from greenwire.cloud.forecast.series import HourlySeries

METER_KINDS: tuple[Kind, ...] = tuple(k for k in KINDS if k != "submeter_mismatch")


def _real_gap(f: Finding, clean: Sequence[Finding]) -> bool:
    return f.kind in ("stopped_reporting", "frozen_counter") and any(
        c.kind in ("stopped_reporting", "frozen_counter") and c.start < f.end and f.start < c.end for c in clean)


def _also_clean(found: Sequence[Finding], truths: Sequence[Truth], clean: Sequence[Finding], kind: Kind) -> int:
    """The false findings of ``kind`` on an injected copy that the clean series has too (a change the
    building really made, or a false alarm the clean year already counts): they lower precision
    here and are in the clean year's false findings per month as well."""
    return sum(1 for f in found if f.kind == kind
               and not any(overlaps(f.start, f.end, t.start, t.end) for t in truths if t.kind == kind)
               and any(overlaps(f.start, f.end, c.start, c.end) for c in clean if c.kind == kind))


def evaluate_meter(series: HourlySeries, cal: Calendar, count: int = 6, seed: int = 0) -> dict[str, Any]:
    """Per-kind scores on injected copies of one meter's series, and the clean series' false findings."""
    clean = detect(series, cal)
    real = [f for f in clean if _real_gap(f, clean)]
    false = [f for f in clean if f not in real]
    scores: dict[str, Any] = {}
    for kind in METER_KINDS:
        injected, truths = inject(series, cal, kind, count=count, seed=seed)
        if not truths:
            continue  # the kind does not apply to this building (see inject)
        found = [f for f in detect(injected, cal) if not _real_gap(f, real)]
        scores[kind] = score(found, truths)[kind].as_dict() | {"false_also_clean": _also_clean(found, truths, false, kind)}
    months = len(series) / (24 * 365.25 / 12)
    return {"scores": scores, "clean_false_findings": len(false), "months": round(months, 2),
            "false_per_month": round(len(false) / months, 3), "real_gaps": len(real),
            "clean_false_by_kind": {k: sum(f.kind == k for f in false) for k in KINDS if any(f.kind == k for f in false)}}


def evaluate_submeters(main: HourlySeries, subs: list[HourlySeries], cal: Calendar, count: int = 6,
                       seed: int = 0) -> dict[str, Any]:
    """The sub-meter check on injected under-reading episodes, and on the clean set."""
    clean = detect_submeters(main, subs, cal)
    injected, truths = inject_submeters(subs, count=count, seed=seed)
    s: Score = score(detect_submeters(main, injected, cal), truths)["submeter_mismatch"]
    months = len(main) / (24 * 365.25 / 12)
    return {"scores": {"submeter_mismatch": s.as_dict()}, "clean_false_findings": len(clean),
            "months": round(months, 2), "false_per_month": round(len(clean) / months, 3)}


def totals(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Precision and recall per kind over several meters (pooled counts)."""
    out: dict[str, dict[str, float]] = {}
    for kind in KINDS:
        rows = [r["scores"][kind] for r in results if kind in r["scores"]]
        if not rows:
            continue
        f, t = sum(r["findings"] for r in rows), sum(r["true_findings"] for r in rows)
        n, h = sum(r["truths"] for r in rows), sum(r["found"] for r in rows)
        also = sum(r.get("false_also_clean", 0) for r in rows)
        out[kind] = {"findings": f, "truths": n, "false": f - t, "false_also_clean": also, "precision": round(t / f, 3) if f else float("nan"),
                     "recall": round(h / n, 3) if n else float("nan")}
    return out
