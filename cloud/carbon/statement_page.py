"""A statement's HTML page: its hashed Markdown as HTML, the chart of its days, sized for its paper (pure).

The page is one self-contained file (the chart is an inline PNG), readable from a phone's width
to a laptop's, and printed by Chromium on the building's paper (``@page size``: A4 or US Letter,
:mod:`greenwire.cloud.carbon.regional`). The chart sits after the warnings, before the figures;
without the ``report`` extra (matplotlib) or without a day of readings its box says why.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

from greenwire.cloud.carbon.statement import Day

NARROW_MEDIA = "(max-width: 640px)"

_STYLE = """@page{size:%(paper)s;margin:14mm 14mm 16mm}
*{box-sizing:border-box}
body{font-family:sans-serif;max-width:60em;margin:1.5em auto;padding:0 1em;line-height:1.35;color:#222}
h1{font-size:1.5em;overflow-wrap:anywhere}h2{font-size:1.15em;margin-top:1.4em}
table{border-collapse:collapse;width:100%%}
td{padding:.2em .6em;border-bottom:1px solid #ddd;vertical-align:top}td:first-child{overflow-wrap:anywhere}
td:nth-child(2){text-align:right}tr,li{break-inside:avoid}
table.figures{table-layout:fixed}table.figures td:nth-child(2){width:9.5em}table.figures td:nth-child(3){width:8.5em}
h2{break-after:avoid}ul{padding-left:1.2em}
code{overflow-wrap:anywhere;word-break:break-all}
.warning{border-left:.35em solid #e02f44;background:#fdecee;padding:.5em .8em;margin:.8em 0}
figure{margin:1em 0;break-inside:avoid}figure img{width:100%%;height:auto;display:block}
figcaption{font-size:.85em;color:#555}.nodata{border:1px dashed #999;padding:2em 1em;text-align:center;color:#555}
@media (max-width: 640px){body{padding:0 .6em}table.figures{table-layout:auto}td{padding:.2em .3em}
table.figures td:nth-child(2),table.figures td:nth-child(3){width:auto}}
@media print{body{margin:0;max-width:none;padding:0;font-size:10pt}}"""


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", escaped)


def figure(days: Sequence[Day], timezone: str = "UTC") -> str:
    """The chart of the period's days against the budget, or a box that says why there is none."""
    caption = "<figcaption>Emissions per local day (bars) against the budget per day (line).</figcaption>"
    if not any(d.kgco2e is not None for d in days):
        return ('<figure data-chart="0" data-empty="true"><div class="nodata">No data for this period: no meter '
                f"of the building was read on any of its days.</div>{caption}</figure>")
    try:
        from greenwire.cloud.carbon.statement_chart import daily_png

        wide, narrow = daily_png(days, timezone), daily_png(days, timezone, narrow=True)
    except ModuleNotFoundError as exc:
        return ('<figure data-chart="0" data-empty="true"><div class="nodata">No chart: drawing it needs '
                f"greenwire's 'report' extra ({exc.name} is not installed).</div>{caption}</figure>")

    def uri(png: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(png).decode()

    # A phone gets the narrow drawing (larger type for its width); a laptop and the printed page the wide one.
    return (f'<figure data-chart="0" data-empty="false"><picture><source media="{NARROW_MEDIA}" '
            f'srcset="{uri(narrow)}" width="380" height="340"><img src="{uri(wide)}" alt="Emissions per day '
            f'against the budget" width="760" height="300"></picture>{caption}</figure>')


def page(markdown_text: str, *, title: str, days: Sequence[Day] = (), paper: str = "A4",
         timezone: str = "UTC", columns: bool = True) -> str:
    """The statement's Markdown (headings, tables, lists, warnings, paragraphs) as a standalone page;
    the chart of ``days`` before the first section when there are days. ``columns``: every table is
    the statement's (item, value, unit), so all of them share one width for value and unit."""
    out = ["<!doctype html><html lang=en><meta charset=utf-8>",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title><style>{_STYLE % {'paper': paper}}</style><body>"]
    table: list[str] = []
    opening = ' class="figures"' if columns else ""
    placed = not days
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if table:
            out.append(f"<table{opening}>" + "".join(table) + "</table>")
            table = []
        if line.startswith("## ") and not placed:
            out.append(figure(days, timezone))
            placed = True
        if line.startswith("# "):
            out.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("> "):
            out.append(f'<p class="warning" role="alert">{_inline(line[2:])}</p>')
        elif line.startswith("- "):
            out.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    if table:
        out.append(f"<table{opening}>" + "".join(table) + "</table>")
    return "\n".join(_lists(out)) + "\n</body></html>\n"


def _lists(parts: list[str]) -> list[str]:
    """Each run of list items inside one ``<ul>``."""
    out: list[str] = []
    for i, part in enumerate(parts):
        item = part.startswith("<li>")
        if item and not (i and parts[i - 1].startswith("<li>")):
            out.append("<ul>")
        out.append(part)
        if item and not (i + 1 < len(parts) and parts[i + 1].startswith("<li>")):
            out.append("</ul>")
    return out


def markdown_html(markdown_text: str, *, title: str) -> str:
    """Any statement-like Markdown (tables of any width) as a standalone HTML page, without a chart."""
    return page(markdown_text, title=title, columns=False)
