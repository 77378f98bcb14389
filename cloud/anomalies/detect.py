"""Anomaly detectors over one meter's hourly energy (pure: numpy only).

Each local day is summarised by its night load (median of 00:00-05:59), its working-hours load
(median of 09:00-16:59), its total and its baseload (minimum of the night), and compared with
the same summaries of the previous ``REF_DAYS`` days *of the same type* (working day, or weekend
and public holiday from the building's calendar), with a robust spread (1.4826 x MAD, at least
``MIN_SPREAD`` of the reference). Hours of a frozen or silent meter are left out of every
summary, so a gap never looks like a drop in consumption.

===================  =========================================================================
stopped_reporting    ``GAP_HOURS`` or more hours in a row with no reading
frozen_counter       ``FROZEN_HOURS`` or more hours in a row of exactly zero, where the same
                     meter read zero in under 1 % of the previous four weeks' hours
out_of_hours         ``OOH_NIGHTS`` or more nights in a row above their reference by ``OOH_SIGMA``
                     spreads and ``OOH_SHARE`` of the day-night swing, while the working hours
                     did not rise half as much
step_change          the total of the day and the next four off their reference by
                     ``STEP_SHARE`` in one direction, abruptly (the three days before were
                     within half of it, and the change day itself jumped), and the night and
                     working hours moved the same way; one finding per ``REF_DAYS``
baseload_drift       the last week's baseload above the baseload of weeks four and five before
                     by ``DRIFT_SHARE`` and ``DRIFT_SIGMA`` spreads, with no single day's jump
                     making half of the rise (that would be a step)
===================  =========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from greenwire.cloud.anomalies.findings import Finding, Kind
from greenwire.cloud.forecast.features import Calendar
from greenwire.cloud.forecast.series import Floats, HourlySeries

REF_DAYS = 28
MIN_SPREAD = 0.03
GAP_HOURS = 2
FROZEN_HOURS = 3
OOH_SIGMA, OOH_SHARE, OOH_NIGHTS = 4.0, 0.5, 2
STEP_SHARE = 0.12
DRIFT_SHARE, DRIFT_SIGMA, DRIFT_JUMP = 0.12, 3.0, 0.7


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _expected(values: Floats) -> Floats:
    """Each hour's expected energy: the median of the same hour of the previous four weeks."""
    lagged = np.full((4, len(values)), np.nan)
    for k in range(1, 5):
        lagged[k - 1, 168 * k:] = values[: len(values) - 168 * k]
    with np.errstate(all="ignore"):
        return _nanmedian(lagged, axis=0)


def _nanmedian(a: Floats, axis: int | None = None) -> Floats:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(a, axis=axis), dtype=float)


@dataclass(frozen=True)
class Days:
    """Per-local-day summaries of one meter."""

    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    off: npt.NDArray[np.bool_]
    night: Floats
    work: Floats
    total: Floats
    base: Floats


def summarise(values: Floats, cal: Calendar) -> Days:
    origins = cal.origins(cal.start, cal.start_of(len(values)))
    ends = np.append(origins[1:], len(values))
    night, work, total, base = (np.full(len(origins), np.nan) for _ in range(4))
    for i, (a, b) in enumerate(zip(origins, ends, strict=True)):
        v, h = values[a:b], cal.hour[a:b]
        n, w = v[(h < 6) & np.isfinite(v)], v[(h >= 9) & (h < 17) & np.isfinite(v)]
        if len(n) >= 4:
            night[i], base[i] = np.median(n), np.min(n)
        if len(w) >= 6:
            work[i] = np.median(w)
        if np.isfinite(v).all() and len(v) >= 23:
            total[i] = v.sum() * 24 / len(v)
    return Days(origins, ends, cal.off_day[origins] > 0, night, work, total, base)


def _ref(x: Floats, off: npt.NDArray[np.bool_], i: int, back: int = REF_DAYS, skip: int = 0) -> tuple[float, float]:
    """(median, spread) of ``x`` over the days ``skip+1 .. back`` before day i of day i's type."""
    lo, hi = max(0, i - back), max(0, i - skip)
    sel = x[lo:hi][off[lo:hi] == off[i]]
    sel = sel[np.isfinite(sel)]
    if len(sel) < 4:
        return float("nan"), float("nan")
    med = float(np.median(sel))
    return med, max(1.4826 * float(np.median(np.abs(sel - med))), MIN_SPREAD * abs(med))


