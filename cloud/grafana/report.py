"""``greenwire report``: the main dashboard panels as PNG charts and one HTML page, without Grafana.

The panels are the dashboards' own (:mod:`greenwire.cloud.grafana.dashboards`), their queries run
through :mod:`greenwire.cloud.grafana.evaluate` exactly as for Grafana, for one site and an explicit
range: the portfolio's emissions, intensity, ranking and grid panels for the site's
buildings together, then each building's power and emissions. Charts are drawn with
matplotlib (Agg, no display needed), in the panel's unit and threshold colours; the page
places each chart in a fixed box (``data-chart`` elements) and lists the numbers under it,
so a person without Grafana can look rather than read.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from greenwire.cloud.grafana.dashboards import building, portfolio
from greenwire.cloud.grafana.evaluate import PanelData, Sources, run_panel, variable_values
from greenwire.cloud.grafana.macros import VariableValue
from greenwire.cloud.grafana.model import Dashboard, Panel

CHART_W: Final = 760
CHART_H: Final = 300
GAP: Final = 30
COLUMNS: Final = 2
PORTFOLIO_PANELS: Final = ("Emissions per hour", "Live carbon intensity", "Ranking: kgCO2e per m² in the period",
                           "Grid carbon intensity per zone")
BUILDING_PANELS: Final = ("Grid power", "Emissions per day: location- and market-based")
_UNIT_LABELS: Final = {"kwatt": "kW", "kwatth": "kWh", "percent": "%", "s": "s", "ms": "ms", "none": ""}


@dataclass(frozen=True, slots=True)
class Chart:
    """One drawn panel: its PNG file, title, and the numbers it shows."""

    title: str
    subtitle: str
    png: str
    unit: str
    rows: tuple[tuple[str, str], ...]
    empty: bool


def unit_label(unit: str) -> str:
    """A Grafana unit id as a person reads it."""
    if unit.startswith("suffix:"):
        return unit.split(":", 1)[1].strip()
    return _UNIT_LABELS.get(unit, unit)


def _label(series: dict[str, Any], column: str, single: bool) -> str:
    tags = series.get("tags") or {}
    name = " ".join(str(v) for v in tags.values() if v)
    if single:
        return name or column
    return f"{name} {column}".strip()


def _threshold_color(panel: Panel, value: float) -> str:
    colors = {"green": "#56a64b", "yellow": "#f2cc0c", "orange": "#ff9830", "red": "#e02f44", "blue": "#3274d9"}
    chosen = panel.thresholds[0].color
    for step in panel.thresholds[1:]:
        if step.value is not None and value >= step.value:
            chosen = step.color
    return colors.get(chosen, chosen)


def draw(data: PanelData, path: Path, subtitle: str) -> Chart:
    """Draw one panel's data to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    panel = data.panel
    unit = unit_label(panel.unit)
    fig, ax = plt.subplots(figsize=(CHART_W / 100, CHART_H / 100), dpi=100)
    rows: list[tuple[str, str]] = []
    try:
        if panel.kind == "timeseries":
            bottoms: dict[datetime, float] = {}
            aliases = [q.alias for q in panel.queries if q.alias and "$" not in q.alias]
            for series in data.series:
                for index, column in enumerate(series["columns"][1:], start=1):
                    points = [(datetime.fromtimestamp(r[0] / 1000, UTC), r[index]) for r in series["values"]
                              if r[index] is not None]
                    if not points:
                        continue
                    label = _label(series, column, single=len(series["columns"]) == 2)
                    if label == column and len(aliases) == 1:
                        label = aliases[0]  # Grafana shows the query's alias for a series without tags
                    xs, ys = zip(*points, strict=True)
                    if panel.bars:
                        width = 0.8 * (xs[1] - xs[0]).total_seconds() / 86400 if len(xs) > 1 else 0.02
                        bottom = [bottoms.get(x, 0.0) for x in xs] if panel.stacked else None
                        ax.bar(xs, ys, width=width, bottom=bottom, label=label, alpha=0.85, align="edge")
                        if panel.stacked:
                            for x, y in points:
                                bottoms[x] = bottoms.get(x, 0.0) + y
                    else:
                        ax.plot(xs, ys, label=label, linewidth=1.4)
                    total = sum(ys)
                    rows.append((label, f"last {ys[-1]:,.2f} {unit}, mean {total / len(ys):,.2f}, max {max(ys):,.2f}"))
            locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
            ax.set_ylabel(unit)
            if rows:
                ax.legend(fontsize=7, loc="upper left")
        else:
            bars: list[tuple[str, float]] = []
            for series in data.series:
                for row in series["values"]:
                    value = next((v for v in row[1:] if isinstance(v, int | float)), None)
                    if value is not None:
                        bars.append((_label(series, series["columns"][1], True), float(value)))
            bars.sort(key=lambda b: b[1])
            if bars:
                names, values = zip(*bars, strict=True)
                ax.barh(names, values, color=[_threshold_color(panel, v) for v in values])
                for name, value in bars:
                    rows.append((name, f"{value:,.2f} {unit}"))
            ax.set_xlabel(unit)
        ax.set_title(f"{panel.title} ({subtitle})", fontsize=10)
        ax.grid(alpha=0.3)
        if not rows:
            ax.text(0.5, 0.5, "no data in this range", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return Chart(panel.title, subtitle, path.name, unit, tuple(rows), not rows)


def _panel(board: Dashboard, title: str) -> Panel:
    return next(p for p in board.panel_list() if p.title == title)


def collect(sources: Sources, site: str, start: datetime, end: datetime, out: Path) -> list[Chart]:
    """Run and draw the report's panels into ``out``; returns the charts in page order."""
    out.mkdir(parents=True, exist_ok=True)
    charts: list[Chart] = []
    board = portfolio()
    chosen = {"site": VariableValue((site,))}
    buildings = variable_values(board.variables[1], chosen, sources, end)
    if not buildings:
        raise LookupError(f"no building of site {site!r} has carbon results in InfluxDB (run `greenwire carbon backfill`)")
    chosen["building"] = VariableValue(tuple(buildings), multi=True, include_all=True)
    for index, title in enumerate(PORTFOLIO_PANELS):
        data = run_panel(board, _panel(board, title), chosen, sources, end, start=start, end=end)
        charts.append(draw(data, out / f"site-{index}.png", f"site {site}"))
    one = building()
    for name in buildings:
        selection = {"site": VariableValue((site,)), "building": VariableValue((name,))}
        for index, title in enumerate(BUILDING_PANELS):
            data = run_panel(one, _panel(one, title), selection, sources, end, start=start, end=end)
            charts.append(draw(data, out / f"{name}-{index}.png", f"building {name}"))
    return charts


def page(charts: list[Chart], site: str, start: datetime, end: datetime) -> str:
    """The HTML page: every chart in a fixed box (absolute position), its numbers below the grid."""
    boxes, details = [], []
    top0 = 90
    for i, chart in enumerate(charts):
        left = GAP + (i % COLUMNS) * (CHART_W + GAP)
        top = top0 + (i // COLUMNS) * (CHART_H + GAP)
        boxes.append(
            f'<figure class="chart" data-chart="{i}" data-empty="{str(chart.empty).lower()}" '
            f'style="left:{left}px;top:{top}px;width:{CHART_W}px;height:{CHART_H}px">'
            f'<img src="{html.escape(chart.png)}" width="{CHART_W}" height="{CHART_H}" '
            f'alt="{html.escape(chart.title)} ({html.escape(chart.subtitle)})"></figure>'
        )
        items = "".join(f"<li>{html.escape(a)}: {html.escape(b)}</li>" for a, b in chart.rows) or "<li>no data</li>"
        details.append(f"<h3>{html.escape(chart.title)} <small>{html.escape(chart.subtitle)}</small></h3><ul>{items}</ul>")
    rows = (len(charts) + COLUMNS - 1) // COLUMNS
    height = top0 + rows * (CHART_H + GAP)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>greenwire report: {html.escape(site)}</title>
<style>
 body {{ margin: 0; font-family: sans-serif; background: #ffffff; color: #222; }}
 header {{ position: absolute; left: {GAP}px; top: 10px; }}
 h1 {{ font-size: 22px; margin: 0 0 4px 0; }}
 .grid {{ position: relative; height: {height}px; }}
 .chart {{ position: absolute; margin: 0; }}
 .chart img {{ display: block; }}
 .numbers {{ margin: 0 {GAP}px 40px {GAP}px; }}
</style></head><body>
<div class="grid">
<header><h1>greenwire report: site {html.escape(site)}</h1>
<div>{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC; the dashboards' own InfluxQL queries</div></header>
{"".join(boxes)}
</div>
<section class="numbers">{"".join(details)}</section>
</body></html>
"""


def report(sources: Sources, site: str, start: datetime, end: datetime, out: Path) -> Path:
    """Write the charts and ``index.html`` into ``out``; returns the page's path."""
    import matplotlib  # noqa: F401  (the 'report' extra: missing, say so before querying anything)

    charts = collect(sources, site, start, end, out)
    index = out / "index.html"
    index.write_text(page(charts, site, start, end), encoding="utf-8")
    return index
