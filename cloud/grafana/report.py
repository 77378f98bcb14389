"""``greenwire report``: the main dashboard panels as PNG charts and one HTML page, without Grafana.

The panels are the dashboards' own (:mod:`greenwire.cloud.grafana.dashboards`), their queries run
through :mod:`greenwire.cloud.grafana.evaluate` exactly as for Grafana, for one site and an explicit
range: the portfolio's emissions, intensity, ranking and grid panels for the site's buildings
together, then each building's power and emissions. One panel's query differs on purpose: a
building's grid power comes from its grid meters' power field when they have one
(:func:`power_panel`), since the dashboard's counter-derived power runs at a replay's speed.

Charts are drawn with matplotlib (Agg, no display needed) twice, for a wide and a narrow box
(``<picture>``), in plain units chosen by magnitude (kW or MW, kWh or MWh, kgCO2e or tCO2e; no
offset or scientific notation), against the report's range on a time axis (bars per local day on
a day axis). A panel without values in the range draws no chart: its box says "no data for this
period" and which measurement was empty. The page is a CSS grid that reflows from two or more
columns down to one at a phone's width; each chart scales to its box and lists its numbers.
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from greenwire.cloud.grafana.dashboards import building, portfolio
from greenwire.cloud.grafana.evaluate import PanelData, Sources, run_panel, variable_values
from greenwire.cloud.grafana.macros import VariableValue, calculate_interval, interpolate
from greenwire.cloud.grafana.model import Dashboard, Panel, Query

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from greenwire.cloud.sites import SiteModel

WIDE: Final = (7.6, 3.2)
"""A chart's size in inches at 100 CSS px per inch: two or three to a row on a laptop."""
NARROW: Final = (3.8, 3.4)
"""The same chart for a phone's single column (about 360 CSS px wide)."""
DPI: Final = 200
"""Pixels per inch of the PNGs: twice the CSS size, sharp on high-density screens."""
NARROW_MEDIA: Final = "(max-width: 640px)"
PORTFOLIO_PANELS: Final = ("Emissions per hour", "Live carbon intensity", "Ranking: kgCO2e per m² in the period",
                           "Grid carbon intensity per zone")
BUILDING_PANELS: Final = ("Grid power", "Emissions per day: location- and market-based")
NO_DATA: Final = "No data for this period"
_UNIT_LABELS: Final = {"kwatt": "kW", "kwatth": "kWh", "percent": "%", "s": "s", "ms": "ms", "none": ""}
# Larger units by magnitude: (label, factor from the panel's unit, used from this many of the panel's
# unit). Power and energy change unit from 10,000 (a building's 1,200 kW stays in kW, as on its
# meter's display); emissions from 1,000 kgCO2e, the tonnes that carbon accounts are kept in.
_LARGER: Final[dict[str, tuple[tuple[str, float, float], ...]]] = {
    "W": (("kW", 1e3, 1e4), ("MW", 1e6, 1e7)),
    "kW": (("MW", 1e3, 1e4), ("GW", 1e6, 1e7)),
    "kWh": (("MWh", 1e3, 1e4), ("GWh", 1e6, 1e7)),
    "kgCO2e": (("tCO2e", 1e3, 1e3), ("ktCO2e", 1e6, 1e6)),
    "kgCO2e/h": (("tCO2e/h", 1e3, 1e3),),
}
_COLORS: Final[dict[str, str]] = {"green": "#56a64b", "yellow": "#f2cc0c", "orange": "#ff9830", "red": "#e02f44", "blue": "#3274d9"}
# Grafana's classic palette, in its order: series keep their colour from chart to chart.
_PALETTE: Final = ("#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0")
_HINTS: Final = {
    "grid_intensity": "import a series with `greenwire import grid` or run the live feed",
    "carbon": "run `greenwire carbon backfill` for these days",
    "carbon_daily": "run `greenwire carbon backfill` for these days",
    "carbon_live": "`greenwire carbon run` writes it every minute; it covers the last 15 measured minutes",
    "readings": "no meter of the building was read in this period",
}


