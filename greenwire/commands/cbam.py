"""``greenwire cbam``: EU CBAM figures of an industrial installation's products (the work is in
``greenwire.cloud.cbam``; this module parses options, reads InfluxDB and prints)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    SiteOption,
    SitesOption,
    fail,
    influx,
    parse_time,
    site_model,
)

if TYPE_CHECKING:
    from greenwire.cloud.cbam.model import Installation
    from greenwire.cloud.sites import Site

app = typer.Typer(help="EU CBAM: embedded emissions of an installation's products.", no_args_is_help=True)


def _installation(sites: Path | None, site: str | None, installation: str) -> tuple[Site, Installation]:
    model = site_model(sites)
    found = [(s, i) for s in model.sites if site in (None, s.id) for i in s.installations if i.id == installation]
    if len(found) != 1:
        known = ", ".join(f"{s.id}/{i.id}" for s in model.sites for i in s.installations) or "none"
        why = "is in several sites: give --site" if found else "is not in the site model"
        raise fail(f"installation {installation!r} {why} (installations: {known})", 2)
    return found[0]


@app.command()
def report(
    installation: Annotated[str, typer.Option(help="Installation id (a site's installations: in the site model).")],
    start: Annotated[str, typer.Option("--from", help="Start of the reporting period (inclusive), ISO 8601; UTC "
                                       "when no offset.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    sites: SitesOption = None,
    site: SiteOption = None,
    output_format: Annotated[
        Literal["json", "csv", "xlsx", "pdf"],
        typer.Option("--format", help="json (one entry per product), csv (every figure, full precision, "
                     "content hash last), xlsx (the communication template's structure), pdf (Chromium)."),
    ] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write it here (xlsx and pdf need it; "
                                                "default: print).")] = None,
    config: ConfigOption = None,
) -> None:
    """Specific embedded emissions (direct, indirect, total, tCO2e/t) of every product of an installation.

    Per production process: fuels x their factor (direct), electricity x the installation's
    electricity factor (the grid zone's published factor; on-site generation at its own factor
    with evidence), shared meters allocated by the site model's rule, precursors at their
    supplier's or the EU default values; every figure is traceable to its source, and every
    form carries one content hash (greenwire carbon verify checks the CSV).

    Example: greenwire cbam report --sites sites.yaml --installation works --from 2026-11-01 --to 2026-12-01 --format xlsx --output works.xlsx
    """
    from greenwire.cloud.cbam.fetch import report_from_influx
    from greenwire.cloud.cbam.output import content_hash, to_csv, to_html, to_json, write_xlsx
    from greenwire.shared.errors import StoreError

    target_site, target = _installation(sites, site, installation)
    t0, t1 = parse_time(start), parse_time(end)
    if t1 <= t0:
        raise fail("--to must be after --from", 2)
    if output_format in ("xlsx", "pdf") and output is None:
        raise fail(f"--format {output_format} needs --output FILE.{output_format}", 2)
    try:
        result = report_from_influx(influx(config), target_site, target, t0, t1)
    except (StoreError, LookupError) as exc:
        raise fail(exc, 1) from None
    if not result.products or all(p["activity_t"] <= 0 for p in result.products):
        typer.echo(f"warning: no production counted for installation {installation} in the period", err=True)
    if output_format == "xlsx":
        assert output is not None
        write_xlsx(result, output)
    elif output_format == "pdf":
        assert output is not None
        from greenwire.cloud.carbon.pdf import PdfError, html_to_pdf

        try:
            html_to_pdf(to_html(result), output)
        except PdfError as exc:
            raise fail(exc, 1) from None
    else:
        text = to_json(result) if output_format == "json" else to_csv(result)
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output} (content hash {content_hash(result)})")
