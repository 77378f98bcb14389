"""``greenwire carbon``: a building's report, statement and its check; the other commands' modules.

This module holds ``report`` and mounts the rest in their order: ``backfill``, ``run``
(``greenwire.commands.carbon_ops``), ``statement`` and ``verify``
(``greenwire.commands.carbon_statement``), ``ranking`` and ``account``.
``greenwire import grid|readings`` live in ``greenwire.commands.carbon_import``. The work is in
``greenwire.cloud.carbon``; these functions parse options and print.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    SiteOption,
    SitesOption,
    fail,
    one_building,
    parse_time,
    period_account,
)
from greenwire.commands.carbon_import import import_app
from greenwire.commands.carbon_ops import account, backfill, ranking, run
from greenwire.commands.carbon_statement import statement, verify

__all__ = ["carbon_app", "import_app"]

carbon_app = typer.Typer(help="Carbon accounts of buildings, from their meters and their grid.", no_args_is_help=True)


def report(
    building: Annotated[str, typer.Option(help="Building id.")],
    start: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601; UTC when no offset.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    sites: SitesOption = None,
    site: SiteOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (same as --format json).")] = False,
    output_format: Annotated[
        Literal["table", "json", "csv"], typer.Option("--format", help="table (for people), json or csv.")
    ] = "table",
    config: ConfigOption = None,
) -> None:
    """A building's energy by role and its emissions (Scope 1, Scope 2 location- and market-based, Scope 2 of district heat) over a period.

    Energy comes from the meters' counters (deltas, never integrated power); each minute's
    grid energy is multiplied by its zone's intensity for that minute (an imported series or
    the live feed, else the static factor of the zone), and every factor used is listed.

    Example: greenwire carbon report --building b2 --from 2026-11-01 --to 2026-12-01 --format json
    """

    site, target = one_building(sites, site, building)
    t0, t1 = parse_time(start), parse_time(end)
    if t1 <= t0:
        raise fail("--to must be after --from", 2)
    result = period_account(config, building, target, t0, t1)
    if json_output or output_format == "json":
        import orjson

        typer.echo(orjson.dumps(result.as_dict()).decode())
        return
    if output_format == "csv":
        import csv
        import sys

        row = result.as_dict()
        row["factors"] = row["factor_sources"] = "; ".join(row["factors"])
        writer = csv.DictWriter(sys.stdout, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        return
    intensity = result.intensity_g_per_kwh
    typer.echo(f"{site}/{building}, {t0:%Y-%m-%d %H:%M} to {t1:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"  grid import          {result.grid_import_kwh:14,.1f} kWh  ({result.estimated_kwh:,.1f} kWh estimated)")
    if result.excluded_kwh or result.rejected_kwh:
        typer.echo(f"  left out             {result.excluded_kwh:14,.1f} kWh  (replaced or re-based counters at the "
                   f"meter's recent rate; {result.rejected_kwh:,.1f} kWh of implausible counter rises rejected)")
    typer.echo(f"  Scope 2 (location)   {result.scope2_location_kgco2e:14,.1f} kgCO2e"
               f"  ({'-' if intensity is None else f'{intensity:.1f}'} gCO2e/kWh)")
    if result.scope2_market_kgco2e is not None:
        typer.echo(f"  Scope 2 (market)     {result.scope2_market_kgco2e:14,.1f} kgCO2e"
                   f"  ({result.instrument_kwh:,.1f} kWh covered by instruments)")
    if result.pv_generation_kwh:
        typer.echo(f"  PV generation        {result.pv_generation_kwh:14,.1f} kWh"
                   f"  (self-consumed {result.pv_self_consumption_kwh or 0:,.1f} kWh, zero emissions)")
    if result.grid_export_kwh:
        typer.echo(f"  grid export          {result.grid_export_kwh:14,.1f} kWh  (reported, not netted)")
    if result.scope2_heat_kgco2e is not None:
        typer.echo(f"  district heat        {result.heat_kwh:14,.1f} kWh")
        typer.echo(f"  Scope 2 (heat)       {result.scope2_heat_kgco2e:14,.1f} kgCO2e  ({result.heat_factor_source})")
    elif result.heat_kwh:
        typer.echo(f"  district heat        {result.heat_kwh:14,.1f} kWh  (energy only: no heat-network factor)")
    if result.gas_kwh:
        typer.echo(f"  gas                  {result.gas_kwh:14,.1f} kWh")
        typer.echo(f"  Scope 1 (gas)        {result.scope1_kgco2e:14,.1f} kgCO2e")
    if result.scope3_td_kgco2e is not None:
        typer.echo(f"  Scope 3 (T&D losses) {result.scope3_td_kgco2e:14,.1f} kgCO2e  (not in the totals)")
    if result.scope2_heat_kgco2e is not None:
        typer.echo(f"  total                {result.total_kgco2e:14,.1f} kgCO2e  (Scope 1 + Scope 2 location-based "
                   "+ Scope 2 heat)")
    typer.echo(f"  per floor area       {result.kgco2e_per_m2_year:14,.2f} kgCO2e/m2/year (annualised)")
    if result.budget_kgco2e is not None and result.budget_used_pct is not None:
        state = "within budget" if result.budget_used_pct <= 100 else "OVER BUDGET"
        typer.echo(f"  budget for the period {result.budget_kgco2e:13,.1f} kgCO2e  ({result.budget_used_pct:.0f} % used: {state})")
    for source in sorted(result.factors):
        typer.echo(f"  factor: {source}")
    from greenwire.cloud.carbon.statement import factor_set_lines

    for line in factor_set_lines(result):
        typer.echo(f"  {line.item}: {line.value}")
    typer.echo(f"  factor table version {result.factor_table_version}")


for _command in (report, backfill, run, statement, verify, ranking, account):
    carbon_app.command()(_command)