@dataclass(frozen=True, slots=True)
class Chart:
    """One panel of the page: its title, what it shows, its PNGs (none when empty) and its numbers."""

    title: str
    subtitle: str
    source: str
    """One sentence: where the figures come from."""
    png: str | None
    png_narrow: str | None
    unit: str
    """The unit the chart and its numbers are in (after scaling by magnitude)."""
    rows: tuple[tuple[str, str], ...]
    empty: bool
    note: str = ""
    """Why a chart is empty: the measurement that had nothing in the period, and what fills it."""
    size: tuple[int, int] = (round(WIDE[0] * 100), round(WIDE[1] * 100))
    size_narrow: tuple[int, int] = (round(NARROW[0] * 100), round(NARROW[1] * 100))
    """The PNGs' sizes in CSS px (the page's ``width``/``height`` attributes: no reflow as they load)."""


def unit_label(unit: str) -> str:
    """A Grafana unit id as a person reads it."""
    if unit.startswith("suffix:"):
        return unit.split(":", 1)[1].strip()
    return _UNIT_LABELS.get(unit, unit)


def scaled_unit(unit: str, peak: float) -> tuple[str, float]:
    """(label, divisor) for values up to ``peak`` in ``unit``: kW below 10,000 kW, then MW, ..."""
    chosen = (unit, 1.0)
    for label, factor, start in _LARGER.get(unit, ()):
        if abs(peak) >= start:
            chosen = (label, factor)
    return chosen


def amount(value: float, unit: str) -> str:
    """One figure in the unit its own magnitude calls for: ``15.2 tCO2e``, ``840 kW``."""
    label, divisor = scaled_unit(unit, value)
    return f"{number(value / divisor)} {label}".rstrip()


def number(value: float) -> str:
    """A figure as a person reads it: thousands separated, three significant digits below 100."""
    size = abs(value)
    if size >= 100 or value == 0:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:,.1f}"
    if size >= 1:
        return f"{value:,.2f}"
    return f"{value:,.{min(6, 2 - math.floor(math.log10(size)))}f}"


@dataclass(frozen=True, slots=True)
class _Series:
    label: str
    points: tuple[tuple[datetime, float], ...]


def _label(series: dict[str, Any], column: str, single: bool) -> str:
    tags = series.get("tags") or {}
    name = " ".join(str(v) for v in tags.values() if v)
    if single:
        return name or column
    return f"{name} {column}".strip()


def _timeseries(data: PanelData) -> list[_Series]:
    out = []
    aliases = [q.alias for q in data.panel.queries if q.alias and "$" not in q.alias]
    for series in data.series:
        for index, column in enumerate(series["columns"][1:], start=1):
            points = tuple((datetime.fromtimestamp(r[0] / 1000, UTC), float(r[index])) for r in series["values"]
                           if isinstance(r[index], int | float))
            if not points:
                continue
            label = _label(series, column, single=len(series["columns"]) == 2)
            if label == column and len(aliases) == 1:
                label = aliases[0]  # Grafana shows the query's alias for a series without tags
            out.append(_Series(label, points))
    return out


def _bars(data: PanelData) -> list[tuple[str, float]]:
    bars = []
    for series in data.series:
        for row in series["values"]:
            value = next((v for v in row[1:] if isinstance(v, int | float)), None)
            if value is not None:
                bars.append((_label(series, series["columns"][1], True), float(value)))
    return sorted(bars, key=lambda b: b[1])


def _threshold_color(panel: Panel, value: float) -> str:
    chosen = panel.thresholds[0].color
    for step in panel.thresholds[1:]:
        if step.value is not None and value >= step.value:
            chosen = step.color
    return _COLORS.get(chosen, chosen)


def _measurements(data: PanelData) -> list[str]:
    found = []
    for text in data.sent:
        for name in re.findall(r'FROM\s+"([A-Za-z0-9_]+)"', text):
            if name not in found:
                found.append(name)
    return found


def _empty_note(data: PanelData, start: datetime, end: datetime) -> str:
    names = _measurements(data)
    where = " or ".join(f"`{n}`" for n in names) or "the panel's query"
    hints = "; ".join(dict.fromkeys(_HINTS[n] for n in names if n in _HINTS))
    note = f"Nothing in {where} between {when(start)} and {when(end)}" + (f" ({hints})." if hints else ".")
    step = {"1h": "hour", "1d": "day"}.get(data.panel.interval or "")
    if step and data.panel.bars:
        # A period's figures are stamped at its start: one starting before --from is left out.
        aligned = start.minute == start.second == start.microsecond == 0 and (step == "hour" or start.hour == 0)
        if not aligned or end - start < (timedelta(hours=1) if step == "hour" else timedelta(days=1)):
            note += (f" Each {step}'s figures are stamped at the start of the {step}: begin the period at "
                     f"{'a full hour' if step == 'hour' else 'midnight'} to include the {step} under way.")
    return note


