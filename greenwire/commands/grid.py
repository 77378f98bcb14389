"""``greenwire grid``: live grid carbon intensity from NESO, Electricity Maps, WattTime, ENTSO-E, China's factors.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import orjson
import typer

app = typer.Typer(
    help="""Live grid carbon intensity from real providers.

Providers and zones:
  neso             GB, GB-<region id 1..17>, GB-<outward postcode> (no key)
  electricitymaps  Electricity Maps zone keys, e.g. DE, FR, US-CAL-CISO (GREENWIRE_ELECTRICITYMAPS_TOKEN)
  watttime         WattTime regions, e.g. CAISO_NORTH (GREENWIRE_WATTTIME_USERNAME, _PASSWORD)
  entsoe           EU bidding zones, e.g. DE-LU, FR, SE-SE3, or an EIC code (GREENWIRE_ENTSOE_TOKEN)
  china            provinces CN-BJ .. CN-XJ: MEE/NBS official 2023 factors (static)
""",
    no_args_is_help=True,
)


@app.command()
def fetch(
    provider: Annotated[
        str,
        typer.Option("--provider", "-p", help="neso, electricitymaps, watttime, entsoe or china."),
    ],
    zone: Annotated[
        str, typer.Option("--zone", "-z", help="The provider's zone, region or bidding zone.")
    ],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Ask this server instead of the provider's (tests, air-gapped sites).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Print what one provider says now: the current intensity, when it is for, and its forecast.

    Example: greenwire grid fetch --provider neso --zone GB --json
    """
    from greenwire.cloud.grid.fetch import fetch as fetch_now
    from greenwire.shared.errors import GreenwireError

    try:
        answer = asyncio.run(fetch_now(provider, zone, base_url=base_url))
    except GreenwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(orjson.dumps(answer).decode())
        return
    typer.echo(
        f"{answer['provider']} {answer['zone']}: {answer['intensity_g_per_kwh']:g} g/kWh for the period "
        f"from {answer['at']}"
    )
    forecast = answer["forecast"]
    if forecast:
        low = min(forecast, key=lambda f: f["g_per_kwh"])
        typer.echo(
            f"forecast: {len(forecast)} periods to {forecast[-1]['end']}; lowest {low['g_per_kwh']:g} g/kWh "
            f"from {low['start']}"
        )
    else:
        typer.echo("forecast: none from this provider")


@app.command()
def run(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="The grid config YAML: zones and providers, and optionally "
                     "the mqtt and influx sections (default: the local stack's)."),
    ],
    once: Annotated[
        bool, typer.Option("--once", help="Ask each zone's provider once, store, publish and stop.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print each zone's outcome as JSON.")] = False,
) -> None:
    """Poll the configured providers per zone, write grid_intensity and publish the grid feed.

    Each zone's value for now goes to greenwire/v1/grid/{zone}/intensity (greenwire.grid.v1, what
    `greenwire carbon run` consumes) and its forecast, best windows and the age of its value to
    greenwire/v1/grid/{zone}/forecast (retained). Through a provider outage the last value is held
    with its age, never invented. Stops on SIGTERM or Ctrl-C.

    Example: greenwire grid run --config grid.yaml
    """
    from greenwire.cloud.grid.config import load_config
    from greenwire.cloud.grid.service import GridService, serve
    from greenwire.shared.errors import ConfigError
    from greenwire.shared.logs import setup_logging
    from greenwire.wiring import SetupError, grid_servers

    try:
        settings = load_config(config)
        influx, broker = grid_servers(settings)
    except (ConfigError, SetupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    setup_logging()
    service = GridService(settings.zones, influx=influx, broker=broker,
                          notify=lambda line: typer.echo(line, err=True))
    ok = asyncio.run(serve(service, once=once))
    if once:
        summary = service.summary()
        if as_json:
            typer.echo(orjson.dumps(summary).decode())
        else:
            for zone, outcome in summary.items():
                value = "no value" if outcome["g_per_kwh"] is None else f"{outcome['g_per_kwh']:g} g/kWh"
                age = "" if outcome["age_s"] is None else f", {outcome['age_s'] / 60:.0f} min old"
                typer.echo(f"{zone}: {outcome['status']}: {value}{age}")
    raise typer.Exit(0 if ok or not once else 1)
