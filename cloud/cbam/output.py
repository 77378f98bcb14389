"""A CBAM report as JSON, CSV, XLSX (the communication template's structure), Markdown/HTML (for PDF).

Every form carries one SHA-256 content hash: that of the CSV body, which holds every figure at full
precision in the statements' ``section,item,value,unit`` layout with the hash as its last row, so
``greenwire carbon verify`` checks a CSV report as it checks a statement. The JSON, XLSX and PDF
forms print the same hash.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from greenwire.cloud.cbam.report import METHOD, CbamReport

HASH_ITEM = "content_hash_sha256"
PRODUCT_COLUMNS = (
    ("cn_code", "CN code", ""), ("product", "Product", ""), ("process", "Production process", ""),
    ("activity_t", "Activity level", "t"), ("direct_tco2e", "Attributed direct emissions", "tCO2e"),
    ("indirect_tco2e", "Attributed indirect emissions", "tCO2e"),
    ("precursor_direct_tco2e", "Precursors, direct embedded", "tCO2e"),
    ("precursor_indirect_tco2e", "Precursors, indirect embedded", "tCO2e"),
    ("see_direct", "Specific embedded emissions, direct", "tCO2e/t"),
    ("see_indirect", "Specific embedded emissions, indirect", "tCO2e/t"),
    ("see_total", "Specific embedded emissions, total", "tCO2e/t"),
    ("electricity_mwh", "Electricity consumed", "MWh"), ("electricity_mwh_per_t", "Specific electricity", "MWh/t"),
    ("electricity_factor_g_per_kwh", "Emission factor of electricity", "gCO2/kWh"),
    ("electricity_factor_source", "Source of the electricity factor", ""),
    ("fuel_mwh", "Fuel consumed", "MWh"), ("heat_mwh", "Measurable heat bought in", "MWh"), ("default_share", "Share of embedded emissions from default values", "1"),
    ("estimated_energy_share", "Share of energy estimated", "1"), ("excluded_kwh", "Energy excluded", "kWh"),
    ("rejected_kwh", "Counter rises rejected", "kWh"),
    ("data_quality", "Data-quality flags", ""),
)

TEXT_COLUMNS = frozenset({"electricity_factor_source", "data_quality"})
"""Columns printed as lists under the table, not in it."""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "; ".join(value)
    return str(value)


def rows(report: CbamReport) -> list[tuple[str, str, Any, str]]:
    """Every figure as (section, item, value, unit), in the order the forms print them."""
    out: list[tuple[str, str, Any, str]] = [("report", "method", METHOD, "")]
    out += [("installation", key, value, "") for key, value in report.data.items()]
    for product in report.products:
        section = f"product {product['cn_code']} {product['product']}"
        out += [(section, key, product[key], unit) for key, _, unit in PRODUCT_COLUMNS]
    for process in report.processes:
        out += [(f"process {process['process']}", key, value, _unit(key)) for key, value in process.items()
                if key != "process"]
    for precursor in report.precursors:
        section = f"precursor {precursor['process']} {precursor['cn_code']}"
        out += [(section, key, value, _unit(key)) for key, value in precursor.items() if key != "process"]
    out += [("sources", "source", source, "") for source in report.sources]
    return out


def _unit(key: str) -> str:
    for suffix, unit in (("t_per_t", "t/t"), ("_tco2e", "tCO2e"), ("_mwh", "MWh"), ("_t", "t")):
        if key.endswith(suffix):
            return unit
    return ""


def hashed_csv(figures: Iterable[tuple[str, str, Any, str]]) -> str:
    """Figures as ``section,item,value,unit`` rows at full precision, their SHA-256 as the last row
    (the statements' CSV layout, so ``greenwire carbon verify`` checks it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "item", "value", "unit"])
    for section, item, value, unit in figures:
        writer.writerow([section, item, _cell(value), unit])
    body = buffer.getvalue()
    return body + f"statement,{HASH_ITEM},{hashlib.sha256(body.encode()).hexdigest()},\n"


def csv_hash(text: str) -> str:
    """The hash a ``hashed_csv`` text carries."""
    return text.rsplit(f"statement,{HASH_ITEM},", 1)[1].split(",")[0]


def to_csv(report: CbamReport) -> str:
    """The report's figures at full precision, the content hash as the last row."""
    return hashed_csv(rows(report))


def content_hash(report: CbamReport) -> str:
    return csv_hash(to_csv(report))


def to_json(report: CbamReport) -> str:
    document = {"schema": "greenwire.cbam.v1", "method": METHOD, "installation": report.data,
                "products": report.products, "sources": report.sources, HASH_ITEM: content_hash(report)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_markdown(report: CbamReport) -> str:
    """The report for people (and for printing to PDF): the figures as one table, products as columns."""
    data = report.data
    products = report.products
    out = [f"# CBAM embedded emissions: installation {data['installation']}", "",
           f"{data['name']}, {data['address']} ({data['country']}). Period {data['from']} to {data['to']} "
           "(UTC; end exclusive).", "", f"Method: {METHOD}", "", "## Products", "",
           "| figure | " + " | ".join(f"CN {p['cn_code']}: {p['product']}" for p in products) + " | unit |",
           "|---|" + "---:|" * len(products) + "---|"]
    for key, label, unit in PRODUCT_COLUMNS[3:]:
        if key in TEXT_COLUMNS:
            continue
        out.append(f"| {label} | " + " | ".join(_human(p[key]) for p in products) + f" | {unit} |")
    out += ["", "## Data quality", ""]
    out += [f"- CN {p['cn_code']}: " + ("; ".join(p["data_quality"]) or "every figure from measured energy")
            for p in products]
    out += ["", "## Production processes", "",
            "| process | activity (t) | electricity (MWh) | fuel (MWh) | direct (tCO2e) | indirect (tCO2e) |",
            "|---|---:|---:|---:|---:|---:|"]
    out += [f"| {p['process']} | " + " | ".join(_human(p[k]) for k in ("activity_t", "electricity_mwh", "fuel_mwh",
                                                                      "direct_tco2e", "indirect_tco2e")) + " |"
            for p in report.processes]
    out += ["", "## Purchased precursors", ""]
    out += [f"- {p['process']}: {p['precursor']} (CN {p['cn_code']}, {p['country']}), {_human(p['mass_t'])} t "
            f"({p['t_per_t']:g} t/t), {_human(p['direct_tco2e'])} + {_human(p['indirect_tco2e'])} tCO2e, "
            f"{p['values']}" for p in report.precursors] or ["- none"]
    out += ["", "## Installation", "", "| | value |", "|---|---:|"]
    out += [f"| {key} | {_human(value)} |" for key, value in data.items()]
    out += ["", "## Sources", ""] + [f"- {s}" for s in report.sources]
    out += ["", f"Content hash (SHA-256 of the CSV form): `{content_hash(report)}`", ""]
    return "\n".join(out)


def to_html(report: CbamReport) -> str:
    """The Markdown form as a page (the statements' renderer), figures right-aligned, for PDF."""
    from greenwire.cloud.carbon.statement_page import markdown_html

    page = markdown_html(to_markdown(report), title=f"CBAM {report.site}/{report.installation.id}")
    return str(page).replace("</style>", "td{text-align:right}td:first-child{text-align:left}</style>", 1)


def _human(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return _cell(value) or "none"


def write_xlsx(report: CbamReport, path: Path) -> None:
    """The report as a workbook in the structure of the Commission's communication template for
    installations: a summary of products first, then the installation data, the production
    processes, the purchased precursors, and the sources with the content hash."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    summary = book.active
    summary.title = "Summary_Products"
    summary.append(["Summary of products: specific embedded emissions (CBAM)"])
    summary["A1"].font = Font(bold=True)
    summary.append([f"{label} ({unit})" if unit else label for _, label, unit in PRODUCT_COLUMNS])
    for product in report.products:
        summary.append([_xlsx(product[key]) for key, _, _ in PRODUCT_COLUMNS])
    installation = book.create_sheet("Installation_Data")
    installation.append(["Installation data"])
    installation["A1"].font = Font(bold=True)
    for key, value in report.data.items():
        installation.append([key, _xlsx(value)])
    for title, table in (("Summary_Processes", report.processes), ("Purchased_Precursors", report.precursors)):
        sheet = book.create_sheet(title)
        columns = list(table[0]) if table else []
        sheet.append([f"{c} ({_unit(c)})" if _unit(c) else c for c in columns])
        for row in table:
            sheet.append([_xlsx(row[c]) for c in columns])
    sources = book.create_sheet("Sources")
    sources.append(["Method", METHOD])
    for source in report.sources:
        sources.append(["source", source])
    sources.append([HASH_ITEM, content_hash(report)])
    book.save(path)


def _xlsx(value: Any) -> Any:
    return "; ".join(value) if isinstance(value, list) else value