def when(at: datetime) -> str:
    """A time in words, UTC: ``2 Dec 2026 07:30 UTC``."""
    at = at.astimezone(UTC)
    return f"{at.day} {at:%b %Y %H:%M} UTC"


class _PlainFormatter:
    """Tick labels without offset or scientific notation, with as many decimals as the tick step needs."""

    @staticmethod
    def install(axis: Any) -> None:
        from matplotlib import ticker

        class Plain(ticker.Formatter):
            decimals = 0

            def set_locs(self, locs: Sequence[float]) -> None:
                steps = [abs(b - a) for a, b in itertools.pairwise(locs) if b != a]
                step = min(steps) if steps else 1.0
                self.decimals = max(0, min(6, -math.floor(math.log10(step)))) if step < 1 else 0

            def __call__(self, x: float, pos: int | None = None) -> str:
                return f"{x:,.{self.decimals}f}"

        axis.set_major_formatter(Plain())


def _daily(panel: Panel) -> bool:
    return bool(panel.bars) and panel.interval == "1d"


def _day_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if last < end:
        last += timedelta(days=1)
    return first, last


def _draw_time(ax: Axes, data: PanelData, series: list[_Series], divisor: float, narrow: bool) -> None:
    import matplotlib.dates as mdates

    panel = data.panel
    daily = _daily(panel)
    if panel.bars:
        times = sorted({t for s in series for t, _ in s.points})
        steps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        slot = timedelta(days=1) if daily else timedelta(seconds=min(steps) if steps else 3600)
        width = slot * 0.8
        bottoms: dict[datetime, float] = {}
        for index, one in enumerate(series):
            color = _PALETTE[index % len(_PALETTE)]
            # A local day's point is its local midnight (UTC time); its bar is drawn over the middle of
            # that day, which is the same calendar day in UTC for any zone within 12 hours of it.
            xs = [t + slot / 2 for t, _ in one.points]
            ys = [v / divisor for _, v in one.points]
            if panel.stacked:
                base = [bottoms.get(t, 0.0) for t, _ in one.points]
                ax.bar(xs, ys, width=width, bottom=base, label=one.label, color=color)  # type: ignore[arg-type]
                for (t, _), y in zip(one.points, ys, strict=True):
                    bottoms[t] = bottoms.get(t, 0.0) + y
            else:  # side by side, as Grafana draws bars that are not stacked
                share = width / len(series)
                shifted = [x + share * (index - (len(series) - 1) / 2) for x in xs]
                ax.bar(shifted, ys, width=share, label=one.label, color=color)  # type: ignore[arg-type]
    else:
        for index, one in enumerate(series):
            # A few points in a long period (minutes of data in a day) would be a speck: mark each one.
            sparse = len(one.points) < 60
            ax.plot([t for t, _ in one.points], [v / divisor for _, v in one.points],  # type: ignore[arg-type]
                    label=one.label, linewidth=1.5, color=_PALETTE[index % len(_PALETTE)],
                    marker="o" if sparse else None, markersize=3)
    if daily:
        first, last = _day_range(data.start, data.end)
        ax.set_xlim(first, last)  # type: ignore[arg-type]
        days = (last - first).days
        if days <= (7 if narrow else 14):
            centres = [first + timedelta(days=i, hours=12) for i in range(days)]
            ax.set_xticks(centres)  # type: ignore[arg-type]
            ax.set_xticklabels([f"{c:%a} {c.day} {c:%b}" for c in centres])
        else:
            locator = _date_locator(narrow)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
        ax.set_xlabel("local day", fontsize=8)
    else:
        ax.set_xlim(data.start, data.end)  # type: ignore[arg-type]
        locator = _date_locator(narrow)
        ax.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
            locator, show_offset=False, formats=["%Y", "%b", "%-d %b", "%H:%M", "%H:%M", "%S.%f"],
            zero_formats=["", "%Y", "%b", "%-d %b", "%H:%M", "%H:%M"])
        ax.xaxis.set_major_formatter(formatter)
        ax.set_xlabel("UTC", fontsize=8)


