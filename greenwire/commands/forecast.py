"""``greenwire forecast run|show|evaluate``.

The work is in ``greenwire.cloud.forecast``; these functions
parse options, resolve the site model and servers (``carbon_common``) and print.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from greenwire.commands.carbon_common import (
    ConfigOption,
    EveryOption,
    SiteOption,
    SitesOption,
    buildings,
    fail,
    influx,
    one_building,
    parse_time,
    repeat,
)

forecast_app = typer.Typer(no_args_is_help=True, help="""Day-ahead forecasts of each building's energy and emissions, P10/P50/P90.

Trained per building and role (grid import and gas; PV is not forecast yet) on its own hourly history in InfluxDB:
calendar, public holidays of its country, recent load. Stored in measurement carbon_forecast.
""")
BuildingOption = Annotated[str | None, typer.Option(help="Only this building.")]
AtOption = Annotated[str | None, typer.Option("--at", help="Act as if it were this time (ISO 8601); default now.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _now(at: str | None) -> datetime:
    return parse_time(at) if at else datetime.now(UTC)


@forecast_app.command("run")
def forecast_run(sites: SitesOption = None, site: SiteOption = None, building: BuildingOption = None,
                 config: ConfigOption = None, at: AtOption = None, every: EveryOption = 0.0,
                 json_output: JsonOption = False) -> None:
    """Train each building's model and store its forecast for the 48 h from today's local midnight.

    Every run retrains on the last year of readings, so the stored forecast names the model
    version and the training window it came from. Run it daily: --every 24 keeps it running (as
    the compose file's forecast service does), or use cron or a systemd timer.

    Example: greenwire forecast run --sites sites.yaml --building b2 --json
    """
    if every and at:
        raise fail("give --at (one run as of that time) or --every (runs from now on), not both", 2)
    repeat(every, lambda: _forecast_once(sites, site, building, config, at, json_output))


def _forecast_once(sites: Path | None, site: str | None, building: str | None, config: Path | None,
                   at: str | None, json_output: bool) -> None:
    from greenwire.cloud.forecast.model import NotEnoughHistory
    from greenwire.cloud.forecast.service import forecast_role
    from greenwire.cloud.forecast.store import ROLES
    from greenwire.shared.errors import StoreError

    store, now = influx(config), _now(at)
    done: list[dict[str, Any]] = []
    for site_id, target in buildings(sites, site, building):
        for role in ROLES:
            try:
                result = forecast_role(store, site_id, target, role, now)
                if result is None:
                    continue
                store.write(result.lines)
            except NotEnoughHistory as exc:
                typer.echo(f"warning: {site_id}/{target.id} {role}: {exc}", err=True)
                continue
            except StoreError as exc:
                raise fail(f"{exc} ({site_id}/{target.id})", 1) from None
            done.append({"site": site_id, "building": target.id, **result.summary()})
    if json_output:
        typer.echo(json.dumps(done, indent=2))
    for d in [] if json_output else done:
        typer.echo(f"{d['site']}/{d['building']} {d['role']}: next {d['hours']} h {d['kwh_p50']:,.0f} kWh "
                   f"(P10 {d['kwh_p10']:,.0f}, P90 {d['kwh_p90']:,.0f}), {d['kgco2e_p50']:,.0f} kgCO2e; "
                   f"model {d['model']} trained {d['trained_from'][:10]} to {d['trained_to'][:10]}")
    if not done:
        raise fail("no forecast was made (no meter with enough history)", 1)


@forecast_app.command("show")
def forecast_show(building: Annotated[str, typer.Option(help="Building id.")], sites: SitesOption = None,
                  site: SiteOption = None, config: ConfigOption = None, at: AtOption = None,
                  hours: Annotated[int, typer.Option(help="Hours from the start of today (local).")] = 48,
                  json_output: JsonOption = False) -> None:
    """Print the stored forecast of one building, hour by hour (every role)."""
    from greenwire.cloud.forecast.service import local_midnight
    from greenwire.cloud.forecast.store import latest_forecast

    site_id, target = one_building(sites, site, building)
    start = local_midnight(target, _now(at)).astimezone(UTC)
    rows = latest_forecast(influx(config), site_id, target.id, start, start + timedelta(hours=hours))
    for row in rows:
        row["time"] = datetime.fromtimestamp(int(row["time"]) / 1e9, UTC).isoformat()
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        raise fail(f"no stored forecast for {site_id}/{target.id} from {start:%Y-%m-%d %H:%M} UTC: "
                   "run greenwire forecast run first", 1)
    for r in rows:
        typer.echo(f"{r['time'][:16]} {r['role']:<12} {r['kwh_p10']:>10.1f} {r['kwh_p50']:>10.1f} "
                   f"{r['kwh_p90']:>10.1f} kWh  {r.get('kgco2e_p50') or 0:>8.1f} kgCO2e")


@forecast_app.command("evaluate")
def forecast_evaluate(building: Annotated[str, typer.Option(help="Building id.")],
                      start: Annotated[str, typer.Option("--from", help="First day scored (ISO 8601).")],
                      end: Annotated[str, typer.Option("--to", help="End of the scored days (exclusive).")],
                      sites: SitesOption = None, site: SiteOption = None, config: ConfigOption = None,
                      role: Annotated[str, typer.Option(help="grid_import, gas or pv_generation.")] = "grid_import",
                      refit_days: Annotated[int, typer.Option(help="Retrain every this many days.")] = 7,
                      json_output: JsonOption = False) -> None:
    """Rolling-origin backtest over data already in InfluxDB, against the seasonal-naive forecast.

    Each day from --from to --to is forecast at its local midnight for 24 h from the hours before
    it only (the model retrained every --refit-days on everything before); the baseline is the
    same hour one week earlier. The history read starts a year before --from. Where the site model
    gives the building an outdoor_temperature series, the model uses it as forecast run does.

    Example: greenwire forecast evaluate --sites sites.yaml --building b2 --from 2022-06-01 --to 2022-07-01 --json
    """
    from greenwire.cloud.forecast.backtest import evaluate
    from greenwire.cloud.forecast.features import calendar_for, country_of
    from greenwire.cloud.forecast.service import history, temperature_for
    from greenwire.cloud.forecast.store import ROLES
    from greenwire.shared.errors import StoreError

    site_id, target = one_building(sites, site, building)
    chosen = next((r for r in ROLES if r == role), None)
    if chosen is None:
        raise fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}", 2)
    t0, t1 = parse_time(start), parse_time(end)
    try:
        store = influx(config)
        series = history(store, target, chosen, t0 - timedelta(days=365), t1)
        temperature = None if series is None else temperature_for(store, target, series)
    except StoreError as exc:
        raise fail(exc, 1) from None
    if series is None:
        raise fail(f"{site_id}/{target.id} has no {role} meter", 2)
    try:
        skill = evaluate(target.id, series, calendar_for(series, target.timezone, country_of(target.zone)),
                         t0, t1, refit_days=refit_days, temperature=temperature)
    except ValueError as exc:
        raise fail(exc, 1) from None
    keys = ("building", "days", "horizon_h", "model_mae_kwh", "baseline_mae_kwh", "ratio", "p90_coverage")
    out = {k: skill.as_dict()[k] for k in keys}
    if json_output:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"{target.id} {role}: {out['days']} days, MAE {out['model_mae_kwh']:.3f} kWh vs seasonal naive "
               f"{out['baseline_mae_kwh']:.3f} (ratio {out['ratio']:.3f}); P10-P90 held "
               f"{100 * out['p90_coverage']:.1f} % of hours")

