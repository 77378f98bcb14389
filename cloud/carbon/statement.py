"""Auditable carbon statements: one set of figures, rendered as Markdown, HTML, CSV or PDF (pure).

A statement is built once from a building's :class:`~greenwire.cloud.carbon.report.Account` as a list of
:class:`Line` (section, item, value, unit). Every format carries a SHA-256 content hash of
everything above its hash line, so a copy can be checked against the original
(:mod:`greenwire.cloud.carbon.seal`, ``greenwire carbon verify FILE``): Markdown and CSV hash their
own text; the HTML page and the PDF are rendered from the hashed Markdown and carry the same hash.

Warnings open the statement (:mod:`greenwire.cloud.carbon.statement_warnings`): over budget, and
data quality when the share of the grid energy that was not measured as it was used is above the
threshold. The period is written in words in the building's time; the CSV keeps ISO 8601 bounds.

Notes close the figures: the anomalies ``greenwire anomalies run`` found in the building's meters
during the period (:class:`Note`, read by :func:`greenwire.cloud.carbon.fetch.fetch_notes`), each
with its kind, period, meter, the energy and kgCO2e it cost and the detector's confidence. They
explain the figures and are not subtracted from them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from greenwire.cloud.carbon.regional import moment_words, period_words
from greenwire.cloud.carbon.report import Account
from greenwire.cloud.carbon.seal import HASH_CSV_ITEM, HASH_MD, content_hash, sha256
from greenwire.cloud.carbon.seal import check_text as _check_text
from greenwire.cloud.carbon.statement_warnings import (
    QUALITY_FIELDS,
    QUALITY_THRESHOLD_PCT,
    unmeasured_share_pct,
)
from greenwire.cloud.carbon.statement_warnings import warnings as opening_warnings
from greenwire.cloud.sites import Building

Format = Literal["md", "html", "csv"]

METHOD = (
    "GHG Protocol corporate standard; Scope 2 guidance (location-based and, where instruments "
    "are recorded or the jurisdiction publishes a residual mix, market-based). Energy from "
    "cumulative counter deltas; each minute's grid energy multiplied by the grid intensity of "
    "that minute (an imported series, else the static factor of the building's factor set for "
    "the reporting year)."
)

__all__ = ["QUALITY_FIELDS", "QUALITY_THRESHOLD_PCT", "Day", "Header", "Line", "Note", "lines", "markdown", "render",
           "to_csv", "unmeasured_share_pct", "verify", "warnings"]


@dataclass(frozen=True, slots=True)
class Line:
    """One figure of a statement."""

    section: str
    item: str
    value: float | str | None
    unit: str


@dataclass(frozen=True, slots=True)
class Header:
    site: str
    building: str
    start: datetime
    end: datetime
    made: datetime
    version: str


KIND_WORDS = {
    "baseload_drift": "baseload drift (night and off-day minimum rising)",
    "out_of_hours": "out-of-hours running",
    "step_change": "consumption step change",
    "frozen_counter": "frozen counter (energy not measured)",
    "stopped_reporting": "meter stopped reporting (energy not measured)",
    "submeter_mismatch": "sub-meters no longer add up to the main meter",
}
NOTES_INTRO = ("Anomalies found in the building's meters during the period (greenwire anomalies run): the energy "
               "each cost above the expected load, or left unmeasured, at the factor in force. They are not "
               "subtracted from the figures above.")


@dataclass(frozen=True, slots=True)
class Note:
    """One anomaly finding that overlaps the statement's period."""

    kind: str
    start: datetime
    end: datetime
    meter: str
    kwh: float
    kgco2e: float
    confidence: float
    detail: str

    def words(self, timezone: str) -> str:
        kind = KIND_WORDS.get(self.kind, self.kind.replace("_", " "))
        return (f"{kind[0].upper()}{kind[1:]}, {period_words(self.start, self.end, timezone)}, meter {self.meter}: "
                f"{self.kwh:,.1f} kWh (confidence {self.confidence:.2f}). {self.detail}".rstrip(". ") + ".")


@dataclass(frozen=True, slots=True)
class Day:
    """One local day of the period: its emissions (None without readings) and its share of the budget."""

    start: datetime
    kgco2e: float | None
    budget_kgco2e: float | None


def warnings(account: Account, threshold_pct: float = QUALITY_THRESHOLD_PCT) -> list[Line]:
    """The warnings a statement opens with (:mod:`greenwire.cloud.carbon.statement_warnings`)."""
    return [Line("warning", item, sentence, "%") for item, sentence in opening_warnings(account, threshold_pct)]