def _date_locator(narrow: bool) -> Any:
    """Date ticks for a chart: 3 to 6 (narrow) or 9. Hours and days get every interval a range of a
    few days may need: with matplotlib's defaults some lengths (a narrow chart of about three days)
    fit no interval, and it falls back to every 12th unit with a warning."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=6 if narrow else 9)  # type: ignore[no-untyped-call]
    locator.intervald[mdates.HOURLY] = [1, 2, 3, 4, 6, 8, 12, 24]
    locator.intervald[mdates.DAILY] = [1, 2, 3, 7, 14, 21]
    return locator


def _size(size: tuple[float, float], bars: int) -> tuple[float, float]:
    """A bar-gauge chart is as tall as its bars need (two buildings do not fill a whole box)."""
    return (size[0], min(size[1], 1.0 + 0.45 * bars)) if bars else size


def _render(data: PanelData, path: Path, size: tuple[float, float], unit: str, divisor: float,
            series: list[_Series], bars: list[tuple[str, float]], narrow: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panel = data.panel
    fig, ax = plt.subplots(figsize=size, dpi=DPI, layout="constrained")
    try:
        ax.tick_params(labelsize=8.5)
        if panel.kind == "timeseries":
            _draw_time(ax, data, series, divisor, narrow)
            _PlainFormatter.install(ax.yaxis)
            ax.set_ylabel(unit, fontsize=8)
            if panel.min is not None:
                ax.set_ylim(bottom=panel.min / divisor)
            columns = 2 if narrow else 4
            ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=min(columns, len(series)),
                      frameon=False, borderaxespad=0.2, handlelength=1.2)
        else:
            names = [name for name, _ in bars]
            values = [value / divisor for _, value in bars]
            ax.barh(names, values, color=[_threshold_color(panel, v) for _, v in bars], height=0.65)
            _PlainFormatter.install(ax.xaxis)
            ax.set_xlabel(unit, fontsize=8)
            ax.set_xlim(left=0)
            for y, value in enumerate(values):
                ax.annotate(f" {number(value)}", (value, y), va="center", fontsize=8)
            ax.margins(x=0.18)
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)


def draw(data: PanelData, out: Path, stem: str, subtitle: str, source: str = "") -> Chart:
    """Draw one panel's data into ``out`` as ``stem.png`` and ``stem-narrow.png``; no PNG when it is empty."""
    panel = data.panel
    base = unit_label(panel.unit)
    series = _timeseries(data) if panel.kind == "timeseries" else []
    bars = [] if panel.kind == "timeseries" else _bars(data)
    source = source or panel.description
    if not series and not bars:
        for stale in (out / f"{stem}.png", out / f"{stem}-narrow.png"):  # an earlier run's picture
            stale.unlink(missing_ok=True)
        return Chart(panel.title, subtitle, source, None, None, base, (), True, _empty_note(data, data.start, data.end))
    if panel.stacked and series:
        totals: dict[datetime, float] = {}
        for one in series:
            for t, v in one.points:
                totals[t] = totals.get(t, 0.0) + v
        peak = max(abs(v) for v in totals.values())
    else:
        peak = max([abs(v) for s in series for _, v in s.points] + [abs(v) for _, v in bars])
    unit, divisor = scaled_unit(base, peak)
    rows: list[tuple[str, str]] = []
    for one in series:
        ys = [v for _, v in one.points]
        if panel.bars:
            per = "day" if _daily(panel) else "hour" if panel.interval == "1h" else "bar"
            rows.append((one.label, f"total {amount(sum(ys), base)}; highest {per} {amount(max(ys), base)}"))
        else:
            rows.append((one.label, f"last {amount(ys[-1], base)}; mean {amount(sum(ys) / len(ys), base)}; "
                                    f"max {amount(max(ys), base)}"))
    for name, value in reversed(bars):
        rows.append((name, amount(value, base)))
    wide, narrow = out / f"{stem}.png", out / f"{stem}-narrow.png"
    sizes = _size(WIDE, len(bars)), _size(NARROW, len(bars))
    _render(data, wide, sizes[0], unit, divisor, series, bars, narrow=False)
    _render(data, narrow, sizes[1], unit, divisor, series, bars, narrow=True)
    px = [(round(w * 100), round(h * 100)) for w, h in sizes]
    return Chart(panel.title, subtitle, source, wide.name, narrow.name, unit, tuple(rows), False, "", px[0], px[1])


def _panel(board: Dashboard, title: str) -> Panel:
    return next(p for p in board.panel_list() if p.title == title)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _meters_filter(meters: Sequence[tuple[str, str]]) -> str:
    return " OR ".join(f"(\"gateway\" = '{_quote(g)}' AND \"device\" = '{_quote(d)}')" for g, d in meters)


