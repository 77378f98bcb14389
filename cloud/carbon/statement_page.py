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

_STYLE = """@page{size:%(paper)s;margin:14mm 14mm 16mm}
*{box-sizing:border-box}
body{font-family:sans-serif;max-width:60em;margin:1.5em auto;padding:0 1em;line-height:1.35;color:#222}
h1{font-size:1.5em;overflow-wrap:anywhere}h2{font-size:1.15em;margin-top:1.4em}
table{border-collapse:collapse;width:100%%}td{padding:.2em .6em;border-bottom:1px solid #ddd;vertical-align:top}
td:nth-child(2){text-align:right;white-space:nowrap}
code{overflow-wrap:anywhere;word-break:break-all}
.warning{border-left:.35em solid #e02f44;background:#fdecee;padding:.5em .8em;margin:.8em 0}
figure{margin:1em 0;break-inside:avoid}figure img{width:100%%;height:auto;display:block}
figcaption{font-size:.85em;color:#555}.nodata{border:1px dashed #999;padding:2em 1em;text-align:center;color:#555}
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

        png = daily_png(days, timezone)
    except ModuleNotFoundError as exc:
        return ('<figure data-chart="0" data-empty="true"><div class="nodata">No chart: drawing it needs '
                f"greenwire's 'report' extra ({exc.name} is not installed).</div>{caption}</figure>")
    source = "data:image/png;base64," + base64.b64encode(png).decode()
    return (f'<figure data-chart="0" data-empty="false"><img src="{source}" alt="Emissions per day against the '
            f'budget" width="760" height="300">{caption}</figure>')


def page(markdown_text: str, *, title: str, days: Sequence[Day] = (), paper: str = "A4",
         timezone: str = "UTC") -> str:
    """The statement's Markdown (headings, tables, lists, warnings, paragraphs) as a standalone page;
    the chart of ``days`` before the first section when there are days."""
    out = ["<!doctype html><html lang=en><meta charset=utf-8>",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(title)}</title><style>{_STYLE % {'paper': paper}}</style><body>"]
    table: list[str] = []
    placed = not days
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in cells) + "</tr>")
            continue
        if table:
            out.append("<table>" + "".join(table) + "</table>")
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
        out.append("<table>" + "".join(table) + "</table>")
    return "\n".join(out) + "\n</body></html>\n"


def markdown_html(markdown_text: str, *, title: str) -> str:
    """The statement's Markdown as a standalone HTML page, without a chart."""
    return page(markdown_text, title=title)