def lines(account: Account, building: Building, threshold_pct: float = QUALITY_THRESHOLD_PCT,
          notes: Sequence[Note] = ()) -> list[Line]:
    """The statement's figures, in the order they are printed (its warnings first, its notes last)."""

    rows = [
        *warnings(account, threshold_pct),
        Line("energy", "grid import", account.grid_import_kwh, "kWh"),
        Line("energy", "of which estimated (timing spread over a gap or since a counter reset)",
             account.estimated_kwh, "kWh"),
        Line("energy", "excluded (replaced or re-based counters: the meter's recent rate, not counted)",
             account.excluded_kwh, "kWh"),
        Line("energy", "rejected counter rises (implausible, not energy, not counted)", account.rejected_kwh, "kWh"),
        Line("energy", "PV generation", account.pv_generation_kwh, "kWh"),
        Line("energy", "PV self-consumption (zero emissions)", account.pv_self_consumption_kwh, "kWh"),
        Line("energy", "grid export (reported, not netted)", account.grid_export_kwh, "kWh"),
        Line("energy", "gas", account.gas_kwh, "kWh"),
        *_heat_energy(account),
        Line("emissions", "Scope 1 (gas)", account.scope1_kgco2e, "kgCO2e"),
        Line("emissions", "Scope 2, location-based (energy x intensity of the minute it was used)",
             account.scope2_location_kgco2e, "kgCO2e"),
        Line("emissions", "Scope 2, market-based",
             "not reported (no instruments recorded)" if account.scope2_market_kgco2e is None
             else account.scope2_market_kgco2e, "kgCO2e"),
        *_heat_emissions(account),
        *_td_losses(account),
        Line("emissions", "grid intensity of the energy used", account.intensity_g_per_kwh, "gCO2e/kWh"),
        Line("emissions", "per floor area, annualised", account.kgco2e_per_m2_year, "kgCO2e/m2/year"),
        Line("budget", "budget for the period", account.budget_kgco2e, "kgCO2e"),
        Line("budget", "budget used", account.budget_used_pct, "%"),
        Line("data quality", "estimated share of grid import", account.estimated_share_pct, "%"),
        Line("data quality", "excluded share of grid import (excluded / counted + excluded)",
             account.excluded_share_pct, "%"),
    ]
    rows += [Line("factors", "factor", source, "") for source in sorted(account.factors)]
    rows += factor_set_lines(account)
    rows.append(Line("factors", "factor table version", account.factor_table_version, ""))
    rows += [Line("boundary", "meter", f"{m.gateway}/{m.device}", m.role) for m in building.meters]
    rows += [Line("notes", n.words(building.timezone), n.kgco2e, "kgCO2e") for n in notes]
    return rows


def factor_set_lines(account: Account) -> list[Line]:
    """The published factor sets the statement rests on: jurisdiction and reporting year (and how
    they were chosen), each set with its version and what it priced, and every stand-in edition."""
    if account.jurisdiction is None and not account.factor_sets:
        return [Line("factors", "factor set", f"none: the zone is outside the factor library's jurisdictions "
                     f"(reporting year {account.reporting_year})", "")]
    rows = [Line("factors", "jurisdiction and reporting year",
                 f"{account.jurisdiction}, {account.reporting_year} ({account.factor_choice})", "")]
    rows += [Line("factors", "factor set", label, "") for label in account.factor_sets]
    rows += [Line("factors", "factor set note", note, "") for note in account.factor_notes]
    if account.factor_library_version:
        rows.append(Line("factors", "factor library version", account.factor_library_version, ""))
    return rows


def _td_losses(account: Account) -> list[Line]:
    if account.scope3_td_kgco2e is None:
        return []
    return [Line("emissions", "Scope 3, T&D losses of the grid import (category 3; not in the totals)",
                 account.scope3_td_kgco2e, "kgCO2e")]


def _heat_energy(account: Account) -> list[Line]:
    if account.scope2_heat_kgco2e is None:
        return [Line("energy", "district heat (energy only: no heat-network factor recorded)", account.heat_kwh, "kWh")]
    return [Line("energy", "district heat", account.heat_kwh, "kWh")]


def _heat_emissions(account: Account) -> list[Line]:
    """Scope 2 of district heat and the totals that include it; without a heat factor, the totals as before."""
    if account.scope2_heat_kgco2e is None:
        return [Line("emissions", "total (Scope 1 + Scope 2 location-based)", account.total_kgco2e, "kgCO2e")]
    rows = [
        Line("emissions", "Scope 2, district heat (heat x the static heat factor; no instruments for heat)", account.scope2_heat_kgco2e,
             "kgCO2e"),
        Line("emissions", "district heat factor", account.heat_factor_g_per_kwh, "gCO2e/kWh"),
        Line("emissions", "district heat factor source", account.heat_factor_source, ""),
        Line("emissions", "total (Scope 1 + Scope 2 location-based + Scope 2 district heat)", account.total_kgco2e,
             "kgCO2e"),
    ]
    if account.total_market_kgco2e is not None:
        rows.append(Line("emissions", "total, market-based (Scope 1 + Scope 2 market-based + Scope 2 district heat)",
                         account.total_market_kgco2e, "kgCO2e"))
    return rows


def _number(value: float | str | None, unit: str) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return f"{value:,.2f}" if unit in {"%", "kgCO2e/m2/year", "gCO2e/kWh"} else f"{value:,.1f}"


