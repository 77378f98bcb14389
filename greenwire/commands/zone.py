"""``greenwire zone``: a park's or county's roll-up of its enterprises (the work is in
``greenwire.cloud.cbam.zone``; this module parses options, reads InfluxDB and prints)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    SitesOption,
    fail,
    influx,
    parse_time,
    site_model,
)

app = typer.Typer(help="Zone roll-ups: a park's or county's enterprises, their emissions and rankings.",
                  no_args_is_help=True)


def zone_result(sites: Path | None, zone: str | None, t0: datetime, t1: datetime,
                config: Path | None) -> dict[str, Any]:
    """The zone's report from InfluxDB (exit 2 for an unknown zone, 1 for a database error)."""
    from greenwire.cloud.carbon.fetch import account_from_influx
    from greenwire.cloud.cbam.fetch import report_from_influx
    from greenwire.cloud.cbam.output import csv_hash
    from greenwire.cloud.cbam.zone import find_zone, zone_csv, zone_report
    from greenwire.shared.errors import StoreError

    model = site_model(sites)
    try:
        chosen = find_zone(model, zone)
    except KeyError as exc:
        raise fail(exc.args[0], 2) from None
    members = {s for e in chosen.enterprises for s in e.sites}
    store = influx(config)
    try:
        accounts = {(s.id, b.id): account_from_influx(store, b, t0, t1)
                    for s in model.sites if s.id in members for b in s.buildings}
        output = {s.id: sum(p["activity_t"] for i in s.installations
                            for p in report_from_influx(store, s, i, t0, t1).products)
                  for s in model.sites if s.id in members}
    except (StoreError, LookupError) as exc:
        raise fail(exc, 1) from None
    result = zone_report(chosen, model, accounts, output, t0, t1)
    result["content_hash_sha256"] = csv_hash(zone_csv(result))
    return result


@app.command()
def report(
    start: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601; UTC when no offset.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    zone: Annotated[str | None, typer.Option(help="Zone id (the site model's zones). Default: the only zone, "
                                             "else every site as an enterprise of one zone.")] = None,
    sites: SitesOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json).")] = False,
    output_format: Annotated[Literal["table", "json", "csv"], typer.Option(
        "--format", help="table (for people), json, or csv (every figure, content hash last: carbon verify "
        "checks it).")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write json or csv here.")] = None,
    config: ConfigOption = None,
) -> None:
    """A zone's total emissions and each enterprise's: kgCO2e, per m2, per tonne of output, ranks, metered share.

    Each enterprise's figures are the sums of its buildings' carbon accounts (the figures their
    statements print: Scope 1 + Scope 2 location-based + district heat), so the zone's total is
    the sum of its buildings' statements. Output comes from the enterprise's installations'
    production counters (greenwire cbam report's activity levels).

    Example: greenwire zone report --from 2026-11-01 --to 2026-12-01 --format csv --output zone.csv
    """
    from greenwire.cloud.cbam.zone import zone_csv

    t0, t1 = parse_time(start), parse_time(end)
    if t1 <= t0:
        raise fail("--to must be after --from", 2)
    result = zone_result(sites, zone, t0, t1, config)
    fmt = "json" if json_output else output_format
    if fmt == "table":
        _print(result)
        return
    if fmt == "json":
        import orjson

        text = orjson.dumps(result).decode() + "\n"
    else:
        text = zone_csv({k: v for k, v in result.items() if k != "content_hash_sha256"})
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output} (content hash {result['content_hash_sha256']})")


def _print(result: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    from greenwire.console import table_console

    def number(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    table = Table(caption="kg/m2/yr: kgCO2e per m2, annualised; kg/t: kgCO2e per tonne of output; #: rank, "
                          "worst first; meas: share of grid electricity metered, not estimated",
                  box=box.SIMPLE_HEAD, pad_edge=False,
                  title=f"zone {result['zone']}: {number(result['kgco2e'])} kgCO2e, {result['from'][:10]} to "
                        f"{result['to'][:10]}")
    table.add_column("enterprise", no_wrap=True, min_width=10)
    for column in ("kgCO2e", "kg/m2/yr", "#", "output t", "kg/t", "#", "meas"):
        table.add_column(column, justify="right", no_wrap=True)
    for e in sorted(result["enterprises"], key=lambda r: r["rank_per_m2"] or 10**9):
        share = "-" if e["metered_share"] is None else f"{100 * e['metered_share']:.1f}%"
        table.add_row(e["enterprise"], number(e["kgco2e"]), number(e["kgco2e_per_m2_year"], 2),
                      str(e["rank_per_m2"] or "-"), number(e["output_t"], 3), number(e["kgco2e_per_t"], 1),
                      str(e["rank_per_t"] or "-"), share)
    table_console().print(table)
