"""``greenwire carbon statement`` and ``greenwire carbon verify``: a building's auditable statement and its check.

The work is in ``greenwire.cloud.carbon`` (``statement``, ``statement_page``, ``statement_chart``,
``pdf``, ``seal``, ``regional``); these functions parse options and print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    SiteOption,
    SitesOption,
    fail,
    influx,
    one_building,
    parse_time,
    period_readings,
)

if TYPE_CHECKING:
    from greenwire.cloud.carbon.statement import Day, Header, Note
    from greenwire.cloud.sites import Building


def _period(period: str | None, start: str | None, end: str | None, timezone: str) -> tuple[datetime, datetime]:
    if period is not None:
        try:
            local = datetime.strptime(period, "%Y-%m").replace(tzinfo=ZoneInfo(timezone))
        except ValueError:
            raise typer.BadParameter(f"expected YYYY-MM, got {period!r}", param_hint="--period") from None
        next_month = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
        return local.astimezone(UTC), next_month.astimezone(UTC)
    if start is not None and end is not None:
        t0, t1 = parse_time(start), parse_time(end)
        if t1 <= t0:
            raise fail("--to must be after --from", 2)
        return t0, t1
    raise fail("give --period YYYY-MM, or --from and --to", 2)


def statement(
    building: Annotated[str, typer.Option(help="Building id.")],
    sites: SitesOption = None,
    site: SiteOption = None,
    start: Annotated[str | None, typer.Option("--from", help="Start (inclusive), ISO 8601.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), ISO 8601.")] = None,
    period: Annotated[str | None, typer.Option(help="A calendar month YYYY-MM in the building's timezone, instead of --from/--to.")] = None,
    output_format: Annotated[
        Literal["md", "html", "csv", "pdf"],
        typer.Option("--format", help="md or html (for people), csv (every figure and day, full precision), pdf (Chromium)."),
    ] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (default: print).")] = None,
    paper: Annotated[
        Literal["auto", "A4", "letter"],
        typer.Option(case_sensitive=False, help="Paper of the html and pdf forms; auto: US Letter in the countries that use it "
                          "(US, Canada, Mexico, the Philippines, ...), A4 elsewhere, from the building's "
                          "grid zone or timezone."),
    ] = "auto",
    quality_threshold: Annotated[
        float, typer.Option(min=0, max=100, help="Warn at the top when more than this percentage of the grid "
                                                  "energy was estimated or excluded.")
    ] = 5.0,  # statement_warnings.QUALITY_THRESHOLD_PCT (not imported here: the CLI starts without the engine)
    config: ConfigOption = None,
) -> None:
    """An auditable carbon statement of a building for a month or period (md, html, csv or pdf).

    Warnings first (over budget; data quality when more than --quality-threshold percent of the
    grid energy was estimated or excluded), then the period in words, the chart of each day's
    emissions against the budget (html and pdf), method, boundary, energy by role, Scope 1 and
    2 (location- and market-based), every factor with its source, data-quality shares, the
    budget, the notes (anomalies greenwire anomalies run found in the period, with the energy and
    kgCO2e each cost; not subtracted from the figures), and a SHA-256 content hash so that a copy can be checked against the original
    (greenwire carbon verify FILE; a PDF also carries the hash in its metadata).

    Example: greenwire carbon statement --building b2 --period 2026-10 --format html -o b2-2026-10.html
    """
    from greenwire import __version__
    from greenwire.cloud.carbon.regional import paper_for, place_of
    from greenwire.cloud.carbon.statement import Header, render

    if output_format == "pdf" and output is None:
        raise fail("--format pdf needs --output FILE.pdf", 2)
    site, target = one_building(sites, site, building)
    t0, t1 = _period(period, start, end, target.timezone)
    result, readings = period_readings(config, building, target, t0, t1)
    notes = _notes(config, site, target, t0, t1)
    days: list[Day] = []
    if output_format != "md":
        from greenwire.cloud.carbon.statement_chart import days_of

        days = days_of(target, readings, t0, t1)
    place = place_of(target.zone, target.timezone)
    chosen = paper_for(place.country) if paper == "auto" else paper
    header = Header(site, building, t0, t1, datetime.now(UTC), __version__)
    fmt = "md" if output_format == "pdf" else output_format
    text, digest = render(fmt, header, target, result, days=days, paper=chosen, threshold_pct=quality_threshold,
                          notes=notes)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output_format == "pdf":
        _print_pdf(text, digest, header, target.timezone, days, chosen, output)
    else:
        output.write_text(text, encoding="utf-8")
    from greenwire.cloud.carbon.statement import warnings

    for line in warnings(result, quality_threshold):
        typer.echo(f"warning: {line.item}: {line.value}", err=True)
    size = f", {chosen} paper ({place.found_from})" if output_format in ("html", "pdf") else ""
    typer.echo(f"wrote {output} (content hash {digest}{size})")


def _notes(config: Path | None, site: str, target: Building, start: datetime, end: datetime) -> list[Note]:
    from greenwire.cloud.carbon.fetch import fetch_notes
    from greenwire.shared.errors import StoreError

    try:
        return fetch_notes(influx(config), site, target, start, end)
    except StoreError as exc:
        raise fail(exc, 1) from None


def _print_pdf(markdown: str, digest: str, header: Header, timezone: str, days: Sequence[Day], paper: str,
               output: Path) -> None:
    from greenwire.cloud.carbon.pdf import PdfError, html_to_pdf, seal
    from greenwire.cloud.carbon.statement_page import page

    title = f"Carbon statement {header.site}/{header.building}"
    try:
        html_to_pdf(page(markdown, title=title, days=days, paper=paper, timezone=timezone), output)
    except PdfError as exc:
        raise fail(exc, 1) from None
    seal(output, markdown, digest, title=title)


def verify(
    statement_file: Annotated[Path, typer.Argument(help="A statement written by 'carbon statement' (md, csv or pdf), "
                                                   "or a CBAM report's csv (greenwire cbam report).")],
    qr: Annotated[str | None, typer.Option("--qr", help="The text of a certificate's QR code (greenwire cbam "
                                           "certificate): also check that the certificate names this statement.")] = None,
) -> None:
    """Check that a carbon statement is unchanged: recompute its SHA-256 content hash.

    Markdown and CSV statements are checked against the hash on their last line. A PDF is checked
    against the statement embedded in it, the hash in its metadata and on its page, and the
    figures its pages print. Exit 0: unchanged; 1: the statement does not match (changed, cut
    short, its hash missing); 2: the file is not a statement that can be checked (empty, binary,
    HTML or another kind of file, unreadable).

    With --qr, the certificate whose QR code says that text must name this statement's hash (exit 1
    if it names another).

    Example: greenwire carbon verify b2-2026-10.pdf
    """
    from greenwire.cloud.carbon.seal import NotAStatement, check

    try:
        data = statement_file.read_bytes()
    except OSError as exc:
        raise fail(f"{statement_file} cannot be read: {exc.strerror or exc}", 2) from None
    try:
        verdict = check(data)
    except NotAStatement as exc:
        raise fail(f"{statement_file}: {exc}", 2) from None
    if not verdict.ok:
        raise fail(f"{statement_file} does not verify: {verdict.reason}", 1)
    if qr is not None:
        from greenwire.cloud.cbam.certificate import parse_payload

        try:
            named = parse_payload(qr)
        except ValueError as exc:
            raise fail(f"--qr: {exc}", 2) from None
        if named.sha256 != verdict.digest:
            raise fail(f"the certificate ({named.kind} {named.subject}) names another statement "
                       f"(SHA-256 {named.sha256}), not {statement_file}", 1)
        typer.echo(f"certificate: {named.kind} {named.subject}, {named.start} to {named.end}, names this statement")
    typer.echo(f"{statement_file}: unchanged {verdict.kind} (SHA-256 {verdict.digest})")
