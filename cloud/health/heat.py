"""Heat index and exposure time. Pure.

Heat index: the US National Weather Service's algorithm (NWS Weather Prediction Center,
"The Heat Index Equation", wpc.ncep.noaa.gov/html/heatindex_equation.shtml, after Rothfusz
1990, NWS Technical Attachment SR 90-23, which fits Steadman 1979): Steadman's simple formula
averaged with the temperature below 80 degF, else the Rothfusz regression with its two
adjustments for low humidity and for high humidity at moderate temperatures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta


def heat_index_c(temperature_c: float, relative_humidity_pct: float) -> float:
    """The NWS heat index in degC of air at ``temperature_c`` and ``relative_humidity_pct``."""
    t = temperature_c * 9 / 5 + 32
    rh = min(max(relative_humidity_pct, 0.0), 100.0)
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094)
    if (simple + t) / 2 < 80.0:
        hi = simple
    else:
        hi = (-42.379 + 2.04901523 * t + 10.14333127 * rh - 0.22475541 * t * rh - 0.00683783 * t * t
              - 0.05481717 * rh * rh + 0.00122874 * t * t * rh + 0.00085282 * t * rh * rh
              - 0.00000199 * t * t * rh * rh)
        if rh < 13 and 80 <= t <= 112:
            hi -= (13 - rh) / 4 * math.sqrt((17 - abs(t - 95.0)) / 17)
        elif rh > 85 and 80 <= t <= 87:
            hi += (rh - 85) / 10 * (87 - t) / 5
    return (hi - 32) * 5 / 9


def intervals_above(
    samples: Sequence[tuple[datetime, float]], threshold: float, *, max_gap: timedelta
) -> list[tuple[datetime, datetime]]:
    """Spans in which one sensor read above ``threshold``: each sample holds until the next one,
    for at most ``max_gap`` (a sensor that went quiet does not count as exposed). Samples sorted."""
    out: list[tuple[datetime, datetime]] = []
    for (at, value), nxt in zip(samples, [*samples[1:], None], strict=True):
        if value <= threshold:
            continue
        end = at + max_gap if nxt is None else min(nxt[0], at + max_gap)
        if out and out[-1][1] >= at:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((at, end))
    return out


def union_hours(spans: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime) -> float:
    """Hours of [start, end) covered by at least one span (the site is exposed if any room is)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in spans if b > start and a < end)
    total = timedelta()
    current: tuple[datetime, datetime] | None = None
    for a, b in clipped:
        if current is None or a > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (a, b)
        else:
            current = (current[0], max(current[1], b))
    if current is not None:
        total += current[1] - current[0]
    return total.total_seconds() / 3600
