"""``greenwire grid``: live grid carbon intensity from NESO, Electricity Maps, WattTime, ENTSO-E, China's factors.
"""

from __future__ import annotations

import asyncio
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


@app.callback()
def _group() -> None:
    """Keeps ``grid`` a group of commands while it has only ``fetch`` (``run`` comes next)."""


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
