"""``greenwire cbam``: EU CBAM figures of an industrial installation's products (the work is in
``greenwire.cloud.cbam``; this module parses options, reads InfluxDB and prints)."""

from __future__ import annotations

from datetime import UTC, datetime
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
    from greenwire.cloud.cbam.certificate import Certificate
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


def _number(value: float | None, digits: int = 4) -> str:
    return "none" if value is None else f"{value:,.{digits}f}"


@app.command()
def certificate(
    start: Annotated[str, typer.Option("--from", help="Start of the period (inclusive), ISO 8601.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The certificate (PDF).")],
    building: Annotated[str | None, typer.Option(help="A building's certificate (its carbon statement).")] = None,
    enterprise: Annotated[str | None, typer.Option(help="An enterprise's certificate (its zone's report).")] = None,
    zone: Annotated[str | None, typer.Option(help="With --enterprise: the zone (default: the only one, else every "
                                             "site an enterprise).")] = None,
    installation: Annotated[str | None, typer.Option(help="With --product: a product's certificate.")] = None,
    product: Annotated[str | None, typer.Option(help="The product's CN code, e.g. '7318 15'.")] = None,
    statement_file: Annotated[Path | None, typer.Option("--statement", help="Where the statement the certificate "
                                                        "names is written (CSV). Default: the PDF's name, .csv.")] = None,
    sites: SitesOption = None,
    site: SiteOption = None,
    config: ConfigOption = None,
) -> None:
    """A one-page certificate (PDF) of a building's, an enterprise's or a product's figures, with a QR code.

    It prints the figures, the factor sets and the content hash of the statement it rests on (a
    building's carbon statement, the zone report, or the product's CBAM report), written next to
    it as CSV; its QR
    code names that hash, and greenwire carbon verify STATEMENT.csv --qr TEXT checks it.

    Example: greenwire cbam certificate --installation works --product "7318 15" --from 2026-11-01 --to 2026-12-01 --output bolts.pdf
    """
    from greenwire.cloud.carbon.pdf import PdfError, html_to_pdf
    from greenwire.cloud.cbam.certificate import certificate_html

    chosen = [o for o in (building, enterprise, installation) if o is not None]
    if len(chosen) != 1 or (installation is None) != (product is None):
        raise fail("give --building B, --enterprise E, or --installation I with --product CN", 2)
    t0, t1 = parse_time(start), parse_time(end)
    if t1 <= t0:
        raise fail("--to must be after --from", 2)
    statement_path = statement_file or output.with_suffix(".csv")
    if building is not None:
        cert, text = _building_certificate(sites, site, building, t0, t1, config, statement_path.name)
    elif enterprise is not None:
        cert, text = _enterprise_certificate(sites, zone, enterprise, t0, t1, config, statement_path.name)
    else:
        assert installation is not None and product is not None
        cert, text = _product_certificate(sites, site, installation, product, t0, t1, config, statement_path.name)
    statement_path.write_text(text, encoding="utf-8")
    try:
        html_to_pdf(certificate_html(cert), output)
    except PdfError as exc:
        raise fail(exc, 1) from None
    typer.echo(f"wrote {output} and {statement_path} (content hash {cert.payload.sha256})")


def _building_certificate(sites: Path | None, site: str | None, building: str, t0: datetime, t1: datetime,
                          config: Path | None, name: str) -> tuple[Certificate, str]:
    from greenwire import __version__
    from greenwire.cloud.carbon.statement import Header, render
    from greenwire.cloud.cbam.certificate import Certificate, Payload
    from greenwire.commands.carbon_common import one_building, period_account

    site_id, target = one_building(sites, site, building)
    account = period_account(config, building, target, t0, t1)
    made = datetime.now(UTC)
    text, digest = render("csv", Header(site_id, building, t0, t1, made, __version__), target, account)
    estimated = 100 * account.estimated_kwh / account.grid_import_kwh if account.grid_import_kwh else 0.0
    figures = [
        ("Total emissions (Scope 1 + Scope 2 location-based + district heat)", _number(account.total_kgco2e, 1),
         "kgCO2e"),
        ("Scope 1", _number(account.scope1_kgco2e, 1), "kgCO2e"),
        ("Scope 2, location-based", _number(account.scope2_location_kgco2e, 1), "kgCO2e"),
        ("Scope 2, market-based", _number(account.scope2_market_kgco2e, 1), "kgCO2e"),
        ("Per floor area, annualised", _number(account.kgco2e_per_m2_year, 2), "kgCO2e/m2/year"),
        ("Grid electricity", _number(account.grid_import_kwh, 1), "kWh"),
        ("of which estimated", _number(estimated, 2), "%"),
    ]
    payload = Payload("building", f"{site_id}/{building}", t0.isoformat(), t1.isoformat(), digest)
    return Certificate(f"Carbon certificate: building {building}", f"Building {building} of site {site_id}",
                       payload, figures, list(account.factor_sets), made, __version__, name), text


