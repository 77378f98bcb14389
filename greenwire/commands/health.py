"""``greenwire health``: the proactive-health pilot's cloud service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The proactive-health pilot: vitals, indoor environment, alerts, carbon per participant-day.",
                  no_args_is_help=True)


def _config(config: Path | None, sites: list[str], carbon_sites: Path | None):  # type: ignore[no-untyped-def]
    from greenwire.cloud.health.config import HealthConfig, HealthSite, load_config

    if config is not None:
        return load_config(config)
    from greenwire import stack

    env = stack.discover()
    if env is None:
        typer.echo("error: no --config and no local stack: run `greenwire stack up` or give --config", err=True)
        raise typer.Exit(2)
    if not sites:
        typer.echo("error: without --config, name the pilot's sites with --site ID[:TIMEZONE]", err=True)
        raise typer.Exit(2)
    parsed = []
    for text in sites:
        site, _, tz = text.partition(":")
        parsed.append(HealthSite(id=site, timezone=tz or "UTC"))
    return HealthConfig.for_stack(env.mqtt_url, env.influx_url, env.influx_db, tuple(parsed),
                                  carbon_sites=carbon_sites, state_dir=stack.state_dir() / "health")


@app.command()
def run(
    config: Annotated[Path | None, typer.Option(help="Health-service YAML (default: the local stack).")] = None,
    site: Annotated[list[str], typer.Option(help="Without --config: a pilot site, ID[:TIMEZONE], repeatable.")] = [],  # noqa: B006
    carbon_sites: Annotated[Path | None, typer.Option(help="Without --config: the carbon site model.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Take vitals and the pilot sites' indoor environment into the health database, raise alerts, and keep
    the site figures (participants, alerts, exposure hours, kgCO2e per participant-day) current.

    Stores into its own InfluxDB database (greenwire_health: raw 30 days, aggregates 730 days; see
    docs/health-schema.md) and publishes alerts on greenwire/v1/{site}/alerts/{gateway}. Stops on SIGTERM.
    """
    import asyncio

    from greenwire.cloud.health.service import HealthService
    from greenwire.shared.lifecycle import install_signal_handlers
    from greenwire.shared.logs import setup_logging

    cfg = _config(config, site, carbon_sites)
    setup_logging(log_level)

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await HealthService(cfg).run(stop)

    asyncio.run(main())


@app.command()
def erase(
    pseudonym: Annotated[str, typer.Option(help="The participant's pseudonym (greenwire edge pseudonym, on the gateway).")],
    config: Annotated[Path | None, typer.Option(help="Health-service YAML (default: the local stack).")] = None,
    site: Annotated[list[str], typer.Option(help="Without --config: a pilot site, ID[:TIMEZONE].")] = [],  # noqa: B006
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking.")] = False,
) -> None:
    """Erase one participant's data from the health database (every measurement and retention policy).

    Deletes every series tagged with the pseudonym: raw vitals, hourly statistics and alert events.
    Site-level figures (participant counts, alert counts) stay: they identify no one. Remove the
    participant from the gateway's consent list first, so that nothing new arrives.
    """
    from greenwire.cloud.health.admin import HealthAdmin, erasure_condition

    try:
        erasure_condition(pseudonym)
    except ValueError:
        typer.echo("error: not a pseudonym (KEY_ID.32 hex digits): give the pseudonym, never the raw id", err=True)
        raise typer.Exit(2) from None
    cfg = _config(config, site or ["any"], None)  # the sites do not matter for erasing
    if not yes:
        typer.confirm(f"erase every series of {pseudonym} from {cfg.influx.database}?", abort=True)
    removed = HealthAdmin(cfg.influx).erase(pseudonym)
    typer.echo(f"erased {removed} series of {pseudonym} from {cfg.influx.database}")
