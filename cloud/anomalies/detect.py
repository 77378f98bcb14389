"""Anomaly detectors over one meter's hourly energy (pure: numpy only).

Each local day is summarised by its night load (median of 00:00-05:59, and the mean of the eight
hours from 22:00 the evening before), its working-hours load (median of 09:00-16:59), its total
and its baseload (minimum of 00:00-05:59), and compared with
the same summaries of the previous ``REF_DAYS`` days *of the same type* (working day, or weekend
and public holiday from the building's calendar), with a robust spread (1.4826 x MAD, at least
``MIN_SPREAD`` of the reference). Hours of a frozen or silent meter are left out of every
summary, so a gap never looks like a drop in consumption.

===================  =========================================================================
stopped_reporting    ``GAP_HOURS`` or more hours in a row with no reading
frozen_counter       ``FROZEN_HOURS`` or more hours in a row of exactly zero, where the same
                     meter read zero in under 1 % of the previous four weeks' hours
out_of_hours         ``OOH_NIGHTS`` or more nights of one event (off days between them allowed)
                     whose night load (the median of 00:00-05:59, or the mean of the eight
                     hours from 22:00 the evening before) is above its reference by
                     ``OOH_SIGMA`` spreads and ``OOH_SHARE`` of the day-night swing, while the
                     same day's working hours rose, relatively, less than ``OOH_WORK`` of the
                     night's rise (a colder or busier day lifts both)
step_change          per local hour, the median log energy of the ``STEP_WINDOW`` days after a
                     candidate day less that of the ``STEP_WINDOW`` days before (day type by
                     day type); the median over the hours moved by ``STEP_MIN`` and by
                     ``STEP_NOISE`` x the meter's own day-to-day noise (a weather-driven gas
                     meter needs a larger step); every four-hour block moved the same way by
                     ``STEP_BLOCK`` of it and the hours agree (median deviation within
                     ``STEP_MAD`` of it); abrupt (the week either side shows ``STEP_JUMP`` of
                     it); held (the second half of the days after, half of it); one finding
                     per ``STEP_WINDOW`` days, placed on the nearest change point of the
                     whole series' daily level (optimal partitioning, ``STEP_PENALTY``,
                     ``STEP_SEGMENT``) within half a window, else on the least-squares
                     change point of the days around it
baseload_drift       the last week's baseload above the baseload of weeks four and five before
                     by ``DRIFT_SHARE`` and ``DRIFT_SIGMA`` spreads, with the week before last
                     part of the way up (``DRIFT_PART``: a creep, not a step), on
                     ``DRIFT_DAYS`` days in a row at least
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
OOH_SIGMA, OOH_SHARE, OOH_NIGHTS, OOH_WORK = 3.0, 0.5, 2, 0.5
DRIFT_SHARE, DRIFT_SIGMA, DRIFT_PART, DRIFT_DAYS = 0.12, 2.5, (0.15, 0.85), 3


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _expected(values: Floats) -> Floats:
    """Each hour's expected energy: the median of the same hour of the previous four weeks."""
    lagged = np.full((4, len(values)), np.nan)
    for k in range(1, 5):
        if 168 * k < len(values):  # a series shorter than k weeks has no hour k weeks back
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
    late: Floats
    """The mean of the eight hours from 22:00 the evening before to 05:59 (out of hours)."""


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
    late = np.full(len(origins), np.nan)
    for i, a in enumerate(origins):
        v = values[max(0, a - 2):a + 6]
        if len(v) == 8 and np.isfinite(v).sum() >= 6:
            late[i] = float(np.nanmean(v))
    return Days(origins, ends, cal.off_day[origins] > 0, night, work, total, base, late)


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
    found += _steps(series, values, expected, days, cal, meter)
    found += _drift(series, days, meter)
    return sorted(found, key=lambda f: (f.start, f.kind))


def _excess(values: Floats, expected: Floats, a: int, b: int) -> float:
    d = values[a:b] - expected[a:b]
    return float(np.nansum(d))