def markdown(header: Header, building: Building, rows: list[Line]) -> str:
    """The statement for people, its warnings first, with its content hash as the last line."""
    by = {section: [r for r in rows if r.section == section] for section in dict.fromkeys(r.section for r in rows)}
    out = [
        f"# Carbon statement: {header.site}/{header.building}",
        "",
        f"Period: {period_words(header.start, header.end, building.timezone)} ({building.timezone} time). "
        f"Prepared {moment_words(header.made)} by greenwire {header.version}.",
    ]
    for warning in by.get("warning", []):
        out += ["", f"> **Warning, {warning.item}:** {warning.value}"]
    out += [
        "",
        f"Method: {METHOD}",
        "",
        "## Boundary",
        "",
        f"Building `{header.building}` of site `{header.site}`: {building.floor_area_m2:,.0f} m2 floor area, "
        f"grid zone `{building.zone}`, timezone {building.timezone}.",
        "Meters: " + ", ".join(f"{r.value} ({r.unit})" for r in by.get("boundary", [])) + ".",
    ]
    for section, title in (("energy", "Energy"), ("emissions", "Emissions"), ("budget", "Budget"),
                           ("data quality", "Data quality")):
        out += ["", f"## {title}", "", "| | value | unit |", "|---|---:|---|"]
        out += [f"| {r.item} | {_number(r.value, r.unit)} | {r.unit} |" for r in by.get(section, [])]
    out += ["", "## Factor sets", ""]
    out += [f"- {r.item}: {r.value}" for r in by.get("factors", [])
            if r.item in {"jurisdiction and reporting year", "factor set", "factor set note", "factor library version"}]
    out += ["", "## Factors used", ""]
    factors = [r for r in by.get("factors", []) if r.item == "factor"]
    out += [f"- {r.value}" for r in factors] or ["- none (no energy in the period)"]
    version = next((r.value for r in by.get("factors", []) if r.item == "factor table version"), "")
    out += ["", f"Factor table version: {version}.", ""]
    if by.get("notes"):
        out += ["## Notes", "", NOTES_INTRO, "", "| finding | kgCO2e |", "|---|---:|"]
        out += [f"| {r.item} | {_number(r.value, r.unit)} |" for r in by["notes"]] + [""]
    body = "\n".join(out)
    return body + HASH_MD.format(sha256(body))


def to_csv(header: Header, rows: list[Line], days: Sequence[Day] = ()) -> str:
    """The statement's figures for spreadsheets and audit tools, full precision, each day's
    emissions and budget, hash last."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "item", "value", "unit"])
    for key, value in (("site", header.site), ("building", header.building), ("from", header.start.isoformat()),
                       ("to", header.end.isoformat()), ("prepared", header.made.isoformat()),
                       ("greenwire", header.version), ("method", METHOD)):
        writer.writerow(["statement", key, value, ""])
    for r in rows:
        writer.writerow([r.section, r.item, "" if r.value is None else (repr(r.value) if isinstance(r.value, float)
                                                                         else r.value), r.unit])
    for day in days:
        stamp = day.start.isoformat()
        writer.writerow(["day", f"emissions from {stamp}", "" if day.kgco2e is None else repr(day.kgco2e), "kgCO2e"])
        if day.budget_kgco2e is not None:
            writer.writerow(["day", f"budget from {stamp}", repr(day.budget_kgco2e), "kgCO2e"])
    body = buffer.getvalue()
    return body + f"statement,{HASH_CSV_ITEM},{sha256(body)},\n"


def render(fmt: Format, header: Header, building: Building, account: Account, *, days: Sequence[Day] = (),
           threshold_pct: float = QUALITY_THRESHOLD_PCT, paper: str = "A4",
           notes: Sequence[Note] = ()) -> tuple[str, str]:
    """The statement in ``fmt`` and its content hash (the HTML page with the chart of ``days`` on
    ``paper``), with ``notes`` (the period's anomaly findings) last."""
    rows = lines(account, building, threshold_pct, notes)
    text = to_csv(header, rows, days) if fmt == "csv" else markdown(header, building, rows)
    digest = content_hash(text)
    if fmt == "html":
        from greenwire.cloud.carbon.statement_page import page

        text = page(text, title=f"Carbon statement {header.site}/{header.building}", days=days, paper=paper,
                    timezone=building.timezone)
    return text, digest


def markdown_html(markdown_text: str, *, title: str) -> str:
    """Statement-like Markdown as a standalone page (:func:`greenwire.cloud.carbon.statement_page.markdown_html`)."""
    from greenwire.cloud.carbon.statement_page import markdown_html as to_page

    return to_page(markdown_text, title=title)


def verify(text: str) -> bool:
    """Whether a Markdown or CSV statement still matches the hash it carries (ValueError for another
    kind of text, or one without a hash line)."""
    verdict = _check_text(text)
    if verdict.digest is None:
        raise ValueError(verdict.reason)
    return verdict.ok