def silent_and_frozen(series: HourlySeries, meter: str = "") -> tuple[list[Finding], Floats]:
    """Stopped and frozen findings, and the values with their hours set unknown."""
    v = series.values
    expected = _expected(v)
    out: list[Finding] = []
    cleaned = v.copy()
    for a, b in runs(~np.isfinite(v)):
        if b - a >= GAP_HOURS:
            out.append(_finding("stopped_reporting", series, a, b, float(np.nansum(expected[a:b])), 1.0, meter,
                                f"{b - a} h with no reading"))
    for a, b in runs(v == 0.0):
        if b - a < FROZEN_HOURS:
            continue
        before = cleaned[max(0, a - 24 * REF_DAYS):a]  # earlier frozen runs are not "reads zero"
        before = before[np.isfinite(before)]
        zero_share = float(np.mean(before == 0.0)) if len(before) else 1.0
        if len(before) >= 24 * 5 and zero_share < 0.01:
            out.append(_finding("frozen_counter", series, a, b, float(np.nansum(expected[a:b])),
                                min(1.0, (b - a) / 6), meter, f"{b - a} h of zero energy"))
            cleaned[a:b] = np.nan
    return out, cleaned


def _finding(kind: Kind, series: HourlySeries, a: int, b: int, kwh: float, confidence: float,
             meter: str, detail: str) -> Finding:
    return Finding(kind, series.at(a), series.at(b), kwh, confidence, meter, detail)


def detect(series: HourlySeries, cal: Calendar, meter: str = "") -> list[Finding]:
    """Every finding in one meter's hourly series, oldest first."""
    found, values = silent_and_frozen(series, meter)
    days = summarise(values, cal)
    expected = _expected(values)
    found += _out_of_hours(series, values, expected, days, meter)
    found += _steps(series, values, expected, days, meter)
    found += _drift(series, days, meter)
    return sorted(found, key=lambda f: (f.start, f.kind))


def _excess(values: Floats, expected: Floats, a: int, b: int) -> float:
    d = values[a:b] - expected[a:b]
    return float(np.nansum(d))


def _out_of_hours(series: HourlySeries, values: Floats, expected: Floats, days: Days, meter: str) -> list[Finding]:
    flagged = np.zeros(len(days.start), dtype=bool)
    strength = np.zeros(len(days.start))
    work_days = ~days.off
    for i in range(len(days.start)):
        ref_n, s_n = _ref(days.night, days.off, i)
        ref_w, _ = _ref(days.work, days.off, i)
        swing_ref = _ref(days.work, ~work_days, i)[0] if days.off[i] else ref_w
        if not (np.isfinite(ref_n) and np.isfinite(days.night[i]) and np.isfinite(swing_ref)):
            continue
        swing = max(swing_ref - ref_n, 0.05 * ref_n)
        e_n = days.night[i] - ref_n
        e_w = days.work[i] - ref_w if np.isfinite(days.work[i]) and np.isfinite(ref_w) else 0.0
        if e_n > max(OOH_SIGMA * s_n, OOH_SHARE * swing) and e_w < 0.5 * e_n:
            flagged[i], strength[i] = True, e_n / max(OOH_SIGMA * s_n, OOH_SHARE * swing)
    out = []
    for a, b in runs(flagged):
        if b - a < OOH_NIGHTS:
            continue
        h0, h1 = int(days.start[a]), int(days.start[b - 1]) + 6
        conf = min(1.0, float(np.mean(strength[a:b])) / 2)
        out.append(_finding("out_of_hours", series, h0, h1, _excess(values, expected, h0, h1), conf, meter,
                            f"{b - a} night(s) near the working-day level"))
    return out