def _out_of_hours(series: HourlySeries, values: Floats, expected: Floats, days: Days, meter: str) -> list[Finding]:
    n = len(days.start)
    flagged = np.zeros(n, dtype=bool)
    strength = np.zeros(n)
    for i in range(n):
        for night in (days.night, days.late):  # the small hours, or the whole night from 22:00
            ref_n, s_n = _ref(night, days.off, i)
            ref_w, _ = _ref(days.work, days.off, i)
            swing_ref = _ref(days.work, days.off, i)[0] if not days.off[i] else _ref(days.work, ~days.off, i)[0]
            if not (np.isfinite(ref_n) and ref_n > 0 and np.isfinite(night[i]) and np.isfinite(swing_ref)):
                continue
            swing = max(swing_ref - ref_n, 0.05 * ref_n)
            e_n = night[i] - ref_n
            # the working hours did not rise as much, relatively (a colder or busier day lifts both)
            ok_w = np.isfinite(days.work[i]) and np.isfinite(ref_w) and ref_w > 0
            r_w = days.work[i] / ref_w - 1 if ok_w else 0.0
            bar = max(OOH_SIGMA * s_n, OOH_SHARE * swing)
            if e_n > bar and r_w < OOH_WORK * e_n / ref_n:
                flagged[i], strength[i] = True, max(strength[i], e_n / bar)
    # nights of one event: flagged days with only unflagged off days between them
    event = flagged.copy()
    for i in range(1, n):
        if not flagged[i] and days.off[i] and event[i - 1]:
            j = i
            while j < n and days.off[j] and not flagged[j]:
                j += 1
            if j < n and flagged[j]:
                event[i:j] = True
    out = []
    for a, b in runs(event):
        nights = int(flagged[a:b].sum())
        if nights < OOH_NIGHTS:
            continue
        h0, h1 = int(days.start[a]), int(days.start[b - 1]) + 6
        conf = min(1.0, float(np.mean(strength[a:b][flagged[a:b]])) / 2)
        out.append(_finding("out_of_hours", series, h0, h1, _excess(values, expected, h0, h1), conf, meter,
                            f"{nights} night(s) near the working-day level"))
    return out


STEP_WINDOW = 21
"""Days either side of a candidate change that are compared."""
STEP_MIN, STEP_BLOCK, STEP_JUMP, STEP_MAD, STEP_NOISE = 0.13, 0.4, 0.3, 0.5, 2.0


def hour_matrix(values: Floats, days: Days, cal: Calendar) -> Floats:
    """log energy per local day (rows) and local hour (columns); nan where unknown or not above zero."""
    out = np.full((len(days.start), 24), np.nan)
    for i, (a, b) in enumerate(zip(days.start, days.end, strict=True)):
        v = values[a:b]
        with np.errstate(all="ignore"):
            out[i, cal.hour[a:b].astype(int)] = np.where(v > 0, np.log(v), np.nan)
    return out


def _shift(m: Floats, off: npt.NDArray[np.bool_], lo: int, mid: int, hi: int) -> Floats:
    """Per local hour, the median log energy of days [mid, hi) less that of days [lo, mid), day
    type by day type (working days, off days) and averaged over the types with four days each side."""
    acc, weight = np.zeros(24), np.zeros(24)
    for kind in (False, True):
        before = m[lo:mid][off[lo:mid] == kind]
        after = m[mid:hi][off[mid:hi] == kind]
        if len(before) < 4 or len(after) < 4:
            continue
        d = _nanmedian(after, axis=0) - _nanmedian(before, axis=0)
        w = min(len(before), len(after))
        ok = np.isfinite(d)
        acc[ok] += w * d[ok]
        weight[ok] += w
    with np.errstate(all="ignore"):
        return np.where(weight > 0, acc / weight, np.nan)


def day_noise(days: Days) -> float:
    """How much a day's total differs from the last day of its type, in log (1.4826 x the median
    absolute difference): a few steps hardly move it, a noisy or weather-driven meter has it high."""
    diffs = []
    with np.errstate(all="ignore"):
        for kind in (False, True):
            y = np.log(days.total[days.off == kind])
            y = y[np.isfinite(y)]
            diffs.append(np.diff(y))
    d = np.concatenate(diffs)
    return 1.4826 * float(np.median(np.abs(d - np.median(d)))) if len(d) >= 20 else 0.0


