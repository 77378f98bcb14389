"""The statement's chart: each local day's emissions against the budget per day.

:func:`days_of` computes the days from the readings the account was computed from (pure; the
days add up to the account's total); :func:`daily_png` draws them with matplotlib (the ``report``
extra, Agg, no display), in the conventions of ``greenwire report``'s charts: plain tick labels
without offset or scientific notation, kgCO2e or tCO2e by magnitude, one bar per local day on a
day axis, and the budget per day as a step line.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from greenwire.cloud.carbon.factors import FactorTable, load_factors
from greenwire.cloud.carbon.meters import local_days
from greenwire.cloud.carbon.report import Readings
from greenwire.cloud.carbon.results import day_results
from greenwire.cloud.carbon.statement import Day
from greenwire.cloud.sites import Building

SIZE_IN = (7.6, 3.0)
"""The chart in inches at 100 CSS px per inch: the width of the page's text on A4 or a laptop."""
NARROW_IN = (3.8, 3.4)
"""The same chart for a phone's single column (about 360 CSS px wide)."""
DPI = 200
BAR, OVER, LINE = "#3274d9", "#e02f44", "#222222"


def days_of(building: Building, readings: Readings, start: datetime, end: datetime,
            table: FactorTable | None = None) -> list[Day]:
    """Each local day of [start, end) (cut at its edges): its total emissions (None when no meter
    had energy that day) and its share of the building's budget."""
    rolled = day_results(building, readings.counters, readings.gas, readings.series, start, end,
                         table or load_factors(), readings.device_max_power_kw)["1d"]
    out = []
    for day_start, day_end in local_days(start, end, building.timezone):
        period = rolled.get(day_start)
        lo, hi = max(start, day_start), min(end, day_end)
        out.append(Day(day_start, None if period is None else period.total_kgco2e, building.budget_between(lo, hi)))
    return out


def daily_png(days: Sequence[Day], timezone: str = "UTC", *, narrow: bool = False) -> bytes:
    """The chart as PNG bytes: bars per day (red above that day's budget), the budget as a line.
    A day without readings has no bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker
    from matplotlib.artist import Artist
    from matplotlib.patches import Patch

    peak = max([d.kgco2e or 0.0 for d in days] + [d.budget_kgco2e or 0.0 for d in days])
    unit, divisor = ("tCO2e", 1000.0) if peak >= 1000 else ("kgCO2e", 1.0)
    tz = ZoneInfo(timezone)
    labels = [d.start.astimezone(tz) for d in days]
    fig, ax = plt.subplots(figsize=NARROW_IN if narrow else SIZE_IN, dpi=DPI, layout="constrained")
    try:
        xs = list(range(len(days)))
        values = [(d.kgco2e or 0.0) / divisor for d in days]
        colours = [OVER if d.kgco2e is not None and d.budget_kgco2e is not None and d.kgco2e > d.budget_kgco2e
                   else BAR for d in days]
        ax.bar(xs, values, width=0.8, color=colours)
        handles: list[Artist] = [Patch(color=colour, label=label) for colour, label in
                   ((BAR, "emissions, within the day's budget"), (OVER, "emissions, above the day's budget"))
                   if colour in colours]
        if any(d.budget_kgco2e is not None for d in days):
            budget = [(d.budget_kgco2e or 0.0) / divisor for d in days]
            handles += ax.step([x - 0.5 for x in xs] + [xs[-1] + 0.5], budget + budget[-1:], where="post",
                               color=LINE, linewidth=1.6, label="budget per day")
        step = max(1, round(len(days) / (5 if narrow else 10)))
        ax.set_xticks(xs[::step])
        ax.set_xticklabels([f"{t.day} {t:%b}" for t in labels[::step]])
        ax.set_xlim(-0.6, len(days) - 0.4)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}" if peak / divisor >= 10 else "{x:,.1f}"))
        ax.set_ylabel(unit, fontsize=8)
        ax.set_xlabel(f"local day ({timezone})", fontsize=8)
        ax.tick_params(labelsize=8.5)
        ax.grid(axis="y", alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(handles=handles, fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=1 if narrow else 3,
                  frameon=False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    return buffer.getvalue()

