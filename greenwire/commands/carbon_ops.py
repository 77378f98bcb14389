"""``greenwire carbon backfill|run|ranking|account``: the commands that keep results stored, and across buildings.

Mounted on ``carbon_app`` by ``greenwire.commands.carbon``. The work is in
``greenwire.cloud.carbon`` (``backfill``, ``service``, ``fetch``); these functions parse options and print.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    SiteOption,
    SitesOption,
    buildings,
    fail,
    influx,
    one_building,
    parse_time,
)


def backfill(
    start: Annotated[str, typer.Option("--from", help="First day (its local midnight), ISO 8601 date.")],
    end: Annotated[str, typer.Option("--to", help="Day after the last (exclusive).")],
    sites: SitesOption = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    building: Annotated[str | None, typer.Option(help="Only this building.")] = None,
    config: ConfigOption = None,
) -> None:
    """Compute and store results (measurement carbon: 1m, 1h, 1d, 1mo) for whole local days.

    Use it after importing history or a grid series; running it again overwrites the same
    periods, so it is safe to repeat. Shows progress per building and day.
    """
    from functools import partial

    from rich.progress import Progress

    from greenwire.cloud.carbon.backfill import backfill_building, plan
    from greenwire.shared.errors import StoreError

    store = influx(config)
    targets = buildings(sites, site, building)
    t0, t1 = parse_time(start), parse_time(end)
    now = datetime.now(UTC)
    written = 0
    with Progress(transient=True) as progress:
        for site_id, target in targets:
            todo = plan(site_id, target, t0, t1, now)
            task = progress.add_task(f"{site_id}/{target.id}", total=max(1, len(todo.days)))
            try:
                written += backfill_building(store, todo, on_day=partial(progress.advance, task))
            except StoreError as exc:
                raise fail(f"{exc} ({site_id}/{target.id}; {written} points written before; run it again)",
                           1) from None
    typer.echo(f"wrote {written} result points for {len(targets)} building(s)")


def run(
    sites: SitesOption = None,
    interval_s: Annotated[float, typer.Option("--interval", help="Seconds between updates.")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="Update once and exit (for cron or tests).")] = False,
    publish: Annotated[bool, typer.Option(help="Publish each building's retained carbon signal on MQTT.")] = True,
    config: ConfigOption = None,
) -> None:
    """Keep every building's results and live carbon signal current, every minute.

    Each update writes today's minutes, hours and day, the month, and the live intensity and
    emission rate over the last 15 minutes (measurement carbon_live). Each building's live figures are also published, retained, on greenwire/v1/{site}/carbon/{building}
    (schema greenwire.carbon.v1) for building-management systems to shift load by.
    """
    import asyncio

    from greenwire.cloud.carbon.service import (
        FEED_CLIENT_ID,
        SIGNAL_CLIENT_ID,
        CarbonService,
        serve,
    )
    from greenwire.shared.errors import ConfigError
    from greenwire.wiring import SetupError, cloud_broker, publisher_settings

    store = influx(config)
    targets = buildings(sites, None, None)
    feed = signal = None
    if publish:
        try:
            feed = cloud_broker(config, FEED_CLIENT_ID)
            signal = publisher_settings(feed, SIGNAL_CLIENT_ID)
        except SetupError as exc:
            raise fail(exc, 2) from None
    try:
        service = CarbonService(store, targets, interval_s=interval_s, feed=feed, signal=signal,
                                notify=lambda line: typer.echo(line, err=True))
    except ConfigError as exc:
        raise fail(exc, 2) from None
    if not asyncio.run(serve(service, once=once)) and once:
        raise typer.Exit(1)  # the service has said why


def ranking(
    start: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601.")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    sites: SitesOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Every building ranked by emissions per floor area, worst first.

    kgCO2e/m2/year: Scope 1 + Scope 2 location-based + Scope 2 of district heat (with a heat
    factor) over the period, annualised.
    """
    from rich.table import Table

    from greenwire.cloud.carbon.fetch import account_from_influx
    from greenwire.console import table_console
    from greenwire.shared.errors import StoreError

    store = influx(config)
    t0, t1 = parse_time(start), parse_time(end)
    rows: list[dict[str, Any]] = []
    try:
        for site_id, target in buildings(sites, None, None):
            a = account_from_influx(store, target, t0, t1)
            rows.append({"site": site_id, "building": target.id, "kgco2e_per_m2_year": a.kgco2e_per_m2_year,
                         "kgco2e": a.total_kgco2e, "floor_area_m2": target.floor_area_m2})
    except (StoreError, LookupError) as exc:
        raise fail(exc, 1) from None
    rows.sort(key=lambda r: r["kgco2e_per_m2_year"], reverse=True)
    if json_output:
        import orjson

        typer.echo(orjson.dumps(rows).decode())
        return
    table = Table(title=f"buildings by kgCO2e/m2/year, {t0:%Y-%m-%d} to {t1:%Y-%m-%d}")
    for column in ("rank", "site", "building", "kgCO2e/m2/year", "kgCO2e", "m2"):
        table.add_column(column, justify="left" if column in ("site", "building") else "right")
    for rank, row in enumerate(rows, start=1):
        table.add_row(str(rank), str(row["site"]), str(row["building"]), f"{row['kgco2e_per_m2_year']:,.2f}",
                      f"{row['kgco2e']:,.1f}", f"{row['floor_area_m2']:,.0f}")
    table_console().print(table)


def account(
    building: Annotated[str, typer.Option(help="Building id.")],
    year: Annotated[int, typer.Option(help="The budget year (local calendar year of the building).")],
    sites: SitesOption = None,
    site: SiteOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ISO 8601 time; default now.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """The building's carbon account for a year: budget, emitted so far, remaining, projected total, status.

    The projection takes the building's stored day-ahead forecast (greenwire forecast run) for the
    hours it covers, with its P10-P90 band; the status is "at risk" when the P90 projection exceeds
    the budget."""
    from greenwire.cloud.carbon.fetch import carbon_account_from_influx
    from greenwire.cloud.carbon.results import local_midnight
    from greenwire.shared.errors import StoreError

    site, target = one_building(sites, site, building)
    start = local_midnight(datetime(year, 1, 1, 12, tzinfo=ZoneInfo(target.timezone)), target.timezone)
    moment = parse_time(as_of) if as_of else datetime.now(UTC)
    try:
        result = carbon_account_from_influx(influx(config), target, start, moment, site)
    except (StoreError, LookupError) as exc:
        raise fail(exc, 1) from None
    if json_output:
        import orjson

        typer.echo(orjson.dumps(result.as_dict()).decode())
        return
    budget = "none" if result.budget_kgco2e is None else f"{result.budget_kgco2e:,.0f} kgCO2e"
    typer.echo(f"{site}/{building}, {year}, as of {moment:%Y-%m-%d %H:%M} UTC: {result.status.upper()}")
    typer.echo(f"  budget      {budget}")
    typer.echo(f"  emitted     {result.emitted_kgco2e:,.0f} kgCO2e")
    if result.remaining_kgco2e is not None:
        typer.echo(f"  remaining   {result.remaining_kgco2e:,.0f} kgCO2e")
    typer.echo(f"  projected   {result.projected_kgco2e:,.0f} kgCO2e ({result.projection_method})")
    if result.projected_p10_kgco2e is not None and result.projected_p90_kgco2e is not None:
        typer.echo(f"  band        {result.projected_p10_kgco2e:,.0f} to {result.projected_p90_kgco2e:,.0f} kgCO2e "
                   f"(P10-P90 of the forecast's next {result.forecast_hours} h)")