def _steps(series: HourlySeries, values: Floats, expected: Floats, days: Days, meter: str) -> list[Finding]:
    n = len(days.start)
    ratio, night_r, work_r = (np.full(n, np.nan) for _ in range(3))
    for i in range(n):
        for arr, src in ((ratio, days.total), (night_r, days.night), (work_r, days.work)):
            ref, _ = _ref(src, days.off, i)
            if np.isfinite(ref) and ref > 0:
                arr[i] = src[i] / ref
    out: list[Finding] = []
    i, quiet_until = 3, 0
    while i < n - 4:
        after, before = _nanmedian(ratio[i:i + 5]), _nanmedian(ratio[i - 3:i])
        jump = ratio[i] - ratio[i - 1] if np.isfinite(ratio[i - 1]) else ratio[i] - before
        sign = np.sign(after - 1)
        if (i >= quiet_until and np.isfinite(after) and abs(after - 1) >= STEP_SHARE
                and np.isfinite(before) and abs(before - 1) < STEP_SHARE / 2
                and sign * jump >= 0.6 * STEP_SHARE
                and sign * (_nanmedian(night_r[i:i + 5]) - 1) >= STEP_SHARE / 2
                and sign * (_nanmedian(work_r[i:i + 5]) - 1) >= STEP_SHARE / 2):
            h0, h1 = int(days.start[i]), int(days.end[i + 4])
            conf = min(1.0, abs(float(after) - 1) / (2 * STEP_SHARE))
            out.append(_finding("step_change", series, h0, h1, _excess(values, expected, h0, h1), conf, meter,
                                f"load {100 * (float(after) - 1):+.0f} % from this day"))
            quiet_until = i + REF_DAYS
            i += 5
            continue
        i += 1
    return out


def _drift(series: HourlySeries, days: Days, meter: str) -> list[Finding]:
    n = len(days.start)
    flagged = np.zeros(n, dtype=bool)
    rise_kwh = np.zeros(n)
    for i in range(42, n):
        recent = days.base[i - 6:i + 1]
        ref = days.base[i - 35:i - 21]
        recent, ref = recent[np.isfinite(recent)], ref[np.isfinite(ref)]
        if len(recent) < 5 or len(ref) < 10:
            continue
        r_med = float(np.median(ref))
        spread = max(1.4826 * float(np.median(np.abs(ref - r_med))), MIN_SPREAD * abs(r_med))
        rise = float(np.median(recent)) - r_med
        window = days.base[i - 21:i + 1]
        jumps = np.diff(window[np.isfinite(window)])
        biggest = float(np.max(jumps)) if len(jumps) else 0.0
        if rise > max(DRIFT_SHARE * r_med, DRIFT_SIGMA * spread) and biggest < DRIFT_JUMP * rise:
            flagged[i], rise_kwh[i] = True, rise * 24
    out = []
    for a, b in runs(flagged):
        h0, h1 = int(days.start[a]), int(days.end[b - 1])
        conf = min(1.0, 0.5 + 0.05 * (b - a))
        out.append(_finding("baseload_drift", series, h0, h1, float(rise_kwh[a:b].sum()), conf, meter,
                            "night and off-day minimum rising"))
    return out


def first_hour(series: HourlySeries, at: datetime) -> int:
    return max(0, series.index(at))


SUB_SHARE = 0.06
"""A day's sub-meter share of the main meter this far (absolute) from its reference is a mismatch."""


def detect_submeters(main: HourlySeries, subs: list[HourlySeries], cal: Calendar,
                     meter: str = "") -> list[Finding]:
    """Days on which the sub-meters' share of the main meter left its usual value (previous
    ``REF_DAYS``, any day type) by ``SUB_SHARE`` and four spreads; consecutive days merged."""
    total = np.sum(np.stack([s.values for s in subs]), axis=0)
    days = summarise(main.values, cal)
    n = len(days.start)
    share = np.full(n, np.nan)
    for i, (a, b) in enumerate(zip(days.start, days.end, strict=True)):
        m, t = main.values[a:b], total[a:b]
        ok = np.isfinite(m) & np.isfinite(t)
        if ok.sum() >= 20 and m[ok].sum() > 0:
            share[i] = t[ok].sum() / m[ok].sum()
    flagged = np.zeros(n, dtype=bool)
    gap = np.zeros(n)
    everyday = np.zeros(n, dtype=bool)
    for i in range(n):
        ref, spread = _ref(share, everyday, i)
        if np.isfinite(ref) and np.isfinite(share[i]) and abs(share[i] - ref) > max(SUB_SHARE, 4 * spread):
            flagged[i], gap[i] = True, share[i] - ref
    out = []
    for a, b in runs(flagged):
        h0, h1 = int(days.start[a]), int(days.end[b - 1])
        kwh = float(np.nansum(main.values[h0:h1]) * -np.mean(gap[a:b]))
        out.append(_finding("submeter_mismatch", main, h0, h1, kwh, min(1.0, float(np.mean(np.abs(gap[a:b]))) / 0.15),
                            meter, f"sub-meters {100 * float(np.mean(gap[a:b])):+.0f} % of the main meter"))
    return out