def power_panel(panel: Panel, meters: Sequence[tuple[str, str]]) -> Panel:
    """The dashboard's "Grid power" panel, reading the meters' power field instead of their counters.

    Not the dashboard's query, on purpose: the dashboard derives power from the energy counters'
    change per minute, which is the building's real power only when the counters advance in real
    time; a replay (the demo, the simulators' ``--speed``) multiplies it by its speed. The power
    field is the meter's own reading. Each meter's mean per interval, summed over the building's
    grid-import meters (``meters``: (gateway, device) pairs from the site model), in kW. The meters
    are chosen by gateway and device, not by the ``building`` tag, which only an ingestor given the
    site model writes (the demo's does not).
    """
    which = _meters_filter(meters)
    sql = ('SELECT sum("kw") FROM (SELECT mean("active_power_w") / 1000 AS "kw" FROM "readings" '
           f'WHERE "site" =~ /^$site$/ AND ({which}) AND $timeFilter '
           'GROUP BY time($__interval), "gateway", "device" fill(none)) '
           'WHERE $timeFilter GROUP BY time($__interval) fill(null)')
    return replace(panel, queries=(Query(sql, alias="grid import"),))


def _powered(sources: Sources, panel: Panel, selection: Mapping[str, VariableValue],
             meters: Sequence[tuple[str, str]], start: datetime, end: datetime) -> bool:
    """True if every one of ``meters`` has a power reading in the range."""
    which = _meters_filter(meters)
    text = interpolate(f'SELECT count("active_power_w") FROM "readings" WHERE "site" =~ /^$site$/ '
                       f'AND ({which}) AND $timeFilter GROUP BY "gateway", "device"', start=start, end=end,
                       variables=selection, interval=calculate_interval(start, end))
    found = {(s.get("tags", {}).get("gateway"), s.get("tags", {}).get("device"))
             for s in sources[panel.queries[0].datasource](text) if any(r[1] for r in s["values"])}
    return set(meters) <= found