def _locate(m: Floats, off: npt.NDArray[np.bool_], i: int, w: int) -> int:
    """The day of the change near day i. The medians above are flat for days either side of a
    step, so the day is the least-squares change point of each day's median log energy (less its
    day type's median, weighted by the inverse of its type's day-to-day variance, a noisy
    weekend counting less) over the ``w`` days either side, within ``w // 2`` days of i; of days
    that fit about as well, the earliest."""
    lo, hi = max(0, i - w), min(len(m), i + w)
    y, weight = _weighed(_nanmedian(m[lo:hi], axis=1), off[lo:hi], 4)
    cost: dict[int, float] = {}
    for j in range(max(lo + 3, i - w // 2), min(hi - 3, i + w // 2) + 1):
        k = j - lo
        sse = 0.0
        for part in (slice(0, k), slice(k, hi - lo)):
            ww, yy = weight[part], y[part]
            if ww.sum() == 0:
                sse = np.inf
                break
            mean = float(np.sum(ww * yy) / np.sum(ww))
            sse += float(np.sum(ww * (yy - mean) ** 2))
        cost[j] = sse
    if not cost:
        return i
    # the earliest day the data cannot tell from the best (a weighted sum of squares within 2:
    # a step on Saturday and one on Monday differ only in two noisy weekend days)
    least = min(cost.values())
    return min(j for j, c in cost.items() if c <= least + 2.0)


def _settle(m: Floats, off: npt.NDArray[np.bool_], i: int, w: int) -> int:
    """:func:`_locate` again around its own answer until it stays (three times at most): the
    window around the candidate day may reach a change that the window around the step does not."""
    at = i
    for _ in range(3):
        nxt = _locate(m, off, at, w)
        if nxt == at:
            break
        at = nxt
    return at


STEP_PENALTY, STEP_SEGMENT = 1.5, 10
"""The change points' penalty (x log of the number of days, in units of a day's noise squared)
and their shortest segment, in days."""


def _weighed(level: Floats, off: npt.NDArray[np.bool_], min_days: int) -> tuple[Floats, Floats]:
    """``level`` less its day type's median, clipped to four times the type's day-to-day noise
    (1.4826 x the median absolute difference of successive days, / sqrt 2), and weighted by the
    inverse of that noise squared, a noisy weekend counting less; 0 with weight 0 for an unknown
    day, or a day type with fewer than ``min_days`` known days."""
    y, weight = np.zeros(len(level)), np.zeros(len(level))
    for kind in (False, True):
        sel = (off == kind) & np.isfinite(level)
        if sel.sum() < min_days:
            continue
        v = level[sel] - float(np.median(level[sel]))
        noise = max(1.4826 * float(np.median(np.abs(np.diff(v)))) / np.sqrt(2), 0.01)
        y[sel], weight[sel] = np.clip(v, -4 * noise, 4 * noise), 1 / noise ** 2
    return y, weight


def daily_level(m: Floats, off: npt.NDArray[np.bool_]) -> tuple[Floats, Floats]:
    """Each day's level and weight for :func:`change_points`: the median over the hours of its log
    energy less its day type's hourly profile, through :func:`_weighed`."""
    level = np.full(len(m), np.nan)
    for kind in (False, True):
        sel = off == kind
        if sel.any():
            level[sel] = _nanmedian(m[sel] - _nanmedian(m[sel], axis=0), axis=1)
    return _weighed(level, off, 8)


def change_points(y: Floats, weight: Floats, penalty: float, min_len: int) -> list[int]:
    """The days that start a new level in the best piecewise-constant fit of ``y`` (weighted
    least squares plus ``penalty`` per segment, segments of ``min_len`` days at least): optimal
    partitioning, exact, O(n^2) on cumulative sums (a year: 365 vectorised steps). Fitting all
    the changes at once places each one with its neighbours in the model, where a window around
    one change takes in the next."""
    n = len(y)
    s0, s1, s2 = (np.concatenate([[0.0], np.cumsum(weight * y ** k)]) for k in range(3))
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    last = np.zeros(n + 1, dtype=int)
    for b in range(min_len, n + 1):
        a = np.arange(0, b - min_len + 1)
        a = a[(a == 0) | (a >= min_len)]
        w, s = s0[b] - s0[a], s1[b] - s1[a]
        with np.errstate(all="ignore"):
            cost = s2[b] - s2[a] - np.where(w > 0, s * s / np.where(w > 0, w, 1.0), 0.0)
        total = best[a] + cost + penalty
        k = int(np.argmin(total))
        best[b], last[b] = total[k], a[k]
    out, b = [], n
    while b > 0:
        b = int(last[b])
        if b > 0:
            out.append(b)
    return sorted(out)


def _steps(series: HourlySeries, values: Floats, expected: Floats, days: Days, cal: Calendar,
           meter: str) -> list[Finding]:
    n, w = len(days.start), int(STEP_WINDOW)
    m = hour_matrix(values, days, cal)
    step = np.full(n, np.nan)
    shifts = np.full((n, 24), np.nan)
    for i in range(w, n - w + 1):
        shifts[i] = _shift(m, days.off, i - w, i, i + w)
    enough = np.isfinite(shifts).sum(axis=1) >= 18
    raw = np.full(n, np.nan)
    raw[enough] = _nanmedian(shifts[enough], axis=1)
    bar = max(STEP_MIN, STEP_NOISE * day_noise(days))
    for i in np.flatnonzero(enough).tolist():
        d, b = shifts[i], float(raw[i])
        if not np.isfinite(b) or abs(b) < bar:
            continue
        # every part of the day moved with it: each four-hour block by STEP_BLOCK of the step
        blocks = _nanmedian(d.reshape(6, 4), axis=1)
        if not np.all(np.sign(b) * blocks[np.isfinite(blocks)] >= STEP_BLOCK * abs(b)):
            continue
        if float(np.nanmedian(np.abs(d - b))) > STEP_MAD * abs(b):
            continue
        # abrupt: the week after against the week before already shows STEP_JUMP of it
        near = float(_nanmedian(_shift(m, days.off, i - 7, i, i + 7)))
        if not (np.isfinite(near) and np.sign(b) * near >= STEP_JUMP * abs(b)):
            continue
        # it held: the second half of the days after is still half the step off the days before
        second = float(_nanmedian(_shift(m, days.off, i - w, i + w // 2, i + w)))
        if not (np.isfinite(second) and np.sign(b) * second >= 0.5 * abs(b)):
            continue
        step[i] = b
    taken: list[int] = []
    for i in np.argsort(-np.nan_to_num(np.abs(step), nan=0.0)):
        if not np.isfinite(step[i]):
            break
        if all(abs(int(i) - j) >= w for j in taken):
            taken.append(int(i))
    # placed on the nearest change point of the whole series within w // 2 days, else on the
    # least-squares change point of the days around it
    y, weight = daily_level(m, days.off)
    cps = np.array(change_points(y, weight, STEP_PENALTY * np.log(max(n, 2)), STEP_SEGMENT), dtype=int)

    def place(i: int) -> int:
        if len(cps):
            j = int(cps[np.argmin(np.abs(cps - i))])
            if abs(j - i) <= w // 2:
                return j
        return _settle(m, days.off, i, w)

    out: list[Finding] = []
    for i, at in sorted((i, place(i)) for i in taken):
        h0, h1 = int(days.start[at]), int(days.end[min(at + 4, n - 1)])
        factor = float(np.exp(step[i]))
        conf = min(1.0, abs(factor - 1) / (2 * STEP_MIN))
        out.append(_finding("step_change", series, h0, h1, _excess(values, expected, h0, h1), conf, meter,
                            f"load {100 * (factor - 1):+.0f} % from this day"))
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
        # a creep, not a step: the week before last lies part of the way up
        middle = days.base[i - 13:i - 6]
        middle = middle[np.isfinite(middle)]
        part = (float(np.median(middle)) - r_med) / rise if len(middle) >= 4 and rise > 0 else float("nan")
        if (rise > max(DRIFT_SHARE * r_med, DRIFT_SIGMA * spread)
                and DRIFT_PART[0] <= part <= DRIFT_PART[1]):
            flagged[i], rise_kwh[i] = True, rise * 24
    out = []
    for a, b in runs(flagged):
        if b - a < DRIFT_DAYS:
            continue
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