def _product_certificate(sites: Path | None, site: str | None, installation: str, product: str, t0: datetime,
                         t1: datetime, config: Path | None, name: str) -> tuple[Certificate, str]:
    from greenwire import __version__
    from greenwire.cloud.cbam.certificate import Certificate, Payload
    from greenwire.cloud.cbam.defaults import normal_cn
    from greenwire.cloud.cbam.fetch import report_from_influx
    from greenwire.cloud.cbam.output import content_hash, to_csv
    from greenwire.shared.errors import StoreError

    target_site, target = _installation(sites, site, installation)
    try:
        result = report_from_influx(influx(config), target_site, target, t0, t1)
    except (StoreError, LookupError) as exc:
        raise fail(exc, 1) from None
    chosen = [p for p in result.products if normal_cn(p["cn_code"]) == normal_cn(product)]
    if len(chosen) != 1:
        known = ", ".join(p["cn_code"] for p in result.products)
        raise fail(f"installation {installation} makes {'several products' if chosen else 'no product'} with CN "
                   f"{product} (its products: {known})", 2)
    p = chosen[0]
    figures = [
        ("Activity level", _number(p["activity_t"], 3), "t"),
        ("Specific embedded emissions, direct", _number(p["see_direct"]), "tCO2e/t"),
        ("Specific embedded emissions, indirect", _number(p["see_indirect"]), "tCO2e/t"),
        ("Specific embedded emissions, total", _number(p["see_total"]), "tCO2e/t"),
        ("Specific electricity", _number(p["electricity_mwh_per_t"]), "MWh/t"),
        ("Emission factor of electricity", _number(p["electricity_factor_g_per_kwh"], 1), "gCO2/kWh"),
        ("Share of embedded emissions from default values", _number(100 * p["default_share"], 1), "%"),
        ("Share of energy estimated", _number(100 * p["estimated_energy_share"], 2), "%"),
    ]
    payload = Payload("product", f"{target_site.id}/{installation}/{p['cn_code']}", t0.isoformat(), t1.isoformat(),
                      content_hash(result))
    unbroken = p["cn_code"].replace(" ", "\u00a0")  # the title never breaks inside the code
    return Certificate(f"CBAM certificate: CN {unbroken}", f"{p['product']}, made by installation "
                       f"{installation} ({target.address}, {target.country})", payload, figures, list(result.sources),
                       datetime.now(UTC), __version__, name), to_csv(result)


def _enterprise_certificate(sites: Path | None, zone: str | None, enterprise: str, t0: datetime, t1: datetime,
                            config: Path | None, name: str) -> tuple[Certificate, str]:
    from greenwire import __version__
    from greenwire.cloud.cbam.certificate import Certificate, Payload
    from greenwire.cloud.cbam.zone import zone_csv
    from greenwire.commands.zone import zone_result

    result = zone_result(sites, zone, t0, t1, config)
    found = [e for e in result["enterprises"] if e["enterprise"] == enterprise]
    if not found:
        known = ", ".join(e["enterprise"] for e in result["enterprises"])
        raise fail(f"no enterprise {enterprise!r} in zone {result['zone']} ({known})", 2)
    e = found[0]
    share = None if e["metered_share"] is None else 100 * e["metered_share"]
    count = len(result["enterprises"])
    figures = [
        ("Emissions (Scope 1 + Scope 2 location-based + district heat)", _number(e["kgco2e"], 1), "kgCO2e"),
        ("Per floor area, annualised", _number(e["kgco2e_per_m2_year"], 2), "kgCO2e/m2/year"),
        ("Rank by kgCO2e/m2 in the zone (1 = highest)", f"{e['rank_per_m2'] or '-'} of {count}", ""),
        ("Output (production counters)", _number(e["output_t"], 3), "t"),
        ("Per tonne of output", _number(e["kgco2e_per_t"], 1), "kgCO2e/t"),
        ("Grid electricity metered, not estimated", _number(share, 2), "%"),
    ]
    payload = Payload("enterprise", f"{result['zone']}/{enterprise}", t0.isoformat(), t1.isoformat(),
                      result["content_hash_sha256"])
    return Certificate(f"Carbon certificate: {e['name'] or enterprise}",
                       f"Enterprise {enterprise} of zone {result['zone']} (sites: {', '.join(e['sites'])})",
                       payload, figures, list(e["factor_sets"]), datetime.now(UTC), __version__,
                       name), zone_csv(result)