def grid_meters(model: SiteModel, site: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """Building id -> its grid-import meters as (gateway, device), for one site of the model."""
    return {b.id: tuple((m.gateway, m.device) for m in b.meters_with("grid_import"))
            for s in model.sites if s.id == site for b in s.buildings}



def collect(sources: Sources, site: str, start: datetime, end: datetime, out: Path,
            meters: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> list[Chart]:
    """Run and draw the report's panels into ``out``; returns the charts in page order.

    ``meters``: each building's grid-import meters (:func:`grid_meters`); a building whose meters
    all have a power reading in the range shows their power, any other its counters' (the dashboard's).
    """
    out.mkdir(parents=True, exist_ok=True)
    charts: list[Chart] = []
    board = portfolio()
    chosen = {"site": VariableValue((site,))}
    buildings = variable_values(board.variables[1], chosen, sources, end)
    if not buildings:
        raise LookupError(f"no building of site {site!r} has carbon results in InfluxDB for the period: store them "
                          f"with `greenwire carbon backfill --site {site} --from {start:%Y-%m-%d} "
                          f"--to {end + timedelta(days=1):%Y-%m-%d}` (add --sites FILE if the site model that "
                          "holds the site is not the default one)")
    chosen["building"] = VariableValue(tuple(buildings), multi=True, include_all=True)
    for index, title in enumerate(PORTFOLIO_PANELS):
        data = run_panel(board, _panel(board, title), chosen, sources, end, start=start, end=end)
        charts.append(draw(data, out, f"site-{index}", f"site {site}"))
    one = building()
    for name in buildings:
        selection = {"site": VariableValue((site,)), "building": VariableValue((name,))}
        for index, title in enumerate(BUILDING_PANELS):
            panel, source = _panel(one, title), ""
            if title == "Grid power":
                own = tuple((meters or {}).get(name, ()))
                if own and _powered(sources, panel, selection, own, start, end):
                    panel = power_panel(panel, own)
                    source = (f"Mean active power of the grid-import meter(s) {', '.join(d for _, d in own)} "
                              "(their power field).")
                else:
                    source = ("From the energy counters (kWh per minute x 60): "
                              + ("no site model names the building's grid meters."
                                 if not own else "its grid meters have no power field in this period."))
            data = run_panel(one, panel, selection, sources, end, start=start, end=end)
            charts.append(draw(data, out, f"{name}-{index}", f"building {name}", source))
    return charts


def _figure(index: int, chart: Chart) -> str:
    e = html.escape
    head = (f'<figure class="chart" data-chart="{index}" data-empty="{str(chart.empty).lower()}">'
            f'<h3>{e(chart.title)}</h3><p class="sub">{e(chart.unit) if not chart.empty else ""}</p>')
    if chart.empty or chart.png is None or chart.png_narrow is None:
        body = f'<div class="nodata" role="img" aria-label="{NO_DATA}"><strong>{NO_DATA}</strong>' \
               f'<span>{e(chart.note)}</span></div>'
    else:
        wide, narrow = chart.size, chart.size_narrow
        body = (f'<picture><source media="{NARROW_MEDIA}" srcset="{e(chart.png_narrow)}" '
                f'width="{narrow[0]}" height="{narrow[1]}">'
                f'<img src="{e(chart.png)}" width="{wide[0]}" height="{wide[1]}" '
                f'alt="{e(chart.title)} ({e(chart.subtitle)})"></picture>')
    items = "".join(f"<li><b>{e(a)}</b> {e(b)}</li>" for a, b in chart.rows)
    caption = (f"<figcaption>{f'<ul>{items}</ul>' if items else ''}"
               f'<p class="source">{e(chart.source)}</p></figcaption>')
    return head + body + caption + "</figure>"


_CSS: Final = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; background: #f4f5f7; }
header, main { max-width: 1600px; margin: 0 auto; padding: 16px clamp(10px, 2.5vw, 28px); }
header { padding-bottom: 0; }
h1 { font-size: 1.45rem; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 22px 0 10px; }
header p { margin: 0; color: #57606a; }
.grid { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(min(100%, 36rem), 1fr)); }
.chart { margin: 0; min-width: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 6px;
         padding: 12px 12px 10px; }
.chart h3 { font-size: 1rem; margin: 0; }
.chart .sub { margin: 0 0 6px; color: #57606a; font-size: .85rem; }
.chart img { display: block; width: 100%; height: auto; }
.nodata { display: flex; flex-direction: column; justify-content: center; align-items: center; gap: 6px;
          aspect-ratio: 76 / 32; padding: 16px; text-align: center; color: #57606a; background: #f6f8fa;
          border: 1px dashed #afb8c1; border-radius: 4px; }
.nodata strong { color: #1f2328; font-size: 1.05rem; }
.nodata span { font-size: .85rem; max-width: 34rem; }
figcaption { font-size: .85rem; overflow-wrap: anywhere; }
figcaption ul { margin: 8px 0 0; padding-left: 1.1rem; }
figcaption .source { margin: 6px 0 0; color: #57606a; }
@media (max-width: 640px) { .nodata { aspect-ratio: 38 / 34; } body { font-size: 14px; } }
"""


def page(charts: list[Chart], site: str, start: datetime, end: datetime) -> str:
    """The HTML page: the site's charts, then each building's, in a grid that reflows to one column."""
    sections: dict[str, list[str]] = {}
    for i, chart in enumerate(charts):
        sections.setdefault(chart.subtitle, []).append(_figure(i, chart))
    body = "".join(f'<section><h2>{html.escape(name[0].upper() + name[1:])}</h2><div class="grid">'
                   f'{"".join(figures)}</div></section>' for name, figures in sections.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>greenwire report: {html.escape(site)}</title>
<style>{_CSS}</style></head><body>
<header><h1>greenwire report: site {html.escape(site)}</h1>
<p>{when(start)} to {when(end)}; the dashboards' own InfluxQL queries, run against InfluxDB.</p></header>
<main>{body}</main>
</body></html>
"""


def report(sources: Sources, site: str, start: datetime, end: datetime, out: Path,
           sites: SiteModel | None = None) -> Path:
    """Write the charts and ``index.html`` into ``out``; returns the page's path.

    ``sites``: the site model (its grid-import meters give the buildings' power); without one, power
    comes from the counters. The command passes the one the carbon commands find.
    """
    import matplotlib  # noqa: F401  (the 'report' extra: missing, say so before querying anything)

    meters = grid_meters(sites, site) if sites is not None else {}
    charts = collect(sources, site, start, end, out, meters)
    index = out / "index.html"
    index.write_text(page(charts, site, start, end), encoding="utf-8")
    return index
